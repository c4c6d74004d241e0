//! Chroma from luma in the wavelet domain: each chroma detail band may predict its coefficients
//! from the co-located reconstructed coefficients of the same band coded before it — Cb from
//! luma, Cr from luma and Cb — with scales the encoder chooses per band and sends in the
//! parameter blob; the coded values are then the quantized residual of the prediction.
//!
//! The prediction is integer arithmetic. A luma value `v` of reconstruction offset `o` (in
//! 1/64 of the luma step) is `Y = sign(v) · (64·|v| + o)` in 1/64 of the luma step; a chroma
//! value `r` of offset `p` over its prediction `P` is reconstructed as
//! `C = P + sign(r) · (64·|r| + p)` in 1/64 of its step (0 for `r = 0` adds nothing), and the
//! coefficient is `C · step / 64`. The predictions are `P_Cb = (a · Y + 32) >> 6` and
//! `P_Cr = (a' · Y + 2 · b · C_Cb + 32) >> 6` (arithmetic shift), `a` and `a'` being the blob's
//! `i8` scales in 1/64 and `b` in 1/32 (they include the ratios of the bands' steps).
use super::code::{recon_class, RECON_CLASSES};
use super::transform::Band;

/// Fraction bits of a scale.
pub const ALPHA_SHIFT: u32 = 6;
/// Scales per detail band: Cb from luma, Cr from luma, Cr from Cb.
pub const PER_BAND: usize = 3;

/// `(a · y + 2 · b · c + 32) >> 6` with `y` the luma value `yq` (offset `off_y`) in 1/64 of its
/// step and `c` a chroma reconstruction in 1/64 of its step (`a` in 1/64, `b` in 1/32): a
/// prediction in 1/64 of a step.
#[inline]
pub fn predict(a: i8, yq: i32, off_y: i8, b: i8, c: i64) -> i64 {
    let y = if yq == 0 {
        0
    } else {
        let m = i64::from(yq.unsigned_abs()) * 64 + i64::from(off_y);
        if yq < 0 {
            -m
        } else {
            m
        }
    };
    (i64::from(a) * y + 2 * i64::from(b) * c + (1 << (ALPHA_SHIFT - 1))) >> ALPHA_SHIFT
}

/// The reconstruction of a coded chroma value `v` (offset `off` in 1/64 of a step) on top of
/// the prediction `pred`, in 1/64 of a step.
#[inline]
pub fn reconstruct64(pred: i64, v: i32, off: i8) -> i64 {
    let m = i64::from(v.unsigned_abs()) * 64 + i64::from(off);
    pred + match v.signum() {
        0 => 0,
        1 => m,
        _ => -m,
    }
}

/// Number of scale slots of an image with `levels` levels: per detail band in coding order,
/// [`PER_BAND`].
pub fn slots(levels: usize) -> usize {
    PER_BAND * 3 * levels
}

/// The scales of band `b` (index into the bands, 0 is LL) from a table of [`slots`] entries
/// (empty: all zero): Cb from luma, Cr from luma, Cr from Cb.
#[inline]
pub fn scales(table: &[i8], b: usize) -> [i8; PER_BAND] {
    if b == 0 || table.is_empty() {
        [0; PER_BAND]
    } else {
        let k = PER_BAND * (b - 1);
        [table[k], table[k + 1], table[k + 2]]
    }
}

/// What chroma component `comp` of band `band` needs to predict its coefficients.
#[derive(Clone, Copy, Debug)]
pub struct BandPredictor {
    s: [i8; PER_BAND],
    off_y: i8,
    off_cb: i8,
    comp: usize,
}

impl BandPredictor {
    /// The predictor of component `comp` (1 or 2) in band `b`, or `None` when it has no scale.
    pub fn new(
        table: &[i8],
        offsets: &[i8; RECON_CLASSES],
        b: usize,
        band: &Band,
        comp: usize,
    ) -> Option<Self> {
        let s = scales(table, b);
        let on = match comp {
            1 => s[0] != 0,
            2 => s[1] != 0 || s[2] != 0,
            _ => false,
        };
        on.then(|| BandPredictor {
            s,
            off_y: offsets[recon_class(0, band)],
            off_cb: offsets[recon_class(1, band)],
            comp,
        })
    }

    /// The prediction at a position from its luma value `y` and Cb value `cb` (as coded), in
    /// 1/64 of the step.
    #[inline]
    pub fn at(&self, y: i32, cb: i32) -> i64 {
        let p_cb = predict(self.s[0], y, self.off_y, 0, 0);
        if self.comp == 1 {
            return p_cb;
        }
        let c = if self.s[2] == 0 {
            0
        } else {
            reconstruct64(p_cb, cb, self.off_cb)
        };
        predict(self.s[1], y, self.off_y, self.s[2], c)
    }
}

/// The encoder's least-squares scales of chroma component `comp` (1 or 2) in band `b`, written
/// into `table`: from the coefficients `u` (per component, in steps), the coded luma and Cb
/// values `q` of the band and the offsets; Cb from luma, Cr from luma and Cb jointly.
#[allow(clippy::too_many_arguments)]
pub fn fit_band(
    table: &mut [i8],
    u: &[Vec<f32>],
    q: &[&[i32]],
    offsets: &[i8; RECON_CLASSES],
    b: usize,
    band: &Band,
    comp: usize,
    w: usize,
) {
    let k = PER_BAND * (b - 1);
    let cb_pred = BandPredictor {
        s: [table[k], 0, 0],
        off_y: offsets[recon_class(0, band)],
        off_cb: offsets[recon_class(1, band)],
        comp: 1,
    };
    // Sums of products of (luma, Cb, u) in steps.
    let (mut yy, mut yc, mut cc, mut yu, mut cu) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for y in band.y0..band.y0 + band.h {
        for x in band.x0..band.x0 + band.w {
            let i = y * w + x;
            let ly = predict(64, q[0][i], cb_pred.off_y, 0, 0) as f64 / 64.0;
            let uc = f64::from(u[comp][i]);
            yy += ly * ly;
            yu += ly * uc;
            if comp == 2 {
                let c =
                    reconstruct64(cb_pred.at(q[0][i], 0), q[1][i], cb_pred.off_cb) as f64 / 64.0;
                yc += ly * c;
                cc += c * c;
                cu += c * uc;
            }
        }
    }
    let q64 = |v: f64| (v * 64.0).round().clamp(-127.0, 127.0) as i8;
    if comp == 1 {
        table[k] = if yy > 0.0 { q64(yu / yy) } else { 0 };
        return;
    }
    let det = yy * cc - yc * yc;
    let (a, bb) = if yy > 0.0 && cc > 0.0 && det > 1e-6 * yy * cc {
        ((yu * cc - cu * yc) / det, (cu * yy - yu * yc) / det)
    } else if yy > 0.0 {
        (yu / yy, 0.0)
    } else if cc > 0.0 {
        (0.0, cu / cc)
    } else {
        (0.0, 0.0)
    };
    table[k + 1] = q64(a);
    table[k + 2] = q64(bb / 2.0);
}

/// Serializes a table: a bit mask of the nonzero slots (least significant bit first, `⌈slots /
/// 8⌉` bytes), then the nonzero scales.
pub fn to_bytes(table: &[i8], out: &mut Vec<u8>) {
    let mut mask = vec![0u8; table.len().div_ceil(8)];
    for (i, &a) in table.iter().enumerate() {
        if a != 0 {
            mask[i / 8] |= 1 << (i % 8);
        }
    }
    out.extend(mask);
    out.extend(table.iter().filter(|&&a| a != 0).map(|&a| a as u8));
}

/// Parses a table of `slots` entries from `b` (see [`to_bytes`]); returns the table and the
/// bytes read, or what is wrong.
pub fn parse(b: &[u8], slots: usize) -> Result<(Vec<i8>, usize), String> {
    let n = slots.div_ceil(8);
    let mask = b
        .get(..n)
        .ok_or("parameter blob truncated in the chroma-from-luma mask")?;
    if !slots.is_multiple_of(8) && mask[n - 1] >> (slots % 8) != 0 {
        return Err("chroma-from-luma mask names a band the image does not have".into());
    }
    let mut table = vec![0i8; slots];
    let mut pos = n;
    for (i, a) in table.iter_mut().enumerate() {
        if mask[i / 8] >> (i % 8) & 1 == 1 {
            let v = *b
                .get(pos)
                .ok_or("parameter blob truncated in the chroma-from-luma scales")?
                as i8;
            if v == 0 || v == i8::MIN {
                return Err(format!("chroma-from-luma scale {v} (nonzero, above -128)"));
            }
            *a = v;
            pos += 1;
        }
    }
    if table.iter().all(|&a| a == 0) {
        return Err("chroma-from-luma table with no scale (such streams are version 1)".into());
    }
    Ok((table, pos))
}

#[cfg(test)]
mod tests {
    use super::super::{band_steps, dequantize, encode, to_planes, transform, EncodeOptions};
    use super::*;
    use crate::format::Container;

    #[test]
    fn prediction_is_exact_integer_arithmetic() {
        assert_eq!(predict(64, 3, 10, 0, 0), 202);
        assert_eq!(predict(-64, 3, 10, 0, 0), -202);
        assert_eq!(predict(32, -1, 0, 0, 0), -32);
        assert_eq!(predict(1, 1, 0, 0, 0), 1);
        assert_eq!(predict(-1, 1, 0, 0, 0), -1);
        assert_eq!(predict(17, 0, 30, 0, 0), 0);
        assert_eq!(predict(0, 5, 0, 16, 100), 50);
        assert_eq!(predict(64, 1, 0, -32, 64), 0);
        // The largest values a hostile stream can carry do not overflow.
        let m = super::super::code::MAX_MAGNITUDE as i32;
        let c = reconstruct64(predict(127, m, 32, 0, 0), m, 32);
        let y = i128::from(m) * 64 + 32;
        for (a, b) in [(127i8, 127i8), (-127, 127), (127, -127)] {
            let want = (i128::from(a) * y + 2 * i128::from(b) * i128::from(c) + 32) >> 6;
            assert_eq!(i128::from(predict(a, m, 32, b, c)), want);
        }
        assert_eq!(reconstruct64(5, 0, 9), 5);
        assert_eq!(reconstruct64(5, -2, 9), 5 - 137);
        let t = vec![3i8, 0, -4, 1, 0, 0];
        let mut b = Vec::new();
        to_bytes(&t, &mut b);
        assert_eq!(b, vec![0b1101, 3, (-4i8) as u8, 1]);
        assert_eq!(parse(&b, 6).unwrap(), (t, 4));
    }

    /// The encoder chooses each chroma value against the prediction the decoder forms: with
    /// it, the decoded coefficients of the predicted bands are within two steps of the
    /// picture's and much closer than the residuals alone.
    #[test]
    fn the_encoder_targets_the_decoders_prediction() {
        let (w, h) = (80usize, 64usize);
        let data: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                let l =
                    ((x * 5 + y * 3) % 97 + (x * y) % 41 + if x > w / 2 { 90 } else { 0 }) as u32;
                let n = (x * 13 + y * 7) as u32 % 9;
                [
                    (l * 9 / 10 + 10) as u8,
                    (l / 2 + 60 + n) as u8,
                    (240 - l * 3 / 4 - n) as u8,
                ]
            })
            .collect();
        let e = encode(&data, w as u32, h as u32, false, &EncodeOptions::new(6.0)).unwrap();
        let c = super::super::decode_coefficients(&Container::parse(&e.bytes).unwrap(), u64::MAX)
            .unwrap();
        assert!(c.params.cfl.iter().any(|&a| a != 0), "no chroma from luma");
        let deq = c.dequantized();
        let bands = transform::bands(w, h, c.params.levels);
        let steps = band_steps(&c.params, 3, &bands);
        let mut planes = to_planes(&data, false);
        for p in &mut planes {
            transform::forward(p, w, h, c.params.levels);
        }
        let (mut with, mut without, mut n) = (0.0f64, 0.0f64, 0);
        for comp in 1..3 {
            let plain = dequantize(&c.params.offsets, comp, &c.q[comp], w, &bands, &steps[comp]);
            for (b, band) in bands.iter().enumerate() {
                if BandPredictor::new(&c.params.cfl, &c.params.offsets, b, band, comp).is_none() {
                    continue;
                }
                let s = f64::from(steps[comp][b]);
                for y in band.y0..band.y0 + band.h {
                    for x in band.x0..band.x0 + band.w {
                        let i = y * w + x;
                        let d = f64::from(planes[comp][i] - deq[comp][i]) / s;
                        assert!(d.abs() < 2.0, "band {b} comp {comp} ({x}, {y}): {d}");
                        with += d * d;
                        without += (f64::from(planes[comp][i] - plain[i]) / s).powi(2);
                        n += 1;
                    }
                }
            }
        }
        assert!(
            n > 0 && with * 2.0 < without,
            "{with} vs {without} over {n}"
        );
    }
}
