//! Motion: padded reference planes, sub-pixel interpolation, overlapped block motion
//! compensation (OBMC) and the encoder's motion search.
//!
//! Everything the decoder runs here is integer arithmetic: the prediction is the same on every
//! machine, thread count and ISA.
//!
//! - **Vectors** are in quarter luma samples. With 4:2:0 the same integer is the chroma
//!   displacement in eighths of a chroma sample.
//! - **Luma interpolation**: separable 8-tap filters at quarter positions (taps sum to 64, the
//!   result is rounded once after both passes). **Chroma**: bilinear at eighth positions.
//! - **OBMC**: every block's prediction covers a window twice its size, weighted by a
//!   separable triangular window (`1, 3, 5, …, 2b − 1, 2b − 1, …, 3, 1`); the windows of
//!   neighbouring blocks sum to a constant, so inside the frame each sample is a weighted mean
//!   of the four nearest blocks' predictions, and the residual has no block edges.
use super::{Block, Mode, Mv};

/// Largest vector component, in quarter samples (64 luma samples).
pub const MAX_MV: i32 = 256;
/// Border added around a reference plane: the largest displacement, half a window and the
/// interpolation taps.
const PAD: usize = 80;

/// 8-tap quarter-sample luma filters (index = fractional position); each sums to 64.
const LUMA_TAPS: [[i32; 8]; 4] = [
    [0, 0, 0, 64, 0, 0, 0, 0],
    [-1, 4, -10, 58, 17, -5, 1, 0],
    [-1, 4, -11, 40, 40, -11, 4, -1],
    [0, 1, -5, 17, 58, -10, 4, -1],
];

/// An 8-bit plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plane {
    pub w: usize,
    pub h: usize,
    pub data: Vec<u8>,
}

impl Plane {
    pub fn new(w: usize, h: usize, data: Vec<u8>) -> Self {
        debug_assert_eq!(data.len(), w * h);
        Plane { w, h, data }
    }
    pub fn filled(w: usize, h: usize, v: u8) -> Self {
        Plane {
            w,
            h,
            data: vec![v; w * h],
        }
    }
}

/// A reference plane with its edges replicated `PAD` samples outwards (`pad` scaled to the
/// plane: chroma planes of 4:2:0 need half).
#[derive(Clone, Debug)]
pub struct Padded {
    pub w: usize,
    pub h: usize,
    pub stride: usize,
    pub pad: usize,
    pub data: Vec<u8>,
}

impl Padded {
    pub fn new(p: &Plane) -> Self {
        let pad = PAD;
        let stride = p.w + 2 * pad;
        let rows = p.h + 2 * pad;
        let mut data = vec![0u8; stride * rows];
        for y in 0..rows {
            let sy = y.saturating_sub(pad).min(p.h - 1);
            let src = &p.data[sy * p.w..(sy + 1) * p.w];
            let row = &mut data[y * stride..(y + 1) * stride];
            row[..pad].fill(src[0]);
            row[pad..pad + p.w].copy_from_slice(src);
            row[pad + p.w..].fill(src[p.w - 1]);
        }
        Padded {
            w: p.w,
            h: p.h,
            stride,
            pad,
            data,
        }
    }

    /// Sample at plane coordinates (clamped into the padded area).
    #[inline]
    fn at(&self, x: isize, y: isize) -> i32 {
        let p = self.pad as isize;
        let xx = (x + p).clamp(0, self.stride as isize - 1) as usize;
        let yy = (y + p).clamp(0, (self.h + 2 * self.pad) as isize - 1) as usize;
        i32::from(self.data[yy * self.stride + xx])
    }
}

/// Luma prediction of the `bw × bh` window at `(x0, y0)` displaced by `mv` (quarter samples).
pub fn luma_block(r: &Padded, x0: isize, y0: isize, mv: Mv, bw: usize, bh: usize, out: &mut [u8]) {
    let (ix, fx) = (mv.x >> 2, (mv.x & 3) as usize);
    let (iy, fy) = (mv.y >> 2, (mv.y & 3) as usize);
    let (bx, by) = (x0 + ix as isize, y0 + iy as isize);
    if fx == 0 && fy == 0 {
        for y in 0..bh {
            for x in 0..bw {
                out[y * bw + x] = r.at(bx + x as isize, by + y as isize) as u8;
            }
        }
        return;
    }
    let (tx, ty) = (&LUMA_TAPS[fx], &LUMA_TAPS[fy]);
    // Every path computes `(64·H + 2048) >> 12` of the separable sums exactly (a one-direction
    // position is `(S + 32) >> 6`, the same integer), in loops over whole rows that vectorize.
    let fast = bx - 3 >= -(r.pad as isize)
        && by - 3 >= -(r.pad as isize)
        && bx + bw as isize + 4 <= (r.w + r.pad) as isize
        && by + bh as isize + 4 <= (r.h + r.pad) as isize;
    if !fast {
        // Only for vectors beyond the padding (never from a valid stream): sample by sample.
        for y in 0..bh {
            for x in 0..bw {
                let mut s = 0;
                for (j, &t) in ty.iter().enumerate() {
                    let mut h = 0;
                    for (k, &u) in tx.iter().enumerate() {
                        h += u * r.at(bx + (x + k) as isize - 3, by + (y + j) as isize - 3);
                    }
                    s += t * h;
                }
                out[y * bw + x] = ((s + 2048) >> 12).clamp(0, 255) as u8;
            }
        }
        return;
    }
    let base = |yy: isize, xx: isize| -> usize {
        ((yy + r.pad as isize) as usize) * r.stride + (xx + r.pad as isize) as usize
    };
    let mut acc = [0i32; 16];
    let acc = &mut acc[..bw];
    if fy == 0 {
        for y in 0..bh {
            let row = &r.data[base(by + y as isize, bx - 3)..][..bw + 7];
            acc.fill(32);
            for (k, &t) in tx.iter().enumerate() {
                for (a, &v) in acc.iter_mut().zip(&row[k..k + bw]) {
                    *a += t * i32::from(v);
                }
            }
            for (o, &a) in out[y * bw..(y + 1) * bw].iter_mut().zip(acc.iter()) {
                *o = (a >> 6).clamp(0, 255) as u8;
            }
        }
        return;
    }
    if fx == 0 {
        for y in 0..bh {
            acc.fill(32);
            for (k, &t) in ty.iter().enumerate() {
                let row = &r.data[base(by + (y + k) as isize - 3, bx)..][..bw];
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += t * i32::from(v);
                }
            }
            for (o, &a) in out[y * bw..(y + 1) * bw].iter_mut().zip(acc.iter()) {
                *o = (a >> 6).clamp(0, 255) as u8;
            }
        }
        return;
    }
    // Horizontal pass over bh + 7 rows, unscaled (|v| ≤ 255 · 88), then vertical.
    let rows = bh + 7;
    let mut tmp = [0i32; (16 + 7) * 16];
    let tmp = &mut tmp[..rows * bw];
    for j in 0..rows {
        let row = &r.data[base(by + j as isize - 3, bx - 3)..][..bw + 7];
        let t_row = &mut tmp[j * bw..(j + 1) * bw];
        t_row.fill(0);
        for (k, &t) in tx.iter().enumerate() {
            for (a, &v) in t_row.iter_mut().zip(&row[k..k + bw]) {
                *a += t * i32::from(v);
            }
        }
    }
    for y in 0..bh {
        acc.fill(2048);
        for (k, &t) in ty.iter().enumerate() {
            for (a, &v) in acc.iter_mut().zip(&tmp[(y + k) * bw..(y + k + 1) * bw]) {
                *a += t * v;
            }
        }
        for (o, &a) in out[y * bw..(y + 1) * bw].iter_mut().zip(acc.iter()) {
            *o = (a >> 12).clamp(0, 255) as u8;
        }
    }
}

/// Chroma (4:2:0) prediction: `mv` is in eighths of a chroma sample.
pub fn chroma_block(
    r: &Padded,
    x0: isize,
    y0: isize,
    mv: Mv,
    bw: usize,
    bh: usize,
    out: &mut [u8],
) {
    let (ix, fx) = (mv.x >> 3, mv.x & 7);
    let (iy, fy) = (mv.y >> 3, mv.y & 7);
    let (bx, by) = (x0 + ix as isize, y0 + iy as isize);
    let (w00, w10, w01, w11) = ((8 - fx) * (8 - fy), fx * (8 - fy), (8 - fx) * fy, fx * fy);
    for y in 0..bh {
        for x in 0..bw {
            let (xx, yy) = (bx + x as isize, by + y as isize);
            let s = w00 * r.at(xx, yy)
                + w10 * r.at(xx + 1, yy)
                + w01 * r.at(xx, yy + 1)
                + w11 * r.at(xx + 1, yy + 1);
            out[y * bw + x] = ((s + 32) >> 6) as u8;
        }
    }
}

/// Weight of window position `s` (of `2b`; the block covers `b/2 .. 3b/2`): a trapezoid whose
/// ramps are `o` samples wide around the block's edges, so that the windows of neighbouring
/// blocks add up to `2o` everywhere (`o = b`: a triangle over the whole window).
#[inline]
fn window(s: usize, b: usize, o: usize) -> u32 {
    let left = 2 * s as i32 - b as i32 + 1;
    let right = 3 * b as i32 - 2 * s as i32 - 1;
    (left.min(right) + o as i32).clamp(0, 2 * o as i32) as u32
}

/// The OBMC prediction of one plane from the block field. `bs` is the block size in this plane
/// (8 luma, 4 chroma of 4:2:0), `chroma` selects the interpolation and `comp` the intra DC.
pub fn obmc_plane(
    r: &Padded,
    blocks: &[Block],
    cols: usize,
    bs: usize,
    comp: usize,
    chroma: bool,
    overlap: bool,
) -> Plane {
    let (w, h) = (r.w, r.h);
    let rows = blocks.len() / cols.max(1);
    let mut acc = vec![0u32; w * h];
    let mut wsum = vec![0u32; w * h];
    let win = 2 * bs;
    let half = bs / 2;
    let mut buf = [0u8; 16 * 16];
    // Full overlap (a triangle): a half-width trapezoid measured the same on BasketballPass.
    let ov = bs;
    for by in 0..rows {
        for bx in 0..cols {
            let b = &blocks[by * cols + bx];
            let (x0, y0, ww) = if overlap {
                (
                    (bx * bs) as isize - half as isize,
                    (by * bs) as isize - half as isize,
                    win,
                )
            } else {
                ((bx * bs) as isize, (by * bs) as isize, bs)
            };
            let buf = &mut buf[..ww * ww];
            match b.mode {
                Mode::Intra => buf.fill(b.dc[comp]),
                _ if chroma => chroma_block(r, x0, y0, b.mv, ww, ww, buf),
                _ => luma_block(r, x0, y0, b.mv, ww, ww, buf),
            }
            for j in 0..ww {
                let y = y0 + j as isize;
                if y < 0 || y >= h as isize {
                    continue;
                }
                let wy = if overlap { window(j, bs, ov) } else { 1 };
                for i in 0..ww {
                    let x = x0 + i as isize;
                    if x < 0 || x >= w as isize {
                        continue;
                    }
                    let wt = wy * if overlap { window(i, bs, ov) } else { 1 };
                    let at = y as usize * w + x as usize;
                    acc[at] += wt * u32::from(buf[j * ww + i]);
                    wsum[at] += wt;
                }
            }
        }
    }
    let data = acc
        .iter()
        .zip(&wsum)
        .map(|(&a, &s)| (a + s / 2).checked_div(s).map_or(128, |v| v as u8))
        .collect();
    Plane::new(w, h, data)
}

/// Sum of absolute differences between `src`'s `bw × bh` block at `(x, y)` and `pred`.
#[inline]
pub fn sad(src: &Plane, x: usize, y: usize, bw: usize, bh: usize, pred: &[u8]) -> u32 {
    let mut s = 0u32;
    for j in 0..bh.min(src.h - y) {
        let row = &src.data[(y + j) * src.w + x..];
        for i in 0..bw.min(src.w - x) {
            s += u32::from(row[i].abs_diff(pred[j * bw + i]));
        }
    }
    s
}

/// A plane downsampled by two (mean of 2×2, rounded).
pub fn half(p: &Plane) -> Plane {
    let (w, h) = (p.w.div_ceil(2), p.h.div_ceil(2));
    let mut d = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let g =
                |xx: usize, yy: usize| u32::from(p.data[yy.min(p.h - 1) * p.w + xx.min(p.w - 1)]);
            let s = g(2 * x, 2 * y)
                + g(2 * x + 1, 2 * y)
                + g(2 * x, 2 * y + 1)
                + g(2 * x + 1, 2 * y + 1);
            d.push(((s + 2) / 4) as u8);
        }
    }
    Plane::new(w, h, d)
}

#[allow(clippy::too_many_arguments)]
/// Integer-sample SAD of `src`'s block at `(x, y)` against `r` displaced by `(dx, dy)` samples.
#[inline]
pub fn sad_int(
    src: &Plane,
    r: &Padded,
    x: usize,
    y: usize,
    bw: usize,
    bh: usize,
    dx: i32,
    dy: i32,
) -> u32 {
    let mut s = 0u32;
    let (bx, by) = (x as isize + dx as isize, y as isize + dy as isize);
    let inside = bx >= -(r.pad as isize)
        && by >= -(r.pad as isize)
        && bx + bw as isize <= (r.w + r.pad) as isize
        && by + bh as isize <= (r.h + r.pad) as isize;
    for j in 0..bh.min(src.h - y) {
        let row = &src.data[(y + j) * src.w + x..];
        if inside {
            let base = ((by + j as isize + r.pad as isize) as usize) * r.stride
                + (bx + r.pad as isize) as usize;
            let rr = &r.data[base..base + bw];
            for (&a, &b) in row.iter().zip(rr).take(bw.min(src.w - x)) {
                s += u32::from(a.abs_diff(b));
            }
        } else {
            for (i, &a) in row.iter().take(bw.min(src.w - x)).enumerate() {
                let v = r.at(bx + i as isize, by + j as isize) as u8;
                s += u32::from(a.abs_diff(v));
            }
        }
    }
    s
}
