//! The `lic` command line as a library: the subcommands' arguments (clap) and their libtorch-free
//! implementations. One module per subcommand; each exposes `Args` and
//! `run(args, &Global, &dyn Engine) -> anyhow::Result<()>`.
//!
//! Whatever needs libtorch (the neural models, `lic train`, `lic latents`, `lic video`, the
//! classifier of `lic eval --task classify`) goes through an [`Engine`]. The `lic` binary's engine
//! ([`handover::Handover`]) replaces the process with the `lic-torch` binary and the same
//! arguments, so `lic` never loads libtorch for the libtorch-free families; `lic-torch` (crate
//! `lic-torch-cli`) runs this same command line with an engine that does the work.
//!
//! Exit codes: 0 success, 1 runtime error (message names the file and cause), 2 bad arguments.

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

pub mod batch;
pub mod bdrate;
pub mod common;
pub mod decode;
pub mod encode;
pub mod eval;
pub mod handover;
pub mod info;
pub mod latents;
pub mod plot;

const MAIN_EXAMPLES: &str = "\
Examples:
  lic encode kodim01.png kodim01.lic --quality 6          # default model lic-dwt
  lic encode kodim01.png kodim01.lic -m elic-small -q 4    # the neural model (runs lic-torch)
  lic decode kodim01.lic kodim01.out.png
  lic info kodim01.lic
  lic latents kodim01.png -o kodim01.lat.safetensors
  lic eval --dataset datasets/kodak --points 6 -o results/kodak.json
Models: lic-dwt (dwt, the default) and lic-overfit (overfit) run in this binary; the libtorch
models (lic-elic-small, lic-walloc, lic-video), `lic train`, `lic latents` and `lic video` run in
`lic-torch`, which lic starts with the same arguments (beside lic, or $LIC_TORCH).";

#[derive(Parser, Debug)]
#[command(name = "lic", version, about = "lic: a learned image and video codec", after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// Worker threads for the codecs (and libtorch) (default: all cores).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    #[command(subcommand)]
    pub command: Command,
}

/// The arguments of a subcommand that only `lic-torch` parses (`lic train --help` shows its
/// help there).
#[derive(clap::Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct Passthrough {
    /// The subcommand's arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compress an image into a .lic file.
    Encode(encode::Args),
    /// Decompress a .lic file into an image.
    Decode(decode::Args),
    /// Print the header of a .lic file.
    Info(info::Args),
    /// Export a compressed-domain tensor of an image or a .lic file (safetensors).
    Latents(latents::Args),
    /// Rate–distortion evaluation over a folder of images (a lic model or a conventional codec).
    Eval(eval::Args),
    /// Transcode a folder or manifest of images into .lic files (sharded, resumable).
    Batch(batch::Args),
    /// Bjøntegaard delta rate between two results files.
    Bdrate(bdrate::Args),
    /// Plot RD curves from results files into a PNG.
    Plot(plot::Args),
    /// Train a model on folders of images (libtorch).
    Train(Passthrough),
    /// Video coding (.licv; libtorch and FFmpeg).
    Video(Passthrough),
}

/// Options shared by every subcommand.
#[derive(Debug, Clone)]
pub struct Global {
    pub threads: Option<u32>,
}

/// What needs libtorch. The `lic` binary's engine hands the whole command line over to
/// `lic-torch` ([`handover::Handover`]); `lic-torch`'s does the work in process.
pub trait Engine {
    /// Applies the global options to what the engine runs (`lic-torch`: libtorch's threads);
    /// called once, after the command line is parsed.
    fn init(&self, _global: &Global) {}
    /// `lic encode` with a model that is not a libtorch-free family.
    fn encode(&self, args: encode::Args, global: &Global) -> anyhow::Result<()>;
    /// `lic decode` of a stream that is not of a libtorch-free family (or with symbol traces).
    fn decode(&self, args: decode::Args, global: &Global) -> anyhow::Result<()>;
    /// `lic eval` of a libtorch model, `--task classify`, or `--video`.
    fn eval(&self, args: eval::Args, global: &Global) -> anyhow::Result<()>;
    /// `lic latents` of a libtorch model.
    fn latents(&self, args: latents::Args, global: &Global) -> anyhow::Result<()>;
    /// `lic train ARGS...`.
    fn train(&self, args: Vec<OsString>, global: &Global) -> anyhow::Result<()>;
    /// `lic video ARGS...`.
    fn video(&self, args: Vec<OsString>, global: &Global) -> anyhow::Result<()>;
}

/// Runs the command line of `std::env::args_os()` with `engine`; the exit code follows the
/// README (0, 1 runtime error, 2 bad arguments).
pub fn main_with(engine: &dyn Engine) -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`lic info a.lic | head -1`) would
    // panic; restore the default action: the process ends quietly, like other Unix tools.
    // SAFETY: called first thing, before any thread exists; it only resets a handler.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
    engine.init(&global);
    // Every subcommand exits 0 on success except `lic batch`, whose code says what failed.
    let ok = |r: anyhow::Result<()>| r.map(|()| 0u8);
    let result: anyhow::Result<u8> = match cli.command {
        Command::Encode(a) => ok(encode::run(a, &global, engine)),
        Command::Decode(a) => ok(decode::run(a, &global, engine)),
        Command::Info(a) => ok(info::run(a, &global)),
        Command::Latents(a) => ok(latents::run(a, &global, engine)),
        Command::Eval(a) => ok(eval::run(a, &global, engine)),
        Command::Bdrate(a) => ok(bdrate::run(a, &global)),
        Command::Plot(a) => ok(plot::run(a, &global)),
        Command::Train(a) => ok(engine.train(a.args, &global)),
        Command::Video(a) => ok(engine.video(a.args, &global)),
        Command::Batch(a) => batch::run(a, &global),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => report(&e),
    }
}

/// Prints an error and its causes once each, and gives the exit code: 2 for bad arguments
/// ([`BadArgs`]), 1 otherwise.
pub fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", common::chain(e));
    if e.downcast_ref::<BadArgs>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// An error in the arguments that clap cannot see (a quality outside the model's range, an
/// option the model does not offer): exit code 2.
#[derive(Debug)]
pub struct BadArgs(pub String);

impl std::fmt::Display for BadArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadArgs {}
