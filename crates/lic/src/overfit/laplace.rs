//! The discretized Laplace distribution of the overfitted codec: the float rate used in training
//! (with its derivatives) and the integer tables that code the symbols.
//!
//! A latent `ŷ` (an integer) with predicted location `μ` and scale `b` costs
//! `−log2 P(ŷ)`, `P(ŷ) = F(ŷ + ½ − μ) − F(ŷ − ½ − μ)`, `F` the Laplace CDF. For coding, `μ` is
//! snapped to eighths (`m8 = round(8μ)`), the symbol is `ŷ − ⌊m8 / 8⌋` and table
//! `(k, m8 mod 8)` holds the masses of `s − (m8 mod 8)/8` under scale `b_k`,
//! `ln b_k = LN_B_MIN + k / 8`. The tables are computed from these constants with the pure-Rust
//! `libm` and made integer with [`quantize_pmf`], so they are identical on every machine.
use std::sync::OnceLock;

use super::vmath;
use crate::coder::{quantize_pmf, CdfTable};

/// `ln` of the smallest table scale.
pub const LN_B_MIN: f64 = -3.25;
/// Number of table scales.
pub const SCALES: usize = 60;
/// Step of `ln b` between table scales.
pub const LN_B_STEP: f64 = 0.125;
/// Fractional positions of `μ` (eighths).
pub const FRACS: usize = 8;
/// Half-width of a table's support in units of its scale.
const TAIL_SCALES: f64 = 14.0;

/// Smallest `ln b` the training rate uses (the table range).
pub const LS_MIN: f32 = LN_B_MIN as f32;
/// Largest `ln b` the training rate uses.
pub const LS_MAX: f32 = (LN_B_MIN + LN_B_STEP * (SCALES - 1) as f64) as f32;

/// Table index of scale `k` and fraction `j` (eighths of `μ`).
#[inline]
pub fn table_index(k: usize, j: usize) -> u16 {
    (k * FRACS + j) as u16
}

fn build(b: f64, frac: f64) -> CdfTable {
    let r = (TAIL_SCALES * b).ceil().max(2.0) as i32;
    // Mass of s: F(s + ½ − frac) − F(s − ½ − frac), F the Laplace CDF of scale b.
    let upper = |t: f64| {
        // 1 − F(t)
        if t >= 0.0 {
            0.5 * libm::exp(-t / b)
        } else {
            1.0 - 0.5 * libm::exp(t / b)
        }
    };
    let lower = |t: f64| 1.0 - upper(t);
    let mass = |s: i32| {
        let (a, c) = (f64::from(s) - 0.5 - frac, f64::from(s) + 0.5 - frac);
        if a >= 0.0 {
            upper(a) - upper(c)
        } else {
            lower(c) - lower(a)
        }
    };
    let lo_tail = lower(f64::from(-r) - 0.5 - frac);
    let hi_tail = upper(f64::from(r + 1) + 0.5 - frac);
    let weights: Vec<f64> = std::iter::once(lo_tail)
        .chain((-r..=r + 1).map(mass))
        .chain(std::iter::once(hi_tail))
        .collect();
    let probs = quantize_pmf(&weights).expect("Laplace weights are finite and few");
    CdfTable::from_probs(-r, &probs).expect("quantize_pmf yields a valid table")
}

/// The `SCALES × FRACS` integer tables (index [`table_index`]), built once.
pub fn tables() -> &'static [CdfTable] {
    static T: OnceLock<Vec<CdfTable>> = OnceLock::new();
    T.get_or_init(|| {
        let mut v = Vec::with_capacity(SCALES * FRACS);
        for k in 0..SCALES {
            let b = libm::exp(LN_B_MIN + LN_B_STEP * k as f64);
            for j in 0..FRACS {
                v.push(build(b, j as f64 / FRACS as f64));
            }
        }
        v
    })
}

/// Rate in bits of integer-valued `x = ŷ − μ` under a Laplace of log-scale `ls` (clamped to the
/// table range), and its derivatives `(bits, d bits / dx, d bits / d ls)`.
///
/// Branch-free (selects, and the polynomial [`vmath`] functions), so that a loop over a block
/// of latents vectorizes. With `a = |x|`: in the tails (`a ≥ ½`)
/// `P = ½ e^{−(a−½)/b} (1 − e^{−1/b})`, taken in logs so that it does not underflow; in the
/// middle `P = 1 − ½ e^{−(a+½)/b} − ½ e^{−(½−a)/b}`.
#[inline(always)]
pub fn rate(x: f32, ls: f32) -> (f32, f32, f32) {
    const INV_LN2: f32 = std::f32::consts::LOG2_E;
    let pass = if (LS_MIN..=LS_MAX).contains(&ls) {
        1.0
    } else {
        0.0
    };
    let b = vmath::exp(ls.clamp(LS_MIN, LS_MAX));
    let inv_b = 1.0 / b;
    let a = x.abs();
    let tail = a >= 0.5;
    // Tails: e1 = e^{−1/b}; middle: e1 = e^{−(a+½)/b}, e2 = e^{−(½−a)/b}.
    let e1 = vmath::exp(-(if tail { 1.0 } else { a + 0.5 }) * inv_b);
    let e2 = vmath::exp(-(if tail { 0.0 } else { 0.5 - a }) * inv_b);
    let arg = if tail {
        (1.0 - e1).max(1e-30)
    } else {
        (1.0 - 0.5 * e1 - 0.5 * e2).max(1e-12)
    };
    let l = vmath::ln(arg);
    let inv_arg = 1.0 / arg;
    let sgn = 1.0f32.copysign(x);
    let (nats, dx, dls) = if tail {
        // d nats/db = −(a−½)/b² + e1/((1 − e1) b²); d/d ls = b · d/db.
        (
            std::f32::consts::LN_2 + (a - 0.5) * inv_b - l,
            sgn * inv_b,
            (e1 * inv_arg - (a - 0.5)) * inv_b,
        )
    } else {
        let dpda = 0.5 * (e1 - e2) * inv_b;
        let dpdls = -(0.5 * e1 * (a + 0.5) + 0.5 * e2 * (0.5 - a)) * inv_b;
        (-l, -sgn * dpda * inv_arg, -dpdls * inv_arg)
    };
    (nats * INV_LN2, dx * INV_LN2, dls * pass * INV_LN2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_derivatives_match_finite_differences() {
        for &(x, ls) in &[
            (0.2f32, 0.3f32),
            (-0.4, -1.0),
            (1.7, 0.5),
            (-3.2, 1.4),
            (0.0, -2.0),
            (2.5, 2.0),
        ] {
            let (_, dx, dl) = rate(x, ls);
            let h = 1e-3f64;
            let f = |x: f64, l: f64| f64::from(rate(x as f32, l as f32).0);
            let nx = (f(f64::from(x) + h, f64::from(ls)) - f(f64::from(x) - h, f64::from(ls)))
                / (2.0 * h);
            let nl = (f(f64::from(x), f64::from(ls) + h) - f(f64::from(x), f64::from(ls) - h))
                / (2.0 * h);
            assert!(
                (f64::from(dx) - nx).abs() < 2e-2 * (1.0 + nx.abs()),
                "{x} {ls}: {dx} vs {nx}"
            );
            assert!(
                (f64::from(dl) - nl).abs() < 2e-2 * (1.0 + nl.abs()),
                "{x} {ls}: {dl} vs {nl}"
            );
        }
    }

    #[test]
    fn rate_matches_the_f64_laplace_mass() {
        let mut worst = 0.0f64;
        for i in 0..400 {
            let x = -12.0 + 0.0617 * f64::from(i);
            for j in 0..60 {
                let ls = LN_B_MIN + 0.125 * f64::from(j);
                let b = ls.exp();
                let cdf = |t: f64| {
                    if t < 0.0 {
                        0.5 * (t / b).exp()
                    } else {
                        1.0 - 0.5 * (-t / b).exp()
                    }
                };
                let a = x.abs();
                // Symmetric, so take the upper side to keep the f64 difference accurate.
                let p = if a >= 0.5 {
                    0.5 * (-(a - 0.5) / b).exp() * (1.0 - (-1.0 / b).exp())
                } else {
                    cdf(a + 0.5) - cdf(a - 0.5)
                };
                let want = -p.max(1e-300).log2();
                let got = f64::from(rate(x as f32, ls as f32).0);
                worst = worst.max((got - want).abs() / want.max(1.0));
            }
        }
        assert!(worst < 1e-5, "worst relative error {worst}");
    }

    #[test]
    fn tables_agree_with_the_float_rate() {
        let t = tables();
        assert_eq!(t.len(), SCALES * FRACS);
        // Table (k, j): symbol s = ŷ − base has mass of x = s − j/8.
        for &(k, j, s) in &[(10usize, 3usize, 0i32), (30, 0, 2), (45, 7, -5), (20, 4, 1)] {
            let table = &t[usize::from(table_index(k, j))];
            let p = f64::from(table.probs()[(s - table.lo()) as usize + 1]) / f64::from(1u32 << 24);
            let ls = (LN_B_MIN + LN_B_STEP * k as f64) as f32;
            let bits = rate(s as f32 - j as f32 / 8.0, ls).0;
            assert!((-p.log2() - f64::from(bits)).abs() < 1e-2, "{k} {j} {s}");
        }
    }
}
