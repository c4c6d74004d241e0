//! Image quality metrics on 8-bit RGB: PSNR-RGB and MS-SSIM.
//!
//! Both follow the conventions of CompressAI's evaluation so that numbers are comparable with
//! published curves:
//!
//! * **PSNR-RGB**: one MSE over all `W*H*3` samples, `MAX = 255`. Identical images (MSE = 0) have no
//!   finite PSNR; the value is capped at [`PSNR_CAP_DB`] (100 dB) so results stay finite in JSON.
//! * **MS-SSIM**: a reimplementation of `pytorch_msssim.ms_ssim(X, Y, data_range=255,
//!   size_average=True)` (pytorch_msssim 1.0.0): 5 scales with weights
//!   `[0.0448, 0.2856, 0.3001, 0.2363, 0.1333]`, an 11-tap separable Gaussian (σ = 1.5) applied as a
//!   *valid* convolution (no padding), `K1 = 0.01`, `K2 = 0.03`, `C1 = (K1·255)²`, `C2 = (K2·255)²`,
//!   and 2x2 average pooling between scales. When a side is odd, the pooling pads one zero on each
//!   end of that axis and still divides by 4 (PyTorch's `avg_pool2d(padding=s % 2)` with
//!   `count_include_pad=True`). The Gaussian taps are pytorch_msssim's float32 values (see
//!   `GAUSS_WINDOW_F32_BITS`). The contrast-structure terms of scales 1–4 and the SSIM of scale 5
//!   are clamped at 0 (`relu`) before the weighted product. Each RGB channel is scored on its own and
//!   the three channel scores are averaged. Math is in `f64`.
//!
//! MS-SSIM needs the shorter side to be larger than `(11 - 1) · 2⁴ = 160` pixels, exactly like
//! pytorch_msssim; smaller images give [`MetricError::TooSmall`].

use rayon::prelude::*;

use crate::io::image::Image;

/// PSNR reported for identical images (and the upper bound of every PSNR value), in dB.
pub const PSNR_CAP_DB: f64 = 100.0;

/// MS-SSIM scale weights (Wang et al. 2003), finest scale first.
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
/// Gaussian window side.
pub const WIN_SIZE: usize = 11;
/// Gaussian window standard deviation.
pub const WIN_SIGMA: f64 = 1.5;
const K1: f64 = 0.01;
const K2: f64 = 0.03;
const DATA_RANGE: f64 = 255.0;

/// The shorter image side must be larger than this for MS-SSIM (5 scales, 11x11 window).
pub const MS_SSIM_MIN_SIDE: u32 = ((WIN_SIZE - 1) * (1 << (MS_SSIM_WEIGHTS.len() - 1))) as u32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    #[error("images differ in size: {a_w}x{a_h} vs {b_w}x{b_h}")]
    SizeMismatch {
        a_w: u32,
        a_h: u32,
        b_w: u32,
        b_h: u32,
    },
    #[error(
        "image is {width}x{height}: MS-SSIM with 5 scales and an 11x11 window needs both sides \
         larger than {min} pixels"
    )]
    TooSmall { width: u32, height: u32, min: u32 },
    #[error("image is empty ({width}x{height})")]
    Empty { width: u32, height: u32 },
}

fn check_same_size(a: &Image, b: &Image) -> Result<(), MetricError> {
    if a.width != b.width || a.height != b.height {
        return Err(MetricError::SizeMismatch {
            a_w: a.width,
            a_h: a.height,
            b_w: b.width,
            b_h: b.height,
        });
    }
    if a.width == 0 || a.height == 0 {
        return Err(MetricError::Empty {
            width: a.width,
            height: a.height,
        });
    }
    Ok(())
}

/// Sum of squared differences of two equally long 8-bit buffers (exact integer arithmetic, so
/// the parallel split does not change the result).
pub fn sse_u8(a: &[u8], b: &[u8]) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    a.par_chunks(1 << 16)
        .zip(b.par_chunks(1 << 16))
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(&p, &q)| {
                    let d = p as i64 - q as i64;
                    (d * d) as u64
                })
                .sum::<u64>()
        })
        .sum()
}

/// Mean squared error over all RGB samples.
pub fn mse(a: &Image, b: &Image) -> Result<f64, MetricError> {
    check_same_size(a, b)?;
    Ok(sse_u8(&a.data, &b.data) as f64 / a.data.len() as f64)
}

/// PSNR in dB from an MSE of 8-bit samples, capped at [`PSNR_CAP_DB`] (also for MSE = 0).
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        return PSNR_CAP_DB;
    }
    (10.0 * (DATA_RANGE * DATA_RANGE / mse).log10()).min(PSNR_CAP_DB)
}

/// PSNR-RGB in dB (MSE over all RGB samples, MAX = 255), capped at [`PSNR_CAP_DB`].
pub fn psnr_rgb(a: &Image, b: &Image) -> Result<f64, MetricError> {
    Ok(psnr_from_mse(mse(a, b)?))
}

/// MS-SSIM expressed in dB, `-10 log10(1 - ms_ssim)`, as CompressAI's plots and papers use.
/// `ms_ssim = 1` gives [`PSNR_CAP_DB`].
pub fn ms_ssim_db(ms_ssim: f64) -> f64 {
    let d = 1.0 - ms_ssim;
    if d <= 0.0 {
        return PSNR_CAP_DB;
    }
    (-10.0 * d.log10()).min(PSNR_CAP_DB)
}

/// The 1-D Gaussian window exactly as pytorch_msssim 1.0.0 builds it: `exp(-x²/(2σ²))` normalised
/// in float32 by PyTorch (`_fspecial_gauss_1d(11, 1.5)`), then widened to f64, as happens when
/// `ms_ssim` is called on float64 tensors. Its sum is `1 − 3.07e-8`; using these exact values (rather
/// than an f64 window) keeps us within ~1e-12 of the reference instead of ~3e-7 (flat regions are
/// sensitive to the window sum through `σ² = E[x²] − μ²`).
/// IEEE-754 bit patterns of those float32 taps (0.0010283804, 0.0075987582, 0.036000773, 0.10936069,
/// 0.21300553, 0.26601171, then mirrored).
const GAUSS_WINDOW_F32_BITS: [u32; WIN_SIZE] = [
    0x3A86_CAB8,
    0x3BF8_FF01,
    0x3D13_758C,
    0x3DDF_F87F,
    0x3E5A_1E1F,
    0x3E88_32B0,
    0x3E5A_1E1F,
    0x3DDF_F87F,
    0x3D13_758C,
    0x3BF8_FF01,
    0x3A86_CAB8,
];

fn gaussian_window() -> [f64; WIN_SIZE] {
    GAUSS_WINDOW_F32_BITS.map(|b| f32::from_bits(b) as f64)
}

/// One channel plane in f64, row-major.
#[derive(Clone, Debug)]
struct Plane {
    w: usize,
    h: usize,
    v: Vec<f64>,
}

impl Plane {
    fn from_channel(img: &Image, c: usize) -> Plane {
        Plane {
            w: img.width as usize,
            h: img.height as usize,
            v: img
                .data
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&p| p as f64)
                .collect(),
        }
    }

    /// Valid (unpadded) separable Gaussian filter: vertical pass, then horizontal pass, as
    /// pytorch_msssim does. Output is `(w - 10) x (h - 10)`.
    fn gauss_valid(&self, g: &[f64; WIN_SIZE]) -> Plane {
        let (w, h) = (self.w, self.h);
        let oh = h + 1 - WIN_SIZE;
        let ow = w + 1 - WIN_SIZE;
        // Vertical pass: (w) x (oh).
        let mut tmp = vec![0.0; w * oh];
        for y in 0..oh {
            let row = &mut tmp[y * w..(y + 1) * w];
            for (k, &gk) in g.iter().enumerate() {
                let src = &self.v[(y + k) * w..(y + k + 1) * w];
                for (t, &s) in row.iter_mut().zip(src) {
                    *t += gk * s;
                }
            }
        }
        // Horizontal pass: (ow) x (oh).
        let mut out = vec![0.0; ow * oh];
        for y in 0..oh {
            let src = &tmp[y * w..(y + 1) * w];
            let dst = &mut out[y * ow..(y + 1) * ow];
            for (x, d) in dst.iter_mut().enumerate() {
                let win = &src[x..x + WIN_SIZE];
                let mut acc = 0.0;
                for (&gk, &s) in g.iter().zip(win) {
                    acc += gk * s;
                }
                *d = acc;
            }
        }
        Plane {
            w: ow,
            h: oh,
            v: out,
        }
    }

    fn map2(&self, other: &Plane, f: impl Fn(f64, f64) -> f64) -> Plane {
        Plane {
            w: self.w,
            h: self.h,
            v: self
                .v
                .iter()
                .zip(&other.v)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        }
    }

    /// 2x2 average pooling; an odd side gets one zero of padding at each end (divisor stays 4).
    fn avg_pool2(&self) -> Plane {
        let ph = self.h % 2;
        let pw = self.w % 2;
        let oh = (self.h + 2 * ph - 2) / 2 + 1;
        let ow = (self.w + 2 * pw - 2) / 2 + 1;
        let at = |y: isize, x: isize| -> f64 {
            if y < 0 || x < 0 || y >= self.h as isize || x >= self.w as isize {
                0.0
            } else {
                self.v[y as usize * self.w + x as usize]
            }
        };
        let mut v = Vec::with_capacity(ow * oh);
        for oy in 0..oh {
            let y0 = (2 * oy) as isize - ph as isize;
            for ox in 0..ow {
                let x0 = (2 * ox) as isize - pw as isize;
                let s = at(y0, x0) + at(y0, x0 + 1) + at(y0 + 1, x0) + at(y0 + 1, x0 + 1);
                v.push(s / 4.0);
            }
        }
        Plane { w: ow, h: oh, v }
    }
}

/// Mean SSIM and mean contrast-structure of one scale of one channel.
fn ssim_scale(x: &Plane, y: &Plane, g: &[f64; WIN_SIZE]) -> (f64, f64) {
    let c1 = (K1 * DATA_RANGE).powi(2);
    let c2 = (K2 * DATA_RANGE).powi(2);
    let xx = x.map2(x, |a, _| a * a);
    let yy = y.map2(y, |a, _| a * a);
    let xy = x.map2(y, |a, b| a * b);
    let mu1 = x.gauss_valid(g);
    let mu2 = y.gauss_valid(g);
    let exx = xx.gauss_valid(g);
    let eyy = yy.gauss_valid(g);
    let exy = xy.gauss_valid(g);
    let n = mu1.v.len();
    let (mut ssim_sum, mut cs_sum) = (0.0, 0.0);
    for i in 0..n {
        let (m1, m2) = (mu1.v[i], mu2.v[i]);
        let (m1s, m2s, m12) = (m1 * m1, m2 * m2, m1 * m2);
        let s1 = exx.v[i] - m1s;
        let s2 = eyy.v[i] - m2s;
        let s12 = exy.v[i] - m12;
        let cs = (2.0 * s12 + c2) / (s1 + s2 + c2);
        let l = (2.0 * m12 + c1) / (m1s + m2s + c1);
        ssim_sum += l * cs;
        cs_sum += cs;
    }
    (ssim_sum / n as f64, cs_sum / n as f64)
}

/// MS-SSIM of one channel.
fn ms_ssim_channel(mut x: Plane, mut y: Plane) -> f64 {
    let g = gaussian_window();
    let levels = MS_SSIM_WEIGHTS.len();
    let mut val = 1.0;
    for (i, &w) in MS_SSIM_WEIGHTS.iter().enumerate() {
        let (ssim, cs) = ssim_scale(&x, &y, &g);
        if i + 1 < levels {
            val *= cs.max(0.0).powf(w);
            x = x.avg_pool2();
            y = y.avg_pool2();
        } else {
            val *= ssim.max(0.0).powf(w);
        }
    }
    val
}

/// MS-SSIM on RGB (data range 255), the mean of the three per-channel MS-SSIM values; matches
/// `pytorch_msssim.ms_ssim(X, Y, data_range=255, size_average=True)`.
pub fn ms_ssim(a: &Image, b: &Image) -> Result<f64, MetricError> {
    check_same_size(a, b)?;
    if a.width.min(a.height) <= MS_SSIM_MIN_SIDE {
        return Err(MetricError::TooSmall {
            width: a.width,
            height: a.height,
            min: MS_SSIM_MIN_SIDE,
        });
    }
    let per_channel: Vec<f64> = (0..3)
        .into_par_iter()
        .map(|c| ms_ssim_channel(Plane::from_channel(a, c), Plane::from_channel(b, c)))
        .collect();
    Ok(per_channel.iter().sum::<f64>() / 3.0)
}

/// Both metrics for one image pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quality {
    pub psnr_rgb: f64,
    pub ms_ssim: f64,
}

/// PSNR-RGB and MS-SSIM of `decoded` against `reference`.
pub fn quality(reference: &Image, decoded: &Image) -> Result<Quality, MetricError> {
    let (p, m) = rayon::join(
        || psnr_rgb(reference, decoded),
        || ms_ssim(reference, decoded),
    );
    Ok(Quality {
        psnr_rgb: p?,
        ms_ssim: m?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_the_gaussian() {
        let c = (WIN_SIZE / 2) as f64;
        let raw: Vec<f64> = (0..WIN_SIZE)
            .map(|i| (-((i as f64 - c).powi(2)) / (2.0 * WIN_SIGMA * WIN_SIGMA)).exp())
            .collect();
        let sum: f64 = raw.iter().sum();
        for (g, r) in gaussian_window().iter().zip(&raw) {
            assert!((g - r / sum).abs() < 1e-7, "{g} vs {}", r / sum);
        }
    }

    #[test]
    fn avg_pool_pads_odd_sides_and_divides_by_four() {
        let p = Plane {
            w: 3,
            h: 1,
            v: vec![4.0, 8.0, 12.0],
        };
        let q = p.avg_pool2();
        // Padded to [0 4 8 12 0] x [0, row, 0]: windows (0,4 | 0,0) and (8,12 | 0,0).
        assert_eq!((q.w, q.h), (2, 1));
        assert_eq!(q.v, vec![1.0, 5.0]);
    }

    #[test]
    fn psnr_values() {
        let a = Image::new(2, 1, vec![0, 0, 0, 0, 0, 0]);
        let b = Image::new(2, 1, vec![1, 1, 1, 1, 1, 1]);
        assert!((psnr_rgb(&a, &b).unwrap() - 20.0 * 255f64.log10()).abs() < 1e-12);
        assert_eq!(psnr_rgb(&a, &a).unwrap(), PSNR_CAP_DB);
        assert!(psnr_from_mse(f64::MIN_POSITIVE) <= PSNR_CAP_DB);
    }
}
