//! The learned codec as an evaluation [`Codec`]: encodes and decodes through real `.lic` files,
//! in process (the model is loaded once).

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::codec::{Codec, EncodeStats};
use crate::codec::{self, CodecModel, EncodeOptions};
use crate::io::image::{load, save, LoadOptions};

pub struct LicCodec {
    model: Mutex<CodecModel>,
    id: String,
    hash: String,
    range: (f64, f64),
    /// Encode-time refinement steps ([`crate::codec::refine`]).
    refine: usize,
}

impl LicCodec {
    pub fn new(model: CodecModel) -> Self {
        LicCodec {
            id: model.id.clone(),
            hash: model.hash_hex(),
            range: model.config.quality_range(),
            model: Mutex::new(model),
            refine: 0,
        }
    }

    /// Encodes with `steps` of latent refinement (the results are named `MODEL-refineN`).
    pub fn with_refine(mut self, steps: usize) -> Self {
        self.refine = steps;
        self
    }
}

impl Codec for LicCodec {
    fn name(&self) -> String {
        if self.refine > 0 {
            format!("{}-refine{}", self.id, self.refine)
        } else {
            self.id.clone()
        }
    }
    fn description(&self) -> String {
        let refine = if self.refine > 0 {
            format!(", {} encode-time refinement steps", self.refine)
        } else {
            String::new()
        };
        format!(
            "lic learned codec, model {} (weights {}){refine}",
            self.id, self.hash
        )
    }
    fn version(&self) -> Option<String> {
        Some(format!(
            "lic {} / format v{}",
            env!("CARGO_PKG_VERSION"),
            crate::format::FORMAT_VERSION
        ))
    }
    fn hash(&self) -> Option<String> {
        Some(self.hash.clone())
    }
    fn bitstream_extension(&self) -> String {
        "lic".to_string()
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        let (lo, hi) = self.range;
        anyhow::ensure!(
            (lo..=hi).contains(&q),
            "quality {q} outside the model's range [{lo}, {hi}]"
        );
        Ok(())
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<EncodeStats> {
        let img = load(input, &LoadOptions::default())?.image;
        let model = self.model.lock().expect("model lock");
        let e = codec::encode(
            &img,
            &model,
            &EncodeOptions {
                quality: q,
                refine: self.refine,
                ..Default::default()
            },
        )
        .with_context(|| format!("encoding {}", input.display()))?;
        std::fs::write(out, &e.bytes)
            .with_context(|| format!("{}: cannot write", out.display()))?;
        Ok(EncodeStats::new())
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        let bytes = std::fs::read(bitstream)
            .with_context(|| format!("{}: cannot read", bitstream.display()))?;
        let model = self.model.lock().expect("model lock");
        let img = codec::decode(&bytes, &model)
            .with_context(|| format!("decoding {}", bitstream.display()))?;
        save(&img, out)?;
        Ok(())
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        super::codec::spread_qualities(self.range.0, self.range.1, points)
    }
}
