//! A J-level 2-D wavelet packet transform (CDF 9/7, symmetric extension) by lifting.
//!
//! Each level splits every channel into four subbands (LL, LH, HL, HH, in that order) at half
//! resolution, so `J` levels turn `[B, C, H, W]` into `[B, C·4^J, H/2^J, W/2^J]`; `H` and `W`
//! must be multiples of `2^J`. The lifting steps (Daubechies & Sweldens 1998) are inverted step by
//! step, so the inverse is exact up to float rounding whatever the coefficients. Whole-sample
//! symmetric extension at the borders (the JPEG 2000 convention) avoids the wrap-around edges a
//! periodic extension would add. The scaling makes the transform nearly orthonormal: an error
//! of energy E on the coefficients is an error of about E on the pixels.

use tch::Tensor;

/// Lifting coefficients of a biorthogonal wavelet: predict/update pairs, then the scaling ζ
/// (low band ·ζ, high band /ζ).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lifting {
    pub steps: [f64; 4],
    pub zeta: f64,
}

/// Cohen–Daubechies–Feauveau 9/7 (the JPEG 2000 irreversible wavelet).
pub const CDF97: Lifting = Lifting {
    steps: [
        -1.586_134_342_059_924,
        -0.052_980_118_572_961,
        0.882_911_075_530_934,
        0.443_506_852_043_971,
    ],
    zeta: 1.149_604_398_860_241,
};

/// `v[n+1]` along the last dimension, with the last element repeated (symmetric extension of
/// the even samples' right neighbour).
fn next(v: &Tensor) -> Tensor {
    let n = v.size().last().copied().unwrap_or(0);
    if n <= 1 {
        return v.shallow_clone();
    }
    Tensor::cat(&[v.narrow(-1, 1, n - 1), v.narrow(-1, n - 1, 1)], -1)
}

/// `v[n-1]` along the last dimension, with the first element repeated.
fn prev(v: &Tensor) -> Tensor {
    let n = v.size().last().copied().unwrap_or(0);
    if n <= 1 {
        return v.shallow_clone();
    }
    Tensor::cat(&[v.narrow(-1, 0, 1), v.narrow(-1, 0, n - 1)], -1)
}

impl Lifting {
    /// One analysis step along the last dimension (even length): `(low, high)`.
    fn split(&self, x: &Tensor) -> (Tensor, Tensor) {
        let n = *x.size().last().expect("non-scalar");
        let pairs = x.unflatten(-1, [n / 2, 2]);
        let mut s = pairs.select(-1, 0);
        let mut d = pairs.select(-1, 1);
        let [a, b, c, e] = self.steps;
        d = &d + (&s + next(&s)) * a;
        s = &s + (&d + prev(&d)) * b;
        d = &d + (&s + next(&s)) * c;
        s = &s + (&d + prev(&d)) * e;
        (s * self.zeta, d / self.zeta)
    }

    /// Inverse of [`Lifting::split`].
    fn merge(&self, low: &Tensor, high: &Tensor) -> Tensor {
        let [a, b, c, e] = self.steps;
        let mut s = low / self.zeta;
        let mut d = high * self.zeta;
        s = &s - (&d + prev(&d)) * e;
        d = &d - (&s + next(&s)) * c;
        s = &s - (&d + prev(&d)) * b;
        d = &d - (&s + next(&s)) * a;
        Tensor::stack(&[s, d], -1).flatten(-2, -1)
    }
}

/// The packet transform: `levels` full 2-D splits.
#[derive(Clone, Copy, Debug)]
pub struct Wpt {
    pub levels: u32,
    pub wavelet: Lifting,
}

impl Wpt {
    pub fn new(levels: u32) -> Wpt {
        Wpt {
            levels,
            wavelet: CDF97,
        }
    }

    /// Channels out per channel in.
    pub fn bands(&self) -> i64 {
        4i64.pow(self.levels)
    }

    /// Spatial down-sampling factor `2^J`.
    pub fn factor(&self) -> i64 {
        1 << self.levels
    }

    fn level_forward(&self, x: &Tensor) -> Tensor {
        let (b, c, h, w) = x.size4().expect("4-d input");
        let (lo, hi) = self.wavelet.split(x);
        // Columns next: transpose so that rows are the last dimension.
        let (ll, lh) = self.wavelet.split(&lo.transpose(-1, -2));
        let (hl, hh) = self.wavelet.split(&hi.transpose(-1, -2));
        Tensor::stack(&[ll, lh, hl, hh], 2)
            .transpose(-1, -2)
            .reshape([b, c * 4, h / 2, w / 2])
    }

    fn level_inverse(&self, x: &Tensor) -> Tensor {
        let (b, c4, h2, w2) = x.size4().expect("4-d input");
        let bands = x.reshape([b, c4 / 4, 4, h2, w2]).transpose(-1, -2);
        let lo = self.wavelet.merge(&bands.select(2, 0), &bands.select(2, 1));
        let hi = self.wavelet.merge(&bands.select(2, 2), &bands.select(2, 3));
        self.wavelet
            .merge(&lo.transpose(-1, -2), &hi.transpose(-1, -2))
    }

    /// `[B, C, H, W] → [B, C·4^J, H/2^J, W/2^J]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        (0..self.levels).fold(x.shallow_clone(), |t, _| self.level_forward(&t))
    }

    /// Exact inverse of [`Wpt::forward`] (up to float rounding).
    pub fn inverse(&self, x: &Tensor) -> Tensor {
        (0..self.levels).fold(x.shallow_clone(), |t, _| self.level_inverse(&t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn perfect_reconstruction() {
        tch::manual_seed(1);
        for (levels, h, w) in [(1, 2, 2), (2, 8, 12), (3, 64, 40), (3, 8, 8)] {
            let x = Tensor::rand([2, 3, h, w], (Kind::Double, Device::Cpu));
            let t = Wpt::new(levels);
            let c = t.forward(&x);
            let f = t.factor();
            assert_eq!(c.size(), vec![2, 3 * t.bands(), h / f, w / f]);
            let back = t.inverse(&c);
            let err = (&back - &x).abs().max().double_value(&[]);
            assert!(err < 1e-12, "levels {levels} {h}x{w}: max error {err}");
        }
    }

    #[test]
    fn near_orthonormal_and_energy_in_low_band() {
        tch::manual_seed(2);
        // A smooth image: most of its energy lands in the LL…L band (channel 0 of each group).
        let r = Tensor::arange(64, (Kind::Double, Device::Cpu)).view([1, 1, 64, 1]) / 64.0;
        let c = Tensor::arange(64, (Kind::Double, Device::Cpu)).view([1, 1, 1, 64]) / 64.0;
        let x = (r * 3.0).sin() * (c * 2.0).cos();
        let y = Wpt::new(3).forward(&x);
        let e_x = x.square().sum(Kind::Double).double_value(&[]);
        let e_y = y.square().sum(Kind::Double).double_value(&[]);
        // Biorthogonal, not orthonormal: about +3% energy per level on smooth content.
        assert!((e_y / e_x - 1.0).abs() < 0.15, "energy ratio {}", e_y / e_x);
        let e_ll = y.select(1, 0).square().sum(Kind::Double).double_value(&[]);
        assert!(e_ll / e_y > 0.99, "LL share {}", e_ll / e_y);
        // Noise: the coefficient-domain error maps to about the same pixel-domain error.
        let n = Tensor::randn([1, 3 * 64, 8, 8], (Kind::Double, Device::Cpu));
        let back = Wpt::new(3).inverse(&n);
        let ratio = back.square().mean(Kind::Double).double_value(&[])
            / n.square().mean(Kind::Double).double_value(&[]);
        assert!((0.7..1.3).contains(&ratio), "noise gain {ratio}");
    }

    #[test]
    fn constant_has_no_detail() {
        let x = Tensor::ones([1, 1, 16, 16], (Kind::Double, Device::Cpu));
        let y = Wpt::new(2).forward(&x);
        let detail = y.narrow(1, 1, 15).abs().max().double_value(&[]);
        assert!(detail < 1e-12, "detail {detail}");
        assert!((y.select(1, 0).mean(Kind::Double).double_value(&[]) - 4.0).abs() < 1e-9);
    }
}
