//! 8-bit YCbCr 4:2:0 ↔ RGB conversion and the video quality metrics on planes.
//!
//! Pure Rust (no libtorch, no FFmpeg), so it builds without the `engine` feature.
//!
//! # Conventions
//!
//! * **Matrix**: BT.709 when the stream says so (`AVCOL_SPC_BT709`), BT.601 otherwise
//!   (unspecified, BT.470BG and SMPTE 170M are BT.601 by definition; every other code, including
//!   BT.2020, SMPTE 240M, FCC, YCgCo and "RGB", is also *treated as* BT.601, see
//!   [`ColourInfo::conversion_matrix`]).
//! * **Range**: limited ("MPEG", `Y = 16 + 219·Y'`, `C = 128 + 224·C'`) unless the stream is
//!   flagged full range ("JPEG", `Y = 255·Y'`, `C = 128 + 255·C'`). An unspecified range is
//!   limited.
//! * **Chroma siting** is ignored for the conversion: upsampling replicates each chroma sample over
//!   its 2x2 block and downsampling takes the plain mean of the block. That pair is what makes the
//!   round trip exact (below); any interpolating filter would not be. The siting is still carried
//!   in [`ColourInfo`] so it is written back unchanged.
//!
//! # The exact round trip
//!
//! [`yuv420_to_rgb`] neither rounds nor clamps: RGB values outside [0, 1] are kept, because the
//! model reads them and because clamping would destroy information. For every valid 8-bit frame
//! `x`, `rgb_to_yuv420(&yuv420_to_rgb(&x, c), c) == x` bit-exactly: the forward matrix is the exact
//! inverse of the inverse matrix, the four pixels of a block carry the same chroma so its mean
//! is that chroma, and the only error is the rounding of the RGB values to `f32` (relative
//! 2⁻²⁴, under 3·10⁻⁵ code values after the forward matrix), far from the ±0.5 that rounding to an
//! integer tolerates. All arithmetic is in `f64`. The unit tests check all 256³ (Y, U, V)
//! combinations for both matrices and both ranges.

use serde::{Deserialize, Serialize};

use crate::metrics::{psnr_from_mse, sse_u8};

/// Why planes could not be built or compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColourError {
    #[error(
        "{width}x{height} 4:2:0 frame needs planes of {y} + {c} + {c} bytes, got {got_y} + {got_u} + {got_v}"
    )]
    PlaneSize {
        width: u32,
        height: u32,
        y: usize,
        c: usize,
        got_y: usize,
        got_u: usize,
        got_v: usize,
    },
    #[error("{width}x{height} RGB frame needs {expected} samples, got {got}")]
    RgbSize {
        width: u32,
        height: u32,
        expected: usize,
        got: usize,
    },
    #[error("frames differ in size: {a_w}x{a_h} vs {b_w}x{b_h}")]
    SizeMismatch {
        a_w: u32,
        a_h: u32,
        b_w: u32,
        b_h: u32,
    },
    #[error("buffers differ in length: {a} vs {b} bytes")]
    LengthMismatch { a: usize, b: usize },
    #[error("frame is empty")]
    Empty,
}

/// An 8-bit YCbCr 4:2:0 frame: a `width x height` luma plane and two chroma planes of
/// `ceil(width/2) x ceil(height/2)`, all packed (no row padding), row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Yuv420 {
    pub width: u32,
    pub height: u32,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

/// Size of a chroma plane of a 4:2:0 frame: `(ceil(w/2), ceil(h/2))`.
pub fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

impl Yuv420 {
    /// A frame from its planes; fails when a plane's length does not match the size.
    pub fn new(
        width: u32,
        height: u32,
        y: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
    ) -> Result<Self, ColourError> {
        let f = Yuv420 {
            width,
            height,
            y,
            u,
            v,
        };
        f.check()?;
        Ok(f)
    }

    /// A frame with every sample of a plane set to one value.
    pub fn filled(width: u32, height: u32, y: u8, u: u8, v: u8) -> Self {
        let (cw, ch) = chroma_size(width, height);
        let n = width as usize * height as usize;
        let c = cw as usize * ch as usize;
        Yuv420 {
            width,
            height,
            y: vec![y; n],
            u: vec![u; c],
            v: vec![v; c],
        }
    }

    /// Checks that the plane lengths match the size (the fields are public, so a frame can be
    /// built inconsistent; the conversions below assume it is not).
    pub fn check(&self) -> Result<(), ColourError> {
        let (cw, ch) = chroma_size(self.width, self.height);
        let y = self.width as usize * self.height as usize;
        let c = cw as usize * ch as usize;
        if self.y.len() != y || self.u.len() != c || self.v.len() != c {
            return Err(ColourError::PlaneSize {
                width: self.width,
                height: self.height,
                y,
                c,
                got_y: self.y.len(),
                got_u: self.u.len(),
                got_v: self.v.len(),
            });
        }
        Ok(())
    }
}

/// The YCbCr → RGB matrix used for the conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matrix {
    Bt601,
    Bt709,
}

impl Matrix {
    /// `(Kr, Kb)` of the matrix; `Kg = 1 − Kr − Kb`.
    pub fn kr_kb(self) -> (f64, f64) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
        }
    }
}

/// Colour description of a video stream, as FFmpeg's raw enum codes (`AVColorSpace`,
/// `AVColorRange`, `AVColorPrimaries`, `AVColorTransferCharacteristic`, `AVChromaLocation`), so
/// it can be stored in a stream header and written back to a container unchanged. Only `matrix`
/// and `range` affect the conversion; the rest is carried along.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColourInfo {
    /// `AVColorSpace` (the YCbCr matrix).
    pub matrix: u8,
    /// `AVColorRange`.
    pub range: u8,
    /// `AVColorPrimaries`.
    pub primaries: u8,
    /// `AVColorTransferCharacteristic`.
    pub transfer: u8,
    /// `AVChromaLocation`.
    pub chroma_location: u8,
}

impl ColourInfo {
    /// `AVCOL_SPC_RGB`.
    pub const MATRIX_RGB: u8 = 0;
    /// `AVCOL_SPC_BT709`.
    pub const MATRIX_BT709: u8 = 1;
    /// `AVCOL_SPC_UNSPECIFIED` (also `AVCOL_PRI_UNSPECIFIED`, `AVCOL_TRC_UNSPECIFIED`).
    pub const UNSPECIFIED: u8 = 2;
    /// `AVCOL_SPC_BT470BG` (BT.601 625 lines).
    pub const MATRIX_BT470BG: u8 = 5;
    /// `AVCOL_SPC_SMPTE170M` (BT.601 525 lines).
    pub const MATRIX_SMPTE170M: u8 = 6;
    /// `AVCOL_RANGE_UNSPECIFIED`.
    pub const RANGE_UNSPECIFIED: u8 = 0;
    /// `AVCOL_RANGE_MPEG` (limited, 16–235 / 16–240).
    pub const RANGE_LIMITED: u8 = 1;
    /// `AVCOL_RANGE_JPEG` (full, 0–255).
    pub const RANGE_FULL: u8 = 2;
    /// `AVCHROMA_LOC_UNSPECIFIED`.
    pub const CHROMA_LOC_UNSPECIFIED: u8 = 0;
    /// `AVCHROMA_LOC_LEFT` (MPEG-2/H.264 default siting).
    pub const CHROMA_LOC_LEFT: u8 = 1;
    /// `AVCHROMA_LOC_CENTER` (JPEG/MPEG-1 siting).
    pub const CHROMA_LOC_CENTER: u8 = 2;

    /// Full ("JPEG") range; limited and unspecified are not.
    pub fn is_full_range(&self) -> bool {
        self.range == Self::RANGE_FULL
    }

    /// The matrix the conversion uses: BT.709 for `AVCOL_SPC_BT709`, BT.601 for everything else.
    /// Unspecified, BT.470BG and SMPTE 170M *are* BT.601; other codes (BT.2020, SMPTE 240M, FCC,
    /// YCgCo, RGB, ...) are not supported by this converter and are treated as BT.601 too.
    pub fn conversion_matrix(&self) -> Matrix {
        if self.matrix == Self::MATRIX_BT709 {
            Matrix::Bt709
        } else {
            Matrix::Bt601
        }
    }
}

impl Default for ColourInfo {
    /// Everything unspecified, limited range.
    fn default() -> Self {
        ColourInfo {
            matrix: Self::UNSPECIFIED,
            range: Self::RANGE_LIMITED,
            primaries: Self::UNSPECIFIED,
            transfer: Self::UNSPECIFIED,
            chroma_location: Self::CHROMA_LOC_UNSPECIFIED,
        }
    }
}

/// Planar RGB, `data` laid out `[3][height][width]` (R plane, G plane, B plane), nominal range
/// [0, 1]. Neither clamped nor rounded: this is what the model reads, and what makes the 4:2:0
/// round trip exact.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbF32 {
    pub width: u32,
    pub height: u32,
    pub data: Vec<f32>,
}

impl RgbF32 {
    /// Pixels per plane.
    pub fn plane_len(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// The affine maps between 8-bit code values and normalised `Y'`, `Cb'`, `Cr'`.
#[derive(Clone, Copy)]
struct Coeffs {
    kr: f64,
    kb: f64,
    kg: f64,
    y_off: f64,
    y_scale: f64,
    c_scale: f64,
}

impl Coeffs {
    fn of(c: &ColourInfo) -> Self {
        let (kr, kb) = c.conversion_matrix().kr_kb();
        let (y_off, y_scale, c_scale) = if c.is_full_range() {
            (0.0, 255.0, 255.0)
        } else {
            (16.0, 219.0, 224.0)
        };
        Coeffs {
            kr,
            kb,
            kg: 1.0 - kr - kb,
            y_off,
            y_scale,
            c_scale,
        }
    }
}

/// 8-bit YCbCr 4:2:0 → planar float RGB. Each chroma sample covers its 2x2 block (replication,
/// odd edges included); then the inverse matrix. No rounding, no clamping.
///
/// # Panics
/// If the planes do not match the frame size ([`Yuv420::check`]): frames made by [`Yuv420::new`],
/// [`rgb_to_yuv420`] and the video reader always do.
pub fn yuv420_to_rgb(frame: &Yuv420, colour: &ColourInfo) -> RgbF32 {
    if let Err(e) = frame.check() {
        panic!("yuv420_to_rgb: {e}");
    }
    let k = Coeffs::of(colour);
    let (w, h) = (frame.width as usize, frame.height as usize);
    let cw = chroma_size(frame.width, frame.height).0 as usize;
    let n = w * h;
    let mut data = vec![0f32; 3 * n];
    let (r_pl, rest) = data.split_at_mut(n);
    let (g_pl, b_pl) = rest.split_at_mut(n);
    let (cr_to_r, cb_to_b) = (2.0 * (1.0 - k.kr), 2.0 * (1.0 - k.kb));
    for yy in 0..h {
        let crow = (yy / 2) * cw;
        for xx in 0..w {
            let i = yy * w + xx;
            let ci = crow + xx / 2;
            let luma = (frame.y[i] as f64 - k.y_off) / k.y_scale;
            let cb = (frame.u[ci] as f64 - 128.0) / k.c_scale;
            let cr = (frame.v[ci] as f64 - 128.0) / k.c_scale;
            let r = luma + cr_to_r * cr;
            let b = luma + cb_to_b * cb;
            let g = (luma - k.kr * r - k.kb * b) / k.kg;
            r_pl[i] = r as f32;
            g_pl[i] = g as f32;
            b_pl[i] = b as f32;
        }
    }
    RgbF32 {
        width: frame.width,
        height: frame.height,
        data,
    }
}

/// Planar float RGB → 8-bit YCbCr 4:2:0: the forward matrix per pixel, chroma = mean of `Cb'`/
/// `Cr'` over the block's pixels (1, 2 or 4 at odd edges), then scaling, rounding half to even and
/// clamping to 0..=255. Exact inverse of [`yuv420_to_rgb`] (see the module docs).
///
/// # Panics
/// If `data` does not hold `3 * width * height` samples (a programming error).
pub fn rgb_to_yuv420(rgb: &RgbF32, colour: &ColourInfo) -> Yuv420 {
    let n = rgb.plane_len();
    assert_eq!(rgb.data.len(), 3 * n, "rgb_to_yuv420: RGB buffer size");
    let k = Coeffs::of(colour);
    let (w, h) = (rgb.width as usize, rgb.height as usize);
    let (cw, ch) = chroma_size(rgb.width, rgb.height);
    let (cw, ch) = (cw as usize, ch as usize);
    let (r_pl, rest) = rgb.data.split_at(n);
    let (g_pl, b_pl) = rest.split_at(n);
    let (cb_div, cr_div) = (2.0 * (1.0 - k.kb), 2.0 * (1.0 - k.kr));
    let to_u8 = |v: f64| v.round_ties_even().clamp(0.0, 255.0) as u8;
    let mut y = vec![0u8; n];
    let mut cb_sum = vec![0f64; cw * ch];
    let mut cr_sum = vec![0f64; cw * ch];
    for yy in 0..h {
        let crow = (yy / 2) * cw;
        for xx in 0..w {
            let i = yy * w + xx;
            let (r, g, b) = (r_pl[i] as f64, g_pl[i] as f64, b_pl[i] as f64);
            let luma = k.kr * r + k.kg * g + k.kb * b;
            y[i] = to_u8(k.y_off + k.y_scale * luma);
            cb_sum[crow + xx / 2] += (b - luma) / cb_div;
            cr_sum[crow + xx / 2] += (r - luma) / cr_div;
        }
    }
    let mut u = vec![0u8; cw * ch];
    let mut v = vec![0u8; cw * ch];
    for cy in 0..ch {
        let rows = (h - 2 * cy).min(2);
        for cx in 0..cw {
            let count = (rows * (w - 2 * cx).min(2)) as f64;
            let ci = cy * cw + cx;
            u[ci] = to_u8(128.0 + k.c_scale * (cb_sum[ci] / count));
            v[ci] = to_u8(128.0 + k.c_scale * (cr_sum[ci] / count));
        }
    }
    Yuv420 {
        width: rgb.width,
        height: rgb.height,
        y,
        u,
        v,
    }
}

/// Planar float RGB → packed 8-bit RGB (`RGBRGB...`), `round_half_even(255·v)` clamped to
/// 0..=255 (NaN becomes 0).
///
/// # Panics
/// If `data` does not hold `3 * width * height` samples (a programming error).
pub fn rgb_to_u8(rgb: &RgbF32) -> Vec<u8> {
    let n = rgb.plane_len();
    assert_eq!(rgb.data.len(), 3 * n, "rgb_to_u8: RGB buffer size");
    let mut out = vec![0u8; 3 * n];
    for (c, plane) in rgb.data.chunks_exact(n.max(1)).take(3).enumerate() {
        for (i, &v) in plane.iter().enumerate() {
            out[3 * i + c] = (v as f64 * 255.0).round_ties_even().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Packed 8-bit RGB (`RGBRGB...`) → planar float RGB (`v / 255`). [`rgb_to_u8`] gives the bytes
/// back exactly.
pub fn rgb_from_u8(width: u32, height: u32, data: &[u8]) -> Result<RgbF32, ColourError> {
    let n = width as usize * height as usize;
    if data.len() != 3 * n {
        return Err(ColourError::RgbSize {
            width,
            height,
            expected: 3 * n,
            got: data.len(),
        });
    }
    let mut out = vec![0f32; 3 * n];
    for (i, px) in data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * n + i] = px[c] as f32 / 255.0;
        }
    }
    Ok(RgbF32 {
        width,
        height,
        data: out,
    })
}

/// PSNR of each plane of a 4:2:0 frame, and the weighted `yuv = (6·y + u + v) / 8` that video
/// coding papers report (the weights follow the sample counts of 4:2:0, 4 luma : 1 : 1, with
/// luma counted 6 times as in the JVET/MPEG common test conditions).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct YuvPsnr {
    pub y: f64,
    pub u: f64,
    pub v: f64,
    pub yuv: f64,
}

fn plane_psnr(a: &[u8], b: &[u8]) -> f64 {
    psnr_from_mse(sse_u8(a, b) as f64 / a.len() as f64)
}

/// Per-plane PSNR (MAX = 255, identical planes capped at
/// [`PSNR_CAP_DB`](crate::metrics::PSNR_CAP_DB) like the image metrics) of two 4:2:0
/// frames of the same size.
pub fn yuv_psnr(a: &Yuv420, b: &Yuv420) -> Result<YuvPsnr, ColourError> {
    a.check()?;
    b.check()?;
    if a.width != b.width || a.height != b.height {
        return Err(ColourError::SizeMismatch {
            a_w: a.width,
            a_h: a.height,
            b_w: b.width,
            b_h: b.height,
        });
    }
    if a.y.is_empty() {
        return Err(ColourError::Empty);
    }
    let (y, u, v) = (
        plane_psnr(&a.y, &b.y),
        plane_psnr(&a.u, &b.u),
        plane_psnr(&a.v, &b.v),
    );
    Ok(YuvPsnr {
        y,
        u,
        v,
        yuv: (6.0 * y + u + v) / 8.0,
    })
}

/// PSNR-RGB of two packed 8-bit RGB buffers: one MSE over all samples, MAX = 255, capped like
/// [`crate::metrics::psnr_rgb`] (same definition, on raw buffers).
pub fn rgb_psnr(a: &[u8], b: &[u8]) -> Result<f64, ColourError> {
    if a.len() != b.len() {
        return Err(ColourError::LengthMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    if a.is_empty() {
        return Err(ColourError::Empty);
    }
    Ok(plane_psnr(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn infos() -> Vec<ColourInfo> {
        let mut v = Vec::new();
        for matrix in [ColourInfo::UNSPECIFIED, ColourInfo::MATRIX_BT709] {
            for range in [ColourInfo::RANGE_LIMITED, ColourInfo::RANGE_FULL] {
                v.push(ColourInfo {
                    matrix,
                    range,
                    ..ColourInfo::default()
                });
            }
        }
        v
    }

    /// A small deterministic generator (SplitMix64) so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    fn random_frame(rng: &mut Rng, w: u32, h: u32) -> Yuv420 {
        let (cw, ch) = chroma_size(w, h);
        let c = (cw * ch) as usize;
        Yuv420::new(
            w,
            h,
            rng.bytes((w * h) as usize),
            rng.bytes(c),
            rng.bytes(c),
        )
        .unwrap()
    }

    /// Every (Y, U, V) triple, for every matrix and range: 256 frames of 256x256 per setting, one
    /// per U value; block `k` of a frame has V = k / 64 and the four lumas 4·(k % 64) + 0..4.
    #[test]
    fn round_trip_is_exact_for_all_256_cubed_triples() {
        for info in infos() {
            let bad: usize = (0..=255u8)
                .into_par_iter()
                .map(|u| {
                    let (w, h) = (256u32, 256u32);
                    let mut f = Yuv420::filled(w, h, 0, u, 0);
                    for by in 0..128usize {
                        for bx in 0..128usize {
                            let k = by * 128 + bx;
                            f.v[k] = (k / 64) as u8;
                            let base = 4 * (k % 64);
                            for (j, (dx, dy)) in [(0, 0), (1, 0), (0, 1), (1, 1)].iter().enumerate()
                            {
                                f.y[(2 * by + dy) * 256 + 2 * bx + dx] = (base + j) as u8;
                            }
                        }
                    }
                    let back = rgb_to_yuv420(&yuv420_to_rgb(&f, &info), &info);
                    usize::from(back != f)
                })
                .sum();
            assert_eq!(bad, 0, "{info:?}: {bad} U values do not round-trip");
        }
    }

    #[test]
    fn round_trip_random_frames_odd_sizes() {
        let mut rng = Rng(7);
        for info in infos() {
            for (w, h) in [
                (1, 1),
                (1, 2),
                (2, 1),
                (3, 3),
                (5, 2),
                (7, 9),
                (33, 17),
                (64, 48),
            ] {
                for _ in 0..4 {
                    let f = random_frame(&mut rng, w, h);
                    let rgb = yuv420_to_rgb(&f, &info);
                    assert_eq!(rgb.data.len(), 3 * (w * h) as usize);
                    assert_eq!(rgb_to_yuv420(&rgb, &info), f, "{w}x{h} {info:?}");
                }
            }
        }
    }

    #[test]
    fn known_values() {
        // Limited-range black and white, grey chroma.
        let lim = ColourInfo::default();
        let full = ColourInfo {
            range: ColourInfo::RANGE_FULL,
            ..lim
        };
        let black = yuv420_to_rgb(&Yuv420::filled(2, 2, 16, 128, 128), &lim);
        let white = yuv420_to_rgb(&Yuv420::filled(2, 2, 235, 128, 128), &lim);
        assert!(black.data.iter().all(|&v| v.abs() < 1e-6));
        assert!(white.data.iter().all(|&v| (v - 1.0).abs() < 1e-6));
        // Out-of-range codes are kept out of range (no clamping).
        let below = yuv420_to_rgb(&Yuv420::filled(1, 1, 0, 128, 128), &lim);
        assert!(below.data.iter().all(|&v| v < -0.07));
        // Full range: Y = 255 is white.
        let w = yuv420_to_rgb(&Yuv420::filled(1, 1, 255, 128, 128), &full);
        assert!(w.data.iter().all(|&v| (v - 1.0).abs() < 1e-6));
        // Pure red in BT.601 full range (JFIF): Y = 76.245, Cb = 84.97, Cr = 255.5 → clamped.
        let red = rgb_from_u8(1, 1, &[255, 0, 0]).unwrap();
        let yuv = rgb_to_yuv420(&red, &full);
        assert_eq!((yuv.y[0], yuv.u[0], yuv.v[0]), (76, 85, 255));
        // BT.709 differs from BT.601 for saturated colours.
        let bt709 = ColourInfo {
            matrix: ColourInfo::MATRIX_BT709,
            ..full
        };
        assert_eq!(rgb_to_yuv420(&red, &bt709).y[0], 54); // 0.2126 * 255 = 54.2
        assert_eq!(bt709.conversion_matrix(), Matrix::Bt709);
        for m in [0, 2, 5, 6, 9, 200] {
            let c = ColourInfo { matrix: m, ..full };
            assert_eq!(c.conversion_matrix(), Matrix::Bt601, "matrix code {m}");
        }
        assert!(!ColourInfo {
            range: ColourInfo::RANGE_UNSPECIFIED,
            ..full
        }
        .is_full_range());
    }

    #[test]
    fn chroma_is_the_block_mean_at_odd_edges() {
        let info = ColourInfo {
            range: ColourInfo::RANGE_FULL,
            ..ColourInfo::default()
        };
        // 3x1: block 0 = pixels 0,1; block 1 = pixel 2 alone.
        let f = Yuv420::new(3, 1, vec![100, 100, 100], vec![100, 200], vec![128, 60]).unwrap();
        let rgb = yuv420_to_rgb(&f, &info);
        // Pixel 2 must carry chroma sample 1, pixels 0 and 1 sample 0.
        assert_eq!(rgb.data[0], rgb.data[1]);
        assert_ne!(rgb.data[1], rgb.data[2]);
        // Two pixels with different chroma in one block: the downsampled chroma is their mean.
        let two = RgbF32 {
            width: 2,
            height: 1,
            data: {
                let a = yuv420_to_rgb(&Yuv420::filled(1, 1, 100, 100, 128), &info);
                let b = yuv420_to_rgb(&Yuv420::filled(1, 1, 100, 150, 128), &info);
                vec![
                    a.data[0], b.data[0], a.data[1], b.data[1], a.data[2], b.data[2],
                ]
            },
        };
        let d = rgb_to_yuv420(&two, &info);
        assert_eq!((d.y.clone(), d.u[0], d.v[0]), (vec![100, 100], 125, 128));
    }

    #[test]
    fn rgb_u8_round_trip_and_rounding() {
        let mut rng = Rng(3);
        let bytes = rng.bytes(3 * 5 * 7);
        let f = rgb_from_u8(5, 7, &bytes).unwrap();
        assert_eq!(f.data[5 * 7], bytes[1] as f32 / 255.0, "planar layout");
        assert_eq!(rgb_to_u8(&f), bytes);
        let odd = RgbF32 {
            width: 3,
            height: 1,
            data: vec![-0.5, 1.5, f32::NAN, 0.5, 0.0, 1.0, 2.0 / 255.0, 0.0, 0.0],
        };
        assert_eq!(rgb_to_u8(&odd), vec![0, 128, 2, 255, 0, 0, 0, 255, 0]);
        assert!(matches!(
            rgb_from_u8(2, 2, &[0; 11]),
            Err(ColourError::RgbSize { expected: 12, .. })
        ));
    }

    #[test]
    fn psnr_values_and_errors() {
        let a = Yuv420::filled(4, 4, 100, 100, 100);
        let mut b = a.clone();
        let same = yuv_psnr(&a, &b).unwrap();
        assert_eq!(same.yuv, crate::metrics::PSNR_CAP_DB);
        b.y.iter_mut().for_each(|v| *v += 1); // luma MSE 1 → 48.13 dB
        b.u[0] += 2; // chroma MSE 4/4 = 1
        let p = yuv_psnr(&a, &b).unwrap();
        let db1 = 10.0 * (255.0f64 * 255.0).log10();
        assert!((p.y - db1).abs() < 1e-12 && (p.u - db1).abs() < 1e-12);
        assert_eq!(p.v, 100.0);
        assert!((p.yuv - (7.0 * db1 + 100.0) / 8.0).abs() < 1e-12);
        let c = Yuv420::filled(4, 2, 0, 0, 0);
        assert!(matches!(
            yuv_psnr(&a, &c),
            Err(ColourError::SizeMismatch { .. })
        ));
        let mut broken = a.clone();
        broken.u.pop();
        assert!(matches!(
            yuv_psnr(&a, &broken),
            Err(ColourError::PlaneSize { .. })
        ));
        assert!(Yuv420::new(3, 3, vec![0; 9], vec![0; 4], vec![0; 3]).is_err());
        assert!((rgb_psnr(&[0, 0, 0], &[1, 1, 1]).unwrap() - db1).abs() < 1e-12);
        assert!(rgb_psnr(&[0, 0], &[0]).is_err());
        assert!(rgb_psnr(&[], &[]).is_err());
    }
}
