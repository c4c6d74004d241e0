//! `lic train`: rate–distortion training of a zoo model in Rust.
//!
//! Loss per sample: `bpp + λ(q)·255²·MSE` with the quality `q` drawn uniformly over the model's
//! range (so the interpolated gains are trained too), averaged over the batch; Adam on the network,
//! a second Adam on the bottleneck quantiles (auxiliary loss), gradient-norm clipping, linear
//! warm-up then a step decay of the learning rate at 80% and 95% of the steps.
//! Checkpoints hold the parameters, both optimizers' moments, the data RNG and the step: a resumed
//! run continues exactly as an uninterrupted one (same thread count and device).

pub mod adam;
pub mod data;
pub mod rng;
pub mod validate;
pub mod video;
pub mod widen;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::nn::precision::{Fast, FastGuard};
use crate::nn::weights::{self, FloatStorage, TensorFile};
use crate::zoo::{ModelConfig, Network};
use adam::Adam;
use data::Dataset;
use rng::Rng;
pub use validate::{Validation, ValidationLog};

/// Options of a training run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainOptions {
    pub config: ModelConfig,
    pub data: Vec<PathBuf>,
    pub batch: usize,
    pub crop: i64,
    pub steps: u64,
    pub lr: f64,
    pub aux_lr: f64,
    pub clip: f64,
    pub warmup: u64,
    pub seed: u64,
    pub log_every: u64,
    pub checkpoint_every: u64,
    /// The weights the run started from (`--init`, or `--widen` from a narrower model), for the
    /// model card; `None` for a random start.
    #[serde(default)]
    pub started_from: Option<String>,
    /// Training-only kernels (bf16 convolutions, channels-last); checkpoints from before this
    /// option ran in plain fp32.
    #[serde(default = "fp32_mode")]
    pub fast: Fast,
}

fn fp32_mode() -> Fast {
    Fast::FP32
}

impl TrainOptions {
    pub fn new(config: impl Into<ModelConfig>, data: Vec<PathBuf>) -> Self {
        TrainOptions {
            config: config.into(),
            data,
            batch: 8,
            crop: 256,
            steps: 100_000,
            lr: 1e-4,
            aux_lr: 1e-3,
            clip: 1.0,
            warmup: 500,
            seed: 0,
            log_every: 50,
            checkpoint_every: 500,
            started_from: None,
            fast: Fast::BF16_CL,
        }
    }
    /// Learning rate at `step`.
    pub fn lr_at(&self, step: u64) -> f64 {
        let warm = if self.warmup > 0 {
            ((step + 1) as f64 / self.warmup as f64).min(1.0)
        } else {
            1.0
        };
        let frac = step as f64 / self.steps.max(1) as f64;
        let decay = if frac >= 0.95 {
            0.01
        } else if frac >= 0.8 {
            0.1
        } else {
            1.0
        };
        self.lr * warm * decay
    }
}

/// Mutable training state: everything a checkpoint holds.
pub struct Trainer {
    pub opts: TrainOptions,
    pub device: Device,
    pub vs: nn::VarStore,
    pub model: Network,
    pub adam: Adam,
    pub aux: Adam,
    pub rng: Rng,
    pub step: u64,
    /// Training seconds before this process (from checkpoints).
    pub elapsed_before: f64,
    /// Where and how long each stretch of training ran (for the model card).
    pub history: Vec<Segment>,
}

/// One uninterrupted stretch of training.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Segment {
    pub hardware: String,
    pub threads: i32,
    pub from_step: u64,
    pub to_step: u64,
    pub seconds: f64,
}

/// A short description of the machine: CPU model (or CUDA device) and core count.
pub fn hardware_description(device: Device) -> String {
    let cpu = crate::util::cpu_model().unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    match device {
        Device::Cuda(i) => format!("CUDA device {i} (host: {cpu}, {cores} cores)"),
        _ => format!("CPU: {cpu}, {cores} cores"),
    }
}

/// One logged step.
#[derive(Clone, Debug, Serialize)]
pub struct StepLog {
    pub step: u64,
    pub loss: f64,
    pub bpp: f64,
    pub mse: f64,
    pub psnr: f64,
    pub aux: f64,
    pub grad_norm: f64,
    pub lr: f64,
    pub seconds: f64,
}

const META_STATE: &str = "lic.train_state";

#[derive(Serialize, Deserialize)]
struct SavedState {
    opts: TrainOptions,
    step: u64,
    rng: u64,
    adam_t: u64,
    aux_t: u64,
    elapsed: f64,
    #[serde(default)]
    history: Vec<Segment>,
}

/// The output folder of a training stretch: where the checkpoint goes, the appended
/// `train_log.jsonl`, and this stretch's wall clock (shared by image and video training).
pub(crate) struct RunDir {
    pub checkpoint: PathBuf,
    log: std::fs::File,
    start: Instant,
}

impl RunDir {
    pub(crate) fn open(out: &Path) -> anyhow::Result<RunDir> {
        std::fs::create_dir_all(out)
            .with_context(|| format!("{}: cannot create", out.display()))?;
        let log_path = out.join("train_log.jsonl");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("{}: cannot open", log_path.display()))?;
        Ok(RunDir {
            checkpoint: out.join("checkpoint.safetensors"),
            log,
            start: Instant::now(),
        })
    }

    /// Appends one JSON line to the log.
    pub(crate) fn log<T: Serialize>(&mut self, record: &T) -> anyhow::Result<()> {
        writeln!(self.log, "{}", serde_json::to_string(record)?)?;
        Ok(())
    }

    /// Seconds since [`RunDir::open`].
    pub(crate) fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Whether the time limit (if any) is used up.
    pub(crate) fn out_of_time(&self, limit: Option<f64>) -> bool {
        limit.is_some_and(|l| self.seconds() >= l)
    }
}

/// Opens a new history segment at `step` on this machine.
pub(crate) fn begin_segment(history: &mut Vec<Segment>, device: Device, step: u64) {
    history.push(Segment {
        hardware: hardware_description(device),
        threads: tch::get_num_threads(),
        from_step: step,
        to_step: step,
        seconds: 0.0,
    });
}

/// Brings the last history segment up to `step` after `seconds`.
pub(crate) fn update_segment(history: &mut [Segment], step: u64, seconds: f64) {
    if let Some(seg) = history.last_mut() {
        seg.to_step = step;
        seg.seconds = seconds;
    }
}

/// Writes a training checkpoint: f32 tensors plus the JSON `state` under metadata `key`.
pub(crate) fn write_checkpoint<S: Serialize>(
    path: &Path,
    tensors: &[(String, Tensor)],
    key: &str,
    state: &S,
) -> anyhow::Result<()> {
    let mut meta = HashMap::new();
    meta.insert(key.to_string(), serde_json::to_string(state)?);
    weights::save(path, tensors, FloatStorage::F32, &meta)?;
    Ok(())
}

/// Reads a checkpoint written by [`write_checkpoint`]: its tensors and its state (`what` names
/// the kind of checkpoint in errors).
pub(crate) fn read_checkpoint<S: serde::de::DeserializeOwned>(
    path: &Path,
    key: &str,
    what: &str,
) -> anyhow::Result<(TensorFile, S)> {
    let f = TensorFile::read(path)?;
    let state = serde_json::from_str(
        f.metadata
            .get(key)
            .with_context(|| format!("{}: not a {what} checkpoint", path.display()))?,
    )
    .with_context(|| format!("{}: bad training state", path.display()))?;
    Ok((f, state))
}

impl Trainer {
    pub fn new(opts: TrainOptions, device: Device) -> anyhow::Result<Trainer> {
        opts.config.validate().map_err(anyhow::Error::msg)?;
        tch::manual_seed(opts.seed as i64);
        let vs = nn::VarStore::new(device);
        let model = Network::new(&vs.root(), opts.config.clone());
        let (main, aux) = split_params(&vs);
        Ok(Trainer {
            rng: Rng::new(opts.seed),
            adam: Adam::new(main),
            aux: Adam::new(aux),
            opts,
            device,
            vs,
            model,
            step: 0,
            elapsed_before: 0.0,
            history: Vec::new(),
        })
    }

    /// Restores a checkpoint written by [`Trainer::save_checkpoint`].
    pub fn resume(path: &Path, device: Device) -> anyhow::Result<Trainer> {
        let (f, state): (_, SavedState) = read_checkpoint(path, META_STATE, "lic training")?;
        let mut t = Trainer::new(state.opts, device)?;
        f.load_into(&t.vs, "model.", true)?;
        t.adam.load_state(&f, "adam", state.adam_t)?;
        t.aux.load_state(&f, "aux", state.aux_t)?;
        t.rng = Rng(state.rng);
        t.step = state.step;
        t.elapsed_before = state.elapsed;
        t.history = state.history;
        Ok(t)
    }

    /// Initializes the network from a weights file (e.g. a shipped model) instead of at random.
    pub fn init_from(&mut self, path: &Path) -> anyhow::Result<()> {
        let f = TensorFile::read(path)?;
        f.load_into(&self.vs, "", false)?;
        Ok(())
    }

    pub fn save_checkpoint(&self, path: &Path, elapsed: f64) -> anyhow::Result<()> {
        let mut tensors = weights::named_vars(&self.vs, "model.");
        tensors.extend(self.adam.state_tensors("adam"));
        tensors.extend(self.aux.state_tensors("aux"));
        let state = SavedState {
            opts: self.opts.clone(),
            step: self.step,
            rng: self.rng.0,
            adam_t: self.adam.t,
            aux_t: self.aux.t,
            elapsed,
            history: self.history.clone(),
        };
        write_checkpoint(path, &tensors, META_STATE, &state)
    }

    /// One optimization step; returns its log line.
    pub fn train_step(&mut self, data: &Dataset) -> StepLog {
        let t0 = Instant::now();
        // Noise and crops depend only on (seed, step): resumable and reproducible.
        tch::manual_seed((self.opts.seed.wrapping_mul(1_000_003) ^ self.step) as i64);
        let x = self.opts.batch;
        let batch = data.batch(&mut self.rng, x, self.opts.crop, self.device);
        let (lo, hi) = self.opts.config.quality_range();
        let q: Vec<f64> = (0..x).map(|_| lo + (hi - lo) * self.rng.unit()).collect();
        let lambdas = Tensor::from_slice(
            &q.iter()
                .map(|&qv| self.opts.config.lambda_at(qv) as f32)
                .collect::<Vec<_>>(),
        )
        .to_device(self.device);
        let fast = FastGuard::new(self.opts.fast);
        let out = self.model.forward(&batch, &q, true);
        let pixels = (self.opts.crop * self.opts.crop) as f64;
        let bpp = (&out.y_bits + &out.z_bits) / pixels;
        let mse =
            (&out.x_hat - &batch)
                .square()
                .mean_dim([1i64, 2, 3].as_slice(), false, Kind::Float);
        let loss = (&bpp + &lambdas * (255.0f64 * 255.0) * &mse).mean(Kind::Float);
        self.adam.zero_grad();
        loss.backward();
        drop(fast);
        let grad_norm = self.adam.grad_norm();
        let scale = if grad_norm > self.opts.clip {
            self.opts.clip / grad_norm
        } else {
            1.0
        };
        let lr = self.opts.lr_at(self.step);
        self.adam.step(lr, scale);
        self.aux.zero_grad();
        let aux = self.model.entropy_bottleneck().aux_loss();
        aux.backward();
        self.aux.step(self.opts.aux_lr, 1.0);
        self.step += 1;
        let mse_v = mse.mean(Kind::Float).double_value(&[]);
        StepLog {
            step: self.step,
            loss: loss.double_value(&[]),
            bpp: bpp.mean(Kind::Float).double_value(&[]),
            mse: mse_v,
            psnr: 10.0 * (1.0 / mse_v.max(1e-12)).log10(),
            aux: aux.double_value(&[]),
            grad_norm,
            lr,
            seconds: t0.elapsed().as_secs_f64(),
        }
    }
}

/// Splits a model's variables into the network (main optimizer) and the bottleneck quantiles.
type NamedParams = Vec<(String, Tensor)>;

fn split_params(vs: &nn::VarStore) -> (NamedParams, NamedParams) {
    let mut all = weights::named_vars(vs, "");
    all.retain(|(_, t)| t.requires_grad());
    all.into_iter()
        .partition(|(n, _)| !n.ends_with("quantiles"))
}

/// Runs training until `opts.steps` or the time limit, checkpointing into `out`.
pub fn run(
    mut trainer: Trainer,
    data: &Dataset,
    out: &Path,
    time_limit: Option<f64>,
    validation: Option<&Validation>,
    mut on_log: impl FnMut(&StepLog),
) -> anyhow::Result<Trainer> {
    let mut dir = RunDir::open(out)?;
    let mut acc: Vec<StepLog> = Vec::new();
    begin_segment(&mut trainer.history, trainer.device, trainer.step);
    while trainer.step < trainer.opts.steps {
        if dir.out_of_time(time_limit) {
            break;
        }
        let l = trainer.train_step(data);
        if !l.loss.is_finite() {
            bail!("loss diverged at step {} (loss {})", l.step, l.loss);
        }
        acc.push(l);
        if trainer.step.is_multiple_of(trainer.opts.log_every) || trainer.step == trainer.opts.steps
        {
            let n = acc.len() as f64;
            let mean = |f: fn(&StepLog) -> f64| acc.iter().map(f).sum::<f64>() / n;
            let last = acc.last().expect("non-empty");
            let avg = StepLog {
                step: trainer.step,
                loss: mean(|l| l.loss),
                bpp: mean(|l| l.bpp),
                mse: mean(|l| l.mse),
                psnr: mean(|l| l.psnr),
                aux: last.aux,
                grad_norm: mean(|l| l.grad_norm),
                lr: last.lr,
                seconds: mean(|l| l.seconds),
            };
            dir.log(&avg)?;
            on_log(&avg);
            acc.clear();
        }
        if let Some(v) = validation {
            if trainer.step.is_multiple_of(v.every) {
                let r = v.run(&trainer, &out.join("validation-model.safetensors"))?;
                dir.log(&r)?;
                v.report(&r);
            }
        }
        if trainer.step.is_multiple_of(trainer.opts.checkpoint_every) {
            save(&mut trainer, &dir)?;
        }
    }
    save(&mut trainer, &dir)?;
    Ok(trainer)
}

/// Closes the history segment and writes the checkpoint.
fn save(t: &mut Trainer, dir: &RunDir) -> anyhow::Result<()> {
    let secs = dir.seconds();
    update_segment(&mut t.history, t.step, secs);
    t.save_checkpoint(&dir.checkpoint, t.elapsed_before + secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_schedule() {
        let mut o = TrainOptions::new(crate::zoo::ElicConfig::tiny(), vec![]);
        o.steps = 1000;
        o.warmup = 10;
        assert!((o.lr_at(0) - 1e-5).abs() < 1e-12);
        assert_eq!(o.lr_at(100), 1e-4);
        assert!((o.lr_at(850) - 1e-5).abs() < 1e-12);
        assert!((o.lr_at(990) - 1e-6).abs() < 1e-12);
    }
}
