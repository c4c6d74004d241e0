//! The evaluation loop: every image of a dataset at every quality, through real files.
//!
//! For each image (sorted by file name) and each quality, in sequence (no parallel work, so the
//! timings stay clean): [`Codec::encode`] into a file in a temporary directory (timed), measure
//! the file size, [`Codec::decode`] (timed), read the reconstruction back and compute PSNR-RGB and
//! MS-SSIM against the source pixels. bpp = file bytes · 8 / (W · H). The per-point values are the
//! means of the per-image values (CompressAI's convention).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::codec::{Codec, SourceImage};
use super::results::{cpu_device, git_commit, CodecInfo, ImageRow, RatePoint, RdResults, RunInfo};
use crate::io::image::{load, Image, LoadOptions};
use crate::metrics;

/// Options of [`evaluate`].
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// Only the first N images (sorted by name).
    pub limit: Option<usize>,
    /// Show a progress bar on stderr (it hides itself when stderr is not a terminal).
    pub progress: bool,
    /// Device description for the results (default: the CPU model).
    pub device: Option<String>,
    /// Threads the codec may use (for the results; default: rayon's pool size).
    pub threads: Option<usize>,
}

/// The `*.png` files directly in `dir`, sorted by file name.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let files = crate::io::image::image_files(dir, &["png"])
        .with_context(|| format!("{}: cannot list dataset", dir.display()))?;
    if files.is_empty() {
        bail!("{}: no PNG files in the dataset directory", dir.display());
    }
    Ok(files)
}

/// Loads a dataset image and returns the PNG a codec should read: the file itself when it
/// decodes to plain 8-bit RGB without conversion, otherwise a normalised copy in `work`.
fn load_source(path: &Path, work: &Path) -> Result<SourceImage> {
    let loaded = load(path, &LoadOptions::default())?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut image = loaded.image;
    let png = if loaded.notices.is_empty() && !image.gray {
        path.to_path_buf()
    } else {
        image.gray = false;
        let p = work.join("source-rgb8.png");
        crate::io::image::save(&image, &p)?;
        p
    };
    image.gray = false;
    Ok(SourceImage { name, png, image })
}

/// The images [`evaluate`] measures: [`list_images`], cut to `limit`.
pub fn dataset_images(dataset: &Path, limit: Option<usize>) -> Result<Vec<PathBuf>> {
    let mut images = list_images(dataset)?;
    if let Some(n) = limit {
        if n == 0 {
            bail!("--limit must be at least 1");
        }
        images.truncate(n);
    }
    Ok(images)
}

/// Runs `codec` over the dataset at every quality in `qualities` and returns the results (the
/// aggregated curve, per-image rows, codec and run information).
pub fn evaluate(
    dataset: &Path,
    codec: &dyn Codec,
    qualities: &[f64],
    opts: &EvalOptions,
) -> Result<RdResults> {
    evaluate_with(dataset, codec, qualities, opts, &mut |_, _, _| Ok(()))
}

/// [`evaluate`], calling `on_decoded(source, quality_index, decoded)` (untimed) for every decoded
/// image, right after its metrics; images come in name order, each at every quality in turn.
pub fn evaluate_with(
    dataset: &Path,
    codec: &dyn Codec,
    qualities: &[f64],
    opts: &EvalOptions,
    on_decoded: &mut dyn FnMut(&SourceImage, usize, &Image) -> Result<()>,
) -> Result<RdResults> {
    if qualities.is_empty() {
        bail!("no qualities to evaluate");
    }
    for &q in qualities {
        codec.check_quality(q)?;
    }
    codec.check_available()?;
    let images = dataset_images(dataset, opts.limit)?;
    let work = tempfile::Builder::new()
        .prefix("lic-eval-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let bitstream = work
        .path()
        .join(format!("bitstream.{}", codec.bitstream_extension()));
    let decoded = work
        .path()
        .join(format!("decoded.{}", codec.decoded_extension()));

    let pb = if opts.progress {
        crate::util::progress_bar((images.len() * qualities.len()) as u64, &codec.name())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut points: Vec<RatePoint> = qualities
        .iter()
        .map(|&q| RatePoint {
            quality: q,
            per_image: Vec::with_capacity(images.len()),
        })
        .collect();
    for path in &images {
        let src = load_source(path, work.path())?;
        let input = codec
            .prepare(&src, work.path())
            .with_context(|| format!("{}: preparing the input", path.display()))?;
        for (qi, &q) in qualities.iter().enumerate() {
            pb.set_message(format!("{} q={q}", src.name));
            for f in [&bitstream, &decoded] {
                if f.exists() {
                    std::fs::remove_file(f)
                        .with_context(|| format!("{}: cannot remove", f.display()))?;
                }
            }
            let t0 = Instant::now();
            let encoder = codec
                .encode(&input, &bitstream, q)
                .with_context(|| format!("{}: encoding at quality {q}", path.display()))?;
            let encoding_time = t0.elapsed().as_secs_f64();
            let bytes = std::fs::metadata(&bitstream)
                .with_context(|| {
                    format!(
                        "{}: encoder wrote no bitstream at quality {q}",
                        path.display()
                    )
                })?
                .len();
            let t1 = Instant::now();
            codec
                .decode(&bitstream, &decoded)
                .with_context(|| format!("{}: decoding at quality {q}", path.display()))?;
            let decoding_time = t1.elapsed().as_secs_f64();
            let rec = codec.read_decoded(&decoded).with_context(|| {
                format!(
                    "{}: reading the decoded image at quality {q}",
                    path.display()
                )
            })?;
            if (rec.width, rec.height) != (src.image.width, src.image.height) {
                bail!(
                    "{}: decoded image is {}x{}, the source is {}x{} (quality {q})",
                    path.display(),
                    rec.width,
                    rec.height,
                    src.image.width,
                    src.image.height
                );
            }
            let m = metrics::quality(&src.image, &rec)
                .with_context(|| format!("{}: metrics", path.display()))?;
            on_decoded(&src, qi, &rec)?;
            points[qi].per_image.push(ImageRow {
                image: src.name.clone(),
                quality: q,
                bytes,
                bpp: bytes as f64 * 8.0 / src.image.pixels() as f64,
                psnr_rgb: m.psnr_rgb,
                ms_ssim: m.ms_ssim,
                encoding_time,
                decoding_time,
                encoder,
            });
            pb.inc(1);
        }
    }
    pb.finish_and_clear();

    let description = format!(
        "{}. Metrics: mean over {} images of per-image PSNR-RGB (MAX=255) and MS-SSIM (RGB, \
         data_range=255); bpp from the bitstream file size; times are per-image wall seconds \
         (measured by lic eval, images in sequence).",
        codec.description(),
        images.len()
    );
    let mut results = RdResults::from_points(&codec.name(), &description, points);
    results.codec = Some(CodecInfo {
        id: codec.name(),
        version: codec.version(),
        hash: codec.hash(),
        settings: codec.description(),
        quality_name: codec.quality_name(),
    });
    results.run = Some(RunInfo {
        git_commit: git_commit(),
        device: opts.device.clone().unwrap_or_else(cpu_device),
        threads: opts.threads.unwrap_or_else(rayon::current_num_threads),
        dataset: dataset.display().to_string(),
        images: images.len(),
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        lic_version: env!("CARGO_PKG_VERSION").to_string(),
    });
    Ok(results)
}
