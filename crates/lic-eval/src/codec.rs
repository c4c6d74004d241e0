//! The [`Codec`] trait the evaluation loop ([`super::run::evaluate`]) drives, and the
//! [`SourceImage`] it hands to [`Codec::prepare`]. The conventional anchors
//! ([`super::conventional`]) and the learned codec (`eval::lic`, engine feature) implement it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::io::image::Image;

/// A source image handed to [`Codec::prepare`].
#[derive(Clone, Debug)]
pub struct SourceImage {
    /// File name in the dataset (e.g. `kodim01.png`).
    pub name: String,
    /// An 8-bit RGB PNG with exactly the pixels of `image` (the dataset file itself when it is
    /// one, otherwise a normalised copy).
    pub png: PathBuf,
    /// The reference pixels the metrics compare against.
    pub image: Image,
}

/// Numbers an encoder reports about one encode, by name (kept in [`super::results::ImageRow`]).
pub type EncodeStats = BTreeMap<String, f64>;

/// An image codec as the evaluation loop sees it. Only [`Codec::encode`] and [`Codec::decode`]
/// are timed; both must work through real files so that the rate is the file size.
pub trait Codec: Send + Sync {
    /// Short id used as the results name (`jpeg420`, `webp`, a model name, ...).
    fn name(&self) -> String;
    /// The settings, in words, for the results description.
    fn description(&self) -> String {
        String::new()
    }
    /// Version string of the tool or model, when known.
    fn version(&self) -> Option<String> {
        None
    }
    /// Content hash of the model (learned codecs).
    fn hash(&self) -> Option<String> {
        None
    }
    /// What the quality parameter means (`quality`, `qp`, `distance`, ...).
    fn quality_name(&self) -> String {
        "quality".to_string()
    }
    /// Extension of the bitstream file (no dot).
    fn bitstream_extension(&self) -> String;
    /// Extension of the decoded file [`Codec::decode`] writes (no dot).
    fn decoded_extension(&self) -> String {
        "png".to_string()
    }
    /// Fails with a clear message when the codec cannot run (a tool is missing, ...).
    fn check_available(&self) -> Result<()> {
        Ok(())
    }
    /// Fails when `q` is not a valid quality for this codec.
    fn check_quality(&self, q: f64) -> Result<()> {
        if q.is_finite() {
            Ok(())
        } else {
            bail!("quality {q} is not a number")
        }
    }
    /// Untimed: turns the source into the file [`Codec::encode`] reads (written under `work_dir`).
    /// The default is the PNG itself.
    fn prepare(&self, src: &SourceImage, work_dir: &Path) -> Result<PathBuf> {
        let _ = work_dir;
        Ok(src.png.clone())
    }
    /// Timed: encodes `input` (from [`Codec::prepare`]) at quality `q` into the file `out`.
    /// Returns what the encoder reports about the encode (iterations, ms per iteration, ...;
    /// empty for most codecs), kept in the results row as `encoder`.
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<EncodeStats>;
    /// Timed: decodes the bitstream file into `out` (extension [`Codec::decoded_extension`]).
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()>;
    /// Untimed: reads the decoded file back as 8-bit RGB. The default loads PNG/PNM/... files.
    fn read_decoded(&self, decoded: &Path) -> Result<Image> {
        let opts = crate::io::image::LoadOptions::default();
        Ok(crate::io::image::load(decoded, &opts)?.image)
    }
    /// `points` qualities spread over the codec's useful range, from low to high rate.
    fn default_qualities(&self, points: usize) -> Vec<f64>;
}

/// Reads a bitstream, decodes it with `decode` and saves the image (the `decode` step of the
/// libtorch-free families' [`Codec`]s).
pub fn decode_file<E>(
    bitstream: &Path,
    out: &Path,
    decode: impl FnOnce(&[u8]) -> std::result::Result<Image, E>,
) -> Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    use anyhow::Context;
    let bytes = std::fs::read(bitstream)
        .with_context(|| format!("{}: cannot read", bitstream.display()))?;
    let img = decode(&bytes).with_context(|| format!("decoding {}", bitstream.display()))?;
    crate::io::image::save(&img, out)?;
    Ok(())
}

/// `points` qualities spread evenly over `[lo, hi]` (the middle one for a single point).
pub fn spread_qualities(lo: f64, hi: f64, points: usize) -> Vec<f64> {
    match points {
        0 => vec![],
        1 => vec![(lo + hi) / 2.0],
        n => (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}
