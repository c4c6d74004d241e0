//! Periodic validation with real bitstreams: the network is frozen exactly as `lic train
//! --export` would (integer tables included), then a few held-out images are encoded and decoded
//! at the ends and the middle of the quality range. Logs the real bpp, the estimated bpp and
//! PSNR, and checks that the decoder returns the encoder's reconstruction.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::Trainer;
use crate::codec::{self, model::TrainedModel, CodecModel, EncodeOptions};
use crate::io::image::{image_files, load, Image, LoadOptions, EXTENSIONS};
use crate::nn::weights::FloatStorage;

/// Held-out images and how often to code them.
pub struct Validation {
    pub images: Vec<(String, Image)>,
    pub every: u64,
}

/// One validation point: a quality averaged over the images.
#[derive(Clone, Debug, Serialize)]
pub struct ValidationPoint {
    pub quality: f64,
    pub bpp: f64,
    pub estimated_bpp: f64,
    pub psnr: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ValidationLog {
    pub validation_step: u64,
    pub images: usize,
    pub points: Vec<ValidationPoint>,
    pub seconds: f64,
}

impl Validation {
    /// The first `limit` images of `dir` (sorted by name).
    pub fn load(dir: &Path, limit: usize, every: u64) -> anyhow::Result<Validation> {
        anyhow::ensure!(every > 0, "validation interval must be positive");
        let files = image_files(dir, &EXTENSIONS)
            .with_context(|| format!("{}: cannot list", dir.display()))?;
        anyhow::ensure!(!files.is_empty(), "{}: no images", dir.display());
        let mut images = Vec::new();
        for f in files.into_iter().take(limit) {
            let img = load(&f, &LoadOptions::default())?.image;
            images.push((f.display().to_string(), img));
        }
        Ok(Validation { images, every })
    }

    /// Freezes the current network into `scratch` and codes every image at three qualities.
    pub fn run(&self, t: &Trainer, scratch: &Path) -> anyhow::Result<ValidationLog> {
        let t0 = std::time::Instant::now();
        let model = CodecModel::export(
            TrainedModel {
                vs: &t.vs,
                net: &t.model,
            },
            "validation",
            scratch,
            FloatStorage::F32,
        )?;
        let (lo, hi) = t.opts.config.quality_range();
        let mut points = Vec::new();
        for q in [lo, (lo + hi) / 2.0, hi] {
            let opts = EncodeOptions {
                quality: q,
                ..Default::default()
            };
            let (mut bpp, mut est, mut psnr) = (0.0, 0.0, 0.0);
            for (name, img) in &self.images {
                let e = codec::encode(img, &model, &opts)?;
                let d = codec::decode(&e.bytes, &model)?;
                anyhow::ensure!(
                    d.data == e.reconstruction.data,
                    "validation: {name} decodes differently from the encoder's reconstruction"
                );
                let px = img.pixels() as f64;
                bpp += e.bytes.len() as f64 * 8.0 / px;
                est += e.estimated_bits / px;
                psnr += crate::metrics::psnr_rgb(img, &d).unwrap_or(0.0);
            }
            let n = self.images.len() as f64;
            points.push(ValidationPoint {
                quality: q,
                bpp: bpp / n,
                estimated_bpp: est / n,
                psnr: psnr / n,
            });
        }
        let _ = std::fs::remove_file(scratch);
        Ok(ValidationLog {
            validation_step: t.progress.step,
            images: self.images.len(),
            points,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }

    /// Prints a one-line summary.
    pub fn report(&self, r: &ValidationLog) {
        let pts: Vec<String> = r
            .points
            .iter()
            .map(|p| {
                format!(
                    "q{:.1}: {:.3} bpp (est {:.3}) {:.2} dB",
                    p.quality, p.bpp, p.estimated_bpp, p.psnr
                )
            })
            .collect();
        println!(
            "validation at step {} on {} images: {}  ({:.1}s)",
            r.validation_step,
            r.images,
            pts.join(", "),
            r.seconds
        );
    }
}
