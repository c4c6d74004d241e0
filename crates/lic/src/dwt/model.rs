//! Adaptive integer probability models and the symbol coder interface of `lic-dwt`.
//!
//! An [`Adaptive`] model is a CDF over a small alphabet in 16-bit fixed point. Every symbol has
//! the probability `(stored mass + 1) / 2^16`, so none is ever zero; after each coded symbol the
//! stored cumulative boundaries move a fraction `2^-rate` of the way towards the coded symbol
//! (the CDF adaptation of AV1), with a rate that slows down as the model sees more symbols. All
//! of it is integer arithmetic, so encoder and decoder evolve the same tables on every machine.
//!
//! The coefficient coder is written once against [`SymbolCoder`]: the [`Encoder`] codes the
//! value it is given, the [`Decoder`] overwrites it with the decoded one, and the [`Counter`]
//! only adds up the information content (for the encoder's first pass and the rate estimate).
use std::borrow::Borrow;
use std::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel, UniformModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};

use crate::coder::CoderError;

/// Fixed-point precision of the adaptive models.
pub const PREC: usize = 16;
const ONE: u32 = 1 << PREC;
/// Largest alphabet of an adaptive model.
pub const MAX_SYMBOLS: usize = 64;
/// Largest number of raw bits coded in one uniform piece.
const PIECE: u32 = 16;

/// Adaptation speed: `rate = min(first + count / 16, last)` … see [`Adaptive::update`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rates {
    /// Shift of the first updates (fast adaptation).
    pub first: u8,
    /// Shift once the model has seen many symbols.
    pub last: u8,
}

/// The default adaptation speed.
pub const RATES: Rates = Rates { first: 4, last: 6 };

/// `PREC − log2(f)`: the information content of a symbol of frequency `f` (in `2^-PREC`),
/// from a table of the same `f64::log2` values (the rate–distortion choices call it for every
/// candidate value; the table makes them 8% faster and gives the same numbers).
#[inline]
fn info_bits(f: u32) -> f64 {
    static TABLE: std::sync::OnceLock<Box<[f64]>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        (0..=ONE)
            .map(|f| f64::from(PREC as u32) - f64::from(f).log2())
            .collect()
    });
    t[f as usize]
}

/// An adaptive CDF over `n` symbols.
#[derive(Clone, Debug)]
pub struct Adaptive {
    /// `cdf[i]` = stored mass of symbols `< i`; `cdf[0] = 0`, `cdf[n] = 2^16 - n`.
    cdf: Vec<u16>,
    count: u16,
    /// Symbol counts, kept only while training a prior (empty otherwise).
    hist: Vec<u32>,
}

impl Adaptive {
    /// A model with the given initial probabilities (any positive weights; normalized here).
    pub fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        assert!((2..=MAX_SYMBOLS).contains(&n));
        let mass = ONE - n as u32;
        let total: f64 = weights.iter().sum();
        let mut cdf = Vec::with_capacity(n + 1);
        let mut acc = 0.0;
        cdf.push(0u16);
        for w in &weights[..n - 1] {
            acc += w / total;
            let c = (acc * f64::from(mass)).round() as u32;
            let prev = u32::from(*cdf.last().expect("nonempty"));
            cdf.push(c.clamp(prev, mass) as u16);
        }
        cdf.push(mass as u16);
        Adaptive {
            cdf,
            count: 0,
            hist: Vec::new(),
        }
    }

    /// A model from stored boundaries (`cdf[0] = 0`, nondecreasing, `cdf[n] = 2^16 − n`), as
    /// [`Adaptive::cdf`] returns them; `None` if they are not valid.
    pub fn from_cdf(cdf: &[u16]) -> Option<Self> {
        let n = cdf.len().checked_sub(1)?;
        if !(2..=MAX_SYMBOLS).contains(&n)
            || cdf[0] != 0
            || u32::from(cdf[n]) != ONE - n as u32
            || cdf.windows(2).any(|w| w[0] > w[1])
        {
            return None;
        }
        Some(Adaptive {
            cdf: cdf.to_vec(),
            count: 0,
            hist: Vec::new(),
        })
    }

    /// The stored boundaries.
    pub fn cdf(&self) -> &[u16] {
        &self.cdf
    }

    /// Starts counting the coded symbols (for training a prior).
    pub fn record(&mut self) {
        self.hist = vec![0; self.len()];
    }

    /// The symbol counts since [`Adaptive::record`].
    pub fn histogram(&self) -> &[u32] {
        &self.hist
    }

    /// A uniform model over `n` symbols.
    pub fn uniform(n: usize) -> Self {
        Self::new(&vec![1.0; n])
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.cdf.len() - 1
    }

    /// Always false (a model has at least two symbols).
    pub fn is_empty(&self) -> bool {
        false
    }

    #[inline]
    fn left(&self, s: usize) -> u32 {
        u32::from(self.cdf[s]) + s as u32
    }

    /// Probability of symbol `s` in units of `2^-16`.
    #[inline]
    pub fn freq(&self, s: usize) -> u32 {
        self.left(s + 1) - self.left(s)
    }

    /// Information content of `s` in bits.
    #[inline]
    pub fn bits(&self, s: usize) -> f64 {
        info_bits(self.freq(s))
    }

    /// Moves the distribution towards `s`.
    #[inline]
    pub fn update(&mut self, s: usize, rates: Rates) {
        let rate = (u32::from(rates.first) + u32::from(self.count >> 4)).min(u32::from(rates.last));
        self.count = self.count.saturating_add(1);
        if let Some(h) = self.hist.get_mut(s) {
            *h += 1;
        }
        let n = self.len();
        let mass = (ONE - n as u32) as u16;
        // Boundaries 1..=s move down, s+1..n move up: two branch-free loops that vectorize.
        let (below, above) = self.cdf[..n].split_at_mut(s + 1);
        for c in &mut below[1..] {
            *c -= *c >> rate;
        }
        for c in above {
            *c += (mass - *c) >> rate;
        }
    }
}

impl EntropyModel<PREC> for Adaptive {
    type Symbol = usize;
    type Probability = u32;
}

impl EncoderModel<PREC> for Adaptive {
    #[inline]
    fn left_cumulative_and_probability(&self, s: impl Borrow<usize>) -> Option<(u32, NonZeroU32)> {
        let s = *s.borrow();
        if s >= self.len() {
            return None;
        }
        Some((self.left(s), NonZeroU32::new(self.freq(s))?))
    }
}

impl DecoderModel<PREC> for Adaptive {
    #[inline]
    fn quantile_function(&self, q: u32) -> (usize, u32, NonZeroU32) {
        // Small symbols are by far the most frequent: a forward scan is the fastest search.
        let n = self.len();
        let mut s = 0;
        while s + 1 < n && self.left(s + 1) <= q {
            s += 1;
        }
        let f = NonZeroU32::new(self.freq(s)).expect("every frequency is at least 1");
        (s, self.left(s), f)
    }
}

/// One side of the entropy coder; the coefficient coder is generic over it.
pub trait SymbolCoder {
    /// Codes symbol `*s` under `m` (decoders overwrite `*s`), then adapts `m`.
    fn symbol(&mut self, m: &mut Adaptive, s: &mut usize, rates: Rates) -> Result<(), CoderError>;
    /// Codes the `n ≤ 32` low bits of `*v` with equal probabilities.
    fn bits(&mut self, v: &mut u32, n: u32) -> Result<(), CoderError>;
    /// Whether this coder decodes (its values are outputs, not inputs).
    fn decoding(&self) -> bool {
        false
    }
}

fn enc_err(e: impl std::fmt::Debug) -> CoderError {
    CoderError::Encode(format!("{e:?}"))
}

/// Encoder: constriction's range coder, plus the information content for the rate estimate.
pub struct Encoder {
    coder: DefaultRangeEncoder,
    /// Information content of everything coded so far, in bits.
    pub bits: f64,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            coder: DefaultRangeEncoder::new(),
            bits: 0.0,
        }
    }
}

impl Encoder {
    /// The compressed bytes (little-endian 32-bit words).
    pub fn finish(self) -> Result<Vec<u8>, CoderError> {
        let words = self.coder.into_compressed().map_err(enc_err)?;
        Ok(words.iter().flat_map(|w| w.to_le_bytes()).collect())
    }
}

impl SymbolCoder for Encoder {
    #[inline]
    fn symbol(&mut self, m: &mut Adaptive, s: &mut usize, rates: Rates) -> Result<(), CoderError> {
        self.bits += m.bits(*s);
        self.coder.encode_symbol(*s, &*m).map_err(enc_err)?;
        m.update(*s, rates);
        Ok(())
    }

    fn bits(&mut self, v: &mut u32, n: u32) -> Result<(), CoderError> {
        self.bits += f64::from(n);
        let mut rest = n;
        while rest > 0 {
            let w = rest.min(PIECE);
            rest -= w;
            let piece = ((*v >> rest) & ((1 << w) - 1)) as usize;
            self.coder
                .encode_symbol(piece, UniformModel::<u32, 24>::new(1 << w))
                .map_err(enc_err)?;
        }
        Ok(())
    }
}

/// Decoder over the bytes of one substream.
pub struct Decoder {
    coder: DefaultRangeDecoder,
}

impl Decoder {
    /// Starts decoding `bytes` (a whole number of 32-bit words).
    pub fn new(bytes: &[u8]) -> Result<Self, CoderError> {
        if !bytes.len().is_multiple_of(4) {
            return Err(CoderError::MisalignedStream(bytes.len()));
        }
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let coder = DefaultRangeDecoder::from_compressed(words).map_err(|_| CoderError::Corrupt)?;
        Ok(Decoder { coder })
    }

    /// Whether no whole word is left (a stream with the right symbol count ends so).
    pub fn maybe_exhausted(&self) -> bool {
        self.coder.maybe_exhausted()
    }
}

impl SymbolCoder for Decoder {
    #[inline]
    fn symbol(&mut self, m: &mut Adaptive, s: &mut usize, rates: Rates) -> Result<(), CoderError> {
        *s = self
            .coder
            .decode_symbol(&*m)
            .map_err(|_| CoderError::Corrupt)?;
        m.update(*s, rates);
        Ok(())
    }

    fn bits(&mut self, v: &mut u32, n: u32) -> Result<(), CoderError> {
        let mut x = 0u32;
        let mut rest = n;
        while rest > 0 {
            let w = rest.min(PIECE);
            rest -= w;
            let piece = self
                .coder
                .decode_symbol(UniformModel::<u32, 24>::new(1 << w))
                .map_err(|_| CoderError::Corrupt)?;
            x = (x << w) | piece as u32;
        }
        *v = x;
        Ok(())
    }

    fn decoding(&self) -> bool {
        true
    }
}

/// Adds up information content only (and adapts the models like the real coders).
#[derive(Default)]
pub struct Counter {
    /// Bits so far.
    pub bits: f64,
}

impl SymbolCoder for Counter {
    #[inline]
    fn symbol(&mut self, m: &mut Adaptive, s: &mut usize, rates: Rates) -> Result<(), CoderError> {
        self.bits += m.bits(*s);
        m.update(*s, rates);
        Ok(())
    }

    fn bits(&mut self, _v: &mut u32, n: u32) -> Result<(), CoderError> {
        self.bits += f64::from(n);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_sum_to_one_and_stay_positive() {
        let mut m = Adaptive::new(&[8.0, 4.0, 2.0, 1.0, 1.0]);
        for k in 0..5000 {
            let total: u32 = (0..m.len()).map(|s| m.freq(s)).sum();
            assert_eq!(total, ONE);
            assert!((0..m.len()).all(|s| m.freq(s) >= 1));
            m.update(if k % 7 == 0 { 4 } else { 0 }, RATES);
        }
        assert!(m.freq(0) > m.freq(1));
    }

    #[test]
    fn round_trip_with_adaptation() {
        let values: Vec<usize> = (0..3000).map(|i| (i * i / 7) % 11 % 5).collect();
        let raw: Vec<u32> = (0..3000u32)
            .map(|i| i.wrapping_mul(2_654_435_761) >> 9)
            .collect();
        let mut enc = Encoder::default();
        let mut m = Adaptive::uniform(5);
        for (v, r) in values.iter().zip(&raw) {
            let mut s = *v;
            enc.symbol(&mut m, &mut s, RATES).unwrap();
            let mut r = *r;
            enc.bits(&mut r, 23).unwrap();
        }
        let bytes = enc.finish().unwrap();
        let mut dec = Decoder::new(&bytes).unwrap();
        let mut m = Adaptive::uniform(5);
        for (v, r) in values.iter().zip(&raw) {
            let mut s = 0;
            dec.symbol(&mut m, &mut s, RATES).unwrap();
            assert_eq!(s, *v);
            let mut x = 0;
            dec.bits(&mut x, 23).unwrap();
            assert_eq!(x, *r);
        }
        assert!(dec.maybe_exhausted());
    }
}
