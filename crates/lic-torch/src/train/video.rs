//! `lic video train`: trains the temporal prior of a video model over a frozen base image model.
//!
//! The base model's transforms and hyperprior stay fixed, so the frames' latents `y_t` are
//! fixed too and only the rate of the inter frames is learned: for each training sequence of
//! `frames` ≥ 3 frames, frame 0 is coded as an intra frame (`ŷ_0 = round(y_0 − μ_h) + μ_h`), and
//! each later frame's parameters come from the prior on the **decoded** latents of the frames
//! before it (`ŷ_t = round(y_t − μ_t) + μ_t`, fed back exactly as the decoder will have them), so
//! errors cannot pile up unseen. Loss: the inter frames' latent bits per pixel, with additive
//! uniform noise on `y_t` for the likelihood (the usual relaxation); Adam, gradient clipping,
//! warm-up and step decay as in image training. The rate without the prior (hyperprior alone) on
//! the same frames is logged next to it.
//!
//! Sequences come from video clips (random start, crop, flips and time direction) and, for a
//! fraction `synthetic`, from still images moved by a random global translation and zoom
//! (bilinear resampling; a quarter static, a quarter slower than a pixel per frame): motion the
//! clips alone are too few to cover.
//!
//! Checkpoints hold the prior, Adam's moments, the RNG and the step, so a resumed run continues
//! exactly as an uninterrupted one (same thread count and device).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::adam::Adam;
use super::data::Dataset;
use super::driver::{self, mean, read_checkpoint, write_checkpoint, Progress, StepRecord};
use super::rng::Rng;
use crate::codec::CodecModel;
use crate::entropy::{bits_per_sample, gaussian};
use crate::nn::weights::{self, TensorFile};
use crate::video::model::check_base;
use crate::zoo::temporal::{TemporalConfig, TemporalPrior};
use crate::zoo::{Network, NetworkFamily};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VideoTrainOptions {
    /// The base image model file.
    pub base: PathBuf,
    pub config: TemporalConfig,
    pub clips: Vec<PathBuf>,
    pub stills: Vec<PathBuf>,
    /// Fraction of sequences synthesized from stills (0 with no stills, 1 with no clips).
    pub synthetic: f64,
    /// Frames per training sequence (≥ 3).
    pub frames: i64,
    pub batch: usize,
    pub crop: i64,
    pub steps: u64,
    pub lr: f64,
    pub clip: f64,
    pub warmup: u64,
    pub seed: u64,
    pub log_every: u64,
    pub checkpoint_every: u64,
    /// Largest global motion of synthetic sequences, pixels per frame.
    pub max_shift: f64,
    /// Largest zoom step of synthetic sequences (e.g. 0.03 = ±3% per frame).
    pub max_zoom: f64,
}

impl VideoTrainOptions {
    pub fn new(base: PathBuf, config: TemporalConfig) -> Self {
        VideoTrainOptions {
            base,
            config,
            clips: Vec::new(),
            stills: Vec::new(),
            synthetic: 0.5,
            frames: 4,
            batch: 8,
            crop: 192,
            steps: 4000,
            lr: 1e-4,
            clip: 0.1,
            warmup: 100,
            seed: 0,
            log_every: 50,
            checkpoint_every: 500,
            max_shift: 6.0,
            max_zoom: 0.03,
        }
    }

    /// Learning rate at `step` ([`driver::step_decay`]: warm-up, then ×0.1 at 80% and ×0.01
    /// at 95% of the steps).
    pub fn lr_at(&self, step: u64) -> f64 {
        driver::step_decay(self.lr, self.warmup, self.steps, step)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.config.validate().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            self.frames >= 3,
            "training sequences need at least 3 frames"
        );
        anyhow::ensure!(
            self.batch >= 1 && self.crop >= 64,
            "batch ≥ 1 and crop ≥ 64"
        );
        anyhow::ensure!(
            !self.clips.is_empty() || !self.stills.is_empty(),
            "give video clips (--clips) or still-image folders (--stills)"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.synthetic),
            "--synthetic must be in [0, 1]"
        );
        Ok(())
    }
}

/// Training clips as `[T, 3, H, W]` f32 RGB tensors (CPU), read through FFmpeg.
pub struct Clips {
    pub clips: Vec<Tensor>,
    pub files: Vec<PathBuf>,
}

impl Clips {
    /// Reads every frame of every clip (each at least `min_side` on both sides and `frames` long).
    pub fn load(files: &[PathBuf], min_side: u32, frames: i64) -> anyhow::Result<Clips> {
        use crate::video::io::VideoReader;
        let mut clips = Vec::new();
        for f in files {
            let mut r = VideoReader::open(f, 4096, 1 << 24)
                .with_context(|| format!("{}: cannot read video", f.display()))?;
            let info = r.info().clone();
            anyhow::ensure!(
                info.width >= min_side && info.height >= min_side,
                "{}: {}x{} is smaller than the {min_side}-pixel crop",
                f.display(),
                info.width,
                info.height
            );
            let mut ts = Vec::new();
            while let Some(frame) = r.next_frame()? {
                let rgb = frame.to_rgb_f32(&info.colour);
                ts.push(Tensor::from_slice(&rgb.data).view([
                    3,
                    i64::from(info.height),
                    i64::from(info.width),
                ]));
            }
            anyhow::ensure!(
                ts.len() as i64 >= frames,
                "{}: {} frames, sequences need {frames}",
                f.display(),
                ts.len()
            );
            clips.push(Tensor::stack(&ts, 0));
        }
        Ok(Clips {
            clips,
            files: files.to_vec(),
        })
    }
}

/// Draws training sequences `[B, T, 3, crop, crop]` in [0, 1].
pub struct SequenceSource {
    pub clips: Option<Clips>,
    pub stills: Option<Dataset>,
}

impl SequenceSource {
    fn clip_sequence(clips: &Clips, rng: &mut Rng, t: i64, crop: i64) -> Tensor {
        let clip = &clips.clips[rng.below(clips.clips.len() as u64) as usize];
        let (n, h, w) = (clip.size()[0], clip.size()[2], clip.size()[3]);
        let start = rng.below((n - t + 1) as u64) as i64;
        let y = rng.below((h - crop + 1) as u64) as i64;
        let x = rng.below((w - crop + 1) as u64) as i64;
        let mut s = clip
            .narrow(0, start, t)
            .narrow(2, y, crop)
            .narrow(3, x, crop);
        if rng.below(2) == 1 {
            s = s.flip([3]);
        }
        if rng.below(2) == 1 {
            s = s.flip([0]); // time reversed
        }
        s
    }

    /// A still image moved by a constant global translation and zoom per frame.
    fn synthetic_sequence(
        stills: &Dataset,
        rng: &mut Rng,
        t: i64,
        crop: i64,
        max_shift: f64,
        max_zoom: f64,
    ) -> Tensor {
        let img = &stills.images[rng.below(stills.images.len() as u64) as usize];
        let (h, w) = (img.size()[1] as f64, img.size()[2] as f64);
        let img = img.to_kind(Kind::Float).unsqueeze(0) / 255.0;
        // A quarter of the sequences are static and a quarter move slowly (under a pixel per
        // frame): still backgrounds are common in video, and only such samples teach the prior
        // that a latent can be copied from the previous frame.
        let speed = match rng.below(4) {
            0 => 0.0,
            1 => 1.0 / max_shift.max(1.0),
            _ => 1.0,
        };
        let mut sym = |m: f64| (rng.unit() * 2.0 - 1.0) * m;
        let (dx, dy, dz) = (
            sym(max_shift * speed),
            sym(max_shift * speed),
            sym(max_zoom * speed),
        );
        let (cx, cy) = (sym(0.1), sym(0.1));
        let thetas: Vec<f32> = (0..t)
            .flat_map(|k| {
                let k = k as f64;
                let s = (1.0 + dz).powf(k);
                // Normalized coordinates: the crop covers crop/w of the width, scaled by s.
                let (sx, sy) = (crop as f64 / w * s, crop as f64 / h * s);
                let (tx, ty) = (cx + 2.0 * dx * k / w, cy + 2.0 * dy * k / h);
                [sx, 0.0, tx, 0.0, sy, ty].map(|v| v as f32)
            })
            .collect();
        let theta = Tensor::from_slice(&thetas).view([t, 2, 3]);
        let grid = Tensor::affine_grid_generator(&theta, [t, 3, crop, crop], false);
        // bilinear, border padding, align_corners = false
        img.expand([t, 3, h as i64, w as i64], false)
            .grid_sampler(&grid, 0, 1, false)
    }

    pub fn batch(&self, opts: &VideoTrainOptions, rng: &mut Rng, device: Device) -> Tensor {
        let mut seqs = Vec::with_capacity(opts.batch);
        for _ in 0..opts.batch {
            let synth = match (&self.clips, &self.stills) {
                (Some(_), Some(_)) => rng.unit() < opts.synthetic,
                (None, Some(_)) => true,
                _ => false,
            };
            let s = if synth {
                let stills = self.stills.as_ref().expect("stills");
                Self::synthetic_sequence(
                    stills,
                    rng,
                    opts.frames,
                    opts.crop,
                    opts.max_shift,
                    opts.max_zoom,
                )
            } else {
                let clips = self.clips.as_ref().expect("clips");
                Self::clip_sequence(clips, rng, opts.frames, opts.crop)
            };
            seqs.push(s);
        }
        Tensor::stack(&seqs, 0).to_device(device)
    }
}

/// One logged step: the inter frames' rate with the prior and with the hyperprior alone.
#[derive(Clone, Debug, Serialize)]
pub struct VideoStepLog {
    pub step: u64,
    /// Latent bits per pixel of the inter frames with the temporal prior (the loss).
    pub bpp: f64,
    /// The same frames under the hyperprior alone.
    pub bpp_hyper: f64,
    pub grad_norm: f64,
    pub lr: f64,
    pub seconds: f64,
}

const META_STATE: &str = "lic.video_train_state";

#[derive(Serialize, Deserialize)]
struct SavedState {
    opts: VideoTrainOptions,
    #[serde(flatten)]
    progress: Progress,
    adam_t: u64,
}

pub struct VideoTrainer {
    pub opts: VideoTrainOptions,
    pub device: Device,
    pub base: CodecModel,
    pub vs: nn::VarStore,
    pub prior: TemporalPrior,
    pub adam: Adam,
    /// Step, batch generator, training time and history.
    pub progress: Progress,
}

impl VideoTrainer {
    pub fn new(opts: VideoTrainOptions, device: Device) -> anyhow::Result<VideoTrainer> {
        opts.validate()?;
        let base = CodecModel::load(&opts.base, device)?;
        check_base(&base, &opts.base)?;
        anyhow::ensure!(
            base.config.latent_channels() == opts.config.latent,
            "the prior's latent channels ({}) differ from the base model's ({})",
            opts.config.latent,
            base.config.latent_channels()
        );
        tch::manual_seed(opts.seed as i64);
        let vs = nn::VarStore::new(device);
        let prior = TemporalPrior::new(&vs.root(), opts.config.clone());
        let params = weights::named_vars(&vs, "");
        Ok(VideoTrainer {
            progress: Progress::new(Rng::new(opts.seed)),
            adam: Adam::new(params),
            opts,
            device,
            base,
            vs,
            prior,
        })
    }

    /// Restores a checkpoint written by [`VideoTrainer::save_checkpoint`].
    pub fn resume(path: &Path, device: Device) -> anyhow::Result<VideoTrainer> {
        let (f, state): (_, SavedState) = read_checkpoint(path, META_STATE, "video training")?;
        let mut t = VideoTrainer::new(state.opts, device)?;
        f.load_into(&t.vs, "model.", true)?;
        t.adam.load_state(&f, "adam", state.adam_t)?;
        t.progress = state.progress;
        Ok(t)
    }

    /// Sets the prior's fixed input and output scales from a sample batch (a new run only; they
    /// are part of the checkpoint afterwards).
    pub fn calibrate(&mut self, data: &SequenceSource) {
        let mut rng = Rng::new(self.opts.seed ^ 0xCA11_B8A7E);
        let seq = data.batch(&self.opts, &mut rng, self.device);
        let (lo, hi) = self.base.config.quality_range();
        let q: Vec<f64> = (0..self.opts.batch)
            .map(|i| lo + (hi - lo) * (i as f64 + 0.5) / self.opts.batch as f64)
            .collect();
        let (y, hyper) = self.base_latents(&seq, &q);
        let t = y.size()[1];
        let cur = y.narrow(1, 1, t - 1).flatten(0, 1);
        let prev = y.narrow(1, 0, t - 1).flatten(0, 1).round();
        let h = hyper.narrow(1, 1, t - 1).flatten(0, 1);
        self.prior.set_scales(&h, &prev, &cur);
    }

    /// Starts the prior from a shipped video model's weights.
    pub fn init_from(&mut self, path: &Path) -> anyhow::Result<()> {
        TensorFile::read(path)?.load_into(&self.vs, "", true)?;
        Ok(())
    }

    pub fn save_checkpoint(&self, path: &Path, elapsed: f64) -> anyhow::Result<()> {
        let mut tensors = weights::named_vars(&self.vs, "model.");
        tensors.extend(self.adam.state_tensors("adam"));
        let state = SavedState {
            opts: self.opts.clone(),
            progress: self.progress.saved(elapsed),
            adam_t: self.adam.t,
        };
        write_checkpoint(path, &tensors, META_STATE, &state)
    }

    /// The frozen base model's latents and hyperprior parameters of a `[B, T, 3, c, c]` batch at
    /// per-sequence qualities: `y` and `(μ, σ)` as `[B, T, C, h, w]`, `[B, T, 2C, h, w]`.
    fn base_latents(&self, seq: &Tensor, q: &[f64]) -> (Tensor, Tensor) {
        let Network::Walloc(net) = &self.base.net else {
            unreachable!("checked in new")
        };
        let (b, t) = (seq.size()[0], seq.size()[1]);
        tch::no_grad(|| {
            let x = seq.flatten(0, 1);
            let qs: Vec<f64> = q
                .iter()
                .flat_map(|&v| std::iter::repeat_n(v, t as usize))
                .collect();
            let y = net.analysis(&x) * net.gains.gains(&qs);
            let z = net.hyper_analysis(&y);
            let med = net
                .entropy_bottleneck
                .medians()
                .view([1, -1, 1, 1])
                .to_device(self.device);
            let z_hat = (&z - &med).round() + &med;
            let (mu, sigma) = net.hyper_synthesis(&z_hat);
            let hyper = Tensor::cat(&[mu, sigma], 1);
            let unflat = |v: Tensor| {
                let mut s = vec![b, t];
                s.extend_from_slice(&v.size()[1..]);
                v.view(s.as_slice())
            };
            (unflat(y), unflat(hyper))
        })
    }

    /// One optimization step.
    pub fn train_step(&mut self, data: &SequenceSource) -> VideoStepLog {
        let t0 = Instant::now();
        tch::manual_seed((self.opts.seed.wrapping_mul(1_000_003) ^ self.progress.step) as i64);
        let seq = data.batch(&self.opts, &mut self.progress.rng, self.device);
        let (lo, hi) = self.base.config.quality_range();
        let q: Vec<f64> = (0..self.opts.batch)
            .map(|_| lo + (hi - lo) * self.progress.rng.unit())
            .collect();
        let (y, hyper) = self.base_latents(&seq, &q);
        let c = self.opts.config.latent;
        let frames = self.opts.frames;
        let pixels = (self.opts.crop * self.opts.crop) as f64;
        let split = |p: &Tensor| (p.narrow(1, 0, c), p.narrow(1, c, c));
        let (mu0, _) = split(&hyper.select(1, 0));
        let y0 = y.select(1, 0);
        let mut refs: Vec<Tensor> = vec![((&y0 - &mu0).round() + &mu0).detach()];
        let mut bits = Tensor::zeros([], (Kind::Float, self.device));
        let mut bits_hyper = 0f64;
        for k in 1..frames {
            let yk = y.select(1, k);
            let hk = hyper.select(1, k);
            let r: Vec<&Tensor> = refs.iter().collect();
            let p = self.prior.forward(&hk, &r);
            let (mu, sigma) = split(&p);
            let noisy = crate::entropy::add_noise(&yk);
            bits += bits_per_sample(&gaussian::likelihood(&noisy, &mu, &sigma)).sum(Kind::Float);
            tch::no_grad(|| {
                let (mh, sh) = split(&hk);
                bits_hyper += bits_per_sample(&gaussian::likelihood(&noisy, &mh, &sh))
                    .sum(Kind::Float)
                    .double_value(&[]);
            });
            refs.insert(0, ((&yk - &mu).round() + &mu).detach());
            refs.truncate(self.opts.config.refs as usize);
        }
        let denom = pixels * self.opts.batch as f64 * (frames - 1) as f64;
        let bpp = bits / denom;
        self.adam.zero_grad();
        bpp.backward();
        let grad_norm = self.adam.grad_norm();
        let scale = if grad_norm > self.opts.clip {
            self.opts.clip / grad_norm
        } else {
            1.0
        };
        let lr = self.opts.lr_at(self.progress.step);
        self.adam.step(lr, scale);
        self.progress.step += 1;
        VideoStepLog {
            step: self.progress.step,
            bpp: bpp.double_value(&[]),
            bpp_hyper: bits_hyper / denom,
            grad_norm,
            lr,
            seconds: t0.elapsed().as_secs_f64(),
        }
    }
}

/// Runs training until the step count or the time limit, checkpointing into `out`.
pub fn run(
    trainer: VideoTrainer,
    data: &SequenceSource,
    out: &Path,
    time_limit: Option<f64>,
    on_log: impl FnMut(&VideoStepLog),
) -> anyhow::Result<VideoTrainer> {
    driver::drive(trainer, data, out, time_limit, on_log, |_, _| Ok(()))
}

impl StepRecord for VideoStepLog {
    fn loss(&self) -> f64 {
        self.bpp
    }

    fn average(logs: &[VideoStepLog]) -> VideoStepLog {
        let last = logs.last().expect("non-empty");
        VideoStepLog {
            step: last.step,
            bpp: mean(logs, |l| l.bpp),
            bpp_hyper: mean(logs, |l| l.bpp_hyper),
            grad_norm: mean(logs, |l| l.grad_norm),
            lr: last.lr,
            seconds: mean(logs, |l| l.seconds),
        }
    }
}

driver::impl_driven!(VideoTrainer, SequenceSource, VideoStepLog);
