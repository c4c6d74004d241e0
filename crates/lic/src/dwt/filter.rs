//! The restoration filter of `lic-dwt`: a per-image Wiener filter learned by the encoder on
//! the image itself and applied by the decoder in integer arithmetic.
//!
//! Each output channel gets a point-symmetric 5 × 5 filter in the form
//! `out = x + Σₖ cₖ · (x[p + oₖ] + x[p − oₖ] − 2x[p]) / 256` over the 12 offset pairs `oₖ`, so
//! flat areas pass unchanged. The encoder solves the least-squares problem of predicting the
//! original from the decoded image (normal equations, 12 unknowns per channel), rounds the
//! coefficients to integers and keeps the filter only if the integer filter lowers the channel's
//! squared error. Coordinates outside the image are clamped to the border.

/// The offsets of the 12 symmetric tap pairs (the other tap of each pair is the negation).
pub(crate) const OFFSETS: [(isize, isize); TAPS] = [
    (1, 0),
    (0, 1),
    (1, 1),
    (1, -1),
    (2, 0),
    (0, 2),
    (2, 1),
    (1, 2),
    (2, -1),
    (1, -2),
    (2, 2),
    (2, -2),
];
/// Number of coefficients per channel.
pub const TAPS: usize = 12;
/// The reach of the taps in pixels.
pub(crate) const BORDER: usize = 2;
/// Coefficients are in units of `1 / 2^SHIFT`.
pub(crate) const SHIFT: u32 = 8;

/// One channel's filter (`None`: off).
pub type ChannelFilter = Option<[i8; TAPS]>;

#[inline]
fn at(img: &[u8], w: usize, h: usize, stride: usize, c: usize, x: isize, y: isize) -> i32 {
    let xx = x.clamp(0, w as isize - 1) as usize;
    let yy = y.clamp(0, h as isize - 1) as usize;
    i32::from(img[(yy * w + xx) * stride + c])
}

/// The 12 features `x[p + o] + x[p − o] − 2x[p]` of channel `c` at `(x, y)`.
#[inline]
fn features(
    img: &[u8],
    w: usize,
    h: usize,
    stride: usize,
    c: usize,
    x: usize,
    y: usize,
) -> [i32; TAPS] {
    let (xi, yi) = (x as isize, y as isize);
    let centre = i32::from(img[(y * w + x) * stride + c]);
    let mut f = [0i32; TAPS];
    for (k, &(dx, dy)) in OFFSETS.iter().enumerate() {
        f[k] = at(img, w, h, stride, c, xi + dx, yi + dy)
            + at(img, w, h, stride, c, xi - dx, yi - dy)
            - 2 * centre;
    }
    f
}

/// Applies the filters to an interleaved image with `stride` channels (one filter each), in place.
///
/// Each filtered channel is copied once into a plane with a clamped border of `BORDER`
/// pixels, so that every tap is a plain offset and a row is computed as 12 vectorizable passes
/// over it; the integers are those of `features` term by term.
pub fn apply(img: &mut [u8], w: usize, h: usize, stride: usize, filters: &[ChannelFilter]) {
    if w == 0 || h == 0 {
        return;
    }
    let pw = w + 2 * BORDER;
    let mut plane = vec![0i32; pw * (h + 2 * BORDER)];
    let mut acc = vec![0i32; w];
    for (c, f) in filters.iter().enumerate() {
        let Some(coef) = f else { continue };
        // Only channel `c` is read, and it is still unfiltered here.
        for (py, row) in plane.chunks_exact_mut(pw).enumerate() {
            let y = py.saturating_sub(BORDER).min(h - 1);
            for (px, v) in row.iter_mut().enumerate() {
                let x = px.saturating_sub(BORDER).min(w - 1);
                *v = i32::from(img[(y * w + x) * stride + c]);
            }
        }
        for y in 0..h {
            let base = (y + BORDER) * pw + BORDER;
            let centre = &plane[base..base + w];
            acc.fill(0);
            for (&(dx, dy), &k) in OFFSETS.iter().zip(coef) {
                let off = dy * pw as isize + dx;
                let fwd = &plane[(base as isize + off) as usize..][..w];
                let back = &plane[(base as isize - off) as usize..][..w];
                let k = i32::from(k);
                for (((a, &p), &q), &m) in acc.iter_mut().zip(fwd).zip(back).zip(centre) {
                    *a += (p + q - 2 * m) * k;
                }
            }
            for (x, (&a, &m)) in acc.iter().zip(centre).enumerate() {
                let v = m + ((a + (1 << (SHIFT - 1))) >> SHIFT);
                img[(y * w + x) * stride + c] = v.clamp(0, 255) as u8;
            }
        }
    }
}

#[allow(clippy::needless_range_loop)]
/// Solves `A x = b` (symmetric positive definite after a small ridge) by Cholesky.
pub(crate) fn solve(mut a: [[f64; TAPS]; TAPS], b: [f64; TAPS]) -> Option<[f64; TAPS]> {
    let ridge = (0..TAPS).map(|i| a[i][i]).sum::<f64>() / TAPS as f64 * 1e-6 + 1e-9;
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += ridge;
    }
    let mut l = [[0.0f64; TAPS]; TAPS];
    for i in 0..TAPS {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut y = [0.0f64; TAPS];
    for i in 0..TAPS {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0f64; TAPS];
    for i in (0..TAPS).rev() {
        x[i] = (y[i] - (i + 1..TAPS).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

fn sse(a: &[u8], b: &[u8], stride: usize, c: usize) -> u64 {
    a.iter()
        .skip(c)
        .step_by(stride)
        .zip(b.iter().skip(c).step_by(stride))
        .map(|(&p, &q)| (i64::from(p) - i64::from(q)).unsigned_abs().pow(2))
        .sum()
}

/// The encoder's filters: per channel, the least-squares filter from `decoded` towards
/// `original`, kept only when it lowers the squared error.
pub fn fit(
    original: &[u8],
    decoded: &[u8],
    w: usize,
    h: usize,
    stride: usize,
) -> Vec<ChannelFilter> {
    fit_with_gains(original, decoded, w, h, stride)
        .into_iter()
        .map(|f| f.map(|(coef, _)| coef))
        .collect()
}

/// [`fit`], with the squared error each kept filter removes (for a rate–distortion choice).
#[allow(clippy::needless_range_loop)] // the normal equations read best indexed
pub fn fit_with_gains(
    original: &[u8],
    decoded: &[u8],
    w: usize,
    h: usize,
    stride: usize,
) -> Vec<Option<([i8; TAPS], u64)>> {
    (0..stride)
        .map(|c| {
            let mut a = [[0.0f64; TAPS]; TAPS];
            let mut b = [0.0f64; TAPS];
            for y in 0..h {
                for x in 0..w {
                    let f = features(decoded, w, h, stride, c, x, y);
                    let i = (y * w + x) * stride + c;
                    let t = f64::from(original[i]) - f64::from(decoded[i]);
                    for j in 0..TAPS {
                        let fj = f64::from(f[j]);
                        b[j] += fj * t;
                        for k in 0..=j {
                            a[j][k] += fj * f64::from(f[k]);
                        }
                    }
                }
            }
            for j in 0..TAPS {
                for k in j + 1..TAPS {
                    a[j][k] = a[k][j];
                }
            }
            let x = solve(a, b)?;
            let scale = f64::from(1u32 << SHIFT);
            let coef: [i8; TAPS] =
                std::array::from_fn(|k| (x[k] * scale).round().clamp(-128.0, 127.0) as i8);
            if coef.iter().all(|&k| k == 0) {
                return None;
            }
            let mut trial = decoded.to_vec();
            let mut filters = vec![None; stride];
            filters[c] = Some(coef);
            apply(&mut trial, w, h, stride, &filters);
            let (after, before) = (
                sse(original, &trial, stride, c),
                sse(original, decoded, stride, c),
            );
            (after < before).then_some((coef, before - after))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_filter_undoes_a_blur() {
        let (w, h) = (64, 48);
        let orig: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                (128.0 + 60.0 * (x * 0.9).sin() + 30.0 * (y * 0.5).cos()) as u8
            })
            .collect();
        // A 3-tap horizontal blur.
        let blurred: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let g = |xx: usize| u32::from(orig[y * w + xx.min(w - 1)]);
                ((g(x.saturating_sub(1)) + 2 * g(x) + g(x + 1) + 2) / 4) as u8
            })
            .collect();
        let f = fit(&orig, &blurred, w, h, 1);
        assert!(f[0].is_some());
        let mut out = blurred.clone();
        apply(&mut out, w, h, 1, &f);
        assert!(sse(&orig, &out, 1, 0) < sse(&orig, &blurred, 1, 0) * 9 / 10);
    }

    #[test]
    fn flat_image_passes_unchanged() {
        let mut img = vec![77u8; 30 * 20 * 3];
        apply(
            &mut img,
            30,
            20,
            3,
            &[Some([100; TAPS]), Some([-100; TAPS]), None],
        );
        assert!(img.iter().all(|&v| v == 77));
    }

    /// The plane-based `apply` against the per-pixel definition (clamped features), on sizes
    /// smaller and larger than the taps' reach.
    #[test]
    fn apply_matches_the_per_pixel_definition() {
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        for (w, h) in [(1, 1), (2, 3), (5, 1), (7, 9), (33, 17)] {
            let img: Vec<u8> = (0..w * h * 3).map(|_| next() as u8).collect();
            let mut coef = |o: u32| -> [i8; TAPS] {
                std::array::from_fn(|k| ((next() + o + k as u32) % 255) as i8)
            };
            let filters = [Some(coef(0)), None, Some(coef(1))];
            let mut got = img.clone();
            apply(&mut got, w, h, 3, &filters);
            let mut want = img.clone();
            for (c, f) in filters.iter().enumerate() {
                let Some(k) = f else { continue };
                for y in 0..h {
                    for x in 0..w {
                        let feat = features(&img, w, h, 3, c, x, y);
                        let acc: i32 = feat.iter().zip(k).map(|(&v, &k)| v * i32::from(k)).sum();
                        let i = (y * w + x) * 3 + c;
                        let v = i32::from(img[i]) + ((acc + (1 << (SHIFT - 1))) >> SHIFT);
                        want[i] = v.clamp(0, 255) as u8;
                    }
                }
            }
            assert_eq!(got, want, "{w}x{h}");
        }
    }
}
