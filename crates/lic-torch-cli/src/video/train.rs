//! `lic video train`: train the temporal prior of a video model (see `lic::train::video`).

use std::path::PathBuf;

use anyhow::Context;

use lic::train::data::Dataset;
use lic::train::video::{self as vt, Clips, SequenceSource, VideoTrainOptions, VideoTrainer};
use lic::video::model::{VideoModel, DEFAULT_VIDEO_MODEL};
use lic::zoo::temporal::TemporalConfig;

const EXAMPLES: &str = "\
Examples:
  lic video train --base walloc --clips a.mkv --clips b.mkv --stills ../shared/datasets/train --out runs/v --steps 4000
  lic video train --resume runs/v/checkpoint.safetensors --out runs/v --steps 6000
  lic video train --export runs/v/checkpoint.safetensors --name lic-video --out models";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Output folder for checkpoint.safetensors and train_log.jsonl (with --export: for NAME.safetensors).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The frozen base image model (name or path; a WaLLoC-family model).
    #[arg(long, default_value = "lic-walloc")]
    pub base: String,
    /// Training clip (repeatable; anything FFmpeg reads); never evaluation clips.
    #[arg(long, value_name = "FILE")]
    pub clips: Vec<PathBuf>,
    /// Folder of still images for synthetic global-motion sequences (repeatable).
    #[arg(long, value_name = "DIR")]
    pub stills: Vec<PathBuf>,
    /// Fraction of sequences synthesized from stills when both sources are given.
    #[arg(long, default_value_t = 0.5)]
    pub synthetic: f64,
    /// Frames per training sequence (≥ 3: the decoded latents are fed back through the sequence).
    #[arg(long, default_value_t = 4)]
    pub frames: i64,
    /// Square crop side in pixels.
    #[arg(long, default_value_t = 192)]
    pub crop: i64,
    #[arg(long, default_value_t = 4000)]
    pub steps: u64,
    /// Gradient-norm clipping threshold.
    #[arg(long, default_value_t = 0.1)]
    pub clip: f64,
    /// Width of the prior network.
    #[arg(long, default_value_t = 96)]
    pub hidden: i64,
    /// Previous decoded latents the prior sees (1 or 2).
    #[arg(long, default_value_t = 2)]
    pub refs: i64,
    /// Resume exactly from a checkpoint (its options win, except --steps).
    #[arg(long, value_name = "CKPT", conflicts_with = "export")]
    pub resume: Option<PathBuf>,
    /// Start the prior from a video model file instead of zero (e.g. to continue after the
    /// resume checkpoint is gone).
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["resume", "export"])]
    pub init: Option<PathBuf>,
    /// Freeze a checkpoint into OUT/NAME.safetensors instead of training.
    #[arg(long, value_name = "CKPT")]
    pub export: Option<PathBuf>,
    /// Model id of the exported file.
    #[arg(long, default_value = DEFAULT_VIDEO_MODEL, requires = "export")]
    pub name: String,
    /// Overwrite an existing exported model.
    #[arg(long, requires = "export")]
    pub force: bool,
    #[command(flatten)]
    pub run: crate::common::LoopArgs,
}

pub fn run(args: Args, _global: &lic_cli::Global) -> anyhow::Result<()> {
    if let Some(ckpt) = &args.export {
        return export(ckpt, &args);
    }
    let device = tch::Device::Cpu;
    let mut trainer = if let Some(ckpt) = &args.resume {
        let mut t = VideoTrainer::resume(ckpt, device)
            .with_context(|| format!("resuming {}", ckpt.display()))?;
        t.opts.steps = args.steps;
        eprintln!("resumed {} at step {}", ckpt.display(), t.progress.step);
        t
    } else {
        let base = lic::codec::CodecModel::find(&args.base)?;
        let latent = lic::codec::CodecModel::load(&base, device)?
            .config
            .latent_channels();
        let mut config = TemporalConfig::small(latent);
        config.hidden = args.hidden;
        config.refs = args.refs;
        let mut o = VideoTrainOptions::new(base, config);
        o.clips = args.clips.clone();
        o.stills = args.stills.clone();
        o.synthetic = if args.clips.is_empty() {
            1.0
        } else if args.stills.is_empty() {
            0.0
        } else {
            args.synthetic
        };
        o.frames = args.frames;
        o.batch = args.run.batch;
        o.crop = args.crop;
        o.steps = args.steps;
        o.lr = args.run.lr;
        o.clip = args.clip;
        o.seed = args.run.seed;
        o.log_every = args.run.log_every;
        o.checkpoint_every = args.run.checkpoint_every;
        let mut t = VideoTrainer::new(o, device)?;
        if let Some(w) = &args.init {
            t.init_from(w)
                .with_context(|| format!("initializing from {}", w.display()))?;
        }
        t
    };
    let o = &trainer.opts;
    let data = SequenceSource {
        clips: if o.clips.is_empty() {
            None
        } else {
            Some(Clips::load(&o.clips, o.crop as u32, o.frames)?)
        },
        stills: if o.stills.is_empty() {
            None
        } else {
            Some(Dataset::load(&o.stills, 256)?)
        },
    };
    eprintln!(
        "training the temporal prior on {} clips and {} stills ({:.0}% synthetic), batch {} x {} frames x {}px, steps {}..{}, threads {}",
        data.clips.as_ref().map_or(0, |c| c.clips.len()),
        data.stills.as_ref().map_or(0, |s| s.images.len()),
        o.synthetic * 100.0,
        o.batch,
        o.frames,
        o.crop,
        trainer.progress.step,
        o.steps,
        tch::get_num_threads()
    );
    if trainer.progress.step == 0 && args.init.is_none() && args.resume.is_none() {
        trainer.calibrate(&data);
    }
    let t = vt::run(trainer, &data, &args.out, args.run.time_limit, |l| {
        println!(
            "step {:>6}  inter bpp {:.4}  (hyperprior alone {:.4}, {:+.1}%)  |g| {:.3}  lr {:.2e}  {:.2}s/step",
            l.step,
            l.bpp,
            l.bpp_hyper,
            (l.bpp / l.bpp_hyper - 1.0) * 100.0,
            l.grad_norm,
            l.lr,
            l.seconds
        );
    })?;
    eprintln!(
        "checkpoint at step {} in {}",
        t.progress.step,
        args.out.join("checkpoint.safetensors").display()
    );
    Ok(())
}

fn export(ckpt: &std::path::Path, args: &Args) -> anyhow::Result<()> {
    let path = crate::common::export_path(&args.out, &args.name, ckpt, args.force)?;
    let t = VideoTrainer::resume(ckpt, tch::Device::Cpu)
        .with_context(|| format!("reading {}", ckpt.display()))?;
    let m = VideoModel::export(&t.vs, &t.opts.config, &t.base, &args.name, &path)?;
    let o = &t.opts;
    let join = |v: &[PathBuf], flag: &str| {
        v.iter()
            .map(|d| format!("{flag} {}", d.display()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let card = serde_json::json!({
        "name": m.id,
        "file": format!("{}.safetensors", m.id),
        "weights_sha256": m.sha256_hex(),
        "weights_bytes": m.file_bytes,
        "base_model": m.base.id,
        "base_sha256": m.base.sha256_hex(),
        "architecture": {
            "family": "temporal",
            "summary": "per-frame base-model transforms and hyperprior; inter frames: (mu, sigma) = h_s(z) + P([h_s(z), y_hat(t-1), y_hat(t-2)]), P = 3x conv3x3+ReLU, conv1x1 at latent resolution; exact integer inference",
            "config": m.config,
            "parameters": t.vs.variables().values().map(|v| v.numel()).sum::<usize>(),
        },
        "training": {
            "loss": "latent bits per pixel of inter frames (additive-noise likelihood), decoded latents fed back through each sequence",
            "clips": o.clips,
            "stills": o.stills,
            "synthetic_fraction": o.synthetic,
            "frames_per_sequence": o.frames,
            "steps": t.progress.step,
            "batch": o.batch,
            "crop": o.crop,
            "lr": o.lr,
            "seed": o.seed,
            "seconds": t.progress.elapsed_before,
            "history": t.progress.history,
        },
        "reproduce": format!(
            "lic video train --base {} {} {} --synthetic {} --frames {} --batch {} --crop {} --steps {} --lr {} --seed {} --hidden {} --refs {} --out runs/{}  (then lic video train --export runs/{}/checkpoint.safetensors --name {} --out models)",
            m.base.id, join(&o.clips, "--clips"), join(&o.stills, "--stills"), o.synthetic, o.frames, o.batch, o.crop, o.steps, o.lr, o.seed, o.config.hidden, o.config.refs, m.id, m.id, m.id
        ),
        "video_rd": serde_json::Value::Null,
    });
    let card_path = args.out.join(format!("{}.json", m.id));
    lic::io::file::write_atomic(&card_path, serde_json::to_string_pretty(&card)?.as_bytes())?;
    println!(
        "{}: video model {} (step {}) over {}, weights hash {}; card {}",
        path.display(),
        m.id,
        t.progress.step,
        m.base.id,
        m.hash_hex(),
        card_path.display()
    );
    Ok(())
}
