//! Gaussian conditional coding with a fixed scale table (CompressAI style).
//!
//! The caller codes `s = round(y - μ)` under a zero-mean Gaussian whose scale is snapped up to
//! the next entry of a log-spaced table of [`SCALE_LEVELS`] scales from [`SCALE_MIN`] to
//! [`SCALE_MAX`]. [`quantize`] is the only float → integer step: μ then only affects the
//! reconstruction `ŷ = s + μ`, and the decoder needs the same scale *index*, not the same floats.
//!
//! Table `k` covers `[-R_k, R_k]` with `R_k = max(1, ceil(TAIL_SIGMAS · σ_k))`; the entry of
//! value `s` has mass `Φ((s + ½)/σ) − Φ((s − ½)/σ)` and each escape the tail mass beyond
//! `±(R_k + ½)`. The masses are computed in f64 from the table constants only, with the pure-Rust
//! `libm` (`exp`, `log`, `erfc`), then made integer by [`quantize_pmf`]; the result is identical on
//! every IEEE machine and guarded by a golden checksum test. Changing any of this changes the
//! bitstream, so [`crate::format::FORMAT_VERSION`] must move with it.
use std::sync::OnceLock;

use super::stream::{self, Chunk, DEFAULT_BACKEND};
use super::table::{quantize_pmf, CdfTable};
use super::CoderError;

/// Smallest scale of the table (smaller σ use index 0).
pub const SCALE_MIN: f64 = 0.11;
/// Largest scale of the table (larger σ use the last index).
pub const SCALE_MAX: f64 = 256.0;
/// Number of scale levels (and of integer tables).
pub const SCALE_LEVELS: usize = 64;
/// Half-width of each table's support, in units of its σ.
pub const TAIL_SIGMAS: f64 = 6.5;

/// The log-spaced scale table `σ_k = exp(ln SCALE_MIN + k (ln SCALE_MAX − ln SCALE_MIN) / 63)`.
pub fn scale_table() -> &'static [f64] {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let (a, b) = (libm::log(SCALE_MIN), libm::log(SCALE_MAX));
        let step = (b - a) / (SCALE_LEVELS - 1) as f64;
        (0..SCALE_LEVELS)
            .map(|k| libm::exp(a + step * k as f64))
            .collect()
    })
}

/// Maps a latent `y` with predicted mean `mu` and scale `sigma` to the coded integer symbol
/// `round(y − mu)` (f32 arithmetic, half away from zero, saturating; NaN → 0) and the scale
/// index: the first table scale `≥ sigma` (`sigma` at most [`SCALE_MIN`] or NaN → 0, above
/// [`SCALE_MAX`] → 63).
///
/// This is the only float → integer step of the coder; it is exact IEEE arithmetic and
/// comparisons, so encoder and decoder agree whenever they see the same `f32` values.
pub fn quantize(y: f32, mu: f32, sigma: f32) -> (i32, u16) {
    (quantize_symbol(y, mu), scale_index(sigma))
}

/// The symbol of [`quantize`] alone, for callers that pick the table separately.
pub fn quantize_symbol(y: f32, mu: f32) -> i32 {
    (y - mu).round() as i32
}

/// The scale index of [`quantize`] alone.
pub fn scale_index(sigma: f32) -> u16 {
    let sigma = f64::from(sigma);
    let table = scale_table();
    table[..SCALE_LEVELS - 1].partition_point(|&t| t < sigma) as u16
}

/// Half-width `R_k` of the support of table `k`.
pub fn support_radius(k: usize) -> i32 {
    let r = libm::ceil(TAIL_SIGMAS * scale_table()[k]);
    (r as i32).max(1)
}

fn build_table(sigma: f64, r: i32) -> CdfTable {
    let c = 1.0 / (sigma * std::f64::consts::SQRT_2);
    // Upper tail mass Φ̄(x / σ) = erfc(x / (σ√2)) / 2, accurate far into the tail.
    let upper = |x: f64| 0.5 * libm::erfc(x * c);
    let mass = |s: i32| {
        let a = f64::from(s.abs());
        if s == 0 {
            1.0 - 2.0 * upper(0.5)
        } else {
            upper(a - 0.5) - upper(a + 0.5)
        }
    };
    let tail = upper(f64::from(r) + 0.5);
    let weights: Vec<f64> = std::iter::once(tail)
        .chain((-r..=r).map(mass))
        .chain(std::iter::once(tail))
        .collect();
    let probs = quantize_pmf(&weights).expect("Gaussian weights are finite and few");
    CdfTable::from_probs(-r, &probs).expect("quantize_pmf yields a valid table")
}

/// The [`SCALE_LEVELS`] integer tables, built once on first use (about a millisecond).
pub fn gaussian_tables() -> &'static [CdfTable] {
    static TABLES: OnceLock<Vec<CdfTable>> = OnceLock::new();
    TABLES.get_or_init(|| {
        scale_table()
            .iter()
            .enumerate()
            .map(|(k, &sigma)| build_table(sigma, support_radius(k)))
            .collect()
    })
}

/// Encodes chunks of `(symbols, scale indexes)` in parallel, one byte stream per chunk.
pub fn encode_gaussian_chunks(chunks: &[Chunk<'_>]) -> Result<Vec<Vec<u8>>, CoderError> {
    stream::encode_chunks(gaussian_tables(), chunks, DEFAULT_BACKEND)
}

/// Decodes chunks in parallel; `indexes[i]` holds the scale indexes of chunk `i`, and so its
/// symbol count.
pub fn decode_gaussian_chunks(
    streams: &[&[u8]],
    indexes: &[&[u16]],
) -> Result<Vec<Vec<i32>>, CoderError> {
    stream::decode_chunks(gaussian_tables(), streams, indexes, DEFAULT_BACKEND)
}

/// Ideal code length `-Σ log2 p` in bits of `symbols` under the Gaussian tables.
pub fn gaussian_ideal_bits(symbols: &[i32], indexes: &[u16]) -> Result<f64, CoderError> {
    stream::ideal_bits(gaussian_tables(), symbols, indexes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_table_endpoints_and_indexes() {
        let t = scale_table();
        assert_eq!(t.len(), SCALE_LEVELS);
        assert!((t[0] - SCALE_MIN).abs() < 1e-12);
        assert!((t[SCALE_LEVELS - 1] - SCALE_MAX).abs() < 1e-9);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(scale_index(0.0), 0);
        assert_eq!(scale_index(-1.0), 0);
        assert_eq!(scale_index(f32::NAN), 0);
        assert_eq!(scale_index(0.11), 0);
        assert_eq!(scale_index(1e9), 63);
        assert_eq!(scale_index(f32::INFINITY), 63);
        for (k, &s) in t.iter().enumerate() {
            // Snapping rounds up: a scale just above entry k-1 maps to k.
            assert_eq!(scale_index(s as f32 * 0.9999), k as u16);
        }
    }

    #[test]
    fn quantize_rounds_and_saturates() {
        assert_eq!(quantize(2.5, 0.0, 1.0).0, 3);
        assert_eq!(quantize(-2.5, 0.0, 1.0).0, -3);
        assert_eq!(quantize(1.2, 3.0, 1.0).0, -2);
        assert_eq!(quantize(f32::NAN, 0.0, 1.0).0, 0);
        assert_eq!(quantize(1e30, 0.0, 1.0).0, i32::MAX);
        assert_eq!(quantize(-1e30, 0.0, 1.0).0, i32::MIN);
    }

    #[test]
    fn tables_are_symmetric_and_peaked() {
        for t in gaussian_tables() {
            let p = t.probs();
            let rev: Vec<u32> = p.iter().rev().copied().collect();
            // Symmetric up to the leftover counts of quantization.
            for (a, b) in p.iter().zip(&rev) {
                assert!(a.abs_diff(*b) <= 1, "{a} vs {b}");
            }
            let mid = p.len() / 2;
            assert!(p[mid] >= *p.iter().max().unwrap() - 1);
        }
    }
}
