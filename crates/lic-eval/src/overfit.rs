//! The overfitted codec (`lic-overfit`, [`lic::overfit`]) as an evaluation [`Codec`]: every
//! image is fitted, written to a real file and decoded from it.
use std::path::Path;

use anyhow::{Context, Result};

use super::codec::{Codec, EncodeStats};
use crate::io::image::{load, LoadOptions};
use lic::overfit::{self, Effort, EncodeOptions};

/// `lic-overfit` at one effort.
pub struct OverfitCodec {
    /// Fitting effort.
    pub effort: Effort,
    /// Per-image time limit for the fitting, seconds.
    pub time_limit: Option<f64>,
}

impl Codec for OverfitCodec {
    fn name(&self) -> String {
        overfit::MODEL_ID.to_string()
    }
    fn description(&self) -> String {
        format!(
            "overfitted per image (C3 / Cool-chic family), effort {:?}{}, λ = 0.02·2^(1−q)",
            self.effort,
            self.time_limit
                .map(|t| format!(", time limit {t} s"))
                .unwrap_or_default()
        )
    }
    fn bitstream_extension(&self) -> String {
        "lic".to_string()
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        let (lo, hi) = overfit::train::QUALITY_RANGE;
        anyhow::ensure!(
            q.is_finite() && (f64::from(lo)..=f64::from(hi)).contains(&q),
            "quality {q} outside lic-overfit's range [{lo}, {hi}]"
        );
        Ok(())
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<EncodeStats> {
        let img = load(input, &LoadOptions::default())?.image;
        let opts = EncodeOptions {
            quality: q as f32,
            effort: self.effort,
            time_limit: self.time_limit,
            ..Default::default()
        };
        let e = overfit::encode_image(&img, &opts, &mut |_| {})
            .with_context(|| format!("encoding {}", input.display()))?;
        crate::io::file::write_atomic(out, &e.bytes)?;
        // Iterations are the effort's unless --time-limit capped them; the time per
        // iteration is the machine's.
        let pixels = f64::from(img.width) * f64::from(img.height);
        Ok(EncodeStats::from([
            ("iterations".to_string(), e.iterations as f64),
            ("ms_per_iteration".to_string(), e.ms_per_iteration),
            ("ms_arm".to_string(), e.ms_arm),
            ("ms_synthesis".to_string(), e.ms_synthesis),
            ("quantize_seconds".to_string(), e.quantize_seconds),
            ("bpp_estimate".to_string(), e.bpp_estimate),
            ("weights_bpp".to_string(), e.weight_bits / pixels),
        ]))
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        super::codec::decode_file(bitstream, out, overfit::decode_image)
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        // Quality 2 ≈ 0.1 bpp up to 7 ≈ 1.2 bpp on Kodak.
        super::codec::spread_qualities(2.0, 7.0, points)
    }
}
