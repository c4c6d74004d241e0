//! Branch-free `f32` elementary functions for the encoder's training loops.
//!
//! libm's `expf`/`logf`/`tanhf` are scalar calls: in a Kodak training step they took about a
//! fifth of the time (the Laplace rate of every latent, the soft rounding of every latent).
//! These versions are straight-line arithmetic on the bit patterns, so that a loop over a block
//! of values inlines them and the compiler vectorizes it in each ISA variant of
//! `super::simd::multiversion`. They serve training only: nothing that selects a probability
//! table or a decoded pixel uses them (that is the integer path of [`super::fixed`]), so their
//! last-bit behaviour may differ between ISAs without breaking the bitstream contract.

const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// `1.5 · 2^23`: adding it rounds a float of magnitude below `2^22` to an integer (to nearest,
/// ties to even) in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x`, with `x` clamped to `[−87, 88]` (relative error below about `3e-7`).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let k = x * std::f32::consts::LOG2_E + ROUND_MAGIC;
    let n = k - ROUND_MAGIC;
    let ni = k.to_bits().wrapping_sub(ROUND_MAGIC.to_bits()) as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    // e^r on |r| ≤ ln2/2: Taylor to degree 6 (truncation below 1.3e-7).
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((ni + 127) as u32) << 23)
}

/// `ln x` for positive normal `x` (absolute error below about `2e-7`); other inputs give
/// meaningless values, so callers clamp first.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Bring the mantissa into [√½, √2).
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = e + i32::from(big);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let s2 = s * s;
    // ln m = 2 atanh s = 2 (s + s³/3 + s⁵/5 + s⁷/7 + s⁹/9), |s| ≤ 0.172.
    let series =
        s * (2.0 + s2 * (2.0 / 3.0 + s2 * (2.0 / 5.0 + s2 * (2.0 / 7.0 + s2 * (2.0 / 9.0)))));
    e as f32 * LN2_HI + (e as f32 * LN2_LO + series)
}

/// `tanh z` (absolute error below about `3e-7`).
#[inline(always)]
pub fn tanh(z: f32) -> f32 {
    let e = exp(2.0 * z.abs());
    (1.0 - 2.0 / (e + 1.0)).copysign(z)
}

#[cfg(test)]
mod tests {
    #[test]
    fn exp_matches_libm() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = f64::from(x).exp();
            let got = f64::from(super::exp(x));
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(super::exp(-1000.0), super::exp(-87.0));
        assert!(super::exp(1000.0).is_finite());
    }

    #[test]
    fn ln_matches_libm() {
        let mut worst = 0.0f64;
        let mut x = 1e-30f32;
        while x < 1e30 {
            let want = f64::from(x).ln();
            let got = f64::from(super::ln(x));
            worst = worst.max((got - want).abs() / want.abs().max(1.0));
            x *= 1.0037;
        }
        assert!(worst < 4e-7, "worst error {worst}");
        assert_eq!(super::ln(1.0), 0.0);
    }

    #[test]
    fn tanh_matches_libm() {
        let mut worst = 0.0f64;
        let mut z = -20.0f32;
        while z < 20.0 {
            worst = worst.max((f64::from(super::tanh(z)) - f64::from(z).tanh()).abs());
            z += 0.0031;
        }
        assert!(worst < 5e-7, "worst error {worst}");
        assert_eq!(super::tanh(0.0), 0.0);
    }
}
