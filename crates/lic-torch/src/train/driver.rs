//! The training driver that the image and the video trainers plug into: the learning-rate
//! schedule, the loop (time limit, divergence check, log averaging, checkpoints), the run folder
//! and the checkpoint file with its JSON state.
//!
//! A trainer implements [`Driven`] (one optimization step, its counters, its checkpoint) and its
//! log line implements [`StepRecord`] (the loss checked for divergence, the mean of a log
//! interval); [`drive`] runs it. The loop is the same for every trainer, so a resumed run of any
//! of them continues exactly as an uninterrupted one.
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::rng::Rng;
use crate::nn::weights::{self, FloatStorage, TensorFile};

/// Learning rate at `step` of `steps`: linear warm-up over `warmup` steps (none at 0), then ×0.1
/// at 80% and ×0.01 at 95% of the steps.
pub fn step_decay(lr: f64, warmup: u64, steps: u64, step: u64) -> f64 {
    let warm = ((step + 1) as f64 / warmup.max(1) as f64).min(1.0);
    let frac = step as f64 / steps.max(1) as f64;
    let decay = if frac >= 0.95 {
        0.01
    } else if frac >= 0.8 {
        0.1
    } else {
        1.0
    };
    lr * warm * decay
}

/// One logged step of a trainer.
pub trait StepRecord: Serialize + Sized {
    /// The loss; a non-finite value stops the run.
    fn loss(&self) -> f64;
    /// What one log line of the interval `logs` (non-empty, in order) shows: means, or the last
    /// value where a mean means nothing (the learning rate).
    fn average(logs: &[Self]) -> Self;
}

/// The mean of `f` over `logs`.
pub fn mean<L>(logs: &[L], f: impl Fn(&L) -> f64) -> f64 {
    logs.iter().map(f).sum::<f64>() / logs.len().max(1) as f64
}

/// Where a trainer stands and how often it logs and checkpoints.
#[derive(Clone, Copy, Debug)]
pub struct Counters {
    /// Steps done.
    pub step: u64,
    /// Steps of the whole run (the schedule is relative to it).
    pub steps: u64,
    /// Steps per log line.
    pub log_every: u64,
    /// Steps per checkpoint.
    pub checkpoint_every: u64,
}

/// A trainer that [`drive`] can run.
pub trait Driven {
    /// What a step draws its batch from.
    type Data: ?Sized;
    /// Its log line.
    type Log: StepRecord;
    /// Its counters.
    fn counters(&self) -> Counters;
    /// Where it stands.
    fn progress(&mut self) -> &mut Progress;
    /// The device it runs on.
    fn device(&self) -> Device;
    /// One optimization step.
    fn train_step(&mut self, data: &Self::Data) -> Self::Log;
    /// Writes the checkpoint (parameters, optimizer moments, RNG, step, `elapsed` seconds).
    fn save_checkpoint(&self, path: &Path, elapsed: f64) -> anyhow::Result<()>;
}

/// [`Driven`] for a trainer type with the fields `progress`, `device`,
/// `opts.{steps, log_every, checkpoint_every}` and the inherent methods `train_step` and
/// `save_checkpoint`: `impl_driven!(Trainer, Data, Log)`.
macro_rules! impl_driven {
    ($t:ty, $data:ty, $log:ty) => {
        impl $crate::train::driver::Driven for $t {
            type Data = $data;
            type Log = $log;

            fn counters(&self) -> $crate::train::driver::Counters {
                $crate::train::driver::Counters {
                    step: self.progress.step,
                    steps: self.opts.steps,
                    log_every: self.opts.log_every,
                    checkpoint_every: self.opts.checkpoint_every,
                }
            }

            fn train_step(&mut self, data: &$data) -> $log {
                <$t>::train_step(self, data)
            }

            fn progress(&mut self) -> &mut $crate::train::driver::Progress {
                &mut self.progress
            }

            fn device(&self) -> tch::Device {
                self.device
            }

            fn save_checkpoint(&self, path: &std::path::Path, elapsed: f64) -> anyhow::Result<()> {
                <$t>::save_checkpoint(self, path, elapsed)
            }
        }
    };
}
pub(crate) use impl_driven;

/// Runs `trainer` until its step count or `time_limit` seconds, appending the averaged log lines
/// to `out/train_log.jsonl` (and handing them to `on_log`), checkpointing into
/// `out/checkpoint.safetensors` every `checkpoint_every` steps and at the end. `after_step` runs
/// after every step (validation; it may log into the run folder).
pub fn drive<T: Driven>(
    mut trainer: T,
    data: &T::Data,
    out: &Path,
    time_limit: Option<f64>,
    mut on_log: impl FnMut(&T::Log),
    mut after_step: impl FnMut(&T, &mut RunDir) -> anyhow::Result<()>,
) -> anyhow::Result<T> {
    let mut dir = RunDir::open(out)?;
    let mut acc: Vec<T::Log> = Vec::new();
    let device = trainer.device();
    begin_segment(trainer.progress(), device);
    loop {
        let c = trainer.counters();
        if c.step >= c.steps || dir.out_of_time(time_limit) {
            break;
        }
        let l = trainer.train_step(data);
        let c = trainer.counters();
        if !l.loss().is_finite() {
            bail!("loss diverged at step {} (loss {})", c.step, l.loss());
        }
        acc.push(l);
        if c.step.is_multiple_of(c.log_every) || c.step == c.steps {
            let avg = T::Log::average(&acc);
            dir.log(&avg)?;
            on_log(&avg);
            acc.clear();
        }
        after_step(&trainer, &mut dir)?;
        if c.step.is_multiple_of(c.checkpoint_every) {
            save(&mut trainer, &dir)?;
        }
    }
    save(&mut trainer, &dir)?;
    Ok(trainer)
}

/// Closes the history segment and writes the checkpoint.
fn save<T: Driven>(t: &mut T, dir: &RunDir) -> anyhow::Result<()> {
    let secs = dir.seconds();
    let p = t.progress();
    if let Some(seg) = p.history.last_mut() {
        seg.to_step = p.step;
        seg.seconds = secs;
    }
    let elapsed = p.elapsed_before + secs;
    t.save_checkpoint(&dir.checkpoint, elapsed)
}

/// Where a run stands, apart from its parameters and optimizer moments: what [`drive`] keeps
/// and a checkpoint restores. Serialized flat into a trainer's checkpoint state (fields `step`,
/// `rng`, `elapsed`, `history`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Progress {
    /// Steps done.
    pub step: u64,
    /// The generator of crops and qualities.
    pub rng: Rng,
    /// Training seconds before this process (from checkpoints).
    #[serde(rename = "elapsed")]
    pub elapsed_before: f64,
    /// Where and how long each stretch of training ran (for the model card).
    #[serde(default)]
    pub history: Vec<Segment>,
}

impl Progress {
    /// A new run's.
    pub fn new(rng: Rng) -> Progress {
        Progress {
            step: 0,
            rng,
            elapsed_before: 0.0,
            history: Vec::new(),
        }
    }

    /// As saved in a checkpoint written `elapsed` training seconds in.
    pub fn saved(&self, elapsed: f64) -> Progress {
        Progress {
            elapsed_before: elapsed,
            ..self.clone()
        }
    }
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

/// Opens a new history segment at the current step on this machine.
fn begin_segment(p: &mut Progress, device: Device) {
    p.history.push(Segment {
        hardware: hardware_description(device),
        threads: tch::get_num_threads(),
        from_step: p.step,
        to_step: p.step,
        seconds: 0.0,
    });
}

/// The output folder of a training stretch: where the checkpoint goes, the appended
/// `train_log.jsonl`, and this stretch's wall clock.
pub struct RunDir {
    /// `out/checkpoint.safetensors`.
    pub checkpoint: PathBuf,
    log: std::fs::File,
    start: Instant,
}

impl RunDir {
    fn open(out: &Path) -> anyhow::Result<RunDir> {
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
    pub fn log<T: Serialize>(&mut self, record: &T) -> anyhow::Result<()> {
        writeln!(self.log, "{}", serde_json::to_string(record)?)?;
        Ok(())
    }

    /// Seconds since the folder was opened.
    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Whether the time limit (if any) is used up.
    fn out_of_time(&self, limit: Option<f64>) -> bool {
        limit.is_some_and(|l| self.seconds() >= l)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!((step_decay(1e-4, 10, 1000, 0) - 1e-5).abs() < 1e-12);
        assert_eq!(step_decay(1e-4, 10, 1000, 100), 1e-4);
        assert!((step_decay(1e-4, 10, 1000, 850) - 1e-5).abs() < 1e-12);
        assert!((step_decay(1e-4, 10, 1000, 990) - 1e-6).abs() < 1e-12);
        assert_eq!(step_decay(1e-4, 0, 1000, 0), 1e-4);
        assert_eq!(step_decay(1e-4, 1, 1000, 0), 1e-4);
    }
}
