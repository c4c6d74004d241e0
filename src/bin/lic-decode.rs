//! `lic-decode IN OUT`: decodes the libtorch-free families (`lic-dwt`, `lic-overfit`) in a
//! small binary that does not link libtorch, so a decode does not pay libtorch's start-up
//! (about half a second of CPU for `lic` itself). Streams of libtorch models are refused with a
//! pointer to `lic decode`.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Parser;

use lic::format::Container;
use lic::io::file::check_output;

const EXAMPLES: &str = "\
Examples:
  lic-decode kodim01.lic kodim01.png
  lic-decode kodim01.lic kodim01.ppm --force     # overwrite an existing output
  lic-decode --threads 2 kodim01.lic kodim01.png";

/// Decode a lic-dwt or lic-overfit `.lic` file without libtorch.
#[derive(Parser, Debug)]
#[command(name = "lic-decode", version, after_help = EXAMPLES)]
struct Cli {
    /// Input .lic file.
    input: PathBuf,
    /// Output image (.png, .ppm/.pgm, .bmp, .tif; PNG for other names).
    output: PathBuf,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    force: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<u32>,
}

fn main() -> ExitCode {
    // As in `lic`: restore the default SIGPIPE action so that a closed pipe ends quietly.
    // SAFETY: first thing in main, before any thread exists; it only resets a handler.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    if let Some(n) = cli.threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        // Fails only if the pool was already built, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build_global();
    }
    check_output(&cli.output, &[&cli.input], cli.force)?;
    let bytes = std::fs::read(&cli.input)
        .map_err(|e| anyhow!("{}: cannot read: {e}", cli.input.display()))?;
    let c = Container::parse(&bytes).with_context(|| format!("{}", cli.input.display()))?;
    let family = lic::registry::by_model_id(&c.header.model_id).ok_or_else(|| {
        anyhow!(
            "{} is a {} stream, which needs libtorch: decode it with `lic decode`",
            cli.input.display(),
            c.header.model_id
        )
    })?;
    let img =
        (family.decode)(&bytes).with_context(|| format!("decoding {}", cli.input.display()))?;
    lic::io::image::save(&img, &cli.output)?;
    println!(
        "{}: {}x{}{}",
        cli.output.display(),
        img.width,
        img.height,
        if img.gray { " (gray)" } else { "" }
    );
    Ok(())
}
