//! The fixed transforms of `lic-dwt`: an irreversible colour transform and a multi-level 2-D
//! CDF 9/7 wavelet (lifting form, whole-sample symmetric extension, any plane size).
//!
//! Everything is plain `f32` arithmetic in a fixed order (no fused multiply-add, no
//! transcendental functions), so the inverse gives the same pixels on every machine: Rust does
//! not contract or reassociate float expressions, and auto-vectorization keeps IEEE semantics.
//!
//! Layout: after `levels` levels a plane holds the Mallat pyramid. Level `l` (1 = finest) splits
//! the region `dims[l - 1]` into a low half of `ceil(n / 2)` and a high half of `floor(n / 2)`
//! samples along each axis; [`Band`] describes where each subband lies.

/// CDF 9/7 lifting constants (predict, update, predict, update) and the scaling.
const ALPHA: f32 = -1.586_134_3;
const BETA: f32 = -0.052_980_117;
const GAMMA: f32 = 0.882_911_1;
const DELTA: f32 = 0.443_506_87;
const K: f32 = 1.230_174_1;

/// Largest number of decomposition levels.
pub const MAX_LEVELS: usize = 8;

/// Orientation of a detail subband.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orient {
    /// Horizontally high, vertically low (vertical edges).
    Hl,
    /// Horizontally low, vertically high (horizontal edges).
    Lh,
    /// High in both directions.
    Hh,
}

/// One subband of a plane: its rectangle in the Mallat layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Band {
    /// Level (1 = finest); the LL band has level `levels`.
    pub level: usize,
    /// `None` for the LL band.
    pub orient: Option<Orient>,
    /// Left column.
    pub x0: usize,
    /// Top row.
    pub y0: usize,
    /// Width.
    pub w: usize,
    /// Height.
    pub h: usize,
}

/// Region sizes: `dims[0] = (w, h)`, `dims[l]` = the low-pass region after `l` levels.
pub fn level_dims(w: usize, h: usize, levels: usize) -> Vec<(usize, usize)> {
    let mut d = vec![(w, h)];
    for _ in 0..levels {
        let (a, b) = *d.last().expect("nonempty");
        d.push((a.div_ceil(2), b.div_ceil(2)));
    }
    d
}

/// The subbands in coding order: LL first, then per level from coarse to fine HL, LH, HH.
pub fn bands(w: usize, h: usize, levels: usize) -> Vec<Band> {
    let d = level_dims(w, h, levels);
    let (lw, lh) = d[levels];
    let mut out = vec![Band {
        level: levels,
        orient: None,
        x0: 0,
        y0: 0,
        w: lw,
        h: lh,
    }];
    for l in (1..=levels).rev() {
        let (rw, rh) = d[l - 1];
        let (lw, lh) = d[l];
        for (orient, x0, y0, bw, bh) in [
            (Orient::Hl, lw, 0, rw - lw, lh),
            (Orient::Lh, 0, lh, lw, rh - lh),
            (Orient::Hh, lw, lh, rw - lw, rh - lh),
        ] {
            out.push(Band {
                level: l,
                orient: Some(orient),
                x0,
                y0,
                w: bw,
                h: bh,
            });
        }
    }
    out
}

/// Levels used for a `w × h` image: the low band keeps at least 8 samples per side, at most 6
/// levels.
pub fn default_levels(w: usize, h: usize) -> usize {
    let mut l = 0;
    let (mut a, mut b) = (w, h);
    while l < 6 && a >= 16 && b >= 16 {
        a = a.div_ceil(2);
        b = b.div_ceil(2);
        l += 1;
    }
    l
}

/// Mirror index for whole-sample symmetric extension of a length-`n` signal (`n ≥ 2`).
#[inline]
fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * (n - 1);
    let mut i = i.rem_euclid(period);
    if i >= n {
        i = period - i;
    }
    i as usize
}

/// One lifting step on the interleaved signal `s`: every sample of parity `target` gets
/// `coef · (left + right)` added, neighbours taken with symmetric extension.
#[inline]
fn lift(s: &mut [f32], target: usize, coef: f32) {
    let n = s.len();
    let mut i = target;
    while i < n {
        let l = s[mirror(i as isize - 1, n)];
        let r = s[mirror(i as isize + 1, n)];
        s[i] += coef * (l + r);
        i += 2;
    }
}

/// Forward 1-D transform of `line` in place into `[low | high]`, using `tmp` as scratch.
fn forward_1d(line: &mut [f32], tmp: &mut Vec<f32>) {
    let n = line.len();
    if n < 2 {
        return;
    }
    lift(line, 1, ALPHA);
    lift(line, 0, BETA);
    lift(line, 1, GAMMA);
    lift(line, 0, DELTA);
    let nl = n.div_ceil(2);
    tmp.clear();
    tmp.extend(line.iter().step_by(2).map(|&v| v * (1.0 / K)));
    tmp.extend(line.iter().skip(1).step_by(2).map(|&v| v * (K / 2.0)));
    debug_assert_eq!(tmp.len(), n);
    line.copy_from_slice(tmp);
    debug_assert!(nl <= n);
}

/// Inverse of [`forward_1d`].
fn inverse_1d(line: &mut [f32], tmp: &mut Vec<f32>) {
    let n = line.len();
    if n < 2 {
        return;
    }
    let nl = n.div_ceil(2);
    tmp.clear();
    tmp.resize(n, 0.0);
    for (i, &v) in line[..nl].iter().enumerate() {
        tmp[2 * i] = v * K;
    }
    for (i, &v) in line[nl..].iter().enumerate() {
        tmp[2 * i + 1] = v * (2.0 / K);
    }
    lift(tmp, 0, -DELTA);
    lift(tmp, 1, -GAMMA);
    lift(tmp, 0, -BETA);
    lift(tmp, 1, -ALPHA);
    line.copy_from_slice(tmp);
}

/// [`lift`] applied to every column of the `rw`-wide, `n`-row plane `s` at once: row `i` of
/// parity `target` gets `coef · (row i−1 + row i+1)` added, rows taken with symmetric
/// extension. Each sample sees the same operations in the same order as in [`lift`].
fn lift_rows(s: &mut [f32], rw: usize, n: usize, target: usize, coef: f32) {
    let mut i = target;
    while i < n {
        let (l, r) = (mirror(i as isize - 1, n), mirror(i as isize + 1, n));
        // For n ≥ 2 neither neighbour is row i itself.
        let (before, rest) = s.split_at_mut(i * rw);
        let (row, after) = rest.split_at_mut(rw);
        let neighbour = |j: usize| -> &[f32] {
            if j < i {
                &before[j * rw..(j + 1) * rw]
            } else {
                &after[(j - i - 1) * rw..(j - i) * rw]
            }
        };
        for ((v, &a), &b) in row.iter_mut().zip(neighbour(l)).zip(neighbour(r)) {
            *v += coef * (a + b);
        }
        i += 2;
    }
}

/// [`inverse_1d`] of the first `rh` samples of each of the first `rw` columns of a plane of
/// width `w`, done row-wise over all columns at once (so that it vectorizes), with `tmp` as
/// scratch; bit-identical to transforming each column alone.
fn inverse_cols(plane: &mut [f32], w: usize, rw: usize, rh: usize, tmp: &mut Vec<f32>) {
    if rh < 2 {
        return;
    }
    let nl = rh.div_ceil(2);
    tmp.clear();
    tmp.resize(rw * rh, 0.0);
    for (y, dst) in tmp.chunks_exact_mut(rw).enumerate() {
        let (src, scale) = if y % 2 == 0 {
            (y / 2, K)
        } else {
            (nl + y / 2, 2.0 / K)
        };
        for (d, &v) in dst.iter_mut().zip(&plane[src * w..src * w + rw]) {
            *d = v * scale;
        }
    }
    lift_rows(tmp, rw, rh, 0, -DELTA);
    lift_rows(tmp, rw, rh, 1, -GAMMA);
    lift_rows(tmp, rw, rh, 0, -BETA);
    lift_rows(tmp, rw, rh, 1, -ALPHA);
    for (y, src) in tmp.chunks_exact(rw).enumerate() {
        plane[y * w..y * w + rw].copy_from_slice(src);
    }
}

/// Forward transform of a `w × h` plane (row-major) with `levels` levels, in place.
pub fn forward(plane: &mut [f32], w: usize, h: usize, levels: usize) {
    assert_eq!(plane.len(), w * h);
    let dims = level_dims(w, h, levels);
    let mut line = Vec::new();
    let mut tmp = Vec::new();
    for &(rw, rh) in &dims[..levels] {
        for y in 0..rh {
            forward_1d(&mut plane[y * w..y * w + rw], &mut tmp);
        }
        for x in 0..rw {
            line.clear();
            line.extend((0..rh).map(|y| plane[y * w + x]));
            forward_1d(&mut line, &mut tmp);
            for (y, &v) in line.iter().enumerate() {
                plane[y * w + x] = v;
            }
        }
    }
}

/// Inverse of [`forward`].
pub fn inverse(plane: &mut [f32], w: usize, h: usize, levels: usize) {
    assert_eq!(plane.len(), w * h);
    let dims = level_dims(w, h, levels);
    let mut cols = Vec::new();
    let mut tmp = Vec::new();
    for &(rw, rh) in dims[..levels].iter().rev() {
        inverse_cols(plane, w, rw, rh, &mut cols);
        for y in 0..rh {
            inverse_1d(&mut plane[y * w..y * w + rw], &mut tmp);
        }
    }
}

/// L2 norm of the synthesis basis function of one coefficient of each band (the factor that
/// turns a coefficient error into a pixel-domain error), in the order of [`bands`]. The basis is
/// separable, so each norm is the product of two 1-D norms, measured by inverse-transforming a
/// unit impulse in the middle of the band of a long line.
pub fn band_norms(levels: usize) -> Vec<f64> {
    let n = 64usize << levels;
    let dims: Vec<usize> = level_dims(n, 1, levels).iter().map(|d| d.0).collect();
    // norm_1d(l, high): impulse in the high half of level l (or, for !high, in the low region
    // after l levels).
    let norm_1d = |l: usize, high: bool| -> f64 {
        let mut line = vec![0.0f32; n];
        let pos = if high {
            dims[l] + (dims[l - 1] - dims[l]) / 2
        } else {
            dims[l] / 2
        };
        line[pos] = 1.0;
        let mut tmp = Vec::new();
        for &len in dims[..l].iter().rev() {
            inverse_1d(&mut line[..len], &mut tmp);
        }
        line.iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt()
    };
    bands(n, n, levels)
        .iter()
        .map(|b| match b.orient {
            None => norm_1d(levels, false).powi(2),
            Some(Orient::Hh) => norm_1d(b.level, true).powi(2),
            Some(_) => norm_1d(b.level, true) * norm_1d(b.level, false),
        })
        .collect()
}

/// RGB → YCbCr (the irreversible colour transform of JPEG 2000), 8-bit samples to `f32`
/// planes centred on zero.
pub fn rgb_to_ycc(rgb: &[u8], planes: &mut [Vec<f32>; 3]) {
    for p in planes.iter_mut() {
        p.clear();
    }
    for px in rgb.chunks_exact(3) {
        let (r, g, b) = (f32::from(px[0]), f32::from(px[1]), f32::from(px[2]));
        planes[0].push(0.299 * r + 0.587 * g + 0.114 * b - 128.0);
        planes[1].push(-0.168_736 * r - 0.331_264 * g + 0.5 * b);
        planes[2].push(0.5 * r - 0.418_688 * g - 0.081_312 * b);
    }
}

#[inline]
fn to_u8(v: f32) -> u8 {
    // Round half up, clamp; `as` saturates and maps NaN to 0.
    (v + 0.5).floor().clamp(0.0, 255.0) as u8
}

/// Inverse of [`rgb_to_ycc`], rounding and clamping to 8 bits.
pub fn ycc_to_rgb(planes: &[Vec<f32>; 3], rgb: &mut Vec<u8>) {
    rgb.clear();
    for ((&y, &cb), &cr) in planes[0].iter().zip(&planes[1]).zip(&planes[2]) {
        let y = y + 128.0;
        rgb.push(to_u8(y + 1.402 * cr));
        rgb.push(to_u8(y - 0.344_136 * cb - 0.714_136 * cr));
        rgb.push(to_u8(y + 1.772 * cb));
    }
}

/// A gray plane centred on zero.
pub fn gray_to_plane(gray: &[u8], plane: &mut Vec<f32>) {
    plane.clear();
    plane.extend(gray.iter().map(|&v| f32::from(v) - 128.0));
}

/// Inverse of [`gray_to_plane`].
pub fn plane_to_gray(plane: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.extend(plane.iter().map(|&v| to_u8(v + 128.0)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_reconstruction_any_size() {
        for &(w, h, levels) in &[(1, 1, 0), (2, 3, 1), (17, 9, 3), (64, 48, 5), (33, 65, 6)] {
            let orig: Vec<f32> = (0..w * h).map(|i| ((i * 37 % 101) as f32) - 50.0).collect();
            let mut p = orig.clone();
            forward(&mut p, w, h, levels);
            inverse(&mut p, w, h, levels);
            let err = orig
                .iter()
                .zip(&p)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-3, "{w}x{h} L{levels}: max error {err}");
        }
    }

    #[test]
    fn bands_tile_the_plane() {
        let (w, h, levels) = (37, 20, 3);
        let mut hit = vec![0u8; w * h];
        for b in bands(w, h, levels) {
            for y in b.y0..b.y0 + b.h {
                for x in b.x0..b.x0 + b.w {
                    hit[y * w + x] += 1;
                }
            }
        }
        assert!(hit.iter().all(|&c| c == 1));
    }

    #[test]
    fn smooth_signal_energy_goes_to_low_band() {
        let (w, h) = (64, 64);
        let mut p: Vec<f32> = (0..w * h)
            .map(|i| ((i % w) as f32 * 0.1).sin() * 20.0 + (i / w) as f32 * 0.3)
            .collect();
        forward(&mut p, w, h, 1);
        let low: f32 = (0..32)
            .flat_map(|y| (0..32).map(move |x| (y, x)))
            .map(|(y, x)| p[y * w + x].powi(2))
            .sum();
        let total: f32 = p.iter().map(|v| v * v).sum();
        assert!(low / total > 0.99, "{}", low / total);
    }

    #[test]
    fn colour_round_trip() {
        let rgb: Vec<u8> = (0..300u32).map(|i| (i * 53 % 256) as u8).collect();
        let mut planes = [Vec::new(), Vec::new(), Vec::new()];
        rgb_to_ycc(&rgb, &mut planes);
        let mut back = Vec::new();
        ycc_to_rgb(&planes, &mut back);
        assert_eq!(rgb, back);
    }

    /// The row-wise column pass equals [`inverse_1d`] column by column, bit for bit.
    #[test]
    fn column_pass_matches_the_1d_inverse() {
        let mut seed = 7u32;
        for (w, rw, rh) in [(5, 5, 1), (4, 3, 2), (9, 9, 3), (7, 6, 8), (17, 11, 13)] {
            let plane: Vec<f32> = (0..w * rh)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 8) as f32 / 65536.0 - 128.0
                })
                .collect();
            let mut got = plane.clone();
            inverse_cols(&mut got, w, rw, rh, &mut Vec::new());
            let mut want = plane.clone();
            let mut tmp = Vec::new();
            for x in 0..rw {
                let mut line: Vec<f32> = (0..rh).map(|y| want[y * w + x]).collect();
                inverse_1d(&mut line, &mut tmp);
                for (y, &v) in line.iter().enumerate() {
                    want[y * w + x] = v;
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{w} {rw}x{rh}");
        }
    }
}
