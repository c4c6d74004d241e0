//! One module per subcommand. Each exposes `Args` (clap) and `run(args, &Global) -> anyhow::Result<()>`.
//! Exit codes: 0 success, 1 runtime error (message names the file and cause), 2 bad arguments.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod bdrate;
pub mod common;
pub mod decode;
pub mod dwt;
pub mod encode;
pub mod eval;
pub mod eval_video;
pub mod family;
pub mod info;
pub mod latents;
pub mod overfit;
pub mod plot;
pub mod train;
pub mod video;

const MAIN_EXAMPLES: &str = "\
Examples:
  lic encode kodim01.png kodim01.lic --quality 6          # default model lic-dwt
  lic encode kodim01.png kodim01.lic -m elic-small -q 4    # the neural model
  lic decode kodim01.lic kodim01.out.png
  lic info kodim01.lic
  lic latents kodim01.png -o kodim01.lat.safetensors
  lic eval --dataset datasets/kodak --points 6 -o results/kodak.json";

#[derive(Parser, Debug)]
#[command(name = "lic", version, about = "lic: a learned image and video codec", after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// Worker threads for libtorch and the entropy coder (default: all cores).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compress an image into a .lic file.
    Encode(encode::Args),
    /// Decompress a .lic file into an image.
    Decode(decode::Args),
    /// Print the header of a .lic file.
    Info(info::Args),
    /// Export the dequantized latent tensor of an image or a .lic file (safetensors).
    Latents(latents::Args),
    /// Rate–distortion evaluation over a folder of images (a lic model or a conventional codec).
    Eval(eval::Args),
    /// Bjøntegaard delta rate between two results files.
    Bdrate(bdrate::Args),
    /// Plot RD curves from results files into a PNG.
    Plot(plot::Args),
    /// Train a model on folders of images.
    Train(train::Args),
    /// Video coding (.licv).
    Video(video::Args),
}

/// Options shared by every subcommand.
#[derive(Debug, Clone)]
pub struct Global {
    pub threads: Option<u32>,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout with exit 0, and usage errors to stderr with exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let global = Global {
        threads: cli.threads,
    };
    common::apply_threads(&global);
    let result: anyhow::Result<()> = match cli.command {
        Command::Encode(a) => encode::run(a, &global),
        Command::Decode(a) => decode::run(a, &global),
        Command::Info(a) => info::run(a, &global),
        Command::Latents(a) => latents::run(a, &global),
        Command::Eval(a) => eval::run(a, &global),
        Command::Bdrate(a) => bdrate::run(a, &global),
        Command::Plot(a) => plot::run(a, &global),
        Command::Train(a) => train::run_cmd(a, &global),
        Command::Video(a) => video::run(a, &global),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
