//! The encoder: fit latents and networks to one image, quantize, write the bitstream.
//!
//! Adam (latents, biases) and SOAP (the networks' weight matrices, [`super::soap`]) on
//! `MSE + λ · bpp` with a cosine learning-rate schedule, in two phases: latents
//! soft-rounded with uniform noise `U(−½, ½)` at a falling temperature
//! ([`EncodeOptions::soft_rounding`]; rate and distortion both see the noisy values), then
//! straight-through rounding (forward `round(y)`, identity gradient) at 1/100 of the learning
//! rate, Adam's moments carried over ([`ROUND_LR_SCALE`]).
//! Finally the weights are quantized, searching per network for the fraction bits that give
//! the lowest `D + λ R` measured with the exact integer decoder, and the latents are coded with
//! the integer ARM, so the reconstruction returned is the decoder's, bit for bit.
use std::time::Instant;

use rayon::prelude::*;

use super::fixed::{QNet, QTensor};
use super::model::{Arch, Model, Scratch, Stats, Upsampling};
use super::simd::multiversion;
use super::soap::{Soap, SoapConfig};
use super::stream;
use super::vmath;
use super::OverfitError;

pub use crate::family::Effort;

impl Effort {
    /// Iterations of the two phases (noise, then straight-through rounding). Effort is a count
    /// of iterations, not a time: the same command gives the same file on any machine of the
    /// same ISA class, at any load and thread count. [`EncodeOptions::time_limit`] is an
    /// optional cap on top (the schedule then shrinks to fit, and the file depends on the
    /// machine). Default effort is Cool-chic 5's budget of 10,000 iterations per image
    /// (2.5–6 minutes for a Kodak image on 2 cores at 15–35 ms per iteration).
    pub fn iterations(self) -> (usize, usize) {
        match self {
            Effort::Fast => (1500, 300),
            Effort::Default => (8500, 1500),
            Effort::Slow => (20000, 4000),
        }
    }
}

/// The architecture the encoder uses at `quality`. From quality 2 on: 7 latent levels, an ARM
/// of 12 causal neighbours and 6 inter-level features → 18 → 18 (residual) → (μ, ln b), a
/// synthesis 7 → 48 → 3 with the residual 3×3 convolution (Cool-chic's HOP width; before
/// 2026-12-08 7 → 24 → 24 → 3: at 2,000 iterations, quality 3, the single layer of 48 gave
/// `J` −2.4% / −0.4% on kodim04 / kodim14 with 0.004–0.006 bpp less of weights, and 336 fewer
/// synthesis MACs per pixel). Below quality 2 (under about 0.15 bpp on Kodak), where
/// the networks' weights are a sixth of a file, the ARM has 8 neighbours and two layers of 8 and
/// the synthesis one hidden layer of 24 (541 MAC/pixel, and a step about a third faster): at
/// quality 1 and equal time, kodim23 went from 0.0732 bpp / 28.28 dB to 0.0686 / 28.37 and
/// kodim04 from 0.0636 / 27.08 to 0.0596 / 27.03 (ARM alone). The small ARM at every quality
/// looked even or better in 1,200–1,540-iteration fits of qualities 4 and 6, but in six-image
/// default-effort runs on one machine it lost from quality 3 on (quality 7: 1.471 bpp /
/// 35.49 dB against 1.394 / 35.36 with the larger ARM; BD-rate +2.2%), so it stays below 2.
///
/// From quality 2 on the ARM also reads inter-level features (6 per latent, a projection of the
/// co-located latents of all coarser levels, own weights for each of the three finest levels)
/// and its two hidden layers are residual, 18 wide (`docs/overfit-notes.md`, 2026-12-08: on a
/// 256² crop of kodim04 at 2,000 iterations −27% in `MSE + λ·R` of the latents, on full
/// kodim04/14/23 at quality 3 −4.6% / −2.2% / −0.1% in `J` of the real file). Below quality 2
/// their weights cost what they gain (kodim04 quality 1: −0.4%), so the small ARM stays.
pub fn default_arch(quality: f32) -> Arch {
    let low = quality < 2.0;
    let (ctx, ifce) = if low { (8, 0) } else { (12, 6) };
    Arch {
        levels: 7,
        ctx,
        parents: 0,
        arm_hidden: if low { vec![8, 8] } else { vec![ctx + ifce; 2] },
        syn_hidden: if low { vec![24] } else { vec![48] },
        conv: true,
        upsampling: Upsampling::Bilinear,
        arm_skip: false,
        syn_skip: false,
        ifce,
        ifce_levels: if low { 0 } else { 3 },
        arm_residual: !low,
    }
}

/// Encoder settings.
#[derive(Clone, Debug)]
pub struct EncodeOptions {
    /// Quality: `λ = 0.02 · 2^(1 − quality)` (1 = lowest rate, about 0.1 bpp; 8 ≈ 1.5 bpp).
    pub quality: f32,
    /// How many iterations to fit ([`Effort::iterations`]).
    pub effort: Effort,
    /// Optional wall-clock cap in seconds of the encode: the schedule is shortened to fit (and
    /// the file then depends on the machine's speed).
    pub time_limit: Option<f64>,
    /// Architecture (`None`: [`default_arch`] of the quality).
    pub arch: Option<Arch>,
    /// Override of the iteration counts of the two phases.
    pub iterations: Option<(usize, usize)>,
    /// Seed of the initialization and the noise.
    pub seed: u64,
    /// Peak learning rate of the networks (noise phase; the rounding phase uses
    /// [`ROUND_LR_SCALE`] of it). Default 0.02, tuned for SOAP ([`EncodeOptions::soap`]);
    /// with Adam 0.01 was the tuned value (0.02 gave the same `J` on kodim23 q3).
    pub lr: f32,
    /// Soft rounding in the noise phase: the latents enter as `s_T(s_T(y) + u)`, `u` uniform,
    /// with the temperature `T` going linearly from the first value to the second; `None`:
    /// plain additive noise `y + u`. `(0.3, 0.1)` with uniform noise: on a 256² crop of
    /// kodim23, quality 4, 1200 iterations, 0.399 bpp (weights 0.149) at 33.84 dB against
    /// 0.419 (0.146) at 33.05 dB with plain noise (one run each). Default `(0.35, 0.08)`, with
    /// [`EncodeOptions::gaussian_noise`] and [`EncodeOptions::freeze_latents`] (the three
    /// together; see `docs/overfit-notes.md`, session of 2026-12-03 afternoon).
    pub soft_rounding: Option<(f32, f32)>,
    /// Peak learning rate of the latents (default 0.1: on a 256² crop of kodim23, quality 4,
    /// 1200 iterations, 0.01 gave 26.7 dB, 0.1 33.05 dB at 0.27 bpp of latents; 0.2 and 0.4
    /// moved along the same RD curve).
    pub latent_lr: f32,
    /// Noise of the first phase: `None` uniform on `[−½, ½)` (standard deviation 0.289);
    /// `Some((s0, s1))` near-Gaussian (sum of four uniforms) with the standard deviation going
    /// linearly from `s0` to `s1`. Default `(0.22, 0.15)` (Cool-chic 5's schedule, with the
    /// soft-rounding temperature 0.35 → 0.08). Measured at 2000 iterations, one run each,
    /// quality 4 on kodim23 / quality 2 on kodim04: uniform noise, T 0.3 → 0.1, latents
    /// trained in the rounding phase 0.2091 bpp / 33.10 dB and 0.0954 / 28.35; this noise and
    /// temperature alone 0.2143 / 32.74 and 0.1069 / 28.26 (worse); with the latents frozen in
    /// the rounding phase 0.1921 / 33.01 and 0.0891 / 28.40; the freeze alone 0.2113 / 33.16
    /// and 0.0941 / 28.36.
    pub gaussian_noise: Option<(f32, f32)>,
    /// In the straight-through phase, keep the latents as they are and fit only the networks to
    /// the rounded latents (default: see [`EncodeOptions::gaussian_noise`]).
    pub freeze_latents: bool,
    /// Optimizer of the network weight matrices: `Some` SOAP (the default), `None` Adam; the
    /// biases and the latents always use Adam. At equal iterations (1,200, one run each, 1
    /// thread) SOAP at the default settings lowered `J = MSE + λ·bpp` by 12.6% (kodim23 q3),
    /// 11.6% (kodim19 q1), 6.9% (kodim04 q3) and 4.2% (kodim13 q5) against Adam, both at
    /// learning rate 0.01; at 0.02 (the default with SOAP) kodim23 q3 gained 3.4% more, while
    /// Adam at 0.02 stayed where it was at 0.01. See `docs/overfit-notes.md`.
    pub soap: Option<SoapConfig>,
    /// Candidate initializations `(count, iterations)`: `count` fits from seeds `seed`,
    /// `seed + 1`, … each run the first `iterations` of the schedule (at most half of the noise
    /// phase); the one with the lowest loss of its hard-rounded latents goes on (see
    /// [`EncodeOptions::finalists`]), the others are dropped (their iterations count in
    /// [`Encoded::iterations`] and in the time budget). `(1, 0)`: one fit.
    pub candidates: (usize, usize),
    /// Candidates of [`EncodeOptions::candidates`] that run a second warm-up of the same
    /// length before the best one is chosen (Cool-chic 5: 5 candidates, 2 finalists; 0 or 1:
    /// one stage).
    pub finalists: usize,
    /// Learning-rate factor of the straight-through phase (default [`ROUND_LR_SCALE`]). With
    /// the latents frozen this phase changes little: 10× the default (0.1) gave the same file
    /// within 0.1% on a 512² crop of kodim13, quality 3, 6,000 iterations (2026-12-07 notes).
    pub round_lr_scale: f32,
    /// Every this many iterations (0: never), the loss of the hard-rounded latents is measured
    /// and the best state so far is kept; each phase ends by going back to its best state
    /// (Cool-chic 5 tests every 100 iterations).
    pub test_every: usize,
    /// Largest L2 norm of the networks' gradient (`None`: no clipping; Cool-chic 5 clips at
    /// 0.1).
    pub clip: Option<f32>,
    /// Set from another thread (or the progress callback) to stop the fit: the encode returns
    /// [`OverfitError::Cancelled`] at the next iteration.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl EncodeOptions {
    /// The architecture of this encode.
    pub fn arch(&self) -> Arch {
        self.arch
            .clone()
            .unwrap_or_else(|| default_arch(self.quality))
    }
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            quality: 4.0,
            effort: Effort::Default,
            time_limit: None,
            arch: None,
            iterations: None,
            seed: 1,
            lr: 2e-2,
            latent_lr: 0.1,
            soft_rounding: Some((0.35, 0.08)),
            gaussian_noise: Some((0.22, 0.15)),
            freeze_latents: true,
            soap: Some(SoapConfig::default()),
            candidates: (1, 0),
            finalists: 1,
            round_lr_scale: ROUND_LR_SCALE,
            test_every: 0,
            clip: None,
            cancel: None,
        }
    }
}

/// Learning-rate factor of the straight-through phase. Adam's moments carry over from the
/// noise phase. Measured on a 256² crop of kodim23 at quality 4, 2000 iterations (1/6 of them
/// in this phase): factor 0.25 with the moments reset gave 0.640 bpp / 32.81 dB, with the
/// training rate climbing from 0.35 to 0.60 bpp in this phase. Factor 0.01 gave 0.437 bpp /
/// 32.98 dB, and 0.426 bpp / 33.00 dB without the reset. Factor 0.002 gave 0.430 / 32.80.
pub const ROUND_LR_SCALE: f32 = 0.01;

/// Range of the quality parameter.
pub const QUALITY_RANGE: (f32, f32) = (0.0, 10.0);

/// `λ` of a quality.
pub fn lambda(quality: f32) -> f32 {
    0.02 * (1.0 - quality).exp2()
}

/// Progress report (every few iterations).
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Iterations done.
    pub iteration: usize,
    /// Iterations planned.
    pub total: usize,
    /// Current rate estimate (latents only), bits per pixel.
    pub bpp: f64,
    /// Current PSNR estimate (training reconstruction), dB.
    pub psnr: f64,
    /// `"noise"`, `"round"` or `"quantize"`.
    pub phase: &'static str,
}

/// Encoder output.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The `.lic` file.
    pub bytes: Vec<u8>,
    /// The decoder's reconstruction (interleaved RGB), bit-exact.
    pub rgb: Vec<u8>,
    /// Iterations run (those of dropped candidate initializations included).
    pub iterations: usize,
    /// Mean wall time per iteration, ms.
    pub ms_per_iteration: f64,
    /// Estimated bpp of latents + weights under the integer tables.
    pub bpp_estimate: f64,
    /// Bits of the weights substream.
    pub weight_bits: f64,
    /// Mean ms per iteration in the ARM pass (rate, its gradients).
    pub ms_arm: f64,
    /// Mean ms per iteration in the synthesis pass (upsampling, MLP, convolution, gradients).
    pub ms_synthesis: f64,
    /// Seconds spent on the final quantization search and coding.
    pub quantize_seconds: f64,
}

/// The networks' optimizer.
enum NetOptimizer {
    Adam(Adam),
    Soap(Box<Soap>),
}

struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

/// Values per rayon task of the per-latent loops.
const CHUNK: usize = 8192;

impl Adam {
    fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// One Adam step on `x` with gradient `g`, the result clamped to `±bound`.
    fn step(&mut self, x: &mut [f32], g: &[f32], lr: f32, bound: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.t += 1;
        let c1 = 1.0 - B1.powi(self.t);
        let c2 = 1.0 - B2.powi(self.t);
        let a = lr * c2.sqrt() / c1;
        let eps = 1e-8 * c2.sqrt();
        x.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(
                self.m
                    .par_chunks_mut(CHUNK)
                    .zip(self.v.par_chunks_mut(CHUNK)),
            )
            .for_each(|((x, g), (m, v))| adam_chunk(x, g, m, v, a, eps, bound));
    }
}

multiversion! {
    fn adam_chunk(x: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], a: f32, eps: f32, bound: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        for ((x, g), (m, v)) in x.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut())) {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *x = (*x - a * *m / (v.sqrt() + eps)).clamp(-bound, bound);
        }
    }
}

/// Soft rounding `s_T(y) = ⌊y⌋ + ½ + tanh(r / T) / (2 tanh(1 / 2T))`, `r = y − ⌊y⌋ − ½`
/// (identity as `T → ∞`, rounding as `T → 0`), and its derivative; `inv_t = 1/T`,
/// `c = 1 / (2 tanh(1 / 2T))`.
#[inline(always)]
fn soft_round(y: f32, inv_t: f32, c: f32) -> (f32, f32) {
    let fl = y.floor();
    let th = vmath::tanh((y - fl - 0.5) * inv_t);
    (fl + 0.5 + th * c, (1.0 - th * th) * inv_t * c)
}

/// Counter-based uniform noise in `[−½, ½)` for value `i` under `key` (a 32-bit integer hash,
/// so that the per-latent loop vectorizes and splits over threads).
#[inline(always)]
fn noise(key: u32, i: u32) -> f32 {
    ((hash32(i.wrapping_mul(0x9E37_79B9) ^ key) >> 8) as i32) as f32 * (1.0 / 16_777_216.0) - 0.5
}

/// A 32-bit integer mix (xorshift-multiply).
#[inline(always)]
fn hash32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^ (h >> 16)
}

/// Near-Gaussian noise of standard deviation `sigma` for value `i` under `key`: the sum of
/// four counter-based uniforms (Irwin–Hall, variance 1/3 before scaling; support ±3.46σ).
#[inline(always)]
fn noise_gauss(key: u32, i: u32, sigma: f32) -> f32 {
    let j = i.wrapping_mul(4);
    let u = noise(key, j) + noise(key, j + 1) + noise(key, j + 2) + noise(key, j + 3);
    u * (sigma * 1.732_050_8)
}

/// How the training sees the latents in one iteration.
#[derive(Clone, Copy)]
enum Perturb {
    /// `s_T(s_T(y) + u)` with `(1/T, 1 / (2 tanh(1/2T)))`, `u` uniform on `[−½, ½)`.
    Soft(f32, f32),
    /// The same with near-Gaussian noise of the given standard deviation.
    SoftGauss(f32, f32, f32),
    /// `y + u`.
    Noise,
    /// `round(y)` (straight-through).
    Round,
}

/// `hat = s_T(s_T(y) + n(i))` and its derivative `dhat` for the latents `lat` (`i` their
/// index in the chunk); inlined into each ISA variant of [`perturb_chunk`].
#[inline(always)]
fn soft_chunk(
    lat: &[f32],
    hat: &mut [f32],
    dhat: &mut [f32],
    inv_t: f32,
    c: f32,
    n: impl Fn(u32) -> f32,
) {
    for (i, ((q, d), &y)) in hat.iter_mut().zip(dhat.iter_mut()).zip(lat).enumerate() {
        let (s1, d1) = soft_round(y, inv_t, c);
        let (s2, d2) = soft_round(s1 + n(i as u32), inv_t, c);
        *q = s2;
        *d = d1 * d2;
    }
}

multiversion! {
    /// `hat` (and for soft rounding its derivative `dhat`) of the latents `lat` starting at
    /// index `base`.
    fn perturb_chunk(lat: &[f32], hat: &mut [f32], dhat: &mut [f32], mode: Perturb, key: u32, base: u32) {
        match mode {
            Perturb::Soft(inv_t, c) => {
                soft_chunk(lat, hat, dhat, inv_t, c, |i| noise(key, base + i));
            }
            Perturb::SoftGauss(inv_t, c, sigma) => {
                soft_chunk(lat, hat, dhat, inv_t, c, |i| noise_gauss(key, base + i, sigma));
            }
            Perturb::Noise => {
                for (i, (q, &y)) in hat.iter_mut().zip(lat).enumerate() {
                    *q = y + noise(key, base + i as u32);
                }
            }
            Perturb::Round => {
                for (q, &y) in hat.iter_mut().zip(lat) {
                    *q = y.round();
                }
            }
        }
    }
}

fn perturb(lat: &[f32], hat: &mut [f32], dhat: &mut [f32], mode: Perturb, key: u32) {
    lat.par_chunks(CHUNK)
        .zip(hat.par_chunks_mut(CHUNK).zip(dhat.par_chunks_mut(CHUNK)))
        .enumerate()
        .for_each(|(t, (l, (h, d)))| perturb_chunk(l, h, d, mode, key, (t * CHUNK) as u32));
}

/// One fit: the network parameters, the latents and their optimizers.
struct Fit {
    p: Vec<f32>,
    lat: Vec<f32>,
    opt_p: NetOptimizer,
    adam_l: Adam,
    seed_key: u32,
}

/// Buffers that the fits share (overwritten by every step).
struct Work {
    lat_hat: Vec<f32>,
    /// Derivative of the perturbed latents (1 outside soft rounding).
    dhat: Vec<f32>,
    gp: Vec<f32>,
    gl: Vec<f32>,
    scratch: Scratch,
}

impl Fit {
    /// A fit initialized from `seed` (zero latents, random networks).
    fn new(model: &Model, opts: &EncodeOptions, seed: u64) -> Self {
        let p = model.init_params(seed);
        let opt_p = match opts.soap {
            Some(cfg) => {
                let mats = model.layout.matrices();
                NetOptimizer::Soap(Box::new(Soap::new(p.len(), &mats, cfg)))
            }
            None => NetOptimizer::Adam(Adam::new(p.len())),
        };
        Self {
            p,
            lat: vec![0.0; model.latents],
            opt_p,
            adam_l: Adam::new(model.latents),
            seed_key: (seed ^ (seed >> 32)) as u32,
        }
    }

    /// Iteration `it` of a schedule of `n1` noise and `n2` straight-through iterations: the
    /// loss of the perturbed latents, its gradients, one optimizer step.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        model: &Model,
        w: &mut Work,
        opts: &EncodeOptions,
        lam: f32,
        it: usize,
        n1: usize,
        n2: usize,
    ) -> Stats {
        let noise_phase = it < n1;
        let mode = match (noise_phase, opts.soft_rounding) {
            (true, Some((t0, t1))) => {
                let f = it as f32 / n1.max(1) as f32;
                let t = t0 + (t1 - t0) * f;
                let (inv_t, c) = (1.0 / t, 0.5 / (0.5 / t).tanh());
                match opts.gaussian_noise {
                    Some((s0, s1)) => Perturb::SoftGauss(inv_t, c, s0 + (s1 - s0) * f),
                    None => Perturb::Soft(inv_t, c),
                }
            }
            (true, None) => Perturb::Noise,
            (false, _) => Perturb::Round,
        };
        let key = hash32(self.seed_key ^ hash32(it as u32 ^ 0x5bd1_e995));
        let st = self.forward_backward(model, w, lam, mode, key);
        if let Perturb::Soft(..) | Perturb::SoftGauss(..) = mode {
            w.gl.par_chunks_mut(CHUNK)
                .zip(w.dhat.par_chunks(CHUNK))
                .for_each(|(g, d)| g.iter_mut().zip(d).for_each(|(g, d)| *g *= d));
        }
        let (t, n, scale) = if noise_phase {
            (it, n1, 1.0)
        } else {
            (it - n1, n2, opts.round_lr_scale)
        };
        if let Some(max) = opts.clip {
            let norm =
                w.gp.iter()
                    .map(|&g| f64::from(g) * f64::from(g))
                    .sum::<f64>()
                    .sqrt();
            if norm > f64::from(max) {
                let k = (f64::from(max) / norm) as f32;
                w.gp.iter_mut().for_each(|g| *g *= k);
            }
        }
        let cos = 0.5 * (1.0 + (std::f32::consts::PI * t as f32 / n.max(1) as f32).cos());
        let f = scale * cos.max(0.01);
        match &mut self.opt_p {
            NetOptimizer::Adam(a) => a.step(&mut self.p, &w.gp, opts.lr * f, f32::MAX),
            NetOptimizer::Soap(o) => o.step(&mut self.p, &w.gp, opts.lr * f),
        }
        if noise_phase || !opts.freeze_latents {
            self.adam_l
                .step(&mut self.lat, &w.gl, opts.latent_lr * f, 16000.0);
        }
        st
    }
}

impl Fit {
    /// The loss terms and their gradients (into `w`) at the latents as `mode` perturbs them.
    fn forward_backward(
        &self,
        model: &Model,
        w: &mut Work,
        lam: f32,
        mode: Perturb,
        key: u32,
    ) -> Stats {
        perturb(&self.lat, &mut w.lat_hat, &mut w.dhat, mode, key);
        model.step(
            &self.p,
            &w.lat_hat,
            lam,
            &mut w.gp,
            &mut w.gl,
            &mut w.scratch,
        )
    }

    /// `MSE + λ·bpp` of the hard-rounded latents (the networks in float): what the fit would
    /// give if it stopped here, up to the weights' quantization. Leaves the optimizers alone
    /// (the gradients it leaves in `w` are overwritten by the next step).
    fn hard_loss(&self, model: &Model, w: &mut Work, lam: f32) -> f64 {
        self.forward_backward(model, w, lam, Perturb::Round, 0)
            .loss(f64::from(lam), model.pixels())
    }
}

fn psnr(mse: f64) -> f64 {
    if mse <= 0.0 {
        99.0
    } else {
        -10.0 * mse.log10()
    }
}

/// `rgb`: interleaved 8-bit RGB of `width × height`.
pub fn encode(
    rgb: &[u8],
    width: u32,
    height: u32,
    gray: bool,
    opts: &EncodeOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Encoded, OverfitError> {
    let arch = opts.arch();
    arch.check()
        .map_err(|m| OverfitError::params(super::MODEL_ID, m))?;
    let (w, h) = (width as usize, height as usize);
    if rgb.len() != 3 * w * h || w == 0 || h == 0 {
        return Err(OverfitError::params(
            super::MODEL_ID,
            format!("{}-byte image buffer for {width}x{height}", rgb.len()),
        ));
    }
    let lam = lambda(opts.quality);
    let model = Model::new(arch, w, h, rgb);
    let mut work = Work {
        lat_hat: vec![0.0f32; model.latents],
        dhat: vec![1.0f32; model.latents],
        gp: vec![0.0f32; model.layout.len],
        gl: vec![0.0f32; model.latents],
        scratch: model.scratch(),
    };
    let (mut n1, mut n2) = opts.iterations.unwrap_or(opts.effort.iterations());
    // The fitting gets most of the budget; the quantization search and coding the rest.
    // The six-image default-effort evaluation of 0fd7168 took 139–148 s per 180 s encode at
    // 0.85, the quantization search a few seconds of it; that of 0e8df35 144–162 s at 0.92
    // with the rounding phase ending early (it was not re-fitted, and its steps are faster).
    let share = if opts.effort == Effort::Fast {
        0.8
    } else {
        0.95
    };
    let budget = opts.time_limit.map(|t| share * t);
    let start = Instant::now();
    let pixels = model.pixels() as f64;
    // Candidate initializations (Cool-chic's warm-up): each runs the first `warm` iterations
    // of the schedule from its own seed; the `finalists` with the lowest hard-rounded loss run
    // `warm` more, and the best of them by the same test goes on.
    let (count, warm) = opts.candidates;
    let warm = if count > 1 { warm.min(n1 / 2) } else { 0 };
    let finalists = if count > 1 {
        opts.finalists.clamp(1, count)
    } else {
        1
    };
    let stage2 = if finalists > 1 { warm } else { 0 };
    let cancelled = || {
        opts.cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    };
    let warm_total = count * warm + finalists * stage2;
    let mut done = 0;
    let mut warm_up = |fit: &mut Fit, from: usize, to: usize, work: &mut Work| {
        for it in from..to {
            if cancelled() {
                return Err(OverfitError::Cancelled);
            }
            let st = fit.step(&model, work, opts, lam, it, n1, n2);
            done += 1;
            if done % 25 == 0 {
                progress(&Progress {
                    iteration: done,
                    total: warm_total,
                    bpp: st.bits / pixels,
                    psnr: psnr(st.mse),
                    phase: "candidates",
                });
            }
        }
        Ok(fit.hard_loss(&model, work, lam))
    };
    let mut fit = if count > 1 {
        let mut pool: Vec<(f64, Fit)> = Vec::with_capacity(finalists + 1);
        for c in 0..count {
            let mut f = Fit::new(&model, opts, opts.seed.wrapping_add(c as u64));
            let score = warm_up(&mut f, 0, warm, &mut work)?;
            pool.push((score, f));
            pool.sort_by(|a, b| a.0.total_cmp(&b.0));
            pool.truncate(finalists);
        }
        if stage2 > 0 {
            for (score, f) in pool.iter_mut() {
                *score = warm_up(f, warm, warm + stage2, &mut work)?;
            }
            pool.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        pool.swap_remove(0).1
    } else {
        Fit::new(&model, opts, opts.seed)
    };
    // Iterations of the candidates that were dropped (they count in the time per iteration).
    let extra = (count.max(1) - 1) * warm + (finalists - 1) * stage2;
    let warm = warm + stage2;
    // Start of the rounding phase (its steps are faster: no noise, frozen latents).
    let mut round_start = None;
    let mut it = warm;
    let mut last = Stats::default();
    // The best hard-rounded state so far: its loss, parameters and latents.
    let mut best_state: Option<(f64, Vec<f32>, Vec<f32>)> = None;
    while it < n1 + n2 {
        if cancelled() {
            return Err(OverfitError::Cancelled);
        }
        let noise_phase = it < n1;
        last = fit.step(&model, &mut work, opts, lam, it, n1, n2);
        it += 1;
        let phase_end = it == n1 || it == n1 + n2;
        if opts.test_every > 0 && (it % opts.test_every == 0 || phase_end) {
            let loss = fit.hard_loss(&model, &mut work, lam);
            if best_state.as_ref().is_none_or(|b| loss < b.0) {
                best_state = Some((loss, fit.p.clone(), fit.lat.clone()));
            }
            if phase_end {
                if let Some((_, p, lat)) = &best_state {
                    fit.p.copy_from_slice(p);
                    fit.lat.copy_from_slice(lat);
                }
            }
        }
        if it == n1 {
            round_start = Some((Instant::now(), it));
        }
        if let (Some(limit), true) = (budget, it % 20 == 0 && it < n1) {
            // Fit the rest of the schedule into the budget (re-estimated every 20 iterations,
            // the machine's load varies), keeping the phase proportions.
            let per = start.elapsed().as_secs_f64() / (it + extra) as f64;
            let fits = ((limit / per) as usize).saturating_sub(extra).max(it + 20);
            if fits < n1 + n2 {
                let total = n1 + n2;
                n2 = (n2 * fits / total).max(10);
                n1 = (fits - n2).max(it + 1);
            }
        }
        if let (Some(limit), Some((t0, i0))) = (budget, round_start) {
            // The rounding phase at its own pace: lengthened (up to its cap) or shortened to
            // end with the budget.
            if it % 20 == 0 && it > i0 {
                let per = t0.elapsed().as_secs_f64() / (it - i0) as f64;
                let left = (limit - start.elapsed().as_secs_f64()).max(0.0);
                let cap = opts.iterations.unwrap_or(opts.effort.iterations()).1;
                // Never below the steps already taken (which ends the phase now; `n2 ≥ done`
                // here, so the range is never empty), never above the cap or the current length.
                let done = it - n1;
                n2 = (done + (left / per) as usize).clamp(done, cap.max(n2));
            }
        }
        if it % 25 == 0 || it == n1 + n2 {
            progress(&Progress {
                iteration: it,
                total: n1 + n2,
                bpp: last.bits / pixels,
                psnr: psnr(last.mse),
                phase: if noise_phase { "noise" } else { "round" },
            });
        }
    }
    let Fit { p, lat, .. } = fit;
    let scratch = work.scratch;
    let it = it + extra;
    let ms = start.elapsed().as_secs_f64() * 1e3 / it.max(1) as f64;
    let time_arm = scratch.timing[0] * 1e3 / it.max(1) as f64;
    let time_syn = scratch.timing[1] * 1e3 / it.max(1) as f64;
    progress(&Progress {
        iteration: it,
        total: n1 + n2,
        bpp: last.bits / pixels,
        psnr: psnr(last.mse),
        phase: "quantize",
    });
    let tq = Instant::now();
    let grids: Vec<Vec<i32>> = model
        .levels
        .iter()
        .map(|lv| {
            lat[lv.off..lv.off + lv.w * lv.h]
                .iter()
                .map(|&v| v.round() as i32)
                .collect()
        })
        .collect();
    let fracs: &[u8] = if opts.effort == Effort::Fast {
        &[6, 8, 12]
    } else {
        &[4, 5, 6, 7, 8, 9, 11, 12]
    };
    let best = quantize_search(
        &model,
        &p,
        &grids,
        rgb,
        lam,
        fracs,
        width,
        height,
        gray,
        opts.quality,
    )?;
    Ok(Encoded {
        bytes: best.bytes,
        rgb: best.rgb,
        iterations: it,
        ms_per_iteration: ms,
        ms_arm: time_arm,
        ms_synthesis: time_syn,
        bpp_estimate: best.bits / pixels,
        weight_bits: best.weight_bits,
        quantize_seconds: tq.elapsed().as_secs_f64(),
    })
}

struct Candidate {
    bytes: Vec<u8>,
    rgb: Vec<u8>,
    bits: f64,
    weight_bits: f64,
}

fn mse_u8(a: &[u8], b: &[u8]) -> f64 {
    let s: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i64::from(x) - i64::from(y);
            (d * d) as u64
        })
        .sum();
    s as f64 / a.len() as f64 / (255.0 * 255.0)
}

/// Tries fraction bits `fracs` (and 10) per network (synthesis, convolution, ARM), then ±1 on
/// each weight matrix alone, measuring `D + λ · bpp` with the integer decoder's functions and
/// the ideal code lengths, then writes the best.
#[allow(clippy::too_many_arguments)]
fn quantize_search(
    model: &Model,
    p: &[f32],
    grids: &[Vec<i32>],
    rgb: &[u8],
    lam: f32,
    fracs: &[u8],
    width: u32,
    height: u32,
    gray: bool,
    quality: f32,
) -> Result<Candidate, OverfitError> {
    use rayon::prelude::*;
    let tensors = model.layout.tensors();
    let n_arm = 2
        * (model.layout.arm.len()
            + usize::from(model.layout.arm_skip.is_some())
            + model.layout.ifce.len());
    let n_syn = 2 * (model.layout.syn.len() + usize::from(model.layout.syn_skip.is_some()));
    let group = |i: usize| {
        if i < n_arm {
            0
        } else if i < n_arm + n_syn {
            1
        } else {
            2
        }
    };
    let (w, h) = (width as usize, height as usize);
    let pixels = f64::from(width) * f64::from(height);
    let dims = stream::level_dims(w, h, model.arch.levels);
    let net_of = |fr: &[u8]| {
        let q: Vec<QTensor> = tensors
            .iter()
            .zip(fr)
            .map(|(&(off, len), &f)| QTensor::quantize(&p[off..off + len], f))
            .collect();
        QNet::new(model.arch.clone(), q)
    };
    let weight_bits = |net: &QNet, g: usize| -> f64 {
        net.tensors
            .iter()
            .enumerate()
            .filter(|(i, _)| group(*i) == g)
            .map(|(_, t)| stream::best_weight_table(&t.values).1)
            .sum()
    };
    let latent_bits = |net: &QNet| -> f64 {
        (0..grids.len())
            .into_par_iter()
            .map(|l| {
                let (sym, idx) = net.code_grid(grids, &dims, l);
                crate::coder::ideal_bits(super::laplace::tables(), &sym, &idx)
                    .unwrap_or(f64::INFINITY)
            })
            .sum()
    };
    let dist = |net: &QNet| mse_u8(&net.synthesize(grids, w, h), rgb);
    let lam = f64::from(lam);
    let cost = |d: f64, bits: f64| d + lam * bits / pixels;
    // The cost that a change of group `g`'s tensors moves: the ARM changes only the rate (its
    // weights and the latents'), the synthesis and the convolution the distortion and their
    // own weights.
    let group_cost = |net: &QNet, g: usize| {
        if g == 0 {
            cost(0.0, latent_bits(net) + weight_bits(net, 0))
        } else {
            cost(dist(net), weight_bits(net, g))
        }
    };
    let groups: Vec<usize> = if model.layout.conv.is_some() {
        vec![1, 2, 0]
    } else {
        vec![1, 0]
    };
    let mut fr = vec![10u8; tensors.len()];
    let mut best = [f64::INFINITY; 3];
    for &g in &groups {
        best[g] = group_cost(&net_of(&fr), g);
    }
    // One fraction-bit count per network first, then each weight matrix on its own (±1).
    for &g in &groups {
        for &f in fracs {
            let t: Vec<u8> = (0..fr.len())
                .map(|i| if group(i) == g { f } else { fr[i] })
                .collect();
            let c = group_cost(&net_of(&t), g);
            if c < best[g] {
                best[g] = c;
                fr = t;
            }
        }
    }
    for (i, _) in tensors.iter().enumerate().step_by(2) {
        let g = group(i);
        for f in [fr[i].saturating_sub(1), fr[i] + 1] {
            if !(2..=super::fixed::MAX_FRAC).contains(&f) || f == fr[i] {
                continue;
            }
            let mut t = fr.clone();
            t[i] = f;
            let c = group_cost(&net_of(&t), g);
            if c < best[g] {
                best[g] = c;
                fr = t;
            }
        }
    }
    let wb = [1usize, 2].map(|g| weight_bits(&net_of(&fr), g));
    let net = net_of(&fr);
    let bytes = stream::write(width, height, gray, quality, &net, grids)?;
    Ok(Candidate {
        bits: bytes.len() as f64 * 8.0,
        weight_bits: wb[0] + wb[1] + weight_bits(&net, 0),
        rgb: net.synthesize(grids, w, h),
        bytes,
    })
}
