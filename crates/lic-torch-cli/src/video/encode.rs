//! `lic video encode IN OUT.licv`.

use std::path::PathBuf;

use anyhow::Context;

use lic::io::file::{check_output, write_atomic};
use lic::video::codec::{MAX_VIDEO_PIXELS, MAX_VIDEO_SIDE};
use lic::video::io::VideoReader;
use lic::video::model::DEFAULT_VIDEO_MODEL;
use lic::video::stream::encode_video;

const EXAMPLES: &str = "\
Examples:
  lic video encode clip.y4m clip.licv                  # quality 4, intra period 32
  lic video encode clip.mkv clip.licv -q 2 --gop 8     # lower rate, an intra frame every 8
  lic video encode clip.mp4 clip.licv --frames 10      # the first 10 frames only";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input video (y4m, mkv, mp4, ...: anything FFmpeg reads).
    pub input: PathBuf,
    /// Output .licv stream.
    pub output: PathBuf,
    /// Continuous quality in the base model's range (1 = lowest rate).
    #[arg(long, short = 'q', default_value_t = 4.0)]
    pub quality: f64,
    /// Intra period in frames (1 = every frame intra).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub gop: u32,
    /// Encode at most N frames.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub frames: Option<u32>,
    /// Video model name or path.
    #[arg(long, short = 'm', default_value = DEFAULT_VIDEO_MODEL)]
    pub model: String,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, _global: &lic_cli::Global) -> anyhow::Result<()> {
    anyhow::ensure!(args.quality.is_finite(), "--quality must be a number");
    anyhow::ensure!(
        args.input.is_file(),
        "{}: no such file",
        args.input.display()
    );
    check_output(&args.output, &[&args.input], args.force)?;
    let model = super::load_video_model(&args.model)?;
    let mut reader = VideoReader::open(&args.input, MAX_VIDEO_SIDE, MAX_VIDEO_PIXELS)
        .with_context(|| format!("{}", args.input.display()))?;
    let info = reader.info().clone();
    let total = match (args.frames, info.frames_hint) {
        (Some(n), Some(h)) => u64::from(n).min(h),
        (Some(n), None) => u64::from(n),
        (None, Some(h)) => h,
        (None, None) => 0,
    };
    let pb = lic::eval::progress_bar(total, "encode");
    let enc = encode_video(
        &model,
        &mut reader,
        args.quality,
        args.gop,
        args.frames,
        false,
        |_| pb.inc(1),
    )
    .with_context(|| format!("encoding {}", args.input.display()))?;
    pb.finish_and_clear();
    write_atomic(&args.output, &enc.bytes)?;
    let n = enc.frame_bytes.len();
    let px = f64::from(info.width) * f64::from(info.height) * n as f64;
    let est: f64 = enc.estimated_bits.iter().sum();
    println!(
        "{}: {} frames {}x{} @ {}/{} fps, {} bytes, {:.4} bpp (estimate {:.4}), quality {}, gop {}, {:.2} fps encode",
        args.output.display(),
        n,
        info.width,
        info.height,
        info.fps_num,
        info.fps_den,
        enc.bytes.len(),
        enc.bytes.len() as f64 * 8.0 / px,
        est / px,
        enc.header.quality,
        args.gop,
        n as f64 / enc.seconds
    );
    Ok(())
}
