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
pub mod driver;
pub mod rng;
pub mod validate;
pub mod video;
pub mod widen;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::nn::precision::{Fast, FastGuard};
use crate::nn::weights::{self, TensorFile};
use crate::zoo::{ModelConfig, Network};
use adam::Adam;
use data::Dataset;
pub use driver::{hardware_description, Progress, Segment};
use driver::{mean, read_checkpoint, write_checkpoint, StepRecord};
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
    /// Learning rate at `step` ([`driver::step_decay`]).
    pub fn lr_at(&self, step: u64) -> f64 {
        driver::step_decay(self.lr, self.warmup, self.steps, step)
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
    /// Step, batch generator, training time and history.
    pub progress: Progress,
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
    #[serde(flatten)]
    progress: Progress,
    adam_t: u64,
    aux_t: u64,
}

impl Trainer {
    pub fn new(opts: TrainOptions, device: Device) -> anyhow::Result<Trainer> {
        opts.config.validate().map_err(anyhow::Error::msg)?;
        tch::manual_seed(opts.seed as i64);
        let vs = nn::VarStore::new(device);
        let model = Network::new(&vs.root(), opts.config.clone());
        let (main, aux) = split_params(&vs);
        Ok(Trainer {
            progress: Progress::new(Rng::new(opts.seed)),
            adam: Adam::new(main),
            aux: Adam::new(aux),
            opts,
            device,
            vs,
            model,
        })
    }

    /// Restores a checkpoint written by [`Trainer::save_checkpoint`].
    pub fn resume(path: &Path, device: Device) -> anyhow::Result<Trainer> {
        let (f, state): (_, SavedState) = read_checkpoint(path, META_STATE, "lic training")?;
        let mut t = Trainer::new(state.opts, device)?;
        f.load_into(&t.vs, "model.", true)?;
        t.adam.load_state(&f, "adam", state.adam_t)?;
        t.aux.load_state(&f, "aux", state.aux_t)?;
        t.progress = state.progress;
        Ok(t)
    }

    /// Initializes the network from a weights file (e.g. a shipped model) instead of at random;
    /// parameters the file lacks get their family's function-preserving start where it has one
    /// ([`crate::zoo::NetworkFamily::complete_partial_init`], whose note is returned).
    pub fn init_from(&mut self, path: &Path) -> anyhow::Result<Option<&'static str>> {
        let f = TensorFile::read(path)?;
        let lacking = f.load_into_except(&self.vs, "", false, &|n| self.model.can_complete(n))?;
        Ok(self.model.complete_partial_init(&lacking))
    }

    pub fn save_checkpoint(&self, path: &Path, elapsed: f64) -> anyhow::Result<()> {
        let mut tensors = weights::named_vars(&self.vs, "model.");
        tensors.extend(self.adam.state_tensors("adam"));
        tensors.extend(self.aux.state_tensors("aux"));
        let state = SavedState {
            opts: self.opts.clone(),
            progress: self.progress.saved(elapsed),
            adam_t: self.adam.t,
            aux_t: self.aux.t,
        };
        write_checkpoint(path, &tensors, META_STATE, &state)
    }

    /// One optimization step; returns its log line.
    pub fn train_step(&mut self, data: &Dataset) -> StepLog {
        let t0 = Instant::now();
        // Noise and crops depend only on (seed, step): resumable and reproducible.
        tch::manual_seed((self.opts.seed.wrapping_mul(1_000_003) ^ self.progress.step) as i64);
        let x = self.opts.batch;
        let batch = data.batch(&mut self.progress.rng, x, self.opts.crop, self.device);
        let (lo, hi) = self.opts.config.quality_range();
        let q: Vec<f64> = (0..x)
            .map(|_| lo + (hi - lo) * self.progress.rng.unit())
            .collect();
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
        let lr = self.opts.lr_at(self.progress.step);
        self.adam.step(lr, scale);
        self.aux.zero_grad();
        let aux = self.model.entropy_bottleneck().aux_loss();
        aux.backward();
        self.aux.step(self.opts.aux_lr, 1.0);
        self.progress.step += 1;
        let mse_v = mse.mean(Kind::Float).double_value(&[]);
        StepLog {
            step: self.progress.step,
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

/// Runs training until `opts.steps` or the time limit, checkpointing into `out`, coding the
/// validation images every `validation.every` steps.
pub fn run(
    trainer: Trainer,
    data: &Dataset,
    out: &Path,
    time_limit: Option<f64>,
    validation: Option<&Validation>,
    on_log: impl FnMut(&StepLog),
) -> anyhow::Result<Trainer> {
    driver::drive(trainer, data, out, time_limit, on_log, |t, dir| {
        if let Some(v) = validation {
            if t.progress.step.is_multiple_of(v.every) {
                let r = v.run(t, &out.join("validation-model.safetensors"))?;
                dir.log(&r)?;
                v.report(&r);
            }
        }
        Ok(())
    })
}

impl StepRecord for StepLog {
    fn loss(&self) -> f64 {
        self.loss
    }

    fn average(logs: &[StepLog]) -> StepLog {
        let last = logs.last().expect("non-empty");
        StepLog {
            step: last.step,
            loss: mean(logs, |l| l.loss),
            bpp: mean(logs, |l| l.bpp),
            mse: mean(logs, |l| l.mse),
            psnr: mean(logs, |l| l.psnr),
            aux: last.aux,
            grad_norm: mean(logs, |l| l.grad_norm),
            lr: last.lr,
            seconds: mean(logs, |l| l.seconds),
        }
    }
}

driver::impl_driven!(Trainer, Dataset, StepLog);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::weights::FloatStorage;
    use crate::zoo::ElicConfig;
    use std::collections::HashMap;

    #[test]
    fn lr_schedule() {
        let mut o = TrainOptions::new(ElicConfig::tiny(), vec![]);
        o.steps = 1000;
        o.warmup = 10;
        assert!((o.lr_at(0) - 1e-5).abs() < 1e-12);
        assert_eq!(o.lr_at(100), 1e-4);
        assert!((o.lr_at(850) - 1e-5).abs() < 1e-12);
        assert!((o.lr_at(990) - 1e-6).abs() < 1e-12);
    }

    /// `--init` from weights without the wavelet shortcut (a model trained before it existed)
    /// starts the shortcut at zero; weights lacking anything else are still refused.
    #[test]
    fn init_from_weights_without_the_shortcut_zeroes_it_and_other_gaps_fail() {
        let dir = std::env::temp_dir().join(format!("lic-init-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain =
            Trainer::new(TrainOptions::new(ElicConfig::tiny(), vec![]), Device::Cpu).unwrap();
        let path = dir.join("plain.safetensors");
        let mut tensors = weights::named_vars(&plain.vs, "");
        weights::save(&path, &tensors, FloatStorage::F32, &HashMap::new()).unwrap();
        let wavelet = ElicConfig {
            wavelet_shortcut: true,
            ..ElicConfig::tiny()
        };
        let mut t = Trainer::new(TrainOptions::new(wavelet.clone(), vec![]), Device::Cpu).unwrap();
        let note = t.init_from(&path).unwrap();
        assert!(note.is_some_and(|n| n.contains("shortcut")), "{note:?}");
        for (name, v) in weights::named_vars(&t.vs, "") {
            let n = f64::try_from(v.abs().sum(tch::Kind::Double)).unwrap();
            if name.starts_with("shortcut.") {
                assert_eq!(n, 0.0, "{name}");
            }
        }
        // The same file loads into the plain network without a note.
        let mut p2 =
            Trainer::new(TrainOptions::new(ElicConfig::tiny(), vec![]), Device::Cpu).unwrap();
        assert_eq!(p2.init_from(&path).unwrap(), None);
        // A file lacking a transform parameter is refused.
        tensors.retain(|(n, _)| !n.starts_with("g_a."));
        weights::save(&path, &tensors, FloatStorage::F32, &HashMap::new()).unwrap();
        let mut t = Trainer::new(TrainOptions::new(wavelet, vec![]), Device::Cpu).unwrap();
        let e = t.init_from(&path).unwrap_err().to_string();
        assert!(e.contains("missing tensor `g_a."), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
