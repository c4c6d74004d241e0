//! `lic video encode|decode`: argument and file checks are in place; the spatiotemporal codec
//! itself is not part of this build yet, and the commands say so with exit code 1.

use std::path::PathBuf;

use lic::io::file::check_output;

const EXAMPLES: &str = "\
Examples:
  lic video encode clip.y4m clip.licv --quality 3 --gop 32
  lic video decode clip.licv clip.mkv        # lossless FFV1 in Matroska, or .y4m";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub command: VideoCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum VideoCommand {
    /// Encode a video (any container/codec FFmpeg reads) into a .licv stream.
    #[command(after_help = EXAMPLES)]
    Encode {
        input: PathBuf,
        output: PathBuf,
        #[arg(long, short = 'q', default_value_t = 4.0)]
        quality: f64,
        /// Intra period in frames.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
        gop: u32,
        /// Encode at most N frames.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        frames: Option<u32>,
        #[arg(long)]
        force: bool,
    },
    /// Decode a .licv stream to .y4m or lossless FFV1 .mkv.
    #[command(after_help = EXAMPLES)]
    Decode {
        input: PathBuf,
        output: PathBuf,
        /// Keep decoding the frames before a corrupt one.
        #[arg(long)]
        keep_going: bool,
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    let (input, output, force) = match &args.command {
        VideoCommand::Encode {
            input,
            output,
            quality,
            ..
        } => {
            anyhow::ensure!(
                quality.is_finite() && *quality > 0.0,
                "--quality must be a positive number"
            );
            (input, output, *force_of(&args.command))
        }
        VideoCommand::Decode { input, output, .. } => {
            let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("");
            anyhow::ensure!(
                matches!(ext, "y4m" | "mkv"),
                "{}: output must be .y4m or .mkv",
                output.display()
            );
            (input, output, *force_of(&args.command))
        }
    };
    anyhow::ensure!(input.is_file(), "{}: no such file", input.display());
    check_output(output, &[input], force)?;
    anyhow::bail!(
        "video coding is not available in this build yet (tracked by the video-mode issue)"
    )
}

fn force_of(c: &VideoCommand) -> &bool {
    match c {
        VideoCommand::Encode { force, .. } | VideoCommand::Decode { force, .. } => force,
    }
}
