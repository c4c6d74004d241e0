//! `lic-torch`: the whole `lic` command line, plus what needs libtorch (the neural models,
//! training, latents, video, the classifier). `lic` hands such work over to this binary with the
//! same arguments; it can also be run directly.
mod common;
mod eval_video;
mod latents;
mod learned;
mod train;
mod video;

use std::ffi::OsString;

use anyhow::Context;
use clap::Parser;
use lic_cli::{decode, encode, eval, Engine, Global};

/// The engine that does libtorch work in this process.
struct Torch;

/// Parses a pass-through subcommand's arguments as `lic NAME ARGS...`.
fn parse<T: clap::Args>(name: &str, args: Vec<OsString>) -> anyhow::Result<T> {
    #[derive(clap::Parser)]
    struct Sub<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    let argv = std::iter::once(OsString::from(format!("lic {name}"))).chain(args);
    match Sub::<T>::try_parse_from(argv) {
        Ok(s) => Ok(s.inner),
        Err(e) => {
            // Help and usage errors as clap prints them, with clap's exit codes (0 and 2).
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 2 } else { 0 });
        }
    }
}

impl Engine for Torch {
    fn init(&self, global: &Global) {
        // libtorch's intra-op threads; lic_cli sets rayon's.
        if let Some(n) = global.threads {
            tch::set_num_threads(n as i32);
        }
    }
    fn encode(&self, args: encode::Args, _: &Global) -> anyhow::Result<()> {
        learned::encode(args)
    }
    fn decode(&self, args: decode::Args, _: &Global) -> anyhow::Result<()> {
        learned::decode(args)
    }
    fn eval(&self, args: eval::Args, global: &Global) -> anyhow::Result<()> {
        if let Some(dir) = &args.video {
            let request = eval_video::VideoRequest {
                opts: &args.video_opts,
                output: args.output.as_deref(),
                plot: args.plot.as_deref(),
                force: args.force,
                codec_given: args.codec.is_some(),
                model: args.model.as_deref(),
                quality: args.quality.as_deref(),
                points: args.points,
            };
            return eval_video::run(dir, &request, global);
        }
        if args.classifier.is_some() && args.task != eval::Task::Classify {
            anyhow::bail!("--classifier is only used with --task classify");
        }
        // Load the classifier first: a missing one fails before any encoding.
        let classifier = match args.task {
            eval::Task::Classify => {
                use lic::eval::classify::TorchClassifier;
                let name = args.classifier.as_deref().map(|p| p.to_string_lossy());
                let path = TorchClassifier::find(name.as_deref())?;
                Some(TorchClassifier::load(&path)?)
            }
            eval::Task::Rd => None,
        };
        let codec = match eval::core_codec(&args)? {
            Some(c) => c,
            None => {
                let name = args.model.as_deref().unwrap_or_default();
                Box::new(
                    lic::eval::learned::LicCodec::new(common::load_model(name)?)
                        .with_refine(args.refine),
                )
            }
        };
        let classifier = classifier
            .as_ref()
            .map(|c| c as &dyn lic::eval::perception::Classify);
        eval::run_with(args, global, codec, classifier)
    }
    fn latents(&self, args: lic_cli::latents::Args, global: &Global) -> anyhow::Result<()> {
        latents::run(args, global)
    }
    fn train(&self, args: Vec<OsString>, global: &Global) -> anyhow::Result<()> {
        train::run_cmd(parse("train", args)?, global)
    }
    fn video(&self, args: Vec<OsString>, global: &Global) -> anyhow::Result<()> {
        video::run(parse("video", args)?, global).context("lic video")
    }
}

fn main() -> std::process::ExitCode {
    lic_cli::main_with(&Torch)
}
