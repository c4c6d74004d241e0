//! Encoder tunings of `lic-dwt`: where the bits go.
//!
//! The default (`psnr`) sets every band's quantizer step so that a unit of error costs the same
//! in the RGB domain, which is what PSNR rewards. `machine` multiplies those steps per
//! component, decomposition level and orientation by weights learned against an ImageNet
//! classifier's outputs on the training crops (`scripts/perception/tune_dwt.py`), so that the
//! bits go where classifiers look. The weights are sent in the stream ([`super::Params`], blob
//! version 4), so the ordinary decoder decodes a machine-tuned stream; a stream that uses none
//! is the same bytes as before the weights existed.

use super::transform::{Band, Orient, MAX_LEVELS};

/// A weight of one in the stream's units ([`super::Params::weights`]: sixteenths).
pub const WEIGHT_ONE: u8 = 16;
/// Weight slots per component class: the low band, then per level (finest first) the
/// horizontal and vertical detail bands (HL, LH) and the diagonal one (HH).
pub const SLOTS: usize = 1 + 2 * MAX_LEVELS;
/// The shorter side, in pixels, of the images the weights were learned for (the classifier's
/// resize target). A larger image's levels are shifted so that a level keeps its weight at the
/// scale the classifier sees it (see [`BandWeights::table`]).
pub const REFERENCE_SIDE: usize = 256;

/// What the encoder optimizes (defined with the family interface, so that every family's
/// options can name it).
pub use crate::family::Tune;

/// Quantizer step multipliers per component class (luma, chroma) and weight slot ([`SLOTS`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandWeights {
    /// Luma (and gray) weights.
    pub luma: [f32; SLOTS],
    /// Chroma (Cb and Cr) weights.
    pub chroma: [f32; SLOTS],
}

/// The slot of a band ([`SLOTS`]): 0 for the low band, else by level (1 = finest) and
/// orientation.
pub fn slot(level: usize, orient: Option<Orient>) -> usize {
    match orient {
        None => 0,
        Some(o) => {
            let l = level.clamp(1, MAX_LEVELS);
            2 * (l - 1) + if o == Orient::Hh { 2 } else { 1 }
        }
    }
}

/// How many levels finer than the classifier's scale an image of shorter side `short` has:
/// round(log2(short / [`REFERENCE_SIDE`])), at least 0.
pub fn level_shift(short: usize) -> usize {
    let mut s = 0;
    // 362 ≈ 256·√2: the geometric midpoint between 256 and 512.
    while s < MAX_LEVELS && short >= (362 << s) {
        s += 1;
    }
    s
}

impl BandWeights {
    /// All weights one (the default tuning).
    pub const ONE: BandWeights = BandWeights {
        luma: [1.0; SLOTS],
        chroma: [1.0; SLOTS],
    };

    /// The stream's weight table for an image: per component (`comps` of them) and band, in the
    /// order of `bands`, the weight in sixteenths (1 to 255). Level `l` of an image whose
    /// shorter side is `2^s` times [`REFERENCE_SIDE`] gets the weights of level `l − s` (the
    /// finest level's where `l ≤ s`). Empty when every weight is one.
    pub fn table(&self, comps: usize, bands: &[Band], w: usize, h: usize) -> Vec<u8> {
        let shift = level_shift(w.min(h));
        let mut t = Vec::with_capacity(comps * bands.len());
        for c in 0..comps {
            let ws = if c == 0 { &self.luma } else { &self.chroma };
            for b in bands {
                let level = b.level.saturating_sub(shift).max(1);
                let v = ws[slot(level, b.orient)];
                t.push(quantize(v));
            }
        }
        if t.iter().all(|&v| v == WEIGHT_ONE) {
            t.clear();
        }
        t
    }
}

/// A weight in sixteenths, clamped to 1–255.
pub fn quantize(v: f32) -> u8 {
    (v * f32::from(WEIGHT_ONE)).round().clamp(1.0, 255.0) as u8
}

/// The machine-perception weights: learned on the training crops (`../shared/datasets/train`,
/// every 6th crop, 82 of them; never on the evaluation images) by
/// `scripts/perception/tune_dwt.py` at quality 7: a coordinate search over 17 grouped log2
/// weights (steps of ±0.5 then ±0.25) minimizing the mean KL divergence of EfficientNet-Lite0's
/// outputs plus λ·bpp, λ the default tuning's own slope there (30 minutes of CPU). Finer steps
/// for luma's detail at levels 1–2 (HL, LH) where the classifier's early layers look, coarser
/// for the finest diagonal band, the low band and chroma's finest two levels (×2, about what
/// 4:2:0 does).
pub const MACHINE: BandWeights = BandWeights {
    luma: [
        1.4375, // LL
        0.6875, 1.4375, // level 1: HL/LH, HH
        0.6875, 0.6875, // level 2
        1.0, 1.0, // level 3
        1.4375, 1.4375, // level 4
        1.0, 1.4375, // level 5 (and the coarser levels of larger images)
        1.0, 1.4375, 1.0, 1.4375, 1.0, 1.4375,
    ],
    chroma: [
        1.4375, // LL
        2.0, 2.0, // level 1
        2.0, 2.0, // level 2
        0.6875, 0.6875, // level 3
        1.0, 1.0, // level 4
        1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
    ],
};

/// The rate–distortion trade-off of the coefficient choice under the machine tuning (squared
/// steps per bit; the default is 0.12): a classifier loses more from the small detail
/// coefficients the default drops than PSNR does (on held-out training crops, at about 1 bpp:
/// mean KL −10% at κ 0.06 against 0.12 with the same weights, and worse again at κ 0).
pub const MACHINE_KAPPA: f32 = 0.06;
