//! `lic video encode IN OUT.licv`.

use std::path::PathBuf;

use anyhow::Context;

use lic::io::file::{check_output, write_atomic};
use lic::video::codec::{MAX_VIDEO_PIXELS, MAX_VIDEO_SIDE};
use lic::video::colour::ColourInfo;
use lic::video::io::VideoReader;
use lic::video::io::{Chroma, VideoFrame};
use lic::video::stream::encode_video;

const EXAMPLES: &str = "\
Examples:
  lic video encode clip.y4m clip.licv                  # lic-mcw, quality 8, intra period 32
  lic video encode clip.mkv clip.licv -q 5 --gop 8     # lower rate, an intra frame every 8
  lic video encode clip.mp4 clip.licv --frames 10      # the first 10 frames only
  lic video encode clip.mkv clip.licv --bpp 0.05       # lic-mcw: the best quality within 0.05 bpp
  lic video encode clip.y4m clip.licv -m lic-video -q 3   # the learned codec (libtorch)";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input video (y4m, mkv, mp4, ...: anything FFmpeg reads).
    pub input: PathBuf,
    /// Output .licv stream.
    pub output: PathBuf,
    /// Quality: lic-mcw 0–16 (default 8; +2 about doubles the rate), the learned model its
    /// base model's range (default 4).
    #[arg(long, short = 'q')]
    pub quality: Option<f64>,
    /// Intra period in frames (1 = every frame intra).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub gop: u32,
    /// lic-mcw: the highest quality whose file stays within B bits per pixel over the clip (a
    /// bisection of up to 8 encodes), instead of --quality.
    #[arg(long, value_name = "B", conflicts_with = "quality")]
    pub bpp: Option<f64>,
    /// Encode at most N frames.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub frames: Option<u32>,
    /// Video codec: lic-mcw (motion-compensated wavelet, pure Rust; the default) or a learned
    /// video model's name or path (lic-video).
    #[arg(long, short = 'm', default_value = lic::mcw::MODEL_ID)]
    pub model: String,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Whether `--model` names the pure-Rust family.
pub fn is_mcw(name: &str) -> bool {
    lic::registry::video_by_name(name).is_some_and(|f| f.id == lic::mcw::MODEL_ID)
}

pub fn run(args: Args, _global: &lic_cli::Global) -> anyhow::Result<()> {
    if let Some(q) = args.quality {
        anyhow::ensure!(q.is_finite(), "--quality must be a number");
    }
    anyhow::ensure!(
        args.input.is_file(),
        "{}: no such file",
        args.input.display()
    );
    check_output(&args.output, &[&args.input], args.force)?;
    if is_mcw(&args.model) {
        return run_mcw(&args);
    }
    if args.bpp.is_some() {
        return Err(lic_cli::BadArgs(
            "--bpp is lic-mcw's (use --quality with a learned model)".into(),
        )
        .into());
    }
    let quality = args.quality.unwrap_or(4.0);
    let model = super::load_video_model(&args.model)?;
    let mut reader = VideoReader::open(&args.input, MAX_VIDEO_SIDE, MAX_VIDEO_PIXELS)
        .with_context(|| format!("{}", args.input.display()))?;
    let info = reader.info().clone();
    let total = progress_total(args.frames, info.frames_hint);
    let pb = lic::eval::progress_bar(total, "encode");
    let enc = encode_video(
        &model,
        &mut reader,
        quality,
        args.gop,
        args.frames,
        false,
        |_| pb.inc(1),
    )
    .with_context(|| format!("encoding {}", args.input.display()))?;
    pb.finish_and_clear();
    let what = format!("quality {}", enc.header.quality);
    finish(
        &args,
        &info,
        &enc.bytes,
        enc.frame_bytes.len(),
        &enc.estimated_bits,
        &what,
        enc.seconds,
    )
}

/// `lic video encode` with lic-mcw: the source's 4:2:0 planes are coded as they are; an RGB
/// source is converted to BT.709 full-range 4:2:0 first.
fn run_mcw(args: &Args) -> anyhow::Result<()> {
    let quality = args.quality.unwrap_or(f64::from(lic::mcw::DEFAULT_QUALITY));
    let (lo, hi) = lic::mcw::QUALITY_RANGE;
    if !(f64::from(lo)..=f64::from(hi)).contains(&quality) {
        // A bad argument: exit 2, like clap's own refusals.
        return Err(lic_cli::BadArgs(format!(
            "--quality {quality} is outside lic-mcw's range {lo}–{hi}"
        ))
        .into());
    }
    let info = VideoReader::open(&args.input, lic::mcw::MAX_SIDE, lic::mcw::MAX_PIXELS)
        .with_context(|| format!("{}", args.input.display()))?
        .info()
        .clone();
    let mut colour = info.colour;
    if info.chroma == Chroma::Rgb {
        colour = ColourInfo {
            matrix: ColourInfo::MATRIX_BT709,
            range: ColourInfo::RANGE_FULL,
            ..colour
        };
    }
    let total = progress_total(args.frames, info.frames_hint);
    let header_colour = lic::format::video::VideoColour {
        chroma: 0,
        matrix: colour.matrix,
        range: colour.range,
        primaries: colour.primaries,
        transfer: colour.transfer,
        chroma_location: colour.chroma_location,
    };
    let limit = args.frames.map_or(u64::MAX, u64::from);
    // One encode of the clip at quality `q`, reading the source afresh (memory stays bounded).
    let encode_at = |q: f64, message: &str| -> anyhow::Result<lic::mcw::EncodedStream> {
        let mut reader = VideoReader::open(&args.input, lic::mcw::MAX_SIDE, lic::mcw::MAX_PIXELS)
            .with_context(|| format!("{}", args.input.display()))?;
        let mut opts = lic::mcw::VideoOptions::new(q as f32);
        opts.gop = args.gop;
        let pb = lic::eval::progress_bar(total, message);
        let frames = std::iter::from_fn(|| {
            if reader.frames_read() >= limit {
                return None;
            }
            match reader.next_frame() {
                Ok(Some(VideoFrame::Yuv420(f))) => Some(Ok(f)),
                Ok(Some(rgb @ VideoFrame::Rgb(_))) => {
                    match VideoFrame::from_rgb_f32(
                        &rgb.to_rgb_f32(&colour),
                        Chroma::Yuv420,
                        &colour,
                    ) {
                        VideoFrame::Yuv420(f) => Some(Ok(f)),
                        VideoFrame::Rgb(_) => unreachable!("converted to 4:2:0"),
                    }
                }
                Ok(None) => None,
                Err(e) => Some(Err(anyhow::Error::from(e))),
            }
        });
        let enc = lic::mcw::encode_stream(
            frames,
            opts,
            (info.fps_num, info.fps_den),
            header_colour,
            false,
            |_| pb.inc(1),
        )
        .with_context(|| format!("encoding {}", args.input.display()))?;
        pb.finish_and_clear();
        Ok(enc)
    };
    let t = std::time::Instant::now();
    let (quality, enc) = match args.bpp {
        None => (quality, encode_at(quality, "encode")?),
        Some(target) => {
            if !(target.is_finite() && target > 0.0) {
                return Err(lic_cli::BadArgs("--bpp must be a positive number".into()).into());
            }
            // Bisection over the quality (the rate grows with it): the highest quality whose
            // file stays within the target, or the lowest quality when none does.
            let bpp = |e: &lic::mcw::EncodedStream| {
                e.bytes.len() as f64 * 8.0
                    / (f64::from(info.width) * f64::from(info.height) * e.frame_bytes.len() as f64)
            };
            let (mut lo, mut hi) = (f64::from(lo), f64::from(hi));
            let mut best = encode_at(lo, "bpp search")?;
            let mut best_q = lo;
            if bpp(&best) <= target {
                for _ in 0..7 {
                    let mid = (lo + hi) / 2.0;
                    let e = encode_at(mid, "bpp search")?;
                    if bpp(&e) <= target {
                        (best, best_q, lo) = (e, mid, mid);
                    } else {
                        hi = mid;
                    }
                }
            }
            (best_q, best)
        }
    };
    let seconds = t.elapsed().as_secs_f64();
    let what = format!("lic-mcw quality {quality}");
    finish(
        args,
        &info,
        &enc.bytes,
        enc.frame_bytes.len(),
        &enc.estimated_bits,
        &what,
        seconds,
    )
}

/// The progress bar's length: `--frames` or the container's count, whichever is smaller.
fn progress_total(frames: Option<u32>, hint: Option<u64>) -> u64 {
    match (frames, hint) {
        (Some(n), Some(h)) => u64::from(n).min(h),
        (Some(n), None) => u64::from(n),
        (None, Some(h)) => h,
        (None, None) => 0,
    }
}

/// Writes the stream (atomically) and prints the summary of an encode of both families.
fn finish(
    args: &Args,
    info: &lic::video::io::VideoInfo,
    bytes: &[u8],
    frames: usize,
    estimated_bits: &[f64],
    what: &str,
    seconds: f64,
) -> anyhow::Result<()> {
    write_atomic(&args.output, bytes)?;
    let est: f64 = estimated_bits.iter().sum();
    report(
        &args.output,
        info,
        bytes.len(),
        frames,
        est,
        what,
        args.gop,
        seconds,
    );
    Ok(())
}

/// The one-line summary of an encode.
#[allow(clippy::too_many_arguments)]
fn report(
    out: &std::path::Path,
    info: &lic::video::io::VideoInfo,
    bytes: usize,
    n: usize,
    estimated_bits: f64,
    what: &str,
    gop: u32,
    seconds: f64,
) {
    let px = f64::from(info.width) * f64::from(info.height) * n as f64;
    println!(
        "{}: {} frames {}x{} @ {}/{} fps, {} bytes, {:.4} bpp (estimate {:.4}), {what}, gop {gop}, {:.2} fps encode",
        out.display(),
        n,
        info.width,
        info.height,
        info.fps_num,
        info.fps_den,
        bytes,
        bytes as f64 * 8.0 / px,
        estimated_bits / px,
        n as f64 / seconds.max(1e-9)
    );
}
