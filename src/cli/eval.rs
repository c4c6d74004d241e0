//! `lic eval`: rate–distortion evaluation of a codec over a dataset (conventional codecs here;
//! the learned models plug in through the same `lic::eval::Codec` trait).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use lic::eval::conventional::{conventional_codec, CONVENTIONAL_CODECS};
use lic::eval::run::{evaluate, EvalOptions};
use lic::io::file::check_output;

const EXAMPLES: &str = "\
Examples:
  lic eval --dataset datasets/kodak --points 6 -o results/kodak-lic.json       # default model
  lic eval --dataset datasets/kodak --model lic-elic-small --quality 1,2.5,4,6
  lic eval --dataset datasets/kodak --codec jpeg --points 6 -o results/kodak-jpeg.json
  lic eval --dataset datasets/kodak --codec avif --quality 50,38,26 --limit 4
Codecs: jpeg (4:2:0), jpeg444, webp, avif, avif-s2, jxl, x265 (HEVC intra 4:4:4).
Quality: lic models 1 to their number of levels (continuous), JPEG/WebP quality 0-100, AVIF quantizer 0-63, JPEG XL distance, x265 QP 0-51.";

/// Evaluates a codec on a directory of PNG images: bpp, PSNR-RGB, MS-SSIM, encode/decode time.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Directory of PNG images (all *.png in it, sorted by name).
    #[arg(long, value_name = "DIR")]
    pub dataset: PathBuf,
    /// Conventional codec to measure (instead of a lic model).
    #[arg(long, value_name = "CODEC", conflicts_with = "model")]
    pub codec: Option<String>,
    /// lic model name or path (the default model when neither --model nor --codec is given).
    #[arg(long, short = 'm', value_name = "NAME")]
    pub model: Option<String>,
    /// Comma-separated codec qualities (codec-specific scale).
    #[arg(
        long,
        value_name = "Q1,Q2,...",
        value_delimiter = ',',
        conflicts_with = "points"
    )]
    pub quality: Option<Vec<f64>>,
    /// Number of rate points spread over the codec's useful range.
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub points: u32,
    /// Results file (CompressAI JSON format, with per-image rows); printed to stdout when absent.
    #[arg(short, long, value_name = "JSON")]
    pub output: Option<PathBuf>,
    /// Only the first N images.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Overwrite the output file.
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(args: Args, global: &super::Global) -> Result<()> {
    if let Some(out) = &args.output {
        check_output(out, &[], args.force)?;
    }
    if !args.dataset.is_dir() {
        bail!("{}: dataset directory not found", args.dataset.display());
    }
    let codec: Box<dyn lic::eval::Codec> = match &args.codec {
        Some(name) => conventional_codec(name).with_context(|| {
            format!("--codec {name} (one of {})", CONVENTIONAL_CODECS.join(", "))
        })?,
        None => {
            let name = args.model.as_deref().unwrap_or(lic::codec::DEFAULT_MODEL);
            Box::new(lic::eval::lic::LicCodec::new(super::common::load_model(
                name,
            )?))
        }
    };
    let qualities = match args.quality {
        Some(q) if !q.is_empty() => q,
        _ => codec.default_qualities(args.points as usize),
    };
    let opts = EvalOptions {
        limit: args.limit.map(|n| n as usize),
        progress: true,
        device: None,
        threads: global.threads.map(|t| t as usize),
    };
    let results = evaluate(&args.dataset, codec.as_ref(), &qualities, &opts)?;
    let r = &results.results;
    eprintln!(
        "{:>8} {:>8} {:>9} {:>9} {:>8} {:>8}",
        codec.quality_name(),
        "bpp",
        "PSNR-RGB",
        "MS-SSIM",
        "enc s",
        "dec s"
    );
    for i in 0..r.bpp.len() {
        eprintln!(
            "{:>8} {:>8.4} {:>9.3} {:>9.5} {:>8.3} {:>8.3}",
            r.quality[i],
            r.bpp[i],
            r.psnr_rgb[i],
            r.ms_ssim[i],
            r.encoding_time[i],
            r.decoding_time[i]
        );
    }
    match &args.output {
        Some(out) => {
            results.write(out)?;
            eprintln!("wrote {}", out.display());
        }
        None => println!("{}", serde_json::to_string_pretty(&results)?),
    }
    Ok(())
}
