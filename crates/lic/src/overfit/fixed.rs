//! The exact integer decoder networks: quantized weights, the integer ARM that selects the
//! coding tables and the fixed-point upsampling and synthesis.
//!
//! Activations are fixed point with [`ACT_FRAC`] fraction bits, clamped to `±ACT_CLAMP` after
//! every layer (so they are held as `i32`; the upsampled latents are below 2^27); a tensor's
//! weights are integers over `2^frac`. Every sum is an exact `i64` integer (|activation| ≤ 2^27,
//! |weight| < 2^15, fan-in ≤ 64: below 2^48), rescaled with round-half-up arithmetic shifts, so
//! the result is the same on every machine, thread count and instruction set; the kernels are
//! compiled per ISA (`super::simd::multiversion`) only so that the `i32 × i32 → i64` products
//! vectorize. The encoder uses these same functions to write the bitstream.
use rayon::prelude::*;

use super::laplace;
use super::model::{
    taps, Arch, Dense, Layout, Tap, CTX_OFFSETS, MAX_LEVELS, MAX_WIDTH, TAPS, UP_FRAC,
};
use super::simd::multiversion;

/// Fraction bits of activations.
pub const ACT_FRAC: u32 = 12;
/// Activations are clamped to `±ACT_CLAMP` after every layer.
pub const ACT_CLAMP: i64 = 1 << 24;
/// Largest weight magnitude (exclusive).
pub const MAX_WEIGHT: i32 = 1 << 15;
/// Largest fraction-bit count of a tensor.
pub const MAX_FRAC: u8 = 15;
/// Largest latent magnitude.
pub const MAX_LATENT: i32 = 1 << 15;

/// `ln b` of the smallest table scale in activation units (−3.25 · 2^12, exact).
const LS_MIN_FIX: i64 = -13312;

/// One quantized tensor: value `i` is `values[i] / 2^frac`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QTensor {
    /// Fraction bits (≤ [`MAX_FRAC`]).
    pub frac: u8,
    /// Integer values (`|v| < MAX_WEIGHT`).
    pub values: Vec<i32>,
}

impl QTensor {
    /// Rounds float values to `frac` fraction bits (saturating).
    pub fn quantize(values: &[f32], frac: u8) -> Self {
        let s = (1u32 << frac) as f32;
        let m = (MAX_WEIGHT - 1) as f32;
        Self {
            frac,
            values: values
                .iter()
                .map(|&v| (v * s).round().clamp(-m, m) as i32)
                .collect(),
        }
    }

    /// The float values this tensor stands for.
    pub fn dequantize(&self) -> Vec<f32> {
        let s = (1u32 << self.frac) as f32;
        self.values.iter().map(|&v| v as f32 / s).collect()
    }
}

#[inline(always)]
fn shift_round(v: i64, s: u32) -> i64 {
    if s == 0 {
        v
    } else {
        (v + (1 << (s - 1))) >> s
    }
}

/// The shifts that bring an exact sum `Σ w·a` (weights with `wf` fraction bits on activations
/// with [`ACT_FRAC`]) plus a bias (with `bf` fraction bits) to activation units, rounding half
/// up: `shift_round((Σ << sa) + (b << sb), sr)`.
#[derive(Clone, Copy, Debug)]
struct Rescale {
    sa: u32,
    sb: u32,
    sr: u32,
}

impl Rescale {
    fn new(wf: u32, bf: u32) -> Self {
        let f = (ACT_FRAC + wf).max(bf);
        Self {
            sa: f - ACT_FRAC - wf,
            sb: f - bf,
            sr: f - ACT_FRAC,
        }
    }

    /// The bias at the sum's scale (`b << sb`).
    #[inline(always)]
    fn bias(self, b: i64) -> i64 {
        b << self.sb
    }

    /// `sum` plus a [`Rescale::bias`] in activation units.
    #[inline(always)]
    fn apply(self, sum: i64, bias: i64) -> i64 {
        shift_round((sum << self.sa) + bias, self.sr)
    }
}

/// A layer output: clamped to `±ACT_CLAMP`, then the ReLU if `relu`.
#[inline(always)]
fn activate(v: i64, relu: bool) -> i32 {
    let v = v.clamp(-ACT_CLAMP, ACT_CLAMP);
    (if relu { v.max(0) } else { v }) as i32
}

/// Output lanes of the ARM's vectorized layers ([`QDense::accumulate`]).
const LANES: usize = 8;

/// A dense layer with integer weights.
#[derive(Clone, Debug)]
struct QDense {
    fan_in: usize,
    fan_out: usize,
    /// Weights (below 2^15 in magnitude), row `o` = output `o`.
    w: Vec<i32>,
    /// The same weights transposed (row `i` = input `i`, padded with zeros to [`QDense::lanes`]
    /// outputs), for sums over all outputs at once.
    wt: Vec<i32>,
    /// The biases padded with zeros to [`QDense::lanes`].
    bp: Vec<i64>,
    wf: u32,
    b: Vec<i64>,
    bf: u32,
}

impl QDense {
    fn new(d: &Dense, w: &QTensor, b: &QTensor) -> Self {
        Self {
            fan_in: d.fan_in,
            fan_out: d.fan_out,
            w: w.values.clone(),
            wt: {
                let lanes = d.fan_out.next_multiple_of(LANES);
                (0..d.fan_in * lanes)
                    .map(|k| {
                        let (i, o) = (k / lanes, k % lanes);
                        if o < d.fan_out {
                            w.values[o * d.fan_in + i]
                        } else {
                            0
                        }
                    })
                    .collect()
            },
            bp: {
                let mut bp: Vec<i64> = b.values.iter().map(|&v| i64::from(v)).collect();
                bp.resize(d.fan_out.next_multiple_of(LANES), 0);
                bp
            },
            wf: u32::from(w.frac),
            b: b.values.iter().map(|&v| i64::from(v)).collect(),
            bf: u32::from(b.frac),
        }
    }

    /// Output `o` before its activation, `W x + b` in activation units (`i64` sum).
    #[inline(always)]
    fn pre(&self, rs: Rescale, x: &[i32], o: usize) -> i64 {
        let wr = &self.w[o * self.fan_in..(o + 1) * self.fan_in];
        let acc: i64 = wr
            .iter()
            .zip(&x[..self.fan_in])
            .map(|(&w, &a)| i64::from(w) * i64::from(a))
            .sum();
        rs.apply(acc, rs.bias(self.b[o]))
    }

    /// Outputs rounded up to a multiple of [`LANES`] (the padded rows of `wt` and `bp`).
    #[inline(always)]
    fn lanes(&self) -> usize {
        self.fan_out.next_multiple_of(LANES)
    }

    /// `acc[o] += Σ_i W[o][from + i] · x[i]` for every output `o < lanes()` (padded outputs
    /// get 0), over the inputs `from .. from + x.len()`: input by input over all outputs (the
    /// transposed weights, padded so that the vectorized loop has no scalar remainder); zero inputs (ReLU outputs often are) are skipped. Exact `i64` sums, so the
    /// order does not matter.
    #[inline(always)]
    fn accumulate(&self, x: &[i32], from: usize, acc: &mut [i64]) {
        match self.lanes() {
            8 => self.accumulate_n::<8>(x, from, acc),
            16 => self.accumulate_n::<16>(x, from, acc),
            24 => self.accumulate_n::<24>(x, from, acc),
            32 => self.accumulate_n::<32>(x, from, acc),
            40 => self.accumulate_n::<40>(x, from, acc),
            48 => self.accumulate_n::<48>(x, from, acc),
            56 => self.accumulate_n::<56>(x, from, acc),
            _ => self.accumulate_n::<64>(x, from, acc),
        }
    }

    /// [`QDense::accumulate`] with `N = lanes()` outputs held in registers (a runtime length
    /// kept them in memory, and each input waited for the previous one's stores).
    #[inline(always)]
    fn accumulate_n<const N: usize>(&self, x: &[i32], from: usize, acc: &mut [i64]) {
        let acc: &mut [i64; N] = (&mut acc[..N]).try_into().expect("N outputs");
        let mut t = *acc;
        for (i, &v) in x.iter().enumerate() {
            if v == 0 {
                continue;
            }
            let v = i64::from(v);
            let col: &[i32; N] = self.wt[(from + i) * N..(from + i + 1) * N]
                .try_into()
                .expect("N weights");
            for (a, &w) in t.iter_mut().zip(col) {
                *a += i64::from(w) * v;
            }
        }
        *acc = t;
    }

    /// `out[o] = act(acc[o] + b[o] (+ x[o] on a residual hidden layer))` for `o < lanes()`
    /// from the sums of [`QDense::accumulate`] (the padded outputs are not meaningful; `x`
    /// and `out` must hold `lanes()` values).
    #[inline(always)]
    fn finish(&self, acc: &[i64], x: &[i32], residual: bool, out: &mut [i32], relu: bool) {
        let rs = Rescale::new(self.wf, self.bf);
        let n = self.lanes();
        let half = if rs.sr == 0 { 0 } else { 1i64 << (rs.sr - 1) };
        let res = residual && relu;
        let lo = if relu { 0 } else { -ACT_CLAMP };
        for (((o8, a8), b8), x8) in out[..n]
            .chunks_exact_mut(LANES)
            .zip(acc[..n].chunks_exact(LANES))
            .zip(self.bp.chunks_exact(LANES))
            .zip(x[..n].chunks_exact(LANES))
        {
            for (((o, &a), &b), &xv) in o8.iter_mut().zip(a8).zip(b8).zip(x8) {
                let v = ((a << rs.sa) + (b << rs.sb) + half) >> rs.sr;
                let v = if res { v + i64::from(xv) } else { v };
                *o = v.clamp(lo, ACT_CLAMP) as i32;
            }
        }
    }

    /// `out = act(W x + b)` in activation units (`i32` activations, `i64` sums).
    #[inline(always)]
    fn apply(&self, x: &[i32], out: &mut [i32], relu: bool) {
        let rs = Rescale::new(self.wf, self.bf);
        for (o, y) in out[..self.fan_out].iter_mut().enumerate() {
            *y = activate(self.pre(rs, x, o), relu);
        }
    }
}

/// Pixels per block of the blocked synthesis.
const K: usize = 16;
/// One activation of `K` pixels. Activations are clamped to `±2^24` and the upsampled latents
/// are below `2^27`, so `i32` holds them; products and sums are `i64`.
type Block = [i32; K];

impl QDense {
    /// [`QDense::apply`] on a block of `K` pixels: the same integer arithmetic, laid out so that
    /// the products vectorize (`i32 × i32 → i64`): four outputs per pass over the inputs, so
    /// that each input block is loaded and widened once for four outputs.
    #[inline(always)]
    fn apply_block(&self, x: &[Block], out: &mut [Block], relu: bool) {
        let mut o = 0;
        while o + 4 <= self.fan_out {
            self.block_outputs::<4>(x, o, out, relu);
            o += 4;
        }
        while o < self.fan_out {
            self.block_outputs::<1>(x, o, out, relu);
            o += 1;
        }
    }

    /// Outputs `o0 .. o0 + M` of [`QDense::apply_block`].
    #[inline(always)]
    fn block_outputs<const M: usize>(&self, x: &[Block], o0: usize, out: &mut [Block], relu: bool) {
        let rs = Rescale::new(self.wf, self.bf);
        let mut acc = [[0i64; K]; M];
        for (i, xi) in x[..self.fan_in].iter().enumerate() {
            let xv: [i64; K] = xi.map(i64::from);
            for (m, am) in acc.iter_mut().enumerate() {
                let w = i64::from(self.w[(o0 + m) * self.fan_in + i]);
                for (a, &v) in am.iter_mut().zip(&xv) {
                    *a += w * v;
                }
            }
        }
        for (m, am) in acc.iter().enumerate() {
            let bias = rs.bias(self.b[o0 + m]);
            for (y, &a) in out[o0 + m].iter_mut().zip(am) {
                *y = activate(rs.apply(a, bias), relu);
            }
        }
    }
}

/// The layers on blocks, alternating between `x` and `y` (ReLU on all but the last); returns
/// 0 if the output is in `x`, 1 if in `y`.
#[inline(always)]
fn mlp_block(layers: &[QDense], x: &mut [Block], y: &mut [Block]) -> usize {
    ping_pong!(layers, x, y, apply_block)
}

/// Runs `layers` with the method `$apply`, alternating between `x` and `y` (ReLU on all but
/// the last); evaluates to 0 if the output is in `x`, 1 if in `y`. A macro rather than a
/// function taking the method as an `impl Fn`: a method passed as a value is compiled as a
/// call shim outside the caller's `#[target_feature]` variant, so the kernels ran as scalar
/// baseline code (perf of `lic decode`, 2026-12-07); called directly they are inlined into
/// each variant and vectorize.
macro_rules! ping_pong {
    ($layers:expr, $x:expr, $y:expr, $apply:ident) => {{
        let n = $layers.len();
        let mut side = 0;
        for (i, d) in $layers.iter().enumerate() {
            let relu = i + 1 < n;
            if side == 0 {
                d.$apply($x, $y, relu);
            } else {
                d.$apply($y, $x, relu);
            }
            side ^= 1;
        }
        side
    }};
}
use ping_pong;

/// Geometry of one level for the synthesis.
struct Geo {
    /// Grid width.
    w: usize,
    /// Taps per axis used.
    nt: usize,
    /// Horizontal taps.
    xt: Vec<Tap>,
    /// Vertical taps.
    yt: Vec<Tap>,
}

/// Output row `y` of one level upsampled into `out` (activation units): the vertical taps
/// blend grid rows into `tmp` (`UP_FRAC` fraction bits; `|latent| ≤ 2^15` keeps it in `i32`),
/// the horizontal taps sum in `i64` (`2·UP_FRAC` fraction bits, exact), one rounding shift.
/// Separable and exact, so it equals the 2-D sum of the taps' products.
#[inline(always)]
fn upsample_row<const N: usize>(g: &[i32], geo: &Geo, y: usize, tmp: &mut [i32], out: &mut [i32]) {
    let (ty, gw) = (&geo.yt[y], geo.w);
    let tmp = &mut tmp[..gw];
    tmp.fill(0);
    for k in 0..N {
        let wk = ty.w[k];
        let r = &g[ty.i[k] as usize * gw..(ty.i[k] as usize + 1) * gw];
        for (t, &v) in tmp.iter_mut().zip(r) {
            *t += wk * v;
        }
    }
    let s = 2 * UP_FRAC - ACT_FRAC;
    for (o, tx) in out.iter_mut().zip(&geo.xt) {
        let mut v = 0i64;
        for k in 0..N {
            v += i64::from(tx.w[k]) * i64::from(tmp[tx.i[k] as usize]);
        }
        *o = shift_round(v, s) as i32;
    }
}

multiversion! {
    /// The synthesis MLP of output row `y` into `row` (`[R…, G…, B…]`), `K` pixels at a time.
    fn synthesis_row(net: &QNet, grids: &[&[i32]], geo: &[Geo], y: usize, width: usize, row: &mut [i32]) {
        let nl = grids.len();
        let mut up = vec![0i32; nl * width];
        let mut tmp = vec![0i32; geo.iter().map(|g| g.w).max().unwrap_or(1)];
        for ((g, gl), out) in grids.iter().zip(geo).zip(up.chunks_mut(width)) {
            match gl.nt {
                1 => upsample_row::<1>(g, gl, y, &mut tmp, out),
                2 => upsample_row::<2>(g, gl, y, &mut tmp, out),
                _ => upsample_row::<TAPS>(g, gl, y, &mut tmp, out),
            }
        }
        let mut a = vec![[0i32; K]; net.width];
        let mut b = vec![[0i32; K]; net.width];
        let mut lin = [[0i32; K]; 3];
        let mut x = 0;
        while x < width {
            let n = K.min(width - x);
            for (l, al) in a.iter_mut().enumerate().take(nl) {
                al[..n].copy_from_slice(&up[l * width + x..l * width + x + n]);
                al[n..].fill(0);
            }
            if let Some(sk) = &net.syn_skip {
                sk.apply_block(&a, &mut lin, false);
            }
            let out = if mlp_block(&net.syn, &mut a, &mut b) == 0 { &a } else { &b };
            for (c, oc) in out.iter().enumerate().take(3) {
                let dst = &mut row[c * width + x..c * width + x + n];
                if net.syn_skip.is_some() {
                    for ((d, &o), &l) in dst.iter_mut().zip(&oc[..n]).zip(&lin[c][..n]) {
                        *d = (i64::from(o) + i64::from(l)).clamp(-ACT_CLAMP, ACT_CLAMP) as i32;
                    }
                } else {
                    dst.copy_from_slice(&oc[..n]);
                }
            }
            x += K;
        }
    }
}

multiversion! {
    /// Symbols and table indexes of grid row `y` (all values known).
    fn code_row(net: &QNet, grid: &[i32], parents: &[(&[i32], usize)], level: usize, w: usize, h: usize, y: usize) -> (Vec<i32>, Vec<u16>) {
        let mut s = net.arm_scratch(w);
        let mut sym = Vec::with_capacity(w);
        let mut idx = Vec::with_capacity(w);
        for x in 0..w {
            let (base, t) = net.arm_code(grid, parents, level, w, h, x, y, &mut s);
            sym.push(grid[y * w + x] - base);
            idx.push(t);
        }
        (sym, idx)
    }
}

multiversion! {
    /// Output row `y`: `x0 + conv(x0)` (if the network has the convolution) as 8-bit
    /// interleaved RGB. Whole-row shifted multiply-adds (`i32 × i32 → i64`, exact, so the
    /// order does not matter).
    fn output_row(net: &QNet, x0: &[i32], width: usize, height: usize, y: usize, out: &mut [u8]) {
        let to_u8 = |v: i64| ((v * 255 + (1 << (ACT_FRAC - 1))) >> ACT_FRAC).clamp(0, 255) as u8;
        let mut acc = vec![0i64; width];
        for c in 0..3 {
            let base = &x0[y * 3 * width + c * width..y * 3 * width + (c + 1) * width];
            let Some((w, wf, b, bf)) = &net.conv else {
                for (o, &v) in out[c..].iter_mut().step_by(3).zip(base) {
                    *o = to_u8(i64::from(v));
                }
                continue;
            };
            acc.fill(0);
            for ci in 0..3 {
                for ky in 0..3 {
                    let yy = y as isize + ky as isize - 1;
                    if yy < 0 || yy >= height as isize {
                        continue;
                    }
                    let at = yy as usize * 3 * width + ci * width;
                    let src = &x0[at..at + width];
                    for kx in 0..3 {
                        let wt = i64::from(w[((c * 3 + ci) * 3 + ky) * 3 + kx]);
                        // acc[x] += wt · src[x + kx − 1] inside the row.
                        let (dst, from) = match kx {
                            0 => (&mut acc[1..], &src[..width - 1]),
                            1 => (&mut acc[..], src),
                            _ => (&mut acc[..width - 1], &src[1..]),
                        };
                        for (a, &v) in dst.iter_mut().zip(from) {
                            *a += wt * i64::from(v);
                        }
                    }
                }
            }
            let rs = Rescale::new(*wf, *bf);
            let bias = rs.bias(b[c]);
            for ((o, &a), &v) in out[c..].iter_mut().step_by(3).zip(&acc).zip(base) {
                *o = to_u8((i64::from(v) + rs.apply(a, bias)).clamp(-ACT_CLAMP, ACT_CLAMP));
            }
        }
    }
}

/// Scratch of [`QNet::arm_code`] ([`QNet::arm_scratch`]).
#[derive(Clone, Debug)]
pub struct ArmScratch {
    a: Vec<i32>,
    b: Vec<i32>,
    /// Per block column `x >> 1`: the block row `y >> 1` whose values `rest` and `sums` hold
    /// (`usize::MAX`: none yet).
    tag: Vec<usize>,
    /// Per block column: the ARM inputs from the coarser grids.
    rest: Vec<i32>,
    /// Per block column: their share of the first layer's sums, then of the linear path's.
    sums: Vec<i64>,
}

/// The quantized networks of one image.
#[derive(Clone, Debug)]
pub struct QNet {
    /// Architecture.
    pub arch: Arch,
    /// Tensors in [`Layout::tensors`] order.
    pub tensors: Vec<QTensor>,
    arm: Vec<QDense>,
    syn: Vec<QDense>,
    /// The linear paths (added to the MLPs' outputs).
    arm_skip: Option<QDense>,
    /// The inter-level projections of the finest levels.
    ifce: Vec<QDense>,
    syn_skip: Option<QDense>,
    conv: Option<(Vec<i32>, u32, Vec<i64>, u32)>,
    width: usize,
}

/// The grids the ARM of level `level` reads as its `count` coarser inputs
/// ([`Arch::coarser_inputs`]): `(grid, width)` of
/// levels `level + 1 …` (width 0 where the level does not exist). Only the coarser grids are
/// read, so a decoder passes the grids it has decoded.
pub fn parent_grids<'a>(
    grids: &'a [Vec<i32>],
    dims: &[(usize, usize)],
    level: usize,
    count: usize,
) -> Vec<(&'a [i32], usize)> {
    (0..count)
        .map(|k| {
            let p = level + 1 + k;
            match (grids.get(p), dims.get(p)) {
                (Some(g), Some(&(w, _))) => (g.as_slice(), w),
                _ => (&[][..], 0),
            }
        })
        .collect()
}

impl QNet {
    /// Builds the integer networks; `tensors` must match `Layout::new(arch).tensors()` in
    /// count and lengths (checked by the caller that parses untrusted data).
    pub fn new(arch: Arch, tensors: Vec<QTensor>) -> Self {
        let layout = Layout::new(&arch);
        let mut t = 0;
        let mut take = |layers: &[Dense]| {
            layers
                .iter()
                .map(|d| {
                    let q = QDense::new(d, &tensors[t], &tensors[t + 1]);
                    t += 2;
                    q
                })
                .collect::<Vec<_>>()
        };
        let arm = take(&layout.arm);
        let arm_skip = take(layout.arm_skip.as_slice()).pop();
        let ifce = take(&layout.ifce);
        let syn = take(&layout.syn);
        let syn_skip = take(layout.syn_skip.as_slice()).pop();
        let conv = layout.conv.map(|_| {
            let (w, b) = (&tensors[t], &tensors[t + 1]);
            (
                w.values.clone(),
                u32::from(w.frac),
                b.values.iter().map(|&v| i64::from(v)).collect(),
                u32::from(b.frac),
            )
        });
        let width = arm
            .iter()
            .chain(&syn)
            .map(|d| d.fan_in.max(d.fan_out))
            .max()
            .unwrap_or(1)
            .max(arch.arm_inputs())
            .max(arch.levels);
        Self {
            arch,
            tensors,
            arm,
            syn,
            arm_skip,
            ifce,
            syn_skip,
            conv,
            width,
        }
    }

    /// The scratch of [`QNet::arm_code`] on a grid `w` latents wide.
    pub fn arm_scratch(&self, w: usize) -> ArmScratch {
        let nrest = self.arch.parents + self.arch.ifce;
        let cols = if nrest > 0 { w.div_ceil(2) } else { 0 };
        let lanes = self.arm.first().map_or(0, QDense::lanes) + LANES;
        ArmScratch {
            a: vec![0; MAX_WIDTH + LANES],
            b: vec![0; MAX_WIDTH + LANES],
            tag: vec![usize::MAX; cols],
            rest: vec![0; cols * nrest],
            sums: vec![0; cols * lanes],
        }
    }

    /// The coding parameters of the latent at `(x, y)` of level `level`, a `w × h` grid whose
    /// causal neighbours are already in `grid`: `(base, table index)`; the symbol is
    /// `q − base`. `coarser`: the coarser grids the ARM reads ([`parent_grids`]).
    ///
    /// The inputs from the coarser grids (parents and inter-level features) are the same for
    /// the four latents of a 2×2 block (every coarser grid is at least 2× coarser), so their
    /// share of the first layer's and of the linear path's exact `i64` sums is computed once
    /// per block and kept in `s`; integer sums split exactly, so the result does not depend on
    /// what `s` holds.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn arm_code(
        &self,
        grid: &[i32],
        coarser: &[(&[i32], usize)],
        level: usize,
        w: usize,
        h: usize,
        x: usize,
        y: usize,
        s: &mut ArmScratch,
    ) -> (i32, u16) {
        let ctx = self.arch.ctx;
        let (a, b) = (&mut s.a, &mut s.b);
        for (k, &(dy, dx)) in CTX_OFFSETS[..ctx].iter().enumerate() {
            let (yy, xx) = (y as i64 + i64::from(dy), x as i64 + i64::from(dx));
            a[k] = if yy < 0 || xx < 0 || yy >= h as i64 || xx >= w as i64 {
                0
            } else {
                grid[yy as usize * w + xx as usize] << ACT_FRAC
            };
        }
        let (npar, nf) = (self.arch.parents, self.arch.ifce);
        let nrest = npar + nf;
        let first = &self.arm[0];
        let fl = first.lanes();
        let bx = x >> 1;
        // acc[..fl]: the first layer's sums; acc[fl..fl + LANES]: the linear path's.
        let mut acc = [0i64; MAX_WIDTH + 2 * LANES];
        if nrest > 0 {
            let rest = &mut s.rest[bx * nrest..(bx + 1) * nrest];
            let sums = &mut s.sums[bx * (fl + LANES)..(bx + 1) * (fl + LANES)];
            if s.tag[bx] != y >> 1 {
                s.tag[bx] = y >> 1;
                let mut cv = [0i32; MAX_LEVELS];
                for (k, (&(pg, pw), c)) in coarser.iter().zip(cv.iter_mut()).enumerate() {
                    let sh = k + 1;
                    *c = if pw == 0 {
                        0
                    } else {
                        pg[(y >> sh) * pw + (x >> sh)] << ACT_FRAC
                    };
                }
                rest[..npar].copy_from_slice(&cv[..npar]);
                match self.ifce.get(level) {
                    Some(d) => d.apply(&cv, &mut rest[npar..], false),
                    None => rest[npar..].fill(0),
                }
                sums.fill(0);
                first.accumulate(rest, ctx, &mut sums[..fl]);
                if let Some(sk) = &self.arm_skip {
                    sk.accumulate(rest, ctx, &mut sums[fl..]);
                }
            }
            a[ctx..ctx + nrest].copy_from_slice(rest);
            acc[..fl + LANES].copy_from_slice(sums);
        }
        let mut lin = [0i32; LANES];
        if let Some(sk) = &self.arm_skip {
            let acc = &mut acc[fl..fl + LANES];
            sk.accumulate(&a[..ctx], 0, acc);
            sk.finish(acc, a, false, &mut lin, false);
        }
        // The first layer from the context and the coarser inputs' partial sums, then the
        // other layers, alternating between `b` and `a`.
        let n = self.arm.len();
        let residual = self.arch.arm_residual;
        first.accumulate(&a[..ctx], 0, &mut acc[..fl]);
        first.finish(&acc[..fl], a, residual, b, n > 1);
        let mut side = 1;
        for (i, d) in self.arm.iter().enumerate().skip(1) {
            let (src, dst) = if side == 1 {
                (&*b, &mut *a)
            } else {
                (&*a, &mut *b)
            };
            let acc = &mut acc[..d.lanes()];
            acc.fill(0);
            d.accumulate(&src[..d.fan_in], 0, acc);
            d.finish(acc, src, residual, dst, i + 1 < n);
            side ^= 1;
        }
        let out = if side == 0 { &*a } else { &*b };
        let sum = |i: usize| (i64::from(out[i]) + i64::from(lin[i])).clamp(-ACT_CLAMP, ACT_CLAMP);
        let (mu, ls) = (sum(0), sum(1));
        let m8 = shift_round(mu, ACT_FRAC - 3);
        let k = shift_round(ls - LS_MIN_FIX, ACT_FRAC - 3).clamp(0, laplace::SCALES as i64 - 1);
        let base = (m8 >> 3) as i32;
        let j = (m8 & 7) as usize;
        (base, laplace::table_index(k as usize, j))
    }

    /// Symbols and table indexes of grid `level` of `grids` (all values known: the encoder's
    /// side); `dims` are the grid sizes.
    pub fn code_grid(
        &self,
        grids: &[Vec<i32>],
        dims: &[(usize, usize)],
        level: usize,
    ) -> (Vec<i32>, Vec<u16>) {
        let (w, h) = dims[level];
        let grid = &grids[level];
        let parents = parent_grids(grids, dims, level, self.arch.coarser_inputs());
        let rows: Vec<(Vec<i32>, Vec<u16>)> = (0..h)
            .into_par_iter()
            .map(|y| code_row(self, grid, &parents, level, w, h, y))
            .collect();
        let mut sym = Vec::with_capacity(w * h);
        let mut idx = Vec::with_capacity(w * h);
        for (s, i) in rows {
            sym.extend(s);
            idx.extend(i);
        }
        (sym, idx)
    }

    /// The decoded 8-bit RGB image (interleaved) of `width × height` from the integer latent
    /// grids (level `l` is `⌈W/2^l⌉ × ⌈H/2^l⌉`).
    pub fn synthesize(&self, grids: &[Vec<i32>], width: usize, height: usize) -> Vec<u8> {
        let views: Vec<&[i32]> = grids.iter().map(Vec::as_slice).collect();
        let syn = self.synthesis(width, height);
        let mut x0 = vec![0i32; 3 * width * height];
        syn.rows(&views, 0, &mut x0);
        syn.output(&x0)
    }

    /// The synthesis of a `width × height` image, to run by rows ([`Synthesis::rows`]).
    pub(super) fn synthesis(&self, width: usize, height: usize) -> Synthesis<'_> {
        let up = self.arch.upsampling;
        let geo: Vec<Geo> = (0..self.arch.levels)
            .map(|l| {
                let (w, h) = (width.div_ceil(1 << l), height.div_ceil(1 << l));
                Geo {
                    w,
                    nt: if l == 0 { 1 } else { up.taps() },
                    xt: taps(up, l, w, width),
                    yt: taps(up, l, h, height),
                }
            })
            .collect();
        Synthesis {
            net: self,
            geo,
            width,
            height,
        }
    }
}

/// The synthesis of one image: the MLP rows (`x0`, 3 planes of `width` per row), then the
/// output convolution. Row `y` of the MLP reads only row `y` of the finest grid (level 0 is
/// not upsampled) and the coarser grids, so a decoder can run it while the finest grid is
/// still being decoded below that row.
pub(super) struct Synthesis<'a> {
    net: &'a QNet,
    geo: Vec<Geo>,
    width: usize,
    height: usize,
}

impl Synthesis<'_> {
    /// Rows `y0 …` of the MLP into `x0` (`3 · width` values per row, rows in parallel).
    /// `grids[0]` must hold those rows; the coarser grids must be complete.
    pub(super) fn rows(&self, grids: &[&[i32]], y0: usize, x0: &mut [i32]) {
        let w = self.width;
        x0.par_chunks_mut(3 * w)
            .enumerate()
            .for_each(|(i, row)| synthesis_row(self.net, grids, &self.geo, y0 + i, w, row));
    }

    /// Row `y` of the MLP into `row` (`3 · width` values), on this thread.
    pub(super) fn row(&self, grids: &[&[i32]], y: usize, row: &mut [i32]) {
        synthesis_row(self.net, grids, &self.geo, y, self.width, row);
    }

    /// The 8-bit RGB image (interleaved) from all rows of `x0`: the output convolution.
    pub(super) fn output(&self, x0: &[i32]) -> Vec<u8> {
        let (w, h) = (self.width, self.height);
        let mut rgb = vec![0u8; 3 * w * h];
        rgb.par_chunks_mut(3 * w)
            .enumerate()
            .for_each(|(y, out)| output_row(self.net, x0, w, h, y, out));
        rgb
    }
}
