//! Architecture, parameter layout and the fused float forward/backward of one training step.
//!
//! Per image: `levels` latent grids (level `l` is `⌈W/2^l⌉ × ⌈H/2^l⌉`, one channel), each
//! bilinearly upsampled to full resolution ([`Tap`]); a per-pixel MLP (`levels → hidden… → 3`,
//! ReLU) and an optional residual 3x3 convolution (3 → 3) give RGB in `[0, 1]`. An
//! autoregressive model (ARM) shared by all levels maps the `ctx` causal neighbours of a latent
//! ([`CTX_OFFSETS`], same level, zero outside the grid) through an MLP to `(μ, ln b)` of a
//! discretized Laplace ([`super::laplace`]).
//!
//! The step computes `loss = MSE + λ · bits / pixels` and its gradients with hand-derived
//! backward passes in blocks of 16 (pixels or latents) along a row, threaded over rows with
//! rayon; per-weight gradients are accumulated per lane and reduced once per task.
use rayon::prelude::*;

use super::laplace;
use super::simd::{multiversion, to_bf16, Isa, Pairs, Simd};

/// Values of one block (four 16-lane vectors: each weight load serves four FMAs).
pub const B: usize = 64;
/// Vectors per block.
const NB: usize = B / 16;
/// Outputs (or inputs) the dense kernels handle at once with 32 vector registers (AVX-512):
/// `RW · NB = 16` accumulators.
const RW: usize = 16 / NB;
/// The same with 16 registers (AVX2, where a lane takes two).
const RN: usize = if NB >= 8 { 1 } else { 8 / NB };
type Lane = super::simd::Lane;
type Unit = [f32; B];
/// Channel pairs of one block in bf16 ([`Pairs`] of its four 16-value vectors).
type PUnit = [u32; B];

#[inline(always)]
fn psub(u: &PUnit, j: usize) -> &Pairs {
    u[j * 16..j * 16 + 16].try_into().expect("16 pairs")
}

#[inline(always)]
fn psub_mut(u: &mut PUnit, j: usize) -> &mut Pairs {
    (&mut u[j * 16..j * 16 + 16]).try_into().expect("16 pairs")
}

#[inline(always)]
fn sub(u: &Unit, j: usize) -> &Lane {
    u[j * 16..j * 16 + 16].try_into().expect("16 values")
}

#[inline(always)]
fn sub_mut(u: &mut Unit, j: usize) -> &mut Lane {
    (&mut u[j * 16..j * 16 + 16]).try_into().expect("16 values")
}

/// `dst[..n] = src[..n]`, the rest of the block zero; a whole block (the common case) is one
/// fixed-size copy the compiler inlines, where a `copy_from_slice` of a run-time length is a
/// library call per block.
#[inline(always)]
fn load_block(dst: &mut Unit, src: &[f32], n: usize) {
    if n == B {
        *dst = *<&Unit>::try_from(&src[..B]).expect("a block");
    } else {
        dst[..n].copy_from_slice(&src[..n]);
        dst[n..].fill(0.0);
    }
}

/// `dst[..n] = src[..n]` for `n ≤ B` (a whole block inlined, as in [`load_block`]).
#[inline(always)]
fn store_block(dst: &mut [f32], src: &Unit, n: usize) {
    if n == B {
        *<&mut Unit>::try_from(&mut dst[..B]).expect("a block") = *src;
    } else {
        dst[..n].copy_from_slice(&src[..n]);
    }
}

/// Most latent levels.
pub const MAX_LEVELS: usize = 8;
/// Most ARM context positions.
pub const MAX_CTX: usize = 24;
/// Widest hidden layer.
pub const MAX_WIDTH: usize = 64;
/// Most hidden layers per MLP.
pub const MAX_HIDDEN_LAYERS: usize = 3;
/// Most coarser-level ("parent") inputs of the ARM.
pub const MAX_PARENTS: usize = 3;
/// Most inter-level features of the ARM ([`Arch::ifce`]).
pub const MAX_IFCE: usize = 8;

/// Causal context positions `(dy, dx)` in order of use: the first `ctx` are the ARM's inputs.
pub const CTX_OFFSETS: [(i32, i32); MAX_CTX] = [
    (0, -1),
    (-1, 0),
    (-1, -1),
    (-1, 1),
    (0, -2),
    (-2, 0),
    (-1, -2),
    (-1, 2),
    (-2, -1),
    (-2, 1),
    (-2, -2),
    (-2, 2),
    (0, -3),
    (-3, 0),
    (-1, -3),
    (-1, 3),
    (-3, -1),
    (-3, 1),
    (-2, -3),
    (-2, 3),
    (-3, -2),
    (-3, 2),
    (-3, -3),
    (-3, 3),
];

/// Sizes of the networks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arch {
    /// Number of latent grids (1..=[`MAX_LEVELS`]).
    pub levels: usize,
    /// ARM context positions (1..=[`MAX_CTX`]).
    pub ctx: usize,
    /// ARM inputs from the coarser levels: input `k` of a latent at `(x, y)` of level `l` is
    /// the latent at `(x >> (k + 1), y >> (k + 1))` of level `l + 1 + k` (0 where that level
    /// does not exist). The decoder then decodes the levels from the coarsest. 0 in parameter
    /// blobs before version 3.
    pub parents: usize,
    /// ARM hidden widths.
    pub arm_hidden: Vec<usize>,
    /// Synthesis hidden widths.
    pub syn_hidden: Vec<usize>,
    /// Residual 3x3 convolution after the synthesis MLP.
    pub conv: bool,
    /// Kernel that brings each level to full resolution.
    pub upsampling: Upsampling,
    /// A linear path from the ARM's inputs to its two outputs, added to the MLP's (Cool-chic's
    /// "stabiliser"). False in parameter blobs before version 4.
    pub arm_skip: bool,
    /// A linear path from the upsampled latents to the synthesis MLP's three outputs, added
    /// to them before the convolution. False in parameter blobs before version 4.
    pub syn_skip: bool,
    /// Inter-level context features (0 = none; 0 in parameter blobs before version 5): for
    /// each of the `ifce_levels` finest levels `l`, its own linear layer (with a bias) maps the
    /// co-located latents of all coarser levels (`levels − 1` inputs: input `j` is level
    /// `l + 1 + j` at `(x >> (j + 1), y >> (j + 1))`, 0 where that level does not exist) to
    /// `ifce` features, which the shared ARM reads after its parent inputs (coarser levels
    /// read `ifce` zeros). The decoder then decodes the levels from the coarsest.
    pub ifce: usize,
    /// Levels with an inter-level projection (`1..levels` when `ifce > 0`, else 0).
    pub ifce_levels: usize,
    /// The ARM's hidden layers are residual, `relu(x + W x + b)` (each as wide as the ARM's
    /// inputs), their weights and biases starting at zero (Cool-chic's ARM). False in
    /// parameter blobs before version 5.
    pub arm_residual: bool,
}

/// The fixed kernel that upsamples a latent level `l ≥ 1` by `2^l` to full resolution
/// (separable, sampled at align-corners-false positions, edges replicated). Its integer taps
/// ([`taps`]) are the same in the encoder's float model and in the integer decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upsampling {
    /// Two taps per axis (the first bitstreams).
    Bilinear,
    /// Catmull-Rom cubic (interpolating, four taps).
    CatmullRom,
    /// Cubic B-spline (smoothing, C², four taps).
    BSpline,
}

impl Upsampling {
    /// Every kernel, indexed by its stream code.
    pub const ALL: [Upsampling; 3] = [
        Upsampling::Bilinear,
        Upsampling::CatmullRom,
        Upsampling::BSpline,
    ];

    /// Code in the parameter blob.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kernel of a stream code.
    pub fn from_code(c: u8) -> Option<Self> {
        Self::ALL.get(usize::from(c)).copied()
    }

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Upsampling::Bilinear => "bilinear",
            Upsampling::CatmullRom => "catmull-rom",
            Upsampling::BSpline => "b-spline",
        }
    }

    /// The kernel of a name.
    pub fn from_name(n: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.name() == n)
    }

    /// Taps per axis.
    pub fn taps(self) -> usize {
        match self {
            Upsampling::Bilinear => 2,
            _ => 4,
        }
    }

    /// The kernel at distance `n / d` (`n ≥ 0`) as `(numerator, denominator)`.
    fn weight(self, n: i64, d: i64) -> (i64, i64) {
        let d3 = d * d * d;
        match self {
            Upsampling::Bilinear => ((d - n).max(0), d),
            Upsampling::CatmullRom if n < d => (3 * n * n * n - 5 * n * n * d + 2 * d3, 2 * d3),
            Upsampling::CatmullRom if n < 2 * d => {
                (-n * n * n + 5 * n * n * d - 8 * n * d * d + 4 * d3, 2 * d3)
            }
            Upsampling::BSpline if n < d => (4 * d3 - 6 * n * n * d + 3 * n * n * n, 6 * d3),
            Upsampling::BSpline if n < 2 * d => ((2 * d - n).pow(3), 6 * d3),
            _ => (0, 1),
        }
    }
}

impl Arch {
    /// Inputs of the ARM: the causal neighbours, then the parents.
    pub fn arm_inputs(&self) -> usize {
        self.ctx + self.parents + self.ifce
    }

    /// Coarser grids a level's ARM reads (its parents and the inter-level projection's
    /// inputs): 0 when the levels are independent.
    pub fn coarser_inputs(&self) -> usize {
        let proj = if self.ifce > 0 { self.levels - 1 } else { 0 };
        self.parents.max(proj)
    }

    /// Multiply-accumulates per pixel of the decoder (ARM over ~4/3 latents per pixel,
    /// upsampling, synthesis).
    pub fn macs_per_pixel(&self) -> usize {
        let mlp = |inp: usize, hidden: &[usize], out: usize| {
            let mut prev = inp;
            let mut m = 0;
            for &h in hidden.iter().chain(std::iter::once(&out)) {
                m += prev * h;
                prev = h;
            }
            m
        };
        let arm = mlp(self.arm_inputs(), &self.arm_hidden, 2)
            + if self.arm_skip {
                2 * self.arm_inputs()
            } else {
                0
            }
            + self.ifce * self.levels.saturating_sub(1);
        let syn = mlp(self.levels, &self.syn_hidden, 3)
            + if self.conv { 81 } else { 0 }
            + if self.syn_skip { 3 * self.levels } else { 0 };
        arm * 4 / 3 + syn + 2 * self.upsampling.taps() * self.levels
    }

    /// Checks the sizes against the caps.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_LEVELS).contains(&self.levels) {
            return Err(format!("{} latent levels (1..={MAX_LEVELS})", self.levels));
        }
        if !(1..=MAX_CTX).contains(&self.ctx) {
            return Err(format!("{} context positions (1..={MAX_CTX})", self.ctx));
        }
        if self.parents > MAX_PARENTS {
            return Err(format!(
                "{} parent inputs (0..={MAX_PARENTS})",
                self.parents
            ));
        }
        if self.ifce > MAX_IFCE {
            return Err(format!(
                "{} inter-level features (0..={MAX_IFCE})",
                self.ifce
            ));
        }
        let proj_levels = if self.ifce > 0 { 1..self.levels } else { 0..1 };
        if !proj_levels.contains(&self.ifce_levels) {
            return Err(format!(
                "{} levels with inter-level features ({} features, {} levels)",
                self.ifce_levels, self.ifce, self.levels
            ));
        }
        if self.arm_residual && self.arm_hidden.iter().any(|&w| w != self.arm_inputs()) {
            return Err(format!(
                "residual ARM layers {:?} not all as wide as its {} inputs",
                self.arm_hidden,
                self.arm_inputs()
            ));
        }
        for h in [&self.arm_hidden, &self.syn_hidden] {
            if h.len() > MAX_HIDDEN_LAYERS || h.iter().any(|&w| !(1..=MAX_WIDTH).contains(&w)) {
                return Err(format!(
                    "hidden widths {h:?} (at most {MAX_HIDDEN_LAYERS} layers of 1..={MAX_WIDTH})"
                ));
            }
        }
        Ok(())
    }
}

/// One dense layer: `fan_out × fan_in` weights (row-major) then `fan_out` biases, at offsets
/// into the parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dense {
    /// Inputs.
    pub fan_in: usize,
    /// Outputs.
    pub fan_out: usize,
    /// Offset of the weights.
    pub w: usize,
    /// Offset of the biases.
    pub b: usize,
}

/// Where every tensor lives in the flat parameter vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// ARM layers.
    pub arm: Vec<Dense>,
    /// Synthesis MLP layers.
    pub syn: Vec<Dense>,
    /// Convolution weights `[out 3][in 3][3][3]` and biases `[3]`, if any.
    pub conv: Option<(usize, usize)>,
    /// The ARM's linear path (inputs → 2), if any.
    pub arm_skip: Option<Dense>,
    /// The synthesis' linear path (levels → 3), if any.
    pub syn_skip: Option<Dense>,
    /// The inter-level projections of the finest levels (`levels − 1 → ifce`).
    pub ifce: Vec<Dense>,
    /// Total parameters.
    pub len: usize,
}

impl Layout {
    /// The layout of `arch`.
    pub fn new(arch: &Arch) -> Self {
        let mut len = 0;
        let mut mlp = |inp: usize, hidden: &[usize], out: usize| {
            let mut layers = Vec::new();
            let mut prev = inp;
            for &h in hidden.iter().chain(std::iter::once(&out)) {
                let w = len;
                len += prev * h;
                let b = len;
                len += h;
                layers.push(Dense {
                    fan_in: prev,
                    fan_out: h,
                    w,
                    b,
                });
                prev = h;
            }
            layers
        };
        let arm = mlp(arch.arm_inputs(), &arch.arm_hidden, 2);
        let syn = mlp(arch.levels, &arch.syn_hidden, 3);
        let conv = arch.conv.then(|| {
            let w = len;
            len += 81;
            let b = len;
            len += 3;
            (w, b)
        });
        let mut linear = |fan_in: usize, fan_out: usize| {
            let w = len;
            len += fan_in * fan_out;
            let b = len;
            len += fan_out;
            Dense {
                fan_in,
                fan_out,
                w,
                b,
            }
        };
        let arm_skip = arch.arm_skip.then(|| linear(arch.arm_inputs(), 2));
        let syn_skip = arch.syn_skip.then(|| linear(arch.levels, 3));
        let ifce = (0..if arch.ifce > 0 { arch.ifce_levels } else { 0 })
            .map(|_| linear(arch.levels - 1, arch.ifce))
            .collect();
        Self {
            arm,
            syn,
            conv,
            arm_skip,
            syn_skip,
            ifce,
            len,
        }
    }

    /// The weight matrices as `(offset, rows, columns)`, row-major: every dense layer
    /// (`fan_out × fan_in`) and the convolution (`3 × 27`, outputs by inputs and taps).
    pub fn matrices(&self) -> Vec<(usize, usize, usize)> {
        let mut v: Vec<_> = self
            .arm
            .iter()
            .chain(&self.syn)
            .chain(self.arm_skip.iter())
            .chain(self.syn_skip.iter())
            .chain(&self.ifce)
            .map(|d| (d.w, d.fan_out, d.fan_in))
            .collect();
        if let Some((w, _)) = self.conv {
            v.push((w, 3, 27));
        }
        v
    }

    /// Every tensor as `(offset, length)`, in bitstream order: per ARM layer weights then
    /// biases (the linear path, then the inter-level projections last), the same for the
    /// synthesis, then the convolution.
    pub fn tensors(&self) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        let arm = self
            .arm
            .iter()
            .chain(self.arm_skip.iter())
            .chain(&self.ifce);
        for d in arm.chain(&self.syn).chain(self.syn_skip.iter()) {
            v.push((d.w, d.fan_in * d.fan_out));
            v.push((d.b, d.fan_out));
        }
        if let Some((w, b)) = self.conv {
            v.push((w, 81));
            v.push((b, 3));
        }
        v
    }
}

/// Most taps per axis of an upsampling kernel.
pub const TAPS: usize = 4;
/// Fraction bits of the upsampling weights.
pub const UP_FRAC: u32 = 12;

/// The taps of one output sample along an axis: source indexes and integer weights over
/// `2^UP_FRAC` that sum to exactly `2^UP_FRAC` (unused taps: weight 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tap {
    /// Source indexes.
    pub i: [u32; TAPS],
    /// Weights over `2^UP_FRAC`.
    pub w: [i32; TAPS],
}

/// Taps of `kernel` from a level-`l` axis of `n` samples to `full` output samples. Output `x`
/// samples the grid at `u = (x + ½)/2^l − ½`; the weights are the kernel at the distances from
/// `u` to its neighbours, rounded to `UP_FRAC` bits in exact integer arithmetic (the largest
/// absorbs the rounding so that they sum to one). Level 0 is the identity.
pub fn taps(kernel: Upsampling, l: usize, n: usize, full: usize) -> Vec<Tap> {
    let one = 1i64 << UP_FRAC;
    let nt = kernel.taps();
    (0..full)
        .map(|x| {
            let mut t = Tap {
                i: [x.min(n.saturating_sub(1)) as u32; TAPS],
                w: [0; TAPS],
            };
            if l == 0 {
                t.w[0] = one as i32;
                return t;
            }
            // u = num / d with d = 2^(l+1).
            let d = 1i64 << (l + 1);
            let num = 2 * x as i64 + 1 - (1i64 << l);
            let i0 = num.div_euclid(d);
            let frac = num.rem_euclid(d);
            let first = i0 + 1 - (nt / 2) as i64;
            let mut sum = 0;
            for k in 0..nt {
                let src = first + k as i64;
                let dist = (src * d - i0 * d - frac).abs();
                let (a, b) = kernel.weight(dist, d);
                // a·one / b rounded half away from zero (b > 0).
                let w = a.signum() * ((2 * a.abs() * one + b) / (2 * b));
                t.i[k] = src.clamp(0, n as i64 - 1) as u32;
                t.w[k] = w as i32;
                sum += w;
            }
            let big = (0..nt).max_by_key(|&k| t.w[k]).unwrap_or(0);
            t.w[big] += (one - sum) as i32;
            t
        })
        .collect()
}

/// Geometry of one latent level.
#[derive(Clone, Debug)]
pub struct Level {
    /// Grid width.
    pub w: usize,
    /// Grid height.
    pub h: usize,
    /// Offset of the grid in the flat latent vector.
    pub off: usize,
    /// Taps per axis used.
    pub nt: usize,
    /// Horizontal taps (one per output column).
    pub xt: Vec<Tap>,
    /// Vertical taps (one per output row).
    pub yt: Vec<Tap>,
    /// Float horizontal weights (the taps' exactly).
    pub xw: Vec<[f32; TAPS]>,
    /// Float vertical weights.
    pub yw: Vec<[f32; TAPS]>,
    /// For each grid row: the output rows that read it and their weights.
    back_rows: Vec<Vec<(u32, f32)>>,
    /// For each grid column: the output columns that read it and their weights.
    back_cols: Vec<Vec<(u32, f32)>>,
}

/// The latent grids of a `width × height` image.
pub fn levels(width: usize, height: usize, count: usize, kernel: Upsampling) -> Vec<Level> {
    let mut off = 0;
    (0..count)
        .map(|l| {
            let w = width.div_ceil(1 << l);
            let h = height.div_ceil(1 << l);
            let xt = taps(kernel, l, w, width);
            let yt = taps(kernel, l, h, height);
            let nt = if l == 0 { 1 } else { kernel.taps() };
            let float = |t: &[Tap]| -> Vec<[f32; TAPS]> {
                let den = (1u32 << UP_FRAC) as f32;
                t.iter().map(|t| t.w.map(|w| w as f32 / den)).collect()
            };
            let (xw, yw) = (float(&xt), float(&yt));
            let back = |t: &[Tap], f: &[[f32; TAPS]], n: usize| {
                let mut v: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
                for (o, (t, f)) in t.iter().zip(f).enumerate() {
                    for k in 0..nt {
                        if f[k] == 0.0 {
                            continue;
                        }
                        let list = &mut v[t.i[k] as usize];
                        match list.last_mut() {
                            Some(last) if last.0 == o as u32 => last.1 += f[k],
                            _ => list.push((o as u32, f[k])),
                        }
                    }
                }
                v
            };
            let lv = Level {
                w,
                h,
                off,
                nt,
                back_rows: back(&yt, &yw, h),
                back_cols: back(&xt, &xw, w),
                xt,
                yt,
                xw,
                yw,
            };
            off += w * h;
            lv
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Block MLP kernels.

/// Forward of one dense layer over a block: `y = act(W x + b)`.
#[inline(always)]
fn dense_fwd<S: Simd>(p: &[f32], d: &Dense, x: &[Unit], y: &mut [Unit], relu: bool) {
    let w = &p[d.w..d.w + d.fan_in * d.fan_out];
    let b = &p[d.b..d.b + d.fan_out];
    let x = &x[..d.fan_in];
    if S::WIDE {
        dense_fwd_r::<S, F32Operands, RW>(w, b, x, y, relu)
    } else {
        dense_fwd_r::<S, F32Operands, RN>(w, b, x, y, relu)
    }
}

/// The operands of a dense forward: `f32` inputs and weights multiplied with FMAs, or bf16
/// input and weight pairs with [`Simd::dot2`]; the accumulation is `f32` in both.
trait Operands<S: Simd> {
    /// A block of inputs of one channel (or channel pair).
    type X;
    /// A weight (or weight pair).
    type W: Copy;
    /// An input vector in a register.
    type L: Copy;
    /// A weight broadcast to a register.
    type M: Copy;
    /// # Safety
    /// `S`'s features are present.
    unsafe fn load(x: &Self::X, j: usize) -> Self::L;
    /// # Safety
    /// As [`Operands::load`].
    unsafe fn splat(w: Self::W) -> Self::M;
    /// `acc + w · x`.
    /// # Safety
    /// As [`Operands::load`].
    unsafe fn mac(acc: S::V, x: Self::L, w: Self::M) -> S::V;
}

/// `f32` inputs and weights.
struct F32Operands;

impl<S: Simd> Operands<S> for F32Operands {
    type X = Unit;
    type W = f32;
    type L = S::V;
    type M = S::V;
    #[inline(always)]
    unsafe fn load(x: &Unit, j: usize) -> S::V {
        S::load(sub(x, j))
    }
    #[inline(always)]
    unsafe fn splat(w: f32) -> S::V {
        S::splat(w)
    }
    #[inline(always)]
    unsafe fn mac(acc: S::V, x: S::V, w: S::V) -> S::V {
        S::fma(w, x, acc)
    }
}

/// bf16 input and weight pairs ([`Packed`]).
struct Bf16Operands;

impl<S: Simd> Operands<S> for Bf16Operands {
    type X = PUnit;
    type W = u32;
    type L = S::P;
    type M = S::P;
    #[inline(always)]
    unsafe fn load(x: &PUnit, j: usize) -> S::P {
        S::pload(psub(x, j))
    }
    #[inline(always)]
    unsafe fn splat(w: u32) -> S::P {
        S::psplat(w)
    }
    #[inline(always)]
    unsafe fn mac(acc: S::V, x: S::P, w: S::P) -> S::V {
        S::dot2(acc, x, w)
    }
}

/// A dense forward with `R` outputs at a time from inputs `x` and weights `w` (`fan_out` rows
/// of `x.len()`): each input vector loaded once serves `R · NB` multiply-adds (`R · NB`
/// accumulators: 16 of the 32 AVX-512 registers at `R = 4`).
#[inline(always)]
fn dense_fwd_r<S: Simd, O: Operands<S>, const R: usize>(
    w: &[O::W],
    bias: &[f32],
    x: &[O::X],
    y: &mut [Unit],
    relu: bool,
) {
    let (fan_in, fan_out) = (x.len(), bias.len());
    // SAFETY (all `S::` and `O::` calls): kernels run only in the variant whose features `S`
    // needs.
    unsafe {
        let mut o = 0;
        while o < fan_out {
            let r = R.min(fan_out - o);
            let mut acc: [[S::V; NB]; R] =
                std::array::from_fn(|k| [S::splat(bias[(o + k).min(fan_out - 1)]); NB]);
            let rows: [&[O::W]; R] = std::array::from_fn(|k| {
                let oo = (o + k).min(fan_out - 1);
                &w[oo * fan_in..(oo + 1) * fan_in]
            });
            for (i, xi) in x.iter().enumerate() {
                let xv: [O::L; NB] = std::array::from_fn(|j| O::load(xi, j));
                for (k, a) in acc.iter_mut().enumerate() {
                    let wv = O::splat(rows[k][i]);
                    for (j, a) in a.iter_mut().enumerate() {
                        *a = O::mac(*a, xv[j], wv);
                    }
                }
            }
            for (k, a) in acc.iter().enumerate().take(r) {
                for (j, a) in a.iter().enumerate() {
                    let v = if relu { S::relu(*a) } else { *a };
                    S::store(sub_mut(&mut y[o + k], j), v);
                }
            }
            o += r;
        }
    }
}

/// Weight and bias lane gradients of outputs `o..o + K` of a dense layer: the `K · NB` vectors
/// of `dy` stay in registers while the inputs stream past, so each input vector loaded serves
/// `K · NB` FMAs and each gradient lane is loaded and stored once per block.
#[inline(always)]
fn dense_dw<S: Simd, const K: usize>(d: &Dense, x: &[Unit], dy: &[Unit], g: &mut [Lane], o: usize) {
    // SAFETY (all `S::` calls): as in `dense_fwd_r`.
    unsafe {
        let dyv: [[S::V; NB]; K] =
            std::array::from_fn(|k| std::array::from_fn(|j| S::load(sub(&dy[o + k], j))));
        for (k, dv) in dyv.iter().enumerate() {
            let gb = &mut g[d.b + o + k];
            let mut s0 = S::load(gb);
            let mut s1 = dv[1];
            for j in (0..NB).step_by(2) {
                s0 = S::add(s0, dv[j]);
                if j > 0 {
                    s1 = S::add(s1, dv[j + 1]);
                }
            }
            S::store(gb, S::add(s1, s0));
        }
        let n = d.fan_in;
        for (i, xi) in x.iter().enumerate() {
            let xv: [S::V; NB] = std::array::from_fn(|j| S::load(sub(xi, j)));
            for (k, dv) in dyv.iter().enumerate() {
                let gwi = &mut g[d.w + (o + k) * n + i];
                // Two chains, so that the FMAs of a weight are not one dependency chain.
                let mut a0 = S::fma(dv[0], xv[0], S::load(gwi));
                let mut a1 = S::mul(dv[1], xv[1]);
                for j in (2..NB).step_by(2) {
                    a0 = S::fma(dv[j], xv[j], a0);
                    a1 = S::fma(dv[j + 1], xv[j + 1], a1);
                }
                S::store(gwi, S::add(a1, a0));
            }
        }
    }
}

/// Backward of one dense layer given `dy` (already masked by the following ReLU): lane
/// gradients of weights/biases into `g` (same layout as the parameters, 16 lanes each) and,
/// if `dx` is given, the input gradient.
#[inline(always)]
fn dense_bwd<S: Simd>(
    p: &[f32],
    d: &Dense,
    x: &[Unit],
    dy: &[Unit],
    g: &mut [Lane],
    dx: Option<&mut [Unit]>,
) {
    let x = &x[..d.fan_in];
    let mut o = 0;
    if S::WIDE {
        while o + RW <= d.fan_out {
            dense_dw::<S, RW>(d, x, dy, g, o);
            o += RW;
        }
    }
    while o + RN <= d.fan_out {
        dense_dw::<S, RN>(d, x, dy, g, o);
        o += RN;
    }
    if o < d.fan_out {
        dense_dw::<S, 1>(d, x, dy, g, o);
    }
    if let Some(dx) = dx {
        if S::WIDE {
            dense_dx::<S, RW>(p, d, dy, dx)
        } else {
            dense_dx::<S, RN>(p, d, dy, dx)
        }
    }
}

/// Input gradient `dx = Wᵀ dy` of a dense layer, `R` inputs at a time.
#[inline(always)]
fn dense_dx<S: Simd, const R: usize>(p: &[f32], d: &Dense, dy: &[Unit], dx: &mut [Unit]) {
    let w = &p[d.w..d.w + d.fan_in * d.fan_out];
    // SAFETY (all `S::` calls): as in `dense_fwd_r`.
    unsafe {
        let mut i = 0;
        while i < d.fan_in {
            let r = R.min(d.fan_in - i);
            let z = S::splat(0.0);
            let mut acc = [[z; NB]; R];
            for o in 0..d.fan_out {
                let dv: [S::V; NB] = std::array::from_fn(|j| S::load(sub(&dy[o], j)));
                let wr = &w[o * d.fan_in..(o + 1) * d.fan_in];
                for (k, a) in acc.iter_mut().enumerate() {
                    let wv = S::splat(wr[(i + k).min(d.fan_in - 1)]);
                    for (j, a) in a.iter_mut().enumerate() {
                        *a = S::fma(wv, dv[j], *a);
                    }
                }
            }
            for (k, a) in acc.iter().enumerate().take(r) {
                for (j, a) in a.iter().enumerate() {
                    S::store(sub_mut(&mut dx[i + k], j), *a);
                }
            }
            i += r;
        }
    }
}

/// The weights of an MLP in bf16 pairs for `dense_fwd_r`: layer `i`'s output `o` reads
/// input pair `j` (inputs `2j`, `2j + 1`, the last one zero for an odd count) with
/// `w[off[i] + o · ⌈fan_in / 2⌉ + j]`.
pub struct Packed {
    w: Vec<u32>,
    off: Vec<usize>,
}

impl Packed {
    /// The pairs of `layers` in `p`.
    pub fn new(p: &[f32], layers: &[Dense]) -> Self {
        let (mut w, mut off) = (Vec::new(), Vec::new());
        for d in layers {
            off.push(w.len());
            let np = d.fan_in.div_ceil(2);
            for o in 0..d.fan_out {
                let row = &p[d.w + o * d.fan_in..d.w + (o + 1) * d.fan_in];
                for j in 0..np {
                    let hi = row.get(2 * j + 1).map_or(0, |&v| to_bf16(v));
                    w.push(to_bf16(row[2 * j]) | (hi << 16));
                }
            }
        }
        Self { w, off }
    }

    /// The pairs of `layers` if `m` multiplies in bf16 (see [`Model::bf16`]).
    fn of(m: &Model, p: &[f32], layers: &[Dense]) -> Option<Self> {
        (m.bf16 && super::simd::isa() == Isa::Avx512Bf16).then(|| Self::new(p, layers))
    }
}

/// Scratch of one block through an MLP: input, then every layer's output; and each layer's
/// input in bf16 pairs (for [`Packed`] weights).
struct Acts {
    bufs: Vec<Vec<Unit>>,
    pairs: Vec<Vec<PUnit>>,
    /// The linear path's output (or, backward, its input gradient).
    skip: Vec<Unit>,
}

impl Acts {
    fn new(inp: usize, layers: &[Dense]) -> Self {
        let mut bufs = vec![vec![[0.0; B]; inp]];
        let mut pairs = Vec::new();
        for d in layers {
            bufs.push(vec![[0.0; B]; d.fan_out]);
            pairs.push(vec![[0; B]; d.fan_in.div_ceil(2)]);
        }
        let skip = vec![[0.0; B]; inp.max(layers.last().map_or(0, |d| d.fan_out))];
        Self { bufs, pairs, skip }
    }
}

/// `x` (a layer's inputs) as bf16 channel pairs, the last one with a zero for an odd count.
#[inline(always)]
fn pack_units<S: Simd>(x: &[Unit], out: &mut [PUnit]) {
    // SAFETY (all `S::` calls): as in `dense_fwd_r`.
    unsafe {
        for (i, o) in out.iter_mut().enumerate() {
            for j in 0..NB {
                let lo = S::load(sub(&x[2 * i], j));
                let hi = x
                    .get(2 * i + 1)
                    .map_or(S::splat(0.0), |h| S::load(sub(h, j)));
                S::pack(psub_mut(o, j), lo, hi);
            }
        }
    }
}

/// The MLP forward of the block in `a.bufs[0]`; with `pk` (on a CPU with bf16 dot products)
/// multiplying in bf16, else in `f32`. Every layer's output is kept in `f32`.
#[inline(always)]
fn mlp_fwd<S: Simd>(
    p: &[f32],
    layers: &[Dense],
    skip: Option<&Dense>,
    residual: bool,
    a: &mut Acts,
    pk: Option<&Packed>,
) {
    let n = layers.len();
    for (i, d) in layers.iter().enumerate() {
        let (lo, hi) = a.bufs.split_at_mut(i + 1);
        let hidden = i + 1 < n;
        // A residual hidden layer is `relu(x + W x + b)`: the ReLU after the sum.
        let res = residual && hidden;
        match pk {
            Some(pk) if S::BF16 => {
                let xp = &mut a.pairs[i];
                pack_units::<S>(&lo[i][..d.fan_in], xp);
                let np = d.fan_in.div_ceil(2);
                let wp = &pk.w[pk.off[i]..pk.off[i] + d.fan_out * np];
                let bias = &p[d.b..d.b + d.fan_out];
                dense_fwd_r::<S, Bf16Operands, RW>(wp, bias, xp, &mut hi[0], hidden && !res);
            }
            _ => dense_fwd::<S>(p, d, &lo[i], &mut hi[0], hidden && !res),
        }
        if res {
            for (y, x) in hi[0][..d.fan_out].iter_mut().zip(&lo[i]) {
                for k in 0..B {
                    y[k] = (y[k] + x[k]).max(0.0);
                }
            }
        }
    }
    if let Some(sk) = skip {
        dense_fwd::<S>(p, sk, &a.bufs[0], &mut a.skip, false);
        for (o, s) in a.bufs[n].iter_mut().zip(&a.skip) {
            for k in 0..B {
                o[k] += s[k];
            }
        }
    }
}

/// Backward through the MLP from `dout` (gradient of the last layer's output); writes the
/// input gradient into `din`. `tmp` holds two scratch buffers of the widest layer.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn mlp_bwd<S: Simd>(
    p: &[f32],
    layers: &[Dense],
    skip: Option<&Dense>,
    residual: bool,
    a: &Acts,
    dout: &[Unit],
    g: &mut [Lane],
    din: &mut [Unit],
    tmp: &mut [Vec<Unit>; 3],
) {
    let n = layers.len();
    let [t0, t1, t2] = tmp;
    if let Some(sk) = skip {
        dense_bwd::<S>(p, sk, &a.bufs[0], dout, g, Some(&mut t2[..]));
    }
    for i in (0..n).rev() {
        let d = &layers[i];
        // `t0` holds this layer's output gradient, except at the last layer (`dout`).
        if i + 1 < n {
            // Mask by the ReLU of this layer's output.
            for (dy, y) in t0[..d.fan_out].iter_mut().zip(&a.bufs[i + 1]) {
                for k in 0..B {
                    if y[k] <= 0.0 {
                        dy[k] = 0.0;
                    }
                }
            }
        }
        let dy = if i + 1 < n { &t0[..d.fan_out] } else { dout };
        let res = residual && i + 1 < n;
        if i == 0 {
            dense_bwd::<S>(p, d, &a.bufs[0], dy, g, Some(&mut *din));
            if res {
                for (dx, dy) in din.iter_mut().zip(dy) {
                    for k in 0..B {
                        dx[k] += dy[k];
                    }
                }
            }
            if let Some(sk) = skip {
                for (d, s) in din[..sk.fan_in].iter_mut().zip(t2.iter()) {
                    for k in 0..B {
                        d[k] += s[k];
                    }
                }
            }
        } else {
            dense_bwd::<S>(p, d, &a.bufs[i], dy, g, Some(&mut t1[..]));
            if res {
                for (dx, dy) in t1.iter_mut().zip(dy) {
                    for k in 0..B {
                        dx[k] += dy[k];
                    }
                }
            }
            std::mem::swap(t0, t1);
        }
    }
}

fn reduce_lanes(g: &[Lane], out: &mut [f32]) {
    for (o, l) in out.iter_mut().zip(g) {
        *o += l.iter().sum::<f32>();
    }
}

fn widest(layers: &[Dense]) -> usize {
    layers
        .iter()
        .map(|d| d.fan_in.max(d.fan_out))
        .max()
        .unwrap_or(1)
}

multiversion! {
    /// `dst += a · src` (equal lengths).
    fn axpy(dst: &mut [f32], src: &[f32], a: f32) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d += a * s;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The model of one image.

/// Everything fixed for one image: sizes, geometry and the target.
pub struct Model {
    /// Architecture.
    pub arch: Arch,
    /// Parameter layout.
    pub layout: Layout,
    /// Image width.
    pub width: usize,
    /// Image height.
    pub height: usize,
    /// Latent grids.
    pub levels: Vec<Level>,
    /// Total latents.
    pub latents: usize,
    /// Target in `[0, 1]`, rows of `[R…, G…, B…]`.
    target: Vec<f32>,
    /// Values per rayon task (rows are grouped to about this many; default 16384).
    pub task_values: usize,
    /// Whether the MLP forward passes of a step run in bf16 where the CPU has bf16 dot
    /// products ([`Isa::Avx512Bf16`]; default): they round their multiplicands to bf16 and
    /// accumulate in `f32`; the backward passes stay `f32`.
    /// At 2000 iterations, quality 4 on kodim23 and quality 2 on kodim04, RD equal to the
    /// `f32` kernels' within one run's noise (`docs/overfit-notes.md`).
    pub bf16: bool,
}

/// Loss terms of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Mean squared error over the three channels, on `[0, 1]`.
    pub mse: f64,
    /// Latent bits under the ARM.
    pub bits: f64,
}

impl Stats {
    /// Loss `MSE + λ · bpp`.
    pub fn loss(&self, lambda: f64, pixels: usize) -> f64 {
        self.mse + lambda * self.bits / pixels as f64
    }
}

/// The inputs and buffers of a timed training step ([`Model::step_bench`]).
pub struct StepBench {
    /// Parameters.
    pub params: Vec<f32>,
    /// Latent values.
    pub latents: Vec<f32>,
    /// Their gradients.
    pub grad_params: Vec<f32>,
    /// Their gradients.
    pub grad_latents: Vec<f32>,
    /// Scratch (its `timing` accumulates the two passes' seconds).
    pub scratch: Scratch,
}

impl StepBench {
    /// One step of `m` at `λ = 10⁻³`.
    pub fn run(&mut self, m: &Model) -> Stats {
        m.step(
            &self.params,
            &self.latents,
            1e-3,
            &mut self.grad_params,
            &mut self.grad_latents,
            &mut self.scratch,
        )
    }
}

/// Per-step scratch buffers (reused between steps).
pub struct Scratch {
    x0: Vec<f32>,
    dx0: Vec<f32>,
    dout: Vec<f32>,
    du: Vec<f32>,
    up: Vec<f32>,
    dctx: Vec<f32>,
    tmp_rows: Vec<f32>,
    /// Accumulated seconds: ARM pass, synthesis pass (forward, backward, upsampling).
    pub timing: [f64; 2],
}

impl Model {
    /// A model of `arch` for an RGB image (`rgb` interleaved 8-bit, `width × height`).
    pub fn new(arch: Arch, width: usize, height: usize, rgb: &[u8]) -> Self {
        let layout = Layout::new(&arch);
        let levels = levels(width, height, arch.levels, arch.upsampling);
        let latents = levels.iter().map(|l| l.w * l.h).sum();
        let mut target = vec![0.0; 3 * width * height];
        for y in 0..height {
            for x in 0..width {
                for c in 0..3 {
                    target[y * 3 * width + c * width + x] =
                        f32::from(rgb[(y * width + x) * 3 + c]) / 255.0;
                }
            }
        }
        Self {
            arch,
            layout,
            width,
            height,
            levels,
            latents,
            target,
            task_values: 16384,
            bf16: true,
        }
    }

    /// Pixels of the image.
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// Fresh scratch buffers.
    pub fn scratch(&self) -> Scratch {
        let n = self.pixels();
        let max_level = self.levels.iter().map(|l| l.h).max().unwrap_or(1);
        Scratch {
            x0: vec![0.0; 3 * n],
            dx0: vec![0.0; 3 * n],
            dout: vec![0.0; 3 * n],
            du: vec![0.0; self.arch.levels * n],
            up: vec![0.0; self.arch.levels * n],
            dctx: vec![0.0; (self.arch.ctx + self.arch.coarser_inputs()) * self.latents],
            tmp_rows: vec![0.0; max_level * self.width],
            timing: [0.0; 2],
        }
    }

    /// Deterministic initial parameters (uniform ±1/√fan_in from a fixed seed; the last ARM
    /// layer starts at zero, the last synthesis bias at ½).
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut p = vec![0.0f32; self.layout.len];
        let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        };
        let nl = self.layout.arm.len();
        for (i, d) in self.layout.arm.iter().enumerate() {
            let a = if i + 1 == nl {
                0.0
            } else if self.arch.arm_residual {
                // Residual layers start as the identity; drawn all the same, so that the
                // other tensors start as without them.
                for _ in 0..d.fan_in * d.fan_out {
                    next();
                }
                continue;
            } else {
                1.0 / (d.fan_in as f32).sqrt()
            };
            for v in &mut p[d.w..d.w + d.fan_in * d.fan_out] {
                *v = a * next();
            }
        }
        for d in &self.layout.syn {
            let a = 1.0 / (d.fan_in as f32).sqrt();
            for v in &mut p[d.w..d.w + d.fan_in * d.fan_out] {
                *v = a * next();
            }
        }
        if let Some(last) = self.layout.syn.last() {
            p[last.b..last.b + 3].fill(0.5);
        }
        if let Some((w, _)) = self.layout.conv {
            for v in &mut p[w..w + 81] {
                *v = 0.01 * next();
            }
        }
        // Drawn last, so that the other tensors start as without the projections.
        for d in &self.layout.ifce {
            let a = 1.0 / (d.fan_in as f32).sqrt();
            for v in &mut p[d.w..d.w + d.fan_in * d.fan_out] {
                *v = a * next();
            }
        }
        p
    }

    /// Everything one [`Model::step`] needs, for timing it (benches, `examples/overfit_step`):
    /// the parameters of seed 1, a fixed latent pattern (integers −6..6) and the buffers.
    pub fn step_bench(&self) -> StepBench {
        let params = self.init_params(1);
        let latents = (0..self.latents)
            .map(|i| ((i * 7919) % 13) as f32 - 6.0)
            .collect();
        StepBench {
            grad_params: vec![0.0; params.len()],
            grad_latents: vec![0.0; self.latents],
            params,
            latents,
            scratch: self.scratch(),
        }
    }

    /// Loss terms and gradients (`gp` of the parameters, `gl` of the latent values) of one
    /// step at latent values `lat` (already quantized or noised by the caller). Gradients are
    /// of `MSE + λ · bits / pixels`.
    pub fn step(
        &self,
        p: &[f32],
        lat: &[f32],
        lambda: f32,
        gp: &mut [f32],
        gl: &mut [f32],
        s: &mut Scratch,
    ) -> Stats {
        gp.fill(0.0);
        gl.fill(0.0);
        let rate_w = lambda / self.pixels() as f32;
        let t0 = std::time::Instant::now();
        let bits = self.arm_pass(p, lat, rate_w, gp, gl, s);
        let t1 = std::time::Instant::now();
        let mse = self.synthesis_pass(p, lat, gp, gl, s);
        s.timing[0] += (t1 - t0).as_secs_f64();
        s.timing[1] += t1.elapsed().as_secs_f64();
        Stats { mse, bits }
    }

    /// Rate of all latents and its gradients (scaled by `rate_w`).
    fn arm_pass(
        &self,
        p: &[f32],
        lat: &[f32],
        rate_w: f32,
        gp: &mut [f32],
        gl: &mut [f32],
        s: &mut Scratch,
    ) -> f64 {
        let pk = Packed::of(self, p, &self.layout.arm);
        let ctx = self.arch.ctx;
        let nc = self.arch.coarser_inputs();
        // Gradient planes per latent: its context, then the coarser latents it read.
        let ni = ctx + nc;
        let mut bits = 0.0;
        // From the coarsest level: `arm_rows` writes a level's own-rate gradients (it does
        // not add them), and the finer levels then add their coarser-input gradients on top.
        for (l, lv) in self.levels.iter().enumerate().rev() {
            let grid = &lat[lv.off..lv.off + lv.w * lv.h];
            let coarser: Vec<(&[f32], usize)> = (0..nc)
                .map(|k| match self.levels.get(l + 1 + k) {
                    Some(pl) => (&lat[pl.off..pl.off + pl.w * pl.h], pl.w),
                    None => (&lat[..0], 0),
                })
                .collect();
            let inputs = ArmInputs {
                ctx,
                parents: self.arch.parents,
                feats: self.arch.ifce,
                proj: self.layout.ifce.get(l),
                coarser: &coarser,
                residual: self.arch.arm_residual,
            };
            let gself = &mut gl[lv.off..lv.off + lv.w * lv.h];
            let dctx = &mut s.dctx[lv.off * ni..(lv.off + lv.w * lv.h) * ni];
            let rows = rows_per_task(lv.h, lv.w, self.task_values);
            let (b, g) = gself
                .par_chunks_mut(rows * lv.w)
                .zip(dctx.par_chunks_mut(rows * lv.w * ni))
                .enumerate()
                .map(|(t, (gs, dc))| {
                    let mut g = vec![[0.0f32; 16]; self.layout.len];
                    let y0 = t * rows;
                    let b = arm_rows(
                        &self.layout.arm,
                        self.layout.arm_skip.as_ref(),
                        &inputs,
                        p,
                        pk.as_ref(),
                        grid,
                        lv.w,
                        lv.h,
                        y0,
                        rate_w,
                        gs,
                        dc,
                        &mut g,
                    );
                    let mut out = vec![0.0f32; self.layout.len];
                    reduce_lanes(&g, &mut out);
                    (b, out)
                })
                // Collected in task order and summed in that order: a parallel reduce's tree
                // depends on work stealing, and float sums on their order (the encoder must give
                // the same bytes on every run).
                .collect::<Vec<_>>()
                .into_iter()
                .fold(
                    (0.0, vec![0.0; self.layout.len]),
                    |(b0, mut g0), (b1, g1)| {
                        for (a, c) in g0.iter_mut().zip(&g1) {
                            *a += c;
                        }
                        (b0 + b1, g0)
                    },
                );
            bits += b;
            for (a, c) in gp.iter_mut().zip(&g) {
                *a += c;
            }
            // Context gradients back to the latents they were read from.
            // Each task's block of `dctx` is planar, `[inputs][task rows · w]` (see `arm_rows`).
            let dctx = &s.dctx[lv.off * ni..(lv.off + lv.w * lv.h) * ni];
            let (w, h) = (lv.w, lv.h as i32);
            // Row `qy` of input `k`'s gradients, in the planar block of the task holding it.
            let input_row = |k: usize, qy: usize| -> &[f32] {
                let t = qy / rows;
                let plane = rows.min(lv.h - t * rows) * w;
                let start = t * rows * w * ni + k * plane + (qy - t * rows) * w;
                &dctx[start..start + w]
            };
            gself.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
                for (k, &(dy, dx)) in CTX_OFFSETS[..ctx].iter().enumerate() {
                    let qy = y as i32 - dy;
                    if qy < 0 || qy >= h {
                        continue;
                    }
                    let src = input_row(k, qy as usize);
                    // Latent x read context k of latent qx = x − dx.
                    let (lo, hi) = if dx >= 0 {
                        (dx as usize, w)
                    } else {
                        (0, w.saturating_sub((-dx) as usize))
                    };
                    if lo < hi {
                        let from = (lo as i32 - dx) as usize;
                        axpy(&mut row[lo..hi], &src[from..from + hi - lo], 1.0);
                    }
                }
            });
            // Coarser-input gradients back to the coarser levels: a parent row gathers the
            // rows of its children.
            for k in 0..nc {
                let Some(pl) = self.levels.get(l + 1 + k) else {
                    continue;
                };
                let sh = k + 1;
                let gp_lv = &mut gl[pl.off..pl.off + pl.w * pl.h];
                gp_lv
                    .par_chunks_mut(pl.w)
                    .enumerate()
                    .for_each(|(py, prow)| {
                        for cy in (py << sh)..((py + 1) << sh).min(lv.h) {
                            for (x, &d) in input_row(ctx + k, cy).iter().enumerate() {
                                prow[x >> sh] += d;
                            }
                        }
                    });
            }
        }
        bits
    }

    /// Distortion and its gradients; adds the latent gradients into `gl`.
    fn synthesis_pass(
        &self,
        p: &[f32],
        lat: &[f32],
        gp: &mut [f32],
        gl: &mut [f32],
        s: &mut Scratch,
    ) -> f64 {
        let pk = Packed::of(self, p, &self.layout.syn);
        let (w, h) = (self.width, self.height);
        let n = (3 * w * h) as f32;
        let rows = rows_per_task(h, w, self.task_values);
        let conv = self.layout.conv;
        let dscale = 2.0 / n;
        self.upsample(lat, &mut s.up);
        let up = &s.up;
        // Pass 1: the MLP (and, without a convolution, the loss).
        let sse1: f64 =
            s.x0.par_chunks_mut(rows * 3 * w)
                .zip(s.dout.par_chunks_mut(rows * 3 * w))
                .enumerate()
                .map(|(t, (x0, dout))| {
                    let y0 = t * rows;
                    let tgt = &self.target[y0 * 3 * w..y0 * 3 * w + x0.len()];
                    syn_fwd_rows(
                        self,
                        p,
                        pk.as_ref(),
                        up,
                        y0,
                        x0,
                        if conv.is_none() {
                            Some((tgt, dout, dscale))
                        } else {
                            None
                        },
                    )
                })
                .sum();
        let sse = if let Some((cw, cb)) = conv {
            let x0 = &s.x0;
            let (sse, g) = s
                .dout
                .par_chunks_mut(rows * 3 * w)
                .enumerate()
                .map(|(t, dout)| {
                    let mut g = vec![0.0f32; 84];
                    let sse = conv_fwd_rows(
                        &p[cw..cw + 81],
                        &p[cb..cb + 3],
                        x0,
                        &self.target,
                        w,
                        h,
                        t * rows,
                        dout,
                        dscale,
                        &mut g,
                    );
                    (sse, g)
                })
                .collect::<Vec<_>>()
                .into_iter()
                .fold((0.0, vec![0.0; 84]), |(a, mut ga), (b, gb)| {
                    for (x, y) in ga.iter_mut().zip(&gb) {
                        *x += y;
                    }
                    (a + b, ga)
                });
            for i in 0..81 {
                gp[cw + i] += g[i];
            }
            for i in 0..3 {
                gp[cb + i] += g[81 + i];
            }
            let dout = &s.dout;
            let cwt = conv_transposed(&p[cw..cw + 81]);
            s.dx0
                .par_chunks_mut(rows * 3 * w)
                .enumerate()
                .for_each(|(t, dx0)| conv_bwd_rows(&cwt, dout, w, h, t * rows, dx0));
            sse
        } else {
            s.dx0.copy_from_slice(&s.dout);
            sse1
        };
        // Pass 3: MLP backward (recomputing the forward per block).
        let dx0 = &s.dx0;
        let g =
            s.du.par_chunks_mut(rows * self.arch.levels * w)
                .enumerate()
                .map(|(t, du)| {
                    let mut g = vec![[0.0f32; 16]; self.layout.len];
                    syn_bwd_rows(self, p, pk.as_ref(), up, t * rows, dx0, du, &mut g);
                    let mut out = vec![0.0f32; self.layout.len];
                    reduce_lanes(&g, &mut out);
                    out
                })
                .collect::<Vec<_>>()
                .into_iter()
                .fold(vec![0.0; self.layout.len], |mut a, b| {
                    for (x, y) in a.iter_mut().zip(&b) {
                        *x += y;
                    }
                    a
                });
        for (a, b) in gp.iter_mut().zip(&g) {
            *a += b;
        }
        // Upsampling backward.
        let nl = self.arch.levels;
        for (l, lv) in self.levels.iter().enumerate() {
            let du = &s.du;
            let gl_l = &mut gl[lv.off..lv.off + lv.w * lv.h];
            if l == 0 {
                gl_l.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
                    axpy(row, &du[(y * nl) * w..(y * nl + 1) * w], 1.0);
                });
                continue;
            }
            let tmp = &mut s.tmp_rows[..lv.h * w];
            tmp.par_chunks_mut(w).enumerate().for_each(|(r, trow)| {
                trow.fill(0.0);
                for &(y, f) in &lv.back_rows[r] {
                    axpy(
                        trow,
                        &du[(y as usize * nl + l) * w..(y as usize * nl + l + 1) * w],
                        f,
                    );
                }
            });
            let tmp = &s.tmp_rows[..lv.h * w];
            gl_l.par_chunks_mut(lv.w).enumerate().for_each(|(r, row)| {
                let trow = &tmp[r * w..(r + 1) * w];
                for (j, g) in row.iter_mut().enumerate() {
                    let mut acc = 0.0;
                    for &(x, f) in &lv.back_cols[j] {
                        acc += f * trow[x as usize];
                    }
                    *g += acc;
                }
            });
        }
        sse / f64::from(n)
    }

    /// Every level upsampled to full resolution, `[row][level][x]`.
    fn upsample(&self, lat: &[f32], up: &mut [f32]) {
        let (w, nl) = (self.width, self.arch.levels);
        let rows = rows_per_task(self.height, w * nl, self.task_values);
        let widest = self.levels.iter().map(|l| l.w).max().unwrap_or(1);
        up.par_chunks_mut(rows * nl * w)
            .enumerate()
            .for_each(|(t, c)| upsample_rows(self, lat, t * rows, c, &mut vec![0.0; widest]));
    }

    /// Forward only: the float reconstruction (rows of `[R…, G…, B…]`, unclamped) at latent
    /// values `lat`.
    pub fn reconstruct(&self, p: &[f32], lat: &[f32]) -> Vec<f32> {
        let w = self.width;
        let rows = rows_per_task(self.height, w, self.task_values);
        let mut x0 = vec![0.0; 3 * w * self.height];
        let mut up = vec![0.0; self.arch.levels * self.pixels()];
        self.upsample(lat, &mut up);
        x0.par_chunks_mut(rows * 3 * w)
            .enumerate()
            .for_each(|(t, c)| {
                syn_fwd_rows(self, p, None, &up, t * rows, c, None);
            });
        if let Some((cw, cb)) = self.layout.conv {
            let mut out = vec![0.0; x0.len()];
            conv_apply(
                &p[cw..cw + 81],
                &p[cb..cb + 3],
                &x0,
                w,
                self.height,
                &mut out,
            );
            out
        } else {
            x0
        }
    }
}

fn rows_per_task(h: usize, w: usize, values: usize) -> usize {
    // About `values` values per task, at least one row.
    (values / w.max(1)).clamp(1, h.max(1))
}

/// Upsampled latents of pixels `x..x+n` of row `y` into `inp[l]` (zero past `n`), from the
/// planes of [`upsample_rows`].
#[inline(always)]
fn gather_inputs(m: &Model, up: &[f32], y: usize, x: usize, n: usize, inp: &mut [Unit]) {
    let (w, nl) = (m.width, m.arch.levels);
    for (l, dst) in inp[..nl].iter_mut().enumerate() {
        let at = (y * nl + l) * w + x;
        load_block(dst, &up[at..], n);
    }
}

multiversion! {
    /// Bilinear upsampling of every level for the rows starting at `y0` into `up`
    /// (`[row][level][x]`, as many rows as it holds): vertical blend of two grid rows into
    /// `tmp`, then the horizontal taps.
    fn upsample_rows(m: &Model, lat: &[f32], y0: usize, up: &mut [f32], tmp: &mut [f32]) {
        let (w, nl) = (m.width, m.arch.levels);
        for (r, out) in up.chunks_mut(nl * w).enumerate() {
            let y = y0 + r;
            for (l, (lv, dst)) in m.levels.iter().zip(out.chunks_mut(w)).enumerate() {
                let grid = &lat[lv.off..lv.off + lv.w * lv.h];
                if l == 0 {
                    dst.copy_from_slice(&grid[y * w..(y + 1) * w]);
                    continue;
                }
                let t = &mut tmp[..lv.w];
                if lv.nt == 2 {
                    resample_row::<2>(grid, lv, y, t, dst);
                } else {
                    resample_row::<TAPS>(grid, lv, y, t, dst);
                }
            }
        }
    }
}

/// One output row `y` of level `lv`: the vertical taps blend grid rows into `t`, then the
/// horizontal taps fill `dst`.
#[inline(always)]
fn resample_row<const N: usize>(
    grid: &[f32],
    lv: &Level,
    y: usize,
    t: &mut [f32],
    dst: &mut [f32],
) {
    let (ty, wy) = (&lv.yt[y], &lv.yw[y]);
    let row = |k: usize| &grid[ty.i[k] as usize * lv.w..(ty.i[k] as usize + 1) * lv.w];
    t.copy_from_slice(row(0));
    t.iter_mut().for_each(|v| *v *= wy[0]);
    for (k, &w) in wy.iter().enumerate().take(N).skip(1) {
        for (v, &a) in t.iter_mut().zip(row(k)) {
            *v += w * a;
        }
    }
    for ((d, tp), wx) in dst.iter_mut().zip(&lv.xt).zip(&lv.xw) {
        let mut acc = wx[0] * t[tp.i[0] as usize];
        for k in 1..N {
            acc += wx[k] * t[tp.i[k] as usize];
        }
        *d = acc;
    }
}

multiversion! {
    /// MLP forward of the rows starting at `y0` (as many as `x0` holds); with `loss`, also the
    /// output gradient `(target, dout, scale)` and the SSE.
    fn syn_fwd_rows(m: &Model, p: &[f32], pk: Option<&Packed>, up: &[f32], y0: usize, x0: &mut [f32], loss: Option<(&[f32], &mut [f32], f32)>) -> f64 {
        let w = m.width;
        let layers = &m.layout.syn;
        let mut a = Acts::new(m.arch.levels, layers);
        let rows = x0.len() / (3 * w);
        let mut sse = 0.0f64;
        let mut loss = loss;
        for r in 0..rows {
            let y = y0 + r;
            let mut x = 0;
            while x < w {
                let n = B.min(w - x);
                gather_inputs(m, up, y, x, n, &mut a.bufs[0]);
                mlp_fwd::<S>(p, layers, m.layout.syn_skip.as_ref(), false, &mut a, pk);
                let out = &a.bufs[layers.len()];
                for (c, oc) in out.iter().enumerate().take(3) {
                    let base = r * 3 * w + c * w + x;
                    store_block(&mut x0[base..], oc, n);
                    if let Some((tgt, dout, scale)) = loss.as_mut() {
                        let mut e2 = [0.0f32; B];
                        let lanes = dout[base..base + n].iter_mut().zip(&oc[..n]).zip(&tgt[base..base + n]);
                        for (k, ((d, &o), &t)) in lanes.enumerate() {
                            let e = o - t;
                            e2[k] = e * e;
                            *d = *scale * e;
                        }
                        sse += f64::from(e2.iter().sum::<f32>());
                    }
                }
                x += B;
            }
        }
        sse
    }
}

multiversion! {
    /// MLP backward of the rows starting at `y0` given `dx0` (whole image); writes the
    /// upsampled-latent gradients `du` of those rows (`[row][level][x]`).
    fn syn_bwd_rows(m: &Model, p: &[f32], pk: Option<&Packed>, up: &[f32], y0: usize, dx0: &[f32], du: &mut [f32], g: &mut [Lane]) {
        let w = m.width;
        let nl = m.arch.levels;
        let layers = &m.layout.syn;
        let mut a = Acts::new(nl, layers);
        let wide = widest(layers);
        let mut tmp = [vec![[0.0f32; B]; wide], vec![[0.0f32; B]; wide], vec![[0.0f32; B]; wide]];
        let mut dout = [[0.0f32; B]; 3];
        let mut din = vec![[0.0f32; B]; nl];
        let rows = du.len() / (nl * w);
        for r in 0..rows {
            let y = y0 + r;
            let mut x = 0;
            while x < w {
                let n = B.min(w - x);
                gather_inputs(m, up, y, x, n, &mut a.bufs[0]);
                mlp_fwd::<S>(p, layers, m.layout.syn_skip.as_ref(), false, &mut a, pk);
                for (c, d) in dout.iter_mut().enumerate() {
                    let base = y * 3 * w + c * w + x;
                    load_block(d, &dx0[base..], n);
                }
                mlp_bwd::<S>(p, layers, m.layout.syn_skip.as_ref(), false, &a, &dout, g, &mut din, &mut tmp);
                for (l, d) in din.iter().enumerate() {
                    let base = (r * nl + l) * w + x;
                    store_block(&mut du[base..], d, n);
                }
                x += B;
            }
        }
    }
}

/// What a level's ARM reads besides its causal context: `parents` raw coarser latents, then
/// `feats` features of its inter-level projection (zeros where `proj` is `None`), both from
/// `coarser` (`(grid, width)` of the next coarser levels, width 0 where a level is missing).
pub(crate) struct ArmInputs<'a> {
    pub ctx: usize,
    pub parents: usize,
    pub feats: usize,
    pub proj: Option<&'a Dense>,
    pub coarser: &'a [(&'a [f32], usize)],
    /// Residual hidden layers ([`Arch::arm_residual`]).
    pub residual: bool,
}

multiversion! {
    /// ARM forward and backward of the grid rows starting at `y0`: returns the bits, writes
    /// the gradient of each latent's own value into `gs` and of its inputs into `dc`
    /// (planar `[input][task rows · w]`: the `ctx` neighbours, then each coarser latent read),
    /// both scaled by `rate_w`.
    fn arm_rows(layers: &[Dense], skip: Option<&Dense>, inputs: &ArmInputs, p: &[f32], pk: Option<&Packed>, grid: &[f32], w: usize, h: usize, y0: usize, rate_w: f32, gs: &mut [f32], dc: &mut [f32], g: &mut [Lane]) -> f64 {
        let (ctx, npar, nf) = (inputs.ctx, inputs.parents, inputs.feats);
        let coarser = inputs.coarser;
        let nc = coarser.len();
        let ni = ctx + npar + nf;
        let mut a = Acts::new(ni, layers);
        let wide = widest(layers);
        let mut tmp = [vec![[0.0f32; B]; wide], vec![[0.0f32; B]; wide], vec![[0.0f32; B]; wide]];
        let mut din = vec![[0.0f32; B]; ni];
        let mut cv = vec![[0.0f32; B]; nc];
        let mut dcv = vec![[0.0f32; B]; nc];
        let mut dout = [[0.0f32; B]; 2];
        let (mut me, mut own, mut lane_bits) = ([0.0f32; B], [0.0f32; B], [0.0f32; B]);
        let rows = gs.len() / w;
        let mut bits = 0.0f64;
        let nl = layers.len();
        for r in 0..rows {
            let y = y0 + r;
            let mut x = 0;
            while x < w {
                let n = B.min(w - x);
                for (k, &(dy, dx)) in CTX_OFFSETS[..ctx].iter().enumerate() {
                    let yy = y as i32 + dy;
                    let dst = &mut a.bufs[0][k];
                    if yy < 0 || yy >= h as i32 {
                        dst.fill(0.0);
                        continue;
                    }
                    let row = &grid[yy as usize * w..(yy as usize + 1) * w];
                    let lo = x as i32 + dx;
                    if lo >= 0 && lo as usize + n <= w {
                        load_block(dst, &row[lo as usize..], n);
                        continue;
                    }
                    for (j, d) in dst.iter_mut().enumerate() {
                        let xx = (x + j) as i32 + dx;
                        *d = if j < n && xx >= 0 && xx < w as i32 { row[xx as usize] } else { 0.0 };
                    }
                }
                for (k, (&(pg, pw), dst)) in coarser.iter().zip(cv.iter_mut()).enumerate() {
                    if pw == 0 {
                        dst.fill(0.0);
                        continue;
                    }
                    let sh = k + 1;
                    let prow = &pg[(y >> sh) * pw..(y >> sh) * pw + pw];
                    for (j, d) in dst.iter_mut().enumerate() {
                        *d = if j < n { prow[(x + j) >> sh] } else { 0.0 };
                    }
                }
                a.bufs[0][ctx..ctx + npar].copy_from_slice(&cv[..npar]);
                match inputs.proj {
                    Some(d) => {
                        for f in 0..nf {
                            let dst = &mut a.bufs[0][ctx + npar + f];
                            dst.fill(p[d.b + f]);
                            for (j, c) in cv[..d.fan_in].iter().enumerate() {
                                let wt = p[d.w + f * d.fan_in + j];
                                for (o, &v) in dst.iter_mut().zip(c) {
                                    *o += wt * v;
                                }
                            }
                            // Lanes past `n` stay zero (as the other inputs).
                            dst[n..].fill(0.0);
                        }
                    }
                    None => {
                        for dst in &mut a.bufs[0][ctx + npar..] {
                            dst.fill(0.0);
                        }
                    }
                }
                mlp_fwd::<S>(p, layers, skip, inputs.residual, &mut a, pk);
                let out = &a.bufs[nl];
                // Straight-line over all B lanes (so that it vectorizes), the lanes past `n`
                // masked to zero.
                load_block(&mut me, &grid[y * w + x..], n);
                let (mu, ls): (&Unit, &Unit) = (&out[0], &out[1]);
                let [d0, d1] = &mut dout;
                for k in 0..B {
                    let (bt, ddx, dls) = laplace::rate(me[k] - mu[k], ls[k]);
                    let valid = if k < n { rate_w } else { 0.0 };
                    lane_bits[k] = if k < n { bt } else { 0.0 };
                    own[k] = valid * ddx;
                    d0[k] = -valid * ddx;
                    d1[k] = valid * dls;
                }
                store_block(&mut gs[r * w + x..], &own, n);
                bits += f64::from(lane_bits.iter().sum::<f32>());
                mlp_bwd::<S>(p, layers, skip, inputs.residual, &a, &dout, g, &mut din, &mut tmp);
                // Coarser-latent gradients: the raw parent inputs', plus the projection's.
                for (j, d) in dcv.iter_mut().enumerate() {
                    if j < npar {
                        *d = din[ctx + j];
                    } else {
                        d.fill(0.0);
                    }
                }
                if let Some(d) = inputs.proj {
                    for f in 0..nf {
                        let df = &din[ctx + npar + f];
                        for (j, (c, dc)) in cv[..d.fan_in].iter().zip(dcv.iter_mut()).enumerate() {
                            let wt = p[d.w + f * d.fan_in + j];
                            let gw = &mut g[d.w + f * d.fan_in + j];
                            for q in 0..NB {
                                for t in 0..16 {
                                    gw[t] += df[q * 16 + t] * c[q * 16 + t];
                                }
                            }
                            for (o, &v) in dc.iter_mut().zip(df) {
                                *o += wt * v;
                            }
                        }
                        let gb = &mut g[d.b + f];
                        for q in 0..NB {
                            for t in 0..16 {
                                gb[t] += df[q * 16 + t];
                            }
                        }
                    }
                }
                // `dc` of this task is planar: `[inputs][rows · w]`.
                let plane = rows * w;
                for (c, d) in din[..ctx].iter().chain(&dcv).enumerate() {
                    let at = c * plane + r * w + x;
                    store_block(&mut dc[at..], d, n);
                }
                x += B;
            }
        }
        bits
    }
}

// ---------------------------------------------------------------------------------------------
// The residual 3×3 convolution (3 → 3), register-tiled.

/// Pixels of a convolution tile: two 16-lane vectors per channel, so that each weight
/// broadcast serves two FMAs.
const CT: usize = 32;

/// Row stride of [`pad_rows`]: one zero before the row, zeros after it up to a whole tile
/// plus one.
fn lane_at(p: &[f32], at: usize) -> &Lane {
    p[at..at + 16].try_into().expect("16 values")
}

fn pad_stride(w: usize) -> usize {
    w.div_ceil(CT) * CT + CT
}

/// Rows `y_lo − 1 .. y_hi + 1` of a `[R…, G…, B…]` image, zero outside it, each channel's row
/// at stride [`pad_stride`] with one zero in front: value `(y, c, x)` at
/// `((y + 1 − y_lo) · 3 + c) · stride + 1 + x`.
fn pad_rows(src: &[f32], w: usize, h: usize, y_lo: usize, y_hi: usize, pad: &mut Vec<f32>) {
    let wp = pad_stride(w);
    pad.clear();
    pad.resize((y_hi - y_lo + 2) * 3 * wp, 0.0);
    for (i, y) in (y_lo as isize - 1..y_hi as isize + 1).enumerate() {
        if y < 0 || y >= h as isize {
            continue;
        }
        let row = &src[y as usize * 3 * w..(y as usize + 1) * 3 * w];
        for c in 0..3 {
            let at = (i * 3 + c) * wp + 1;
            pad[at..at + w].copy_from_slice(&row[c * w..(c + 1) * w]);
        }
    }
}

/// `out[c] = in[c] + bias[c] + Σ wt[c][k][ky][kx] · in[k](y + ky − 1, x + kx − 1)` for the
/// tile at `x` of the row `i` of `pad` (its row index in [`pad_rows`], so `i ≥ 1`).
#[inline(always)]
fn conv_tile<S: Simd>(
    wt: &[f32; 81],
    bias: &[f32; 3],
    pad: &[f32],
    wp: usize,
    i: usize,
    x: usize,
) -> [[S::V; 2]; 3] {
    let lane = |at: usize| lane_at(pad, at);
    // SAFETY (all `S::` calls): kernels run only in the variant whose features `S` needs.
    unsafe {
        let z = S::splat(0.0);
        let mut acc = [[z; 2]; 3];
        for (c, a) in acc.iter_mut().enumerate() {
            let at = (i * 3 + c) * wp + 1 + x;
            let bv = S::splat(bias[c]);
            a[0] = S::add(S::load(lane(at)), bv);
            a[1] = S::add(S::load(lane(at + 16)), bv);
        }
        for k in 0..3 {
            for ky in 0..3 {
                let row = ((i + ky - 1) * 3 + k) * wp + x;
                for kx in 0..3 {
                    let v = [S::load(lane(row + kx)), S::load(lane(row + kx + 16))];
                    for (c, a) in acc.iter_mut().enumerate() {
                        let wv = S::splat(wt[((c * 3 + k) * 3 + ky) * 3 + kx]);
                        a[0] = S::fma(wv, v[0], a[0]);
                        a[1] = S::fma(wv, v[1], a[1]);
                    }
                }
            }
        }
        acc
    }
}

/// Rows `y0 .. y0 + out.len() / (3w)` of `in + bias + conv(in)` into `out` (`[R…, G…, B…]`
/// rows), `in` given as [`pad_rows`] of those rows.
#[inline(always)]
fn conv_rows<S: Simd>(wt: &[f32; 81], bias: &[f32; 3], pad: &[f32], w: usize, out: &mut [f32]) {
    let wp = pad_stride(w);
    let mut tile = [[0.0f32; 16]; 2];
    for (r, orow) in out.chunks_mut(3 * w).enumerate() {
        let mut x = 0;
        while x < w {
            let acc = conv_tile::<S>(wt, bias, pad, wp, r + 1, x);
            let n = CT.min(w - x);
            for (c, a) in acc.iter().enumerate() {
                // SAFETY: as in `conv_tile`.
                unsafe {
                    S::store(&mut tile[0], a[0]);
                    S::store(&mut tile[1], a[1]);
                }
                let dst = &mut orow[c * w + x..c * w + x + n];
                for (k, d) in dst.iter_mut().enumerate() {
                    *d = tile[k / 16][k % 16];
                }
            }
            x += CT;
        }
    }
}

/// Weight gradients of the convolution over the rows of `dpad` (the output gradient, as
/// [`pad_rows`] of rows `y0..`) against the input `xpad` (the same rows): `g[..81]` gets
/// `Σ d[c](y, x) · in[k](y + ky − 1, x + kx − 1)`, `g[81..84]` the bias gradients.
#[inline(always)]
fn conv_dw<S: Simd>(xpad: &[f32], dpad: &[f32], w: usize, rows: usize, g: &mut [f32]) {
    let wp = pad_stride(w);
    // SAFETY (all `S::` calls): as in `conv_tile`.
    unsafe {
        let z = S::splat(0.0);
        let mut gb = [z; 3];
        for r in 0..rows {
            for (c, b) in gb.iter_mut().enumerate() {
                let at = ((r + 1) * 3 + c) * wp + 1;
                for x in (0..w.div_ceil(16) * 16).step_by(16) {
                    *b = S::add(*b, S::load(lane_at(dpad, at + x)));
                }
            }
        }
        for k in 0..3 {
            for ky in 0..3 {
                // Σ over the rows of d[c] · in[k] shifted by kx, nine accumulators.
                let mut acc = [[z; 3]; 3];
                for r in 0..rows {
                    let drow = ((r + 1) * 3) * wp + 1;
                    let xrow = ((r + ky) * 3 + k) * wp;
                    for x in (0..w.div_ceil(16) * 16).step_by(16) {
                        let d = [
                            S::load(lane_at(dpad, drow + x)),
                            S::load(lane_at(dpad, drow + wp + x)),
                            S::load(lane_at(dpad, drow + 2 * wp + x)),
                        ];
                        for (kx, a) in acc.iter_mut().enumerate() {
                            let v = S::load(lane_at(xpad, xrow + x + kx));
                            for (c, a) in a.iter_mut().enumerate() {
                                *a = S::fma(d[c], v, *a);
                            }
                        }
                    }
                }
                for (kx, a) in acc.iter().enumerate() {
                    for (c, a) in a.iter().enumerate() {
                        let mut l = [0.0f32; 16];
                        S::store(&mut l, *a);
                        g[((c * 3 + k) * 3 + ky) * 3 + kx] += l.iter().sum::<f32>();
                    }
                }
            }
        }
        for (c, b) in gb.iter().enumerate() {
            let mut l = [0.0f32; 16];
            S::store(&mut l, *b);
            g[81 + c] += l.iter().sum::<f32>();
        }
    }
}

fn conv_weights(cw: &[f32]) -> [f32; 81] {
    cw[..81].try_into().expect("81 weights")
}

/// The weights of the transposed convolution: `dx[k](y, x) = Σ w[c][k][ky][kx] · d[c](y − ky
/// + 1, x − kx + 1)` is a convolution of `d` with `wt[k][c][2 − ky][2 − kx]`.
fn conv_transposed(cw: &[f32]) -> [f32; 81] {
    let mut t = [0.0; 81];
    for c in 0..3 {
        for k in 0..3 {
            for ky in 0..3 {
                for kx in 0..3 {
                    t[((k * 3 + c) * 3 + 2 - ky) * 3 + 2 - kx] =
                        cw[((c * 3 + k) * 3 + ky) * 3 + kx];
                }
            }
        }
    }
    t
}

multiversion! {
    /// `out = x0 + b + conv(x0)` for the rows starting at `y0` (as many as `out` holds).
    fn conv_apply_rows(cw: &[f32], cb: &[f32], x0: &[f32], w: usize, h: usize, y0: usize, out: &mut [f32]) {
        let rows = out.len() / (3 * w);
        let mut pad = Vec::new();
        pad_rows(x0, w, h, y0, y0 + rows, &mut pad);
        let bias: [f32; 3] = cb[..3].try_into().expect("3 biases");
        conv_rows::<S>(&conv_weights(cw), &bias, &pad, w, out);
    }
}

/// `out = x0 + b + conv(x0)` over the whole image (used for reconstruction).
fn conv_apply(cw: &[f32], cb: &[f32], x0: &[f32], w: usize, h: usize, out: &mut [f32]) {
    let rows = rows_per_task(h, w, 16384);
    out.par_chunks_mut(rows * 3 * w)
        .enumerate()
        .for_each(|(t, o)| conv_apply_rows(cw, cb, x0, w, h, t * rows, o));
}

multiversion! {
    /// Convolution forward, loss, output gradient `dout` and weight gradients (`g`: 81 weights,
    /// 3 biases) for the rows starting at `y0`; returns the SSE.
    fn conv_fwd_rows(cw: &[f32], cb: &[f32], x0: &[f32], tgt: &[f32], w: usize, h: usize, y0: usize, dout: &mut [f32], scale: f32, g: &mut [f32]) -> f64 {
        let rows = dout.len() / (3 * w);
        let mut pad = Vec::new();
        pad_rows(x0, w, h, y0, y0 + rows, &mut pad);
        let bias: [f32; 3] = cb[..3].try_into().expect("3 biases");
        conv_rows::<S>(&conv_weights(cw), &bias, &pad, w, dout);
        // `dout` holds the output: the loss and its gradient in place.
        let tgt = &tgt[y0 * 3 * w..y0 * 3 * w + dout.len()];
        let mut sse = 0.0f64;
        for (dc, tc) in dout.chunks_mut(w).zip(tgt.chunks(w)) {
            let mut e2 = [0.0f32; 16];
            for (d16, t16) in dc.chunks_mut(16).zip(tc.chunks(16)) {
                for (k, (d, &t)) in d16.iter_mut().zip(t16).enumerate() {
                    let e = *d - t;
                    e2[k] += e * e;
                    *d = scale * e;
                }
            }
            sse += f64::from(e2.iter().sum::<f32>());
        }
        let mut dpad = Vec::new();
        pad_rows(dout, w, rows, 0, rows, &mut dpad);
        conv_dw::<S>(&pad, &dpad, w, rows, g);
        sse
    }
}

multiversion! {
    /// `dx0 = dout + convᵀ(dout)` for the rows starting at `y0` (as many as `dx0` holds).
    fn conv_bwd_rows(cwt: &[f32; 81], dout: &[f32], w: usize, h: usize, y0: usize, dx0: &mut [f32]) {
        let rows = dx0.len() / (3 * w);
        let mut pad = Vec::new();
        pad_rows(dout, w, h, y0, y0 + rows, &mut pad);
        conv_rows::<S>(cwt, &[0.0; 3], &pad, w, dx0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: &mut u64) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 40) as f32 / (1u64 << 24) as f32
    }

    fn setup_arch(
        conv: bool,
        upsampling: Upsampling,
        parents: usize,
        skips: bool,
        ifce: (usize, usize, bool),
    ) -> (Model, Vec<f32>, Vec<f32>) {
        let (w, h) = (21, 13);
        let mut s = 7u64;
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|_| (rng(&mut s) * 255.0) as u8)
            .collect();
        let arch = Arch {
            levels: 3,
            ctx: 6,
            parents,
            arm_hidden: vec![5, 4],
            syn_hidden: vec![6, 5],
            conv,
            upsampling,
            arm_skip: skips,
            syn_skip: skips,
            ifce: ifce.0,
            ifce_levels: ifce.1,
            arm_residual: ifce.2,
        };
        let mut arch = arch;
        if arch.arm_residual {
            arch.arm_hidden = vec![arch.arm_inputs(); 2];
        }
        let mut m = Model::new(arch, w, h, &rgb);
        // The exact-gradient tests check the `f32` kernels.
        m.bf16 = false;
        let mut p = m.init_params(3);
        for v in p.iter_mut() {
            *v += 0.3 * (rng(&mut s) - 0.5);
        }
        let lat: Vec<f32> = (0..m.latents).map(|_| 3.0 * (rng(&mut s) - 0.5)).collect();
        (m, p, lat)
    }

    /// Straightforward f64 reference of the loss (no blocks, no threads).
    fn ref_loss(m: &Model, p: &[f32], lat: &[f32], lambda: f64) -> f64 {
        let p: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
        let lat: Vec<f64> = lat.iter().map(|&v| f64::from(v)).collect();
        ref_loss_f64(m, &p, &lat, lambda)
    }

    fn ref_loss_f64(m: &Model, p: &[f64], lat: &[f64], lambda: f64) -> f64 {
        let mlp = |layers: &[Dense], skip: Option<&Dense>, res: bool, x: Vec<f64>| {
            let lin: Vec<f64> = skip.map_or(Vec::new(), |d| {
                (0..d.fan_out)
                    .map(|j| {
                        p[d.b + j]
                            + (0..d.fan_in)
                                .map(|k| p[d.w + j * d.fan_in + k] * x[k])
                                .sum::<f64>()
                    })
                    .collect()
            });
            let mut a = x;
            for (i, d) in layers.iter().enumerate() {
                let mut o = vec![0.0; d.fan_out];
                for (j, oj) in o.iter_mut().enumerate() {
                    let mut s = p[d.b + j];
                    for (k, ak) in a.iter().enumerate() {
                        s += p[d.w + j * d.fan_in + k] * ak;
                    }
                    if res && i + 1 < layers.len() {
                        s += a[j];
                    }
                    *oj = if i + 1 < layers.len() { s.max(0.0) } else { s };
                }
                a = o;
            }
            for (o, l) in a.iter_mut().zip(&lin) {
                *o += l;
            }
            a
        };
        let mut bits = 0.0;
        for lv in &m.levels {
            for y in 0..lv.h {
                for x in 0..lv.w {
                    let mut ctx: Vec<f64> = CTX_OFFSETS[..m.arch.ctx]
                        .iter()
                        .map(|&(dy, dx)| {
                            let (yy, xx) = (y as i32 + dy, x as i32 + dx);
                            if yy < 0 || xx < 0 || yy >= lv.h as i32 || xx >= lv.w as i32 {
                                0.0
                            } else {
                                lat[lv.off + yy as usize * lv.w + xx as usize]
                            }
                        })
                        .collect();
                    // Parents: the co-located latent of each coarser level (by level index,
                    // independently of the kernel's planar layout).
                    let l = m.levels.iter().position(|o| o.off == lv.off).unwrap();
                    for k in 0..m.arch.parents {
                        ctx.push(match m.levels.get(l + 1 + k) {
                            Some(pl) => {
                                let f = 1 << (k + 1);
                                lat[pl.off + (y / f) * pl.w + x / f]
                            }
                            None => 0.0,
                        });
                    }
                    let coarse = |j: usize| match m.levels.get(l + 1 + j) {
                        Some(pl) => {
                            let f = 1 << (j + 1);
                            lat[pl.off + (y / f) * pl.w + x / f]
                        }
                        None => 0.0,
                    };
                    for f in 0..m.arch.ifce {
                        ctx.push(match m.layout.ifce.get(l) {
                            Some(d) => {
                                p[d.b + f]
                                    + (0..d.fan_in)
                                        .map(|j| p[d.w + f * d.fan_in + j] * coarse(j))
                                        .sum::<f64>()
                            }
                            None => 0.0,
                        });
                    }
                    let o = mlp(
                        &m.layout.arm,
                        m.layout.arm_skip.as_ref(),
                        m.arch.arm_residual,
                        ctx,
                    );
                    let b = o[1]
                        .clamp(f64::from(laplace::LS_MIN), f64::from(laplace::LS_MAX))
                        .exp();
                    let v = lat[lv.off + y * lv.w + x] - o[0];
                    let cdf = |t: f64| {
                        if t < 0.0 {
                            0.5 * (t / b).exp()
                        } else {
                            1.0 - 0.5 * (-t / b).exp()
                        }
                    };
                    bits -= (cdf(v + 0.5) - cdf(v - 0.5)).log2();
                }
            }
        }
        let (w, h) = (m.width, m.height);
        let mut x0 = vec![0.0; 3 * w * h];
        for y in 0..h {
            for x in 0..w {
                let inp: Vec<f64> = m
                    .levels
                    .iter()
                    .map(|lv| {
                        let (tx, ty) = (lv.xt[x], lv.yt[y]);
                        let g = |r: u32, c: u32| lat[lv.off + r as usize * lv.w + c as usize];
                        let mut v = 0.0;
                        for a in 0..TAPS {
                            for b in 0..TAPS {
                                v += f64::from(lv.yw[y][a])
                                    * f64::from(lv.xw[x][b])
                                    * g(ty.i[a], tx.i[b]);
                            }
                        }
                        v
                    })
                    .collect();
                let o = mlp(&m.layout.syn, m.layout.syn_skip.as_ref(), false, inp);
                for c in 0..3 {
                    x0[y * 3 * w + c * w + x] = o[c];
                }
            }
        }
        let out = match m.layout.conv {
            None => x0,
            Some((cw, cb)) => {
                let mut out = x0.clone();
                for y in 0..h {
                    for x in 0..w {
                        for co in 0..3 {
                            let mut s = p[cb + co];
                            for ci in 0..3 {
                                for ky in 0..3 {
                                    for kx in 0..3 {
                                        let (yy, xx) = (y as i32 + ky - 1, x as i32 + kx - 1);
                                        if yy >= 0 && xx >= 0 && yy < h as i32 && xx < w as i32 {
                                            s += p[cw
                                                + ((co * 3 + ci) * 3 + ky as usize) * 3
                                                + kx as usize]
                                                * x0[yy as usize * 3 * w + ci * w + xx as usize];
                                        }
                                    }
                                }
                            }
                            out[y * 3 * w + co * w + x] += s;
                        }
                    }
                }
                out
            }
        };
        let mse = out
            .iter()
            .zip(&m.target)
            .map(|(a, b)| (a - f64::from(*b)).powi(2))
            .sum::<f64>()
            / out.len() as f64;
        mse + lambda * bits / m.pixels() as f64
    }

    fn check(conv: bool, upsampling: Upsampling) {
        check_with(conv, upsampling, 0);
    }

    fn check_with(conv: bool, upsampling: Upsampling, parents: usize) {
        check_arch(conv, upsampling, parents, false, (0, 0, false));
    }

    fn check_arch(
        conv: bool,
        upsampling: Upsampling,
        parents: usize,
        skips: bool,
        ifce: (usize, usize, bool),
    ) {
        let (mut m, p, lat) = setup_arch(conv, upsampling, parents, skips, ifce);
        // Several rows per task and uneven last tasks: 3 rows of 21, 13 rows at level 0.
        m.task_values = 63;
        let lambda = 0.05f32;
        let mut gp = vec![0.0; p.len()];
        let mut gl = vec![0.0; lat.len()];
        let mut s = m.scratch();
        let st = m.step(&p, &lat, lambda, &mut gp, &mut gl, &mut s);
        let l64 = ref_loss(&m, &p, &lat, f64::from(lambda));
        assert!(
            (st.loss(f64::from(lambda), m.pixels()) - l64).abs() < 1e-5 * l64,
            "forward differs from the reference"
        );
        let h = 1e-6f64;
        let pd: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
        let ld: Vec<f64> = lat.iter().map(|&v| f64::from(v)).collect();
        // f32 copies cannot carry a 1e-6 step exactly: perturb in f64 inside the reference.
        let eval = |pp: &[f64], ll: &[f64]| ref_loss_f64(&m, pp, ll, f64::from(lambda));
        let scale = gp.iter().chain(&gl).map(|g| g.abs()).fold(0.0f32, f32::max) as f64;
        let mut worst = 0.0f64;
        for i in 0..p.len() {
            let (mut a, mut b) = (pd.clone(), pd.clone());
            a[i] += h;
            b[i] -= h;
            let fd = (eval(&a, &ld) - eval(&b, &ld)) / (2.0 * h);
            let err = (fd - f64::from(gp[i])).abs() / scale;
            worst = worst.max(err);
            assert!(
                err < 1e-4,
                "param {i}: analytic {:e}, finite difference {fd:e}",
                gp[i]
            );
        }
        for i in 0..lat.len() {
            let (mut a, mut b) = (ld.clone(), ld.clone());
            a[i] += h;
            b[i] -= h;
            let fd = (eval(&pd, &a) - eval(&pd, &b)) / (2.0 * h);
            let err = (fd - f64::from(gl[i])).abs() / scale;
            worst = worst.max(err);
            assert!(
                err < 1e-4,
                "latent {i}: analytic {:e}, finite difference {fd:e}",
                gl[i]
            );
        }
        eprintln!("worst gradient error relative to the largest gradient: {worst:e}");
    }

    #[test]
    fn gradients_match_finite_differences_without_conv() {
        check(false, Upsampling::Bilinear);
    }

    #[test]
    fn gradients_match_finite_differences_with_conv() {
        check(true, Upsampling::Bilinear);
    }

    #[test]
    fn gradients_match_finite_differences_with_cubic_upsampling() {
        check(true, Upsampling::CatmullRom);
        check(false, Upsampling::BSpline);
    }

    #[test]
    fn gradients_match_finite_differences_with_linear_paths() {
        check_arch(true, Upsampling::Bilinear, 0, true, (0, 0, false));
        check_arch(false, Upsampling::Bilinear, 2, true, (0, 0, false));
    }

    #[test]
    fn gradients_match_finite_differences_with_inter_level_features() {
        // Three levels: projections on level 0 (reads levels 1, 2) and on both 0 and 1 (level 1
        // reads level 2 and a missing one); alone, with a parent input and the linear paths.
        check_arch(true, Upsampling::Bilinear, 0, false, (3, 1, false));
        check_arch(false, Upsampling::Bilinear, 1, true, (2, 2, false));
    }

    #[test]
    fn gradients_match_finite_differences_with_residual_arm() {
        check_arch(true, Upsampling::Bilinear, 0, false, (0, 0, true));
        check_arch(false, Upsampling::Bilinear, 1, true, (3, 2, true));
    }

    #[test]
    fn gradients_match_finite_differences_with_parent_inputs() {
        // Three levels: with 3 parents, level 0 reads levels 1, 2 and a missing one, level 1
        // reads level 2 and two missing ones, level 2 none; the same with 2 parents.
        check_with(true, Upsampling::Bilinear, 3);
        check_with(false, Upsampling::Bilinear, 2);
    }

    /// Every kernel's taps sum to one, interpolate where they should, and reproduce the
    /// original bilinear weights (`f / 2^(l+1)` on the second of two neighbours).
    #[test]
    fn upsampling_taps() {
        let one = 1 << UP_FRAC;
        for k in Upsampling::ALL {
            for l in 0..MAX_LEVELS {
                for n in [1usize, 2, 5, 13] {
                    let full = n << l;
                    for t in taps(k, l, n, full.max(1)) {
                        assert_eq!(t.w.iter().sum::<i32>(), one, "{k:?} level {l}");
                        assert!(t.i.iter().all(|&i| (i as usize) < n));
                    }
                }
            }
        }
        // Bilinear at level 2, 8 outputs from 2 samples: u = -3/8, -1/8, 1/8, 3/8, ...
        let t = taps(Upsampling::Bilinear, 2, 2, 8);
        assert_eq!((t[0].i[0], t[0].i[1]), (0, 0)); // left edge, replicated
        assert_eq!((t[0].w[0], t[0].w[1]), (3 * one / 8, 5 * one / 8));
        assert_eq!((t[2].i[1], t[2].w[0], t[2].w[1]), (1, 7 * one / 8, one / 8)); // u = 1/8
        assert_eq!((t[5].i[1], t[5].w[0], t[5].w[1]), (1, one / 8, 7 * one / 8)); // u = 7/8
                                                                                  // Catmull-Rom at level 1, output 6 (u = 2.75): (-3, 29, 111, -9) / 128.
        let t = taps(Upsampling::CatmullRom, 1, 8, 16);
        assert_eq!(t[6].i, [1, 2, 3, 4]);
        assert_eq!(t[6].w, [-3 * 32, 29 * 32, 111 * 32, -9 * 32]);
        // B-spline: symmetric, positive.
        let t = taps(Upsampling::BSpline, 1, 8, 16);
        assert!(t[6].w.iter().all(|&w| w > 0));
        assert_eq!(t[6].w, [t[7].w[3], t[7].w[2], t[7].w[1], t[7].w[0]]);
    }

    /// Every kernel variant this CPU can run gives the same gradients (to float rounding).
    #[test]
    fn kernel_variants_agree() {
        use super::super::simd::{available, set_isa};
        let (mut m, p, lat) = setup_arch(true, Upsampling::Bilinear, 0, true, (0, 0, false));
        m.bf16 = true;
        let mut results = Vec::new();
        for isa in available() {
            set_isa(Some(isa));
            let mut gp = vec![0.0; p.len()];
            let mut gl = vec![0.0; lat.len()];
            let mut s = m.scratch();
            let st = m.step(&p, &lat, 0.05, &mut gp, &mut gl, &mut s);
            results.push((isa, st, gp, gl));
        }
        set_isa(None);
        let (_, st0, gp0, gl0) = &results[0];
        let scale = gp0
            .iter()
            .chain(gl0)
            .map(|g| g.abs())
            .fold(0.0f32, f32::max);
        for (isa, st, gp, gl) in &results[1..] {
            // The bf16 variant rounds the multiplicands of its dot products to 8 bits.
            let (tm, tb, tg) = if *isa == Isa::Avx512Bf16 {
                (2e-3, 1e-3, 1e-2)
            } else {
                (1e-6, 1e-4, 1e-4)
            };
            assert!(
                (st.mse - st0.mse).abs() < tm * st0.mse,
                "{isa:?}: {st:?} vs {st0:?}"
            );
            assert!(
                (st.bits - st0.bits).abs() < tb * st0.bits,
                "{isa:?}: {st:?} vs {st0:?}"
            );
            for (a, b) in gp.iter().chain(gl).zip(gp0.iter().chain(gl0)) {
                assert!((a - b).abs() <= tg * scale, "{isa:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn reconstruct_matches_step_distortion() {
        let (m, p, lat) = setup_arch(true, Upsampling::Bilinear, 0, true, (0, 0, false));
        let rec = m.reconstruct(&p, &lat);
        let mut gp = vec![0.0; p.len()];
        let mut gl = vec![0.0; lat.len()];
        let mut s = m.scratch();
        let st = m.step(&p, &lat, 0.0, &mut gp, &mut gl, &mut s);
        let mse: f64 = rec
            .iter()
            .zip(&m.target)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / rec.len() as f64;
        assert!((mse - st.mse).abs() < 1e-6 * (1.0 + mse));
    }
}
