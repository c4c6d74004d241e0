//! `lic video decode IN.licv OUT.(y4m|mkv)`.

use std::path::PathBuf;

use anyhow::Context;

use lic::io::file::check_output;
use lic::video::io::{VideoFrame, VideoWriter};
use lic::video::stream::{decode_video, header_info, read_video_header, VideoStreamError};

const EXAMPLES: &str = "\
Examples:
  lic video decode clip.licv clip.mkv                 # lossless FFV1 in Matroska
  lic video decode clip.licv clip.y4m                 # raw YUV4MPEG2
  lic video decode damaged.licv out.mkv --keep-going  # keep what can be decoded, exit 1";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input .licv stream.
    pub input: PathBuf,
    /// Output video: .y4m, or .mkv (lossless FFV1).
    pub output: PathBuf,
    /// Video codec (lic-mcw) or learned model name or path; by default the one named in the
    /// stream.
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// On a damaged frame, write what can be decoded (the frames before it, the last good frame
    /// in place of lost ones, decoding again from the next intra frame), report, and exit 1.
    #[arg(long)]
    pub keep_going: bool,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, _global: &lic_cli::Global) -> anyhow::Result<()> {
    let ext = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    anyhow::ensure!(
        matches!(ext, "y4m" | "mkv"),
        "{}: output must be .y4m or .mkv",
        args.output.display()
    );
    check_output(&args.output, &[&args.input], args.force)?;
    let bytes = lic_cli::common::read_input(&args.input)?;
    let header = read_video_header(&bytes).with_context(|| format!("{}", args.input.display()))?;
    let name = args.model.as_deref().unwrap_or(&header.model_id);
    let info = header_info(&header);
    let mut writer = VideoWriter::create(&args.output, &info)
        .with_context(|| format!("{}", args.output.display()))?;
    let pb = lic::eval::progress_bar(u64::from(header.frames), "decode");
    let mut written = 0u32;
    let report = if super::encode::is_mcw(name) {
        lic::mcw::decode_stream(&bytes, args.keep_going, |_, f| {
            writer
                .write(&VideoFrame::Yuv420(f.clone()))
                .map_err(VideoStreamError::from)?;
            written += 1;
            pb.inc(1);
            Ok::<(), VideoStreamError>(())
        })
        .map(|(_, r)| r)
    } else {
        let model = super::load_video_model(name)?;
        decode_video(&bytes, &model, args.keep_going, |_, rgb| {
            let frame = VideoFrame::from_rgb_f32(rgb, info.chroma, &info.colour);
            writer.write(&frame).map_err(VideoStreamError::from)?;
            written += 1;
            pb.inc(1);
            Ok::<(), VideoStreamError>(())
        })
    }
    .with_context(|| format!("decoding {}", args.input.display()))?;
    pb.finish_and_clear();
    anyhow::ensure!(
        written > 0,
        "{}: no frame could be decoded",
        args.input.display()
    );
    writer
        .finish()
        .with_context(|| format!("{}", args.output.display()))?;
    println!(
        "{}: {} frames {}x{} ({} decoded, {} replaced), {:.2} fps decode",
        args.output.display(),
        written,
        header.width,
        header.height,
        report.decoded,
        report.damaged.len(),
        f64::from(report.decoded) / report.seconds.max(1e-9)
    );
    if !report.damaged.is_empty() || report.trailing > 0 {
        // Bounded logging: the first few damaged frames, then a count.
        const SHOWN: usize = 10;
        for (i, why) in report.damaged.iter().take(SHOWN) {
            eprintln!("frame {i}: {why}");
        }
        if report.damaged.len() > SHOWN {
            eprintln!("… and {} more damaged frames", report.damaged.len() - SHOWN);
        }
        if report.trailing > 0 {
            eprintln!("{} trailing bytes after the last frame", report.trailing);
        }
        anyhow::bail!(
            "{}: {} of {} frames damaged{} (output written with --keep-going)",
            args.input.display(),
            report.damaged.len(),
            header.frames,
            if report.trailing > 0 {
                ", trailing bytes"
            } else {
                ""
            }
        );
    }
    Ok(())
}
