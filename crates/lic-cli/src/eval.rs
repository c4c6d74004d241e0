//! `lic eval`: rate–distortion evaluation of a codec over a dataset (conventional codecs here;
//! the learned models plug in through the same `lic_eval::Codec` trait), or, with
//! `--task classify`, machine-perception accuracy (`lic_eval::perception`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lic::io::file::check_output;
use lic_eval::conventional::{conventional_codec, CONVENTIONAL_CODECS};
use lic_eval::perception::{agreement_plot, evaluate_classify, Classify, ClassifyResults};
use lic_eval::plot::{plot, plot_metric, Curve, PlotOptions};
use lic_eval::results::RdResults;
use lic_eval::run::{evaluate, EvalOptions};

use crate::{BadArgs, Engine, Global};

const EXAMPLES: &str = "\
Examples:
  lic eval --dataset datasets/kodak --points 6 -o results/kodak-lic.json       # default model (lic-dwt)
  lic eval --dataset datasets/kodak --model dwt --quality 2,4,6,8,10
  lic eval --dataset datasets/kodak --images kodim01,kodim04,kodim08,kodim13,kodim19,kodim23 \
      --model overfit --effort slow --quality 1,3,5,7 -o slow.json --resume   # run again until complete
  lic eval --dataset datasets/kodak --model lic-elic-small --quality 1,2.5,4,6
  lic eval --dataset datasets/kodak --codec jpeg --points 6 -o results/kodak-jpeg.json
  lic eval --dataset datasets/kodak --codec avif --quality 50,38,26 --limit 4
  lic eval --task classify --dataset ../shared/datasets/imagenet-sample --points 6 -o out/cls-lic.json
  lic eval --task classify --dataset ../shared/datasets/imagenet-sample --codec webp --points 6 \
      -o out/cls-webp.json --plot out/cls-webp.png
  lic eval --video ../shared/datasets/video --clips vid4_foliage,vid4_walk --gop 32 -o out/video.json \
      --plot out/video.png
Tasks: rd (default): bpp, PSNR-RGB, MS-SSIM, times. classify: an ImageNet classifier
(EfficientNet-Lite0, run scripts/setup-perception.sh once) on the source and decoded images: top-1
agreement with the uncompressed prediction, top-1/top-5 accuracy against DIR/labels.tsv (header
line, then file<TAB>class_index<TAB>...), KL divergence, 95% intervals, bpp at 80%/90% agreement.
Codecs: jpeg (4:2:0), jpeg444, webp, avif, avif-s2, jxl, x265 (HEVC intra 4:4:4).
Models: lic-dwt (dwt, the default), lic-overfit (overfit), a libtorch model by name or path.
Quality: lic-dwt 0-16, lic-overfit 0-10, libtorch models 1 to their number of levels (continuous), JPEG/WebP quality 0-100, AVIF quantizer 0-63, JPEG XL distance, x265 QP 0-51.";

/// Options of `--video` (ignored otherwise).
#[derive(clap::Args, Debug)]
pub struct VideoOpts {
    /// Intra period for lic and the anchors.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub gop: u32,
    /// Frames per clip (all when absent).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub frames: Option<u32>,
    /// Anchors to run (x264, x265, x265-psnr); `--anchors none` for lic alone.
    #[arg(long, value_delimiter = ',', default_value = "x264,x265,x265-psnr")]
    pub anchors: Vec<String>,
    /// Only clips whose file name starts with one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub clips: Vec<String>,
}

/// What `lic eval` measures.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Rate–distortion: bpp, PSNR-RGB, MS-SSIM, encode/decode time.
    Rd,
    /// Machine perception: ImageNet classifier agreement and accuracy vs bpp.
    Classify,
}

/// Evaluates a codec on a directory of PNG images: bpp, PSNR-RGB, MS-SSIM, encode/decode time;
/// or (`--task classify`) how well an ImageNet classifier still sees the decoded images.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Task::Rd)]
    pub task: Task,
    /// Directory of PNG images (all *.png in it, sorted by name).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "video",
        conflicts_with = "video"
    )]
    pub dataset: Option<PathBuf>,
    /// Video evaluation over a directory of 8-bit 4:2:0 clips (.mkv, .y4m, .mp4): a lic video
    /// model and the x264/x265 anchors, YUV-PSNR ((6Y+U+V)/8), RGB-PSNR, bpp, per-frame bits,
    /// BD-rate per clip.
    #[arg(long, value_name = "DIR")]
    pub video: Option<PathBuf>,
    #[command(flatten)]
    pub video_opts: VideoOpts,
    /// Conventional codec to measure (instead of a lic model).
    #[arg(long, value_name = "CODEC", conflicts_with = "model")]
    pub codec: Option<String>,
    /// lic model: lic-dwt (dwt; the default when neither --model nor --codec is given),
    /// lic-overfit (overfit), or a libtorch model's name or path.
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
    /// Only these images of the dataset (file names or names without the extension,
    /// comma-separated), e.g. `kodim01,kodim04`.
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        conflicts_with = "video"
    )]
    pub images: Option<Vec<String>>,
    /// lic models: encode-time latent refinement steps per image (`lic encode --refine`).
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "codec")]
    pub refine: usize,
    /// `--model overfit`: fitting effort per image.
    #[arg(long, value_enum, default_value = "default")]
    pub effort: super::common::EffortArg,
    /// `--model overfit`: fitting time limit per image, seconds.
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// lic-dwt: what the encoder optimizes (psnr, or machine: reported as lic-dwt-machine).
    #[arg(long, value_enum, default_value = "psnr", conflicts_with = "codec")]
    pub tune: super::common::TuneArg,
    /// TorchScript classifier for --task classify (default: .perception/efficientnet-lite0.ts,
    /// made by scripts/setup-perception.sh, or $LIC_CLASSIFIER).
    #[arg(long, value_name = "FILE.ts")]
    pub classifier: Option<PathBuf>,
    /// Also write a plot of this run (PNG): the RD curves, or agreement vs bpp for classify.
    #[arg(long, value_name = "PNG")]
    pub plot: Option<PathBuf>,
    /// Overwrite the output file.
    #[arg(short, long)]
    pub force: bool,
    /// Keep the rows already in --output (same codec and settings) and measure only the
    /// missing image–quality pairs: continues an interrupted run, or adds images, qualities or
    /// another folder's images to one file. The file is rewritten after every encode anyway,
    /// so an interrupted run loses at most the encode in progress.
    #[arg(long, requires = "output", conflicts_with = "force")]
    pub resume: bool,
}

pub fn run(args: Args, global: &Global, engine: &dyn Engine) -> Result<()> {
    // The video evaluation, the classifier and the libtorch models need libtorch.
    if args.video.is_some() || args.task == Task::Classify {
        return engine.eval(args, global);
    }
    match core_codec(&args)? {
        Some(codec) => run_with(args, global, codec, None),
        None => engine.eval(args, global),
    }
}

/// The codec that `--codec` or `--model` names when it needs no libtorch (`None`: a libtorch
/// model, which `lic-torch` loads).
pub fn core_codec(args: &Args) -> Result<Option<Box<dyn lic_eval::Codec>>> {
    Ok(Some(match &args.codec {
        Some(name) => conventional_codec(name).with_context(|| {
            format!("--codec {name} (one of {})", CONVENTIONAL_CODECS.join(", "))
        })?,
        None => {
            let name = args.model.as_deref().unwrap_or(lic::dwt::MODEL_ID);
            match lic::registry::by_name(name) {
                Some(f) => family_codec(f, args)?,
                None => return Ok(None),
            }
        }
    }))
}

/// The evaluation codec of a libtorch-free family, with the options `lic eval` gives it
/// (checked against its capabilities).
pub fn family_codec(
    f: &dyn lic::family::ImageFamily,
    args: &Args,
) -> Result<Box<dyn lic_eval::Codec>> {
    let mut opts = lic::family::EncodeOptions::default();
    opts.effort = args.effort.into();
    opts.time_limit = args.time_limit;
    opts.refine = args.refine;
    opts.tune = args.tune.into();
    lic::family::check_options(f, &opts).map_err(|e| BadArgs(e.to_string()))?;
    lic_eval::family_codec(f, &opts).map_err(|e| BadArgs(e.to_string()).into())
}

/// `lic eval` over images with a chosen codec and, for `--task classify`, a classifier (which
/// `lic-torch` provides).
pub fn run_with(
    args: Args,
    global: &Global,
    codec: Box<dyn lic_eval::Codec>,
    classifier: Option<&dyn Classify>,
) -> Result<()> {
    let dataset = args
        .dataset
        .clone()
        .expect("clap requires --dataset or --video");
    if args.resume && (args.video.is_some() || args.task != Task::Rd) {
        bail!("--resume works for rate-distortion runs over images (--task rd --dataset)");
    }
    let resume = match &args.output {
        Some(out) if args.resume && out.exists() => {
            Some(RdResults::read(out).with_context(|| format!("--resume {}", out.display()))?)
        }
        Some(out) => {
            check_output(out, &[], args.force)?;
            None
        }
        None => None,
    };
    if let Some(p) = &args.plot {
        check_output(p, &[], args.force)?;
        if args.output.as_deref() == Some(p.as_path()) {
            bail!("--plot and --output name the same file");
        }
    }
    if !dataset.is_dir() {
        bail!("{}: dataset directory not found", dataset.display());
    }
    if args.classifier.is_some() && args.task != Task::Classify {
        bail!("--classifier is only used with --task classify");
    }
    anyhow::ensure!(
        (args.task == Task::Classify) == classifier.is_some(),
        "--task classify needs a classifier"
    );
    let qualities = match args.quality {
        Some(q) if !q.is_empty() => q,
        _ => codec.default_qualities(args.points as usize),
    };
    for &q in &qualities {
        codec
            .check_quality(q)
            .map_err(|e| BadArgs(format!("--quality: {e}")))?;
    }
    let opts = EvalOptions {
        limit: args.limit.map(|n| n as usize),
        images: args.images.clone(),
        progress: true,
        device: None,
        threads: global.threads.map(|t| t as usize),
        resume,
        checkpoint: None,
    };
    if let Some(classifier) = classifier {
        let results = evaluate_classify(&dataset, codec.as_ref(), &qualities, &opts, classifier)?;
        print_classify(&results, &codec.quality_name());
        if let Some(p) = &args.plot {
            write_agreement_plot(&results, p)?;
        }
        return match &args.output {
            Some(out) => {
                results.write(out)?;
                eprintln!("wrote {}", out.display());
                Ok(())
            }
            None => {
                println!("{}", serde_json::to_string_pretty(&results)?);
                Ok(())
            }
        };
    }
    let opts = EvalOptions {
        checkpoint: args.output.clone(),
        ..opts
    };
    // With --force the file may still be an earlier run's until this run's first row.
    let modified = |p: &std::path::Path| p.metadata().and_then(|m| m.modified()).ok();
    let before = args.output.as_deref().and_then(modified);
    let results = match evaluate(&dataset, codec.as_ref(), &qualities, &opts) {
        Ok(r) => r,
        Err(e) => match &args.output {
            Some(out) if out.exists() && (args.resume || modified(out) != before) => {
                return Err(e.context(format!(
                    "the rows measured so far are in {} (`--resume` continues)",
                    out.display()
                )))
            }
            Some(out) if out.exists() => {
                return Err(e.context(format!(
                    "{} is unchanged (no row was measured)",
                    out.display()
                )))
            }
            _ => return Err(e),
        },
    };
    for (q, image) in results.missing_rows() {
        eprintln!("note: no row for {image} at quality {q}: its means are over fewer images");
    }
    if let Some(p) = &args.plot {
        let label = results.name.clone();
        plot(&[Curve::from_results(&results, label)], p)?;
        eprintln!("wrote {}", p.display());
    }
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

/// The per-point table and the summary of a classification run, on stderr.
fn print_classify(results: &ClassifyResults, quality_name: &str) {
    let r = &results.results;
    let f = &results.reference;
    eprintln!(
        "uncompressed ({} images): top-1 {:.3} [{:.3}, {:.3}], top-5 {:.3} [{:.3}, {:.3}]",
        f.images, f.top1, f.top1_ci95[0], f.top1_ci95[1], f.top5, f.top5_ci95[0], f.top5_ci95[1]
    );
    eprintln!(
        "{:>8} {:>7} {:>20} {:>7} {:>7} {:>8} {:>9}",
        quality_name, "bpp", "agreement [95% CI]", "top-1", "top-5", "KL", "PSNR-RGB"
    );
    for i in 0..r.bpp.len() {
        eprintln!(
            "{:>8} {:>7.4} {:>6.3} [{:.3}, {:.3}] {:>7.3} {:>7.3} {:>8.4} {:>9.3}",
            r.quality[i],
            r.bpp[i],
            r.agreement[i],
            r.agreement_ci95[i][0],
            r.agreement_ci95[i][1],
            r.top1[i],
            r.top5[i],
            r.kl[i],
            r.psnr_rgb.get(i).copied().unwrap_or(f64::NAN)
        );
    }
    for c in &results.summary.bpp_at_agreement {
        match c.bpp {
            Some(b) => eprintln!("agreement {:.2} at {b:.4} bpp ({})", c.agreement, c.how),
            None => eprintln!("agreement {:.2}: {}", c.agreement, c.how),
        }
    }
}

fn write_agreement_plot(results: &ClassifyResults, out: &Path) -> Result<()> {
    let opts = PlotOptions {
        title: format!("Machine perception: {}", results.classifier.name),
        width: 1100,
        height: 800,
        max_bpp: None,
    };
    plot_metric(
        &[results.agreement_curve(results.label())],
        &agreement_plot(),
        out,
        &opts,
    )?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
