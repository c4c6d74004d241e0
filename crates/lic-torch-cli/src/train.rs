//! `lic train`: train a model from PNG folders (see `lic::train`).

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;

use lic::train::{data::Dataset, run, TrainOptions, Trainer, Validation};

const EXAMPLES: &str = "\
Examples:
  lic train --data ../shared/datasets/train --data ../shared/datasets/train2 --out runs/a --time-limit 3600
  lic train --resume runs/a/checkpoint.safetensors --out runs/a --steps 200000
  lic train --arch walloc --data ../shared/datasets/train --out runs/w --val datasets/kodak --val-every 1000
  lic train --device cuda --batch 16 --data crops/ --out $OUT --time-limit 540
  lic train --export runs/a/checkpoint.safetensors --name lic-elic-small --out models   # freeze for coding";

/// `--arch`: the names of `lic::zoo::PRESETS`, with their help.
fn arch_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        lic::zoo::PRESETS
            .iter()
            .map(|p| clap::builder::PossibleValue::new(p.name).help(p.help)),
    )
}

/// Training-only kernels (the coding path is always exact fp32).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum Kernels {
    /// bf16-cl or fp32-cl, whichever a short measurement at start finds faster on this CPU.
    Auto,
    /// bf16 convolutions on channels-last tensors, fp32 weights, loss and likelihoods.
    Bf16Cl,
    /// bf16 convolutions, NCHW layout.
    Bf16,
    /// fp32 convolutions on channels-last tensors.
    Fp32Cl,
    /// Plain fp32 NCHW (how the shipped models were trained before bf16).
    Fp32,
}

impl Kernels {
    fn mode(self) -> lic::nn::precision::Fast {
        if self == Kernels::Auto {
            return lic::nn::precision::fastest_mode();
        }
        lic::nn::precision::Fast {
            bf16: matches!(self, Kernels::Bf16Cl | Kernels::Bf16),
            channels_last: matches!(self, Kernels::Bf16Cl | Kernels::Fp32Cl),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum DeviceArg {
    Cpu,
    Cuda,
}

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Folder of training images (repeatable); never evaluation images.
    #[arg(long, value_name = "DIR")]
    pub data: Vec<PathBuf>,
    /// Output folder for checkpoint.safetensors and train_log.jsonl (with --export: for NAME.safetensors).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Freeze a checkpoint into a shipped model file OUT/NAME.safetensors (f16 weights + integer
    /// entropy tables) instead of training.
    #[arg(long, value_name = "CKPT", conflicts_with_all = ["resume", "init"])]
    pub export: Option<PathBuf>,
    /// Model id written into the exported file and every bitstream made with it.
    #[arg(long, default_value = lic::codec::DEFAULT_MODEL, requires = "export")]
    pub name: String,
    /// Overwrite an existing exported model.
    #[arg(long, requires = "export")]
    pub force: bool,
    /// Resume exactly from a checkpoint (its options win, except --steps).
    #[arg(long, value_name = "CKPT")]
    pub resume: Option<PathBuf>,
    /// With --resume: multiply the gain vectors by their λ-derived initialization (for checkpoints
    /// whose gains started at 1, before that initialization existed).
    #[arg(long, requires = "resume")]
    pub rescale_gains: bool,
    /// Start the network from a weights file (e.g. models/NAME.safetensors) instead of at random.
    #[arg(long, value_name = "WEIGHTS", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Start a wider walloc model from a narrower trained one (e.g. models/lic-walloc.safetensors):
    /// it reconstructs like the narrow model at step 0 (see `train::widen`). Needs --latent.
    #[arg(long, value_name = "WEIGHTS", conflicts_with_all = ["resume", "init"], requires = "latent")]
    pub widen: Option<PathBuf>,
    /// Architecture preset of a new run.
    #[arg(long, value_parser = arch_parser(), default_value = lic::zoo::PRESETS[0].name)]
    pub arch: String,
    /// Latent channels of a walloc architecture (default: the architecture's own, 16).
    #[arg(long, value_name = "C")]
    pub latent: Option<i64>,
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// Convolution kernels for training (default auto; a resumed run keeps its own unless this
    /// is given).
    #[arg(long, value_enum)]
    pub kernels: Option<Kernels>,
    /// Total optimization steps (the learning-rate schedule is relative to it).
    #[arg(long, default_value_t = 100_000)]
    pub steps: u64,
    /// Square crop side in pixels (a multiple of 64).
    #[arg(long, default_value_t = 256)]
    pub crop: i64,
    /// Linear learning-rate warm-up steps.
    #[arg(long, default_value_t = 500)]
    pub warmup: u64,
    /// Held-out images coded with real bitstreams every --val-every steps (never training data).
    #[arg(long, value_name = "DIR")]
    pub val: Option<PathBuf>,
    #[arg(long, default_value_t = 1000, requires = "val")]
    pub val_every: u64,
    /// How many images of --val to code (the first ones by name).
    #[arg(long, default_value_t = 4, requires = "val")]
    pub val_limit: usize,
    /// A file holding a thread count, re-read at every log line (so a background campaign can be
    /// told to use one thread while you compile: `echo 1 > FILE`).
    #[arg(long, value_name = "FILE")]
    pub threads_file: Option<PathBuf>,
    #[command(flatten)]
    pub run: crate::common::LoopArgs,
}

pub fn run_cmd(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    if let Some(ckpt) = &args.export {
        return export(ckpt, &args);
    }
    let device = match args.device {
        DeviceArg::Cpu => tch::Device::Cpu,
        DeviceArg::Cuda => {
            anyhow::ensure!(
                tch::Cuda::is_available(),
                "--device cuda: no CUDA device visible to libtorch"
            );
            tch::Device::Cuda(0)
        }
    };
    anyhow::ensure!(
        args.crop >= 64 && args.crop % 64 == 0,
        "--crop must be a positive multiple of 64"
    );
    anyhow::ensure!(args.run.batch >= 1, "--batch must be at least 1");
    let trainer = if let Some(ckpt) = &args.resume {
        let mut t = Trainer::resume(ckpt, device)
            .with_context(|| format!("resuming {}", ckpt.display()))?;
        t.opts.steps = args.steps;
        if let Some(k) = args.kernels {
            t.opts.fast = k.mode();
        }
        if !args.data.is_empty() {
            t.opts.data = args.data.clone();
        }
        if args.rescale_gains {
            t.model.gains().rescale();
            eprintln!(
                "gain vectors rescaled by {:?}",
                t.opts.config.initial_gains()
            );
        }
        eprintln!("resumed {} at step {}", ckpt.display(), t.progress.step);
        t
    } else {
        anyhow::ensure!(!args.data.is_empty(), "give at least one --data folder");
        let preset = lic::zoo::preset(&args.arch).expect("clap checked the name");
        let config = (preset.build)(args.latent).map_err(anyhow::Error::msg)?;
        let mut o = TrainOptions::new(config, args.data.clone());
        o.batch = args.run.batch;
        o.crop = args.crop;
        o.steps = args.steps;
        o.lr = args.run.lr;
        o.seed = args.run.seed;
        o.warmup = args.warmup;
        o.log_every = args.run.log_every;
        o.checkpoint_every = args.run.checkpoint_every;
        o.fast = args.kernels.unwrap_or(Kernels::Auto).mode();
        let mut t = Trainer::new(o, device)?;
        if let Some(w) = &args.init {
            let note = t
                .init_from(w)
                .with_context(|| format!("initializing from {}", w.display()))?;
            if let Some(note) = note {
                eprintln!("{note}");
            }
            t.opts.started_from = Some(format!("--init {}", w.display()));
        }
        if let Some(w) = &args.widen {
            let f = lic::nn::weights::TensorFile::read(w)?;
            lic::train::widen::widen_walloc(&t.vs, &f)
                .with_context(|| format!("widening {}", w.display()))?;
            t.opts.started_from = Some(format!("--widen {}", w.display()));
        }
        t
    };
    let data = Dataset::load(&trainer.opts.data, trainer.opts.crop as u32)?;
    eprintln!(
        "training on {} images ({:?}), batch {} x {}px, steps {}..{}, device {:?}, threads {}, kernels {:?}",
        data.images.len(),
        trainer.opts.data,
        trainer.opts.batch,
        trainer.opts.crop,
        trainer.progress.step,
        trainer.opts.steps,
        device,
        tch::get_num_threads(),
        trainer.opts.fast
    );
    let validation = match &args.val {
        Some(dir) => Some(Validation::load(dir, args.val_limit, args.val_every)?),
        None => None,
    };
    let t = run(
        trainer,
        &data,
        &args.out,
        args.run.time_limit,
        validation.as_ref(),
        |l| {
            if let Some(f) = &args.threads_file {
                follow_threads_file(f);
            }
            println!(
            "step {:>7}  loss {:.4}  bpp {:.4}  psnr {:.2}  aux {:.1}  |g| {:.3}  lr {:.2e}  {:.2}s/step",
            l.step, l.loss, l.bpp, l.psnr, l.aux, l.grad_norm, l.lr, l.seconds
        );
        },
    )?;
    eprintln!(
        "checkpoint at step {} in {}",
        t.progress.step,
        args.out.join("checkpoint.safetensors").display()
    );
    Ok(())
}

/// Sets libtorch's thread count from `file` when it holds a number in 1..=256 that differs from
/// the current one (a missing or unreadable file changes nothing).
fn follow_threads_file(file: &std::path::Path) {
    let wanted = std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|n| (1..=256).contains(n));
    if let Some(n) = wanted {
        if n != tch::get_num_threads() {
            tch::set_num_threads(n);
            eprintln!("threads set to {n} (from {})", file.display());
        }
    }
}

fn export(ckpt: &std::path::Path, args: &Args) -> anyhow::Result<()> {
    let path = super::common::export_path(&args.out, &args.name, ckpt, args.force)?;
    let t = Trainer::resume(ckpt, tch::Device::Cpu)
        .with_context(|| format!("reading {}", ckpt.display()))?;
    let m = lic::codec::CodecModel::export(
        lic::codec::model::TrainedModel {
            vs: &t.vs,
            net: &t.model,
        },
        &args.name,
        &path,
        lic::nn::weights::FloatStorage::F16,
    )?;
    let o = &t.opts;
    let card = serde_json::json!({
        "name": m.id,
        "file": format!("{}.safetensors", m.id),
        "weights_sha256": m.sha256_hex(),
        "weights_bytes": m.file_bytes,
        "architecture": {
            "family": m.config.arch(),
            "summary": m.config.summary(),
            "config": m.config,
            "parameters": t.vs.variables().values().map(|v| v.numel()).sum::<usize>(),
        },
        "rate": {
            "quality_range": m.config.quality_range(),
            "lambdas": m.config.lambdas(),
            "loss": "bpp + lambda * 255^2 * MSE (RGB in [0,1]), quality drawn uniformly per sample",
        },
        "training": {
            "data": o.data,
            "steps": t.progress.step,
            "batch": o.batch,
            "crop": o.crop,
            "lr": o.lr,
            "seed": o.seed,
            "started_from": o.started_from,
            "seconds": t.progress.elapsed_before,
            "history": t.progress.history,
        },
        "storage": "float16 weights, integer entropy tables",
        "reproduce": format!(
            "lic train --arch {}{} --data {} --out runs/{} --steps {} --batch {} --crop {} --lr {} --seed {}  (then resume until the step count above; lic train --export runs/{}/checkpoint.safetensors --name {} --out models)",
            m.config.arch_arg(),
            o.started_from.as_ref().map(|s| format!(" {s}")).unwrap_or_default(),
            o.data.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" --data "),
            m.id, o.steps, o.batch, o.crop, o.lr, o.seed, m.id, m.id
        ),
        "kodak": serde_json::Value::Null,
    });
    let card_path = args.out.join(format!("{}.json", m.id));
    lic::io::file::write_atomic(&card_path, serde_json::to_string_pretty(&card)?.as_bytes())?;
    println!(
        "{}: model {} (step {}), weights hash {}; card {}",
        path.display(),
        m.id,
        t.progress.step,
        m.hash_hex(),
        card_path.display()
    );
    Ok(())
}
