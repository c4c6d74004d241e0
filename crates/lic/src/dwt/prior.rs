//! The trained prior of `lic-dwt`: the state every adaptive model starts from.
//!
//! Each image's models start from distributions learned on a training set instead of from a
//! guess, so the first symbols of every context cost fewer bits (most of the gain is at low
//! rates and on small images, where a context sees few symbols). Training (`train`) codes
//! every training image at several qualities with the models recording what they code, and sets
//! each model to the histogram of its symbols plus a few pseudo-counts of its previous state;
//! it is repeated a few rounds because the encoder's rate–distortion choices depend on the
//! prior. The result is stored as integer CDF boundaries (`models/lic-dwt.safetensors`, one
//! `u16` tensor per model kind, rows in the order of [`Models::iter_mut`]) and compiled into
//! the binary, so encoder and decoder start from the same integers on every machine and no
//! file is needed at run time. Its SHA-256 is the header's weights hash.
use std::collections::HashMap;
use std::sync::OnceLock;

use rayon::prelude::*;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::code::{Models, MODEL_COUNTS};
use super::model::Adaptive;
use super::{DwtError, EncodeOptions};

/// The shipped prior (`models/lic-dwt.safetensors`).
pub const EMBEDDED: &[u8] = include_bytes!("../../../../models/lic-dwt.safetensors");

/// The models every image starts from (the embedded prior).
pub fn models() -> Models {
    static PRIOR: OnceLock<Models> = OnceLock::new();
    PRIOR
        .get_or_init(|| {
            if EMBEDDED.is_empty() {
                // Only while bootstrapping the very first prior.
                Models::analytic()
            } else {
                from_safetensors(EMBEDDED).expect("the embedded prior is valid (unit-tested)")
            }
        })
        .clone()
}

/// Parses a prior.
pub fn from_safetensors(bytes: &[u8]) -> Result<Models, String> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut list = Vec::new();
    for &(name, n, symbols) in &MODEL_COUNTS {
        let key = format!("{name}.cdf");
        let t = st.tensor(&key).map_err(|e| format!("{key}: {e}"))?;
        if t.dtype() != Dtype::U16 || t.shape() != [n, symbols + 1] {
            return Err(format!(
                "{key}: {:?} {:?}, expected U16 [{n}, {}]",
                t.dtype(),
                t.shape(),
                symbols + 1
            ));
        }
        let v: Vec<u16> = t
            .data()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        for (i, row) in v.chunks_exact(symbols + 1).enumerate() {
            list.push(Adaptive::from_cdf(row).ok_or_else(|| format!("{key} row {i} invalid"))?);
        }
    }
    if st.len() != MODEL_COUNTS.len() {
        return Err(format!(
            "{} tensors, expected {}",
            st.len(),
            MODEL_COUNTS.len()
        ));
    }
    Models::from_list(list).ok_or_else(|| "model counts do not match".to_string())
}

/// Serializes a prior, with free-form metadata.
pub fn to_safetensors(models: &Models, meta: HashMap<String, String>) -> Result<Vec<u8>, String> {
    let mut models = models.clone();
    let all: Vec<Vec<u16>> = models.iter_mut().map(|m| m.cdf().to_vec()).collect();
    let mut at = 0;
    let mut buffers = Vec::new();
    for &(name, n, symbols) in &MODEL_COUNTS {
        let bytes: Vec<u8> = all[at..at + n]
            .iter()
            .flat_map(|r| r.iter().flat_map(|v| v.to_le_bytes()))
            .collect();
        buffers.push((format!("{name}.cdf"), vec![n, symbols + 1], bytes));
        at += n;
    }
    let views: Vec<(String, TensorView<'_>)> = buffers
        .iter()
        .map(|(k, shape, b)| {
            TensorView::new(Dtype::U16, shape.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, Some(meta)).map_err(|e| e.to_string())
}

/// A training image (8-bit RGB, or gray).
pub struct TrainImage {
    /// Pixels.
    pub data: Vec<u8>,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// One byte per pixel.
    pub gray: bool,
}

/// One training round: codes every image at every quality from `start` and returns the models
/// set to the pooled histograms plus `pseudo` counts of `start`'s distributions, together with
/// the total information content (bits) the round spent under `start`.
pub fn train_round(
    images: &[TrainImage],
    qualities: &[f32],
    start: &Models,
    pseudo: f64,
) -> Result<(Models, f64), DwtError> {
    let mut recording = start.clone();
    recording.iter_mut().for_each(Adaptive::record);
    let jobs: Vec<(usize, f32)> = (0..images.len())
        .flat_map(|i| qualities.iter().map(move |&q| (i, q)))
        .collect();
    let (hists, bits) = jobs
        .par_iter()
        .map(|&(i, q)| {
            let img = &images[i];
            let opts = EncodeOptions::new(q);
            let (mut m, bits) = super::count_image(
                &img.data, img.width, img.height, img.gray, &opts, &recording,
            )?;
            let h: Vec<Vec<u32>> = m.iter_mut().map(|a| a.histogram().to_vec()).collect();
            Ok::<_, DwtError>((h, bits))
        })
        .try_reduce(
            || (Vec::new(), 0.0),
            |(a, x): (Vec<Vec<u32>>, f64), (b, y)| {
                if a.is_empty() {
                    return Ok((b, x + y));
                }
                let sum = a
                    .into_iter()
                    .zip(b)
                    .map(|(p, q)| p.iter().zip(&q).map(|(u, v)| u + v).collect())
                    .collect();
                Ok((sum, x + y))
            },
        )?;
    let mut start = start.clone();
    let list: Vec<Adaptive> = start
        .iter_mut()
        .zip(hists.iter().chain(std::iter::repeat(&Vec::new())))
        .map(|(m, h)| {
            let w: Vec<f64> = (0..m.len())
                .map(|s| {
                    let seen = h.get(s).copied().unwrap_or(0);
                    f64::from(seen) + pseudo * f64::from(m.freq(s)) / 65536.0
                })
                .collect();
            Adaptive::new(&w)
        })
        .collect();
    let models = Models::from_list(list).expect("same layout as the start");
    Ok((models, bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_prior_is_valid_and_round_trips() {
        let mut m = if EMBEDDED.is_empty() {
            Models::analytic()
        } else {
            from_safetensors(EMBEDDED).unwrap()
        };
        let bytes = to_safetensors(&m, HashMap::new()).unwrap();
        let mut back = from_safetensors(&bytes).unwrap();
        let a: Vec<Vec<u16>> = m.iter_mut().map(|x| x.cdf().to_vec()).collect();
        let b: Vec<Vec<u16>> = back.iter_mut().map(|x| x.cdf().to_vec()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn malformed_priors_are_errors() {
        assert!(from_safetensors(b"").is_err());
        assert!(from_safetensors(&[0u8; 64]).is_err());
    }
}
