//! The block-DCT alternative for the residual of inter frames (the comparison the design asks
//! for; the wavelet won, see the model card): an orthonormal 8×8 DCT-II whose coefficients are
//! rearranged into a 3-level Mallat layout (coefficient `(u, v)` of every block goes to the
//! subband of its frequency), so that `lic-dwt`'s coefficient coder, its contexts and its
//! rate–distortion quantization code both transforms alike. Plain `f32` in a fixed order with
//! constant basis values (no `cos` at run time): the same on every machine.

/// `BASIS[k][n] = s_k cos(π (2n + 1) k / 16)`, `s_0 = √(1/8)`, `s_k = 1/2`.
const BASIS: [[f32; 8]; 8] = [
    [0.353_553_39; 8],
    [
        0.490_392_64,
        0.415_734_8,
        0.277_785_12,
        0.097_545_16,
        -0.097_545_16,
        -0.277_785_12,
        -0.415_734_8,
        -0.490_392_64,
    ],
    [
        0.461_939_77,
        0.191_341_72,
        -0.191_341_72,
        -0.461_939_77,
        -0.461_939_77,
        -0.191_341_72,
        0.191_341_72,
        0.461_939_77,
    ],
    [
        0.415_734_8,
        -0.097_545_16,
        -0.490_392_64,
        -0.277_785_12,
        0.277_785_12,
        0.490_392_64,
        0.097_545_16,
        -0.415_734_8,
    ],
    [
        0.353_553_39,
        -0.353_553_39,
        -0.353_553_39,
        0.353_553_39,
        0.353_553_39,
        -0.353_553_39,
        -0.353_553_39,
        0.353_553_39,
    ],
    [
        0.277_785_12,
        -0.490_392_64,
        0.097_545_16,
        0.415_734_8,
        -0.415_734_8,
        -0.097_545_16,
        0.490_392_64,
        -0.277_785_12,
    ],
    [
        0.191_341_72,
        -0.461_939_77,
        0.461_939_77,
        -0.191_341_72,
        -0.191_341_72,
        0.461_939_77,
        -0.461_939_77,
        0.191_341_72,
    ],
    [
        0.097_545_16,
        -0.277_785_12,
        0.415_734_8,
        -0.490_392_64,
        0.490_392_64,
        -0.415_734_8,
        0.277_785_12,
        -0.097_545_16,
    ],
];

/// Levels of the equivalent pyramid.
pub const LEVELS: usize = 3;

/// Position along one axis of frequency `u` of block `b` in a pyramid of `n` samples.
#[inline]
fn pos(n: usize, b: usize, u: usize, level: usize) -> usize {
    let per = 1 << (LEVELS - level);
    if u >= per {
        (n >> level) + b * per + u - per
    } else {
        b * per + u
    }
}

/// Level (1 = finest) of frequency `u` along one axis.
#[inline]
fn level_of(u: usize) -> usize {
    match u {
        0 | 1 => 3,
        2 | 3 => 2,
        _ => 1,
    }
}

/// Forward transform of a `w × h` plane (both multiples of 8) into the pyramid layout.
pub fn forward(plane: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; w * h];
    let mut blk = [[0.0f32; 8]; 8];
    for by in 0..h / 8 {
        for bx in 0..w / 8 {
            // Rows, then columns.
            let mut tmp = [[0.0f32; 8]; 8];
            for (y, row) in tmp.iter_mut().enumerate() {
                let src = &plane[(by * 8 + y) * w + bx * 8..];
                for (u, t) in row.iter_mut().enumerate() {
                    let mut s = 0.0f32;
                    for n in 0..8 {
                        s += BASIS[u][n] * src[n];
                    }
                    *t = s;
                }
            }
            for (v, brow) in blk.iter_mut().enumerate() {
                for (u, b) in brow.iter_mut().enumerate() {
                    let mut s = 0.0f32;
                    for (n, trow) in tmp.iter().enumerate() {
                        s += BASIS[v][n] * trow[u];
                    }
                    *b = s;
                }
            }
            for (v, brow) in blk.iter().enumerate() {
                for (u, &c) in brow.iter().enumerate() {
                    let l = level_of(u).min(level_of(v));
                    out[pos(h, by, v, l) * w + pos(w, bx, u, l)] = c;
                }
            }
        }
    }
    out
}

/// Inverse of [`forward`].
pub fn inverse(coef: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; w * h];
    for by in 0..h / 8 {
        for bx in 0..w / 8 {
            let mut blk = [[0.0f32; 8]; 8];
            for (v, brow) in blk.iter_mut().enumerate() {
                for (u, b) in brow.iter_mut().enumerate() {
                    let l = level_of(u).min(level_of(v));
                    *b = coef[pos(h, by, v, l) * w + pos(w, bx, u, l)];
                }
            }
            let mut tmp = [[0.0f32; 8]; 8];
            for (n, trow) in tmp.iter_mut().enumerate() {
                for (u, t) in trow.iter_mut().enumerate() {
                    let mut s = 0.0f32;
                    for (v, brow) in blk.iter().enumerate() {
                        s += BASIS[v][n] * brow[u];
                    }
                    *t = s;
                }
            }
            for (y, trow) in tmp.iter().enumerate() {
                let dst = &mut out[(by * 8 + y) * w + bx * 8..];
                for (x, d) in dst.iter_mut().take(8).enumerate() {
                    let mut s = 0.0f32;
                    for (u, &t) in trow.iter().enumerate() {
                        s += BASIS[u][x] * t;
                    }
                    *d = s;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let (w, h) = (24, 16);
        let p: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 101) as f32 - 50.0).collect();
        let c = forward(&p, w, h);
        let back = inverse(&c, w, h);
        for (a, b) in p.iter().zip(&back) {
            assert!((a - b).abs() < 1e-3, "{a} {b}");
        }
        // The DC of block (bx, by) lands in the LL band at (bx, by).
        let mut flat = vec![0.0f32; w * h];
        for y in 0..8 {
            for x in 8..16 {
                flat[y * w + x] = 8.0;
            }
        }
        let c = forward(&flat, w, h);
        assert!((c[1] - 64.0).abs() < 1e-3);
        assert!(c.iter().enumerate().all(|(i, &v)| i == 1 || v.abs() < 1e-3));
    }
}
