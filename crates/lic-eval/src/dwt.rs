//! The wavelet codec (`lic-dwt`, [`lic::dwt`]) as an evaluation [`Codec`]: every image is
//! encoded into a real file and decoded from it.
use std::path::Path;

use anyhow::{Context, Result};

use super::codec::{Codec, EncodeStats};
use crate::io::image::{load, LoadOptions};
use crate::util::hex;
use lic::dwt::{self, tune::Tune, EncodeOptions};

/// `lic-dwt` with its default options at each quality, in a tuning (`lic-dwt` for the default,
/// `lic-dwt-machine` for the machine-perception one).
#[derive(Clone, Copy, Debug, Default)]
pub struct DwtCodec {
    /// What the encoder optimizes.
    pub tune: Tune,
}

impl Codec for DwtCodec {
    fn name(&self) -> String {
        match self.tune {
            Tune::Psnr => dwt::MODEL_ID.to_string(),
            t => format!("{}-{}", dwt::MODEL_ID, t.name()),
        }
    }
    fn description(&self) -> String {
        format!(
            "{}: colour transform + CDF 9/7 wavelet, RD-optimized dead-zone quantization, \
             context-adaptive range coding from a compiled-in prior (no libtorch); step 2^(8 − q/2){}",
            dwt::MODEL_ID,
            match self.tune {
                Tune::Psnr => "",
                Tune::Machine => {
                    "; --tune machine: per-band step weights learned against an ImageNet \
                     classifier on the training crops, sent in the stream"
                }
            }
        )
    }
    fn version(&self) -> Option<String> {
        Some(format!(
            "lic {} / format v{} / lic-dwt blob v{}",
            env!("CARGO_PKG_VERSION"),
            crate::format::FORMAT_VERSION,
            dwt::BLOB_VERSION
        ))
    }
    fn hash(&self) -> Option<String> {
        Some(hex(&dwt::weights_hash()))
    }
    fn bitstream_extension(&self) -> String {
        "lic".to_string()
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        let (lo, hi) = dwt::QUALITY_RANGE;
        anyhow::ensure!(
            q.is_finite() && (f64::from(lo)..=f64::from(hi)).contains(&q),
            "quality {q} outside {}'s range [{lo}, {hi}]",
            dwt::MODEL_ID
        );
        Ok(())
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<EncodeStats> {
        let img = load(input, &LoadOptions::default())?.image;
        let e = dwt::encode_image(&img, &EncodeOptions::tuned(q as f32, self.tune))
            .with_context(|| format!("encoding {}", input.display()))?;
        crate::io::file::write_atomic(out, &e.bytes)?;
        Ok(EncodeStats::new())
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        super::codec::decode_file(bitstream, out, dwt::decode_image)
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        // Quality 2 ≈ 0.1 bpp up to 10 ≈ 1.6 bpp on Kodak.
        super::codec::spread_qualities(2.0, 10.0, points)
    }
}
