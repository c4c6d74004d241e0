//! Integer CDF tables: the only probability models the entropy coder ever sees.
//!
//! A [`CdfTable`] describes a distribution over the alphabet
//! `[escape_low, lo, lo + 1, …, hi, escape_high]` as fixed-point probabilities with
//! [`PRECISION`] bits that are all nonzero and sum to exactly `1 << PRECISION`. Values below `lo`
//! or above `hi` are coded as the corresponding escape symbol followed by an Elias-gamma coded
//! magnitude (see `stream.rs`), so every `i32` is representable.
//!
//! Internally the coding alphabet has one more entry, a *sentinel* of probability `2^-24` at
//! cumulative 0 that is never encoded (its count is taken from the most probable entry). With
//! the ANS coder started from state 1, this makes every coded symbol strictly grow the coder
//! state, so a decoder that ends anywhere but at state 1 knows the symbol count is wrong, and a
//! decoder that runs past the end hits the sentinel (an error) instead of decoding free symbols.
//!
//! Decoding inverts the CDF through a small lookup table of `2^LUT_BITS` buckets: bucket `b`
//! stores the symbol whose interval contains the quantile `b << (PRECISION - LUT_BITS)`, so the
//! symbol of any quantile lies between two consecutive bucket entries and is found by a binary
//! search over that (usually empty) range. The table implements constriction's
//! [`EncoderModel`] and [`DecoderModel`] traits, so it plugs into both the ANS and the range coder.
//!
//! [`quantize_pmf`] is the one deterministic float → integer step used to build tables (from
//! Gaussian constants or from learned pmfs at model-export time); the decoder only ever needs the
//! integers.
use std::borrow::Borrow;
use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};

use super::CoderError;

/// Fixed-point precision of all probabilities, in bits (constriction's default for `u32` words).
pub const PRECISION: usize = 24;
/// `1 << PRECISION`: the sum of every table's probabilities.
pub const TOTAL: u32 = 1 << PRECISION;
/// Largest alphabet (including the two escape symbols) a table may have.
pub const MAX_ALPHABET: usize = 1 << 16;
/// Number of bits of the quantile used to index the decoding lookup table.
const LUT_BITS: usize = 10;
const LUT_SHIFT: usize = PRECISION - LUT_BITS;
const LUT_LEN: usize = 1 << LUT_BITS;

/// One integer probability model over `[escape_low, lo..=hi, escape_high]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdfTable {
    lo: i32,
    hi: i32,
    /// The probabilities as given, `[escape_low, p(lo), …, p(hi), escape_high]`.
    probs: Box<[u32]>,
    /// Cumulative counts of the coding alphabet `[sentinel, escape_low, lo..=hi, escape_high]`:
    /// `cdf[0] = 0`, `cdf[1] = 1`, `cdf[n + 1] = TOTAL`, strictly increasing.
    cdf: Box<[u32]>,
    /// `lut[b]` = coding symbol whose interval contains `b << LUT_SHIFT`;
    /// `lut[LUT_LEN] = n` (the last coding symbol).
    lut: Box<[u16]>,
}

impl CdfTable {
    /// Builds a table from fixed-point probabilities `probs = [escape_low, p(lo), …, p(hi),
    /// escape_high]`.
    ///
    /// Fails (never panics) unless there are 3 to [`MAX_ALPHABET`] entries, all nonzero, summing
    /// to exactly [`TOTAL`], and `hi = lo + probs.len() - 3` fits in an `i32`.
    pub fn from_probs(lo: i32, probs: &[u32]) -> Result<Self, CoderError> {
        let n = probs.len();
        if !(3..=MAX_ALPHABET).contains(&n) {
            return Err(CoderError::InvalidTable(format!(
                "alphabet size {n} not in 3..={MAX_ALPHABET}"
            )));
        }
        let hi = i32::try_from(i64::from(lo) + n as i64 - 3).map_err(|_| {
            CoderError::InvalidTable(format!("offset {lo} + {} values overflows i32", n - 2))
        })?;
        if let Some(i) = probs.iter().position(|&p| p == 0) {
            return Err(CoderError::InvalidTable(format!(
                "zero probability at entry {i}"
            )));
        }
        let sum: u64 = probs.iter().map(|&p| u64::from(p)).sum();
        if sum != u64::from(TOTAL) {
            return Err(CoderError::InvalidTable(format!(
                "probabilities sum to {sum}, expected {TOTAL}"
            )));
        }
        // The sentinel's count comes from the most probable entry (the first one on ties).
        let donor = (0..n).fold(0, |m, i| if probs[i] > probs[m] { i } else { m });
        let mut cdf = Vec::with_capacity(n + 2);
        cdf.extend([0, 1]);
        let mut acc = 1u32;
        for (i, &p) in probs.iter().enumerate() {
            acc += if i == donor { p - 1 } else { p };
            cdf.push(acc);
        }
        let mut lut = Vec::with_capacity(LUT_LEN + 1);
        let mut s = 0usize;
        for b in 0..LUT_LEN {
            let q = (b << LUT_SHIFT) as u32;
            while cdf[s + 1] <= q {
                s += 1;
            }
            lut.push(s as u16);
        }
        lut.push(n as u16);
        Ok(Self {
            lo,
            hi,
            probs: probs.into(),
            cdf: cdf.into_boxed_slice(),
            lut: lut.into_boxed_slice(),
        })
    }

    /// Smallest value coded without escape.
    pub fn lo(&self) -> i32 {
        self.lo
    }

    /// Largest value coded without escape.
    pub fn hi(&self) -> i32 {
        self.hi
    }

    /// Alphabet size including both escape symbols (not the sentinel).
    pub fn alphabet_size(&self) -> usize {
        self.probs.len()
    }

    /// Fixed-point probabilities `[escape_low, p(lo), …, p(hi), escape_high]`, as given.
    pub fn probs(&self) -> &[u32] {
        &self.probs
    }

    /// Cumulative counts of the coding alphabet `[sentinel, escape_low, lo..=hi, escape_high]`
    /// (`alphabet_size() + 2` entries, from 0 to [`TOTAL`]): what the coder actually uses.
    pub fn cdf(&self) -> &[u32] {
        &self.cdf
    }

    /// Fixed-point probability of coding symbol `index` (0 if out of range).
    #[inline]
    pub(crate) fn prob(&self, index: usize) -> u32 {
        match (self.cdf.get(index), self.cdf.get(index + 1)) {
            (Some(&l), Some(&r)) => r - l,
            _ => 0,
        }
    }
}

impl EntropyModel<PRECISION> for CdfTable {
    type Symbol = usize;
    type Probability = u32;
}

impl EncoderModel<PRECISION> for CdfTable {
    #[inline]
    fn left_cumulative_and_probability(
        &self,
        symbol: impl Borrow<usize>,
    ) -> Option<(u32, NonZeroU32)> {
        let s = *symbol.borrow();
        let left = *self.cdf.get(s)?;
        let right = *self.cdf.get(s + 1)?;
        NonZeroU32::new(right - left).map(|p| (left, p))
    }
}

impl DecoderModel<PRECISION> for CdfTable {
    #[inline]
    fn quantile_function(&self, quantile: u32) -> (usize, u32, NonZeroU32) {
        let b = ((quantile >> LUT_SHIFT) as usize).min(LUT_LEN - 1);
        let mut lo = self.lut[b] as usize;
        let mut hi = self.lut[b + 1] as usize;
        // Invariant: cdf[lo] <= quantile < cdf[hi + 1].
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.cdf[mid] <= quantile {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let left = self.cdf[lo];
        let p = self.cdf[lo + 1] - left;
        // Tables are validated to have no zero probability.
        (lo, left, NonZeroU32::new(p).unwrap_or(NonZeroU32::MIN))
    }
}

/// Quantizes nonnegative float weights to nonzero fixed-point probabilities summing to
/// exactly [`TOTAL`] (the weights need not be normalized).
///
/// Every entry first gets a count of 1; the remaining `TOTAL - n` counts are shared in
/// proportion to the weights (floored), and the few counts left over go to the entries with the
/// largest fractional parts (ties: lower index first). Only IEEE-exact f64 operations (`+`, `*`,
/// `/`, `floor`) are used, so the result is identical on every platform.
pub fn quantize_pmf(weights: &[f64]) -> Result<Vec<u32>, CoderError> {
    let n = weights.len();
    if n == 0 || n > MAX_ALPHABET {
        return Err(CoderError::InvalidTable(format!(
            "pmf length {n} not in 1..={MAX_ALPHABET}"
        )));
    }
    if let Some(i) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(CoderError::InvalidTable(format!(
            "pmf entry {i} is negative or not finite"
        )));
    }
    let sum: f64 = weights.iter().sum();
    let free = f64::from(TOTAL - n as u32);
    let mut counts = Vec::with_capacity(n);
    let mut fracs = Vec::with_capacity(n);
    for &w in weights {
        let exact = if sum > 0.0 { w / sum * free } else { 0.0 };
        let fl = exact.floor();
        counts.push(1 + fl as u32);
        fracs.push(exact - fl);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| fracs[b].total_cmp(&fracs[a]).then(a.cmp(&b)));
    let assigned: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let mut left = i64::from(TOTAL) - assigned as i64;
    // `left` is in [0, n) up to rounding of the float sums; the loops below make the sum exact
    // in any case.
    let mut i = 0;
    while left > 0 {
        counts[order[i % n]] += 1;
        left -= 1;
        i += 1;
    }
    while left < 0 {
        // Take from the largest count (the first one on ties).
        let j = (0..n).fold(0, |m, k| if counts[k] > counts[m] { k } else { m });
        counts[j] -= 1;
        left += 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_pmf_sums_and_is_nonzero() {
        for w in [
            vec![1.0],
            vec![0.0, 0.0, 0.0],
            vec![1e-30, 1.0, 1e-30],
            vec![0.25; 4],
            (0..5000).map(|i| 1.0 / (1.0 + i as f64)).collect(),
        ] {
            let p = quantize_pmf(&w).unwrap();
            assert_eq!(
                p.iter().map(|&x| u64::from(x)).sum::<u64>(),
                u64::from(TOTAL)
            );
            assert!(p.iter().all(|&x| x > 0));
        }
        assert!(quantize_pmf(&[f64::NAN]).is_err());
        assert!(quantize_pmf(&[-1.0, 2.0]).is_err());
        assert!(quantize_pmf(&[]).is_err());
    }

    #[test]
    fn lookup_matches_linear_search() {
        let w: Vec<f64> = (0..300)
            .map(|i| libm::exp(-(i as f64 - 150.0).powi(2) / 50.0))
            .collect();
        let t = CdfTable::from_probs(-10, &quantize_pmf(&w).unwrap()).unwrap();
        let cdf = t.cdf();
        assert_eq!((cdf[0], cdf[1], cdf[cdf.len() - 1]), (0, 1, TOTAL));
        assert_eq!(t.quantile_function(0).0, 0);
        for q in (0..TOTAL).step_by(997).chain([0, TOTAL - 1]) {
            let (s, left, p) = t.quantile_function(q);
            let expect = cdf.partition_point(|&c| c <= q) - 1;
            assert_eq!(s, expect);
            assert_eq!(left, cdf[s]);
            assert_eq!(p.get(), cdf[s + 1] - cdf[s]);
        }
    }

    #[test]
    fn invalid_tables_are_rejected() {
        assert!(CdfTable::from_probs(0, &[TOTAL]).is_err());
        assert!(CdfTable::from_probs(0, &[1, TOTAL - 2, 0, 1]).is_err());
        assert!(CdfTable::from_probs(0, &[1, TOTAL - 3, 1]).is_err());
        assert!(CdfTable::from_probs(i32::MAX, &[1, 1, TOTAL - 3, 1]).is_err());
        assert!(CdfTable::from_probs(i32::MAX, &[1, TOTAL - 2, 1]).is_ok());
    }
}
