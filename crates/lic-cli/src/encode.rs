//! `lic encode IN OUT`: image → `.lic`.

use std::path::PathBuf;

use anyhow::Context;

use std::time::Instant;

use lic::family::{check_options, encode_target, Control, EncodeOptions as FamilyOptions, Target};
use lic::io::image::AlphaPolicy;

use super::common::{check_out, report_line, write_output};

use crate::{BadArgs, Engine, Global};

const EXAMPLES: &str = "\
Examples:
  lic encode kodim01.png kodim01.lic                 # default model (lic-dwt), quality 6
  lic encode photo.jpg photo.lic --quality 8.5       # any quality in the model's range
  lic encode photo.png photo.lic --bpp 0.4           # search the quality for a target rate
  lic encode photo.png photo.lic --psnr 34 --verify  # target PSNR, decode once to verify
  lic encode photo.png photo.lic --tune machine      # lic-dwt: bits where classifiers look
  lic encode photo.png photo.lic --model elic-small --quality 2.5   # the neural model (libtorch)
  lic encode photo.png photo.lic -m walloc --refine 100   # 100 steps on this image's latents first
  lic encode photo.png photo.lic -m elic-small --dump-symbols photo.sym   # what the entropy coder saw
  lic decode photo.lic out.png --check-symbols photo.sym    # ... and find the first mismatch
Models: lic-dwt (dwt, the default: wavelet + adaptive range coding, quality 0-16), lic-overfit
(overfit, fitted per image, quality 0-10), or a libtorch model by name or path (lic-elic-small,
lic-walloc, NAME.safetensors; quality 1 to its number of levels).";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input image (PNG, JPEG, PPM/PGM, BMP, TIFF, WebP; `-`: standard input).
    pub input: PathBuf,
    /// Output .lic file (`-`: standard output).
    pub output: PathBuf,
    /// Continuous quality in the model's range, higher is better (lic-dwt: 0 to 16, default 6;
    /// libtorch models: 1 to their number of levels, default 4; overfit: 0 to 10, default 4).
    #[arg(long, short = 'q', value_name = "Q", conflicts_with_all = ["bpp", "psnr"])]
    pub quality: Option<f64>,
    /// Target bits per pixel (bisection over the quality; reports the reached value).
    #[arg(long, value_name = "B", conflicts_with = "psnr")]
    pub bpp: Option<f64>,
    /// Target PSNR in dB (bisection over the quality; reports the reached value).
    #[arg(long, value_name = "DB")]
    pub psnr: Option<f64>,
    /// Model: lic-dwt (or dwt), lic-overfit (or overfit), or a libtorch model's name or
    /// .safetensors path.
    #[arg(long, short = 'm', default_value = lic::dwt::MODEL_ID)]
    pub model: String,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
    /// What to do with a non-opaque alpha channel.
    #[arg(long, value_parser = super::common::alpha_parser(), default_value = "refuse")]
    pub alpha: AlphaPolicy,
    /// Libtorch models: tile side in pixels for large images (multiple of 64; default 1024).
    #[arg(long)]
    pub tile: Option<u32>,
    /// Encode-time refinement: N gradient steps on the image's own latents for its own rate +
    /// λ·distortion before coding (slower encoding, same format and decoder; 50–200 typical).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub refine: usize,
    /// Decode the result and check it equals the encoder's reconstruction before reporting success
    /// (lic-dwt: decode it twice and check both agree and have the input's size).
    #[arg(long)]
    pub verify: bool,
    /// Also write every substream's symbols, table indexes, μ and σ (safetensors) for
    /// `lic decode --check-symbols`.
    #[arg(long, value_name = "FILE")]
    pub dump_symbols: Option<PathBuf>,
    /// `--model overfit`: fitting effort, a count of iterations (fast 1,800, default 10,000,
    /// slow 24,000), so the same command gives the same file on any machine of the same ISA
    /// class; about 1, 4–6 and 10–15 minutes for a Kodak image on 2 cores.
    #[arg(long, value_enum, default_value = "default")]
    pub effort: super::common::EffortArg,
    /// `--model overfit`: optional wall-clock cap of the fit in seconds (the schedule shrinks to
    /// fit, so the file then depends on the machine and its load).
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// lic-dwt: what the encoder optimizes: psnr (pixel fidelity) or machine (the bits go
    /// where ImageNet classifiers look; the same decoder reads it).
    #[arg(long, value_enum, default_value = "psnr")]
    pub tune: super::common::TuneArg,
}

/// `--bpp` or `--psnr` of `lic encode`, checked to be a positive number.
pub fn target(args: &Args) -> anyhow::Result<Option<Target>> {
    rate_target(args.bpp, args.psnr)
}

/// `--bpp` or `--psnr` (clap keeps them exclusive), checked to be a positive number: a bad
/// argument (exit 2) otherwise.
pub fn rate_target(bpp: Option<f64>, psnr: Option<f64>) -> anyhow::Result<Option<Target>> {
    let t = match (bpp, psnr) {
        (Some(b), _) => Target::Bpp(b),
        (_, Some(p)) => Target::Psnr(p),
        _ => return Ok(None),
    };
    if !(t.value().is_finite() && t.value() > 0.0) {
        let name = t.name().to_lowercase();
        return Err(BadArgs(format!("--{name} must be a positive number")).into());
    }
    Ok(Some(t))
}

/// Reports what a target search reached (on stderr).
pub fn report_reached(target: Target, r: &lic::family::Reached) {
    eprintln!(
        "quality {:.4} reaches {} {:.4} (target {})",
        r.encoded.quality,
        target.name(),
        r.value,
        target.value()
    );
}

pub fn run(args: Args, global: &Global, engine: &dyn Engine) -> anyhow::Result<()> {
    let Some(family) = lic::registry::by_name(&args.model) else {
        return engine.encode(args, global);
    };
    let caps = family.capabilities();
    let bad = |m: String| anyhow::Error::new(BadArgs(m));
    if args.dump_symbols.is_some() && !caps.symbol_trace {
        return Err(bad(format!(
            "--dump-symbols is not available with {} (libtorch models only)",
            family.id()
        )));
    }
    let target = target(&args)?;
    if target.is_some() && !caps.rate_search {
        return Err(bad(format!(
            "--bpp and --psnr are not available with {}",
            family.id()
        )));
    }
    if target.is_some() && caps.learned {
        eprintln!(
            "note: {} searches the quality with up to ten full encodes",
            family.id()
        );
    }
    let mut opts = FamilyOptions::default();
    opts.quality = args.quality;
    opts.effort = args.effort.into();
    opts.time_limit = args.time_limit;
    opts.refine = args.refine;
    opts.tile = args.tile;
    opts.tune = args.tune.into();
    check_options(family, &opts).map_err(|e| bad(e.to_string()))?;
    check_lic_name(&args.output)?;
    check_out(&args.output, &[&args.input], args.force)?;
    let img = super::common::load_input(&args.input, args.alpha)?;
    let pixels = img.pixels() as f64;
    let t = Instant::now();
    let pb = lic_eval::progress_bar(1, "encode");
    let mut progress = |p: &lic::family::Progress| {
        pb.set_length(p.total);
        pb.set_position(p.done);
        pb.set_message(p.message.clone());
        Control::Continue
    };
    let ctx = || format!("encoding {}", args.input.display());
    let enc = match target {
        Some(t) => {
            let r = encode_target(family, &img, &opts, t, &mut progress).with_context(ctx)?;
            report_reached(t, &r);
            r.encoded
        }
        None => family
            .encode(&img, &opts, &mut progress)
            .with_context(ctx)?,
    };
    pb.finish_and_clear();
    if args.verify {
        let dec = lic::decode(&enc.bytes, &Default::default()).context("verification decode")?;
        anyhow::ensure!(
            dec == enc.reconstruction,
            "verification failed: the decoded image differs from the encoder's reconstruction"
        );
        anyhow::ensure!(
            (dec.width, dec.height, dec.gray) == (img.width, img.height, img.gray),
            "verification failed: the stream decodes to {}x{}, the input is {}x{}",
            dec.width,
            dec.height,
            img.width,
            img.height
        );
    }
    write_output(&args.output, &enc.bytes)?;
    let line = format!(
        "{}: {}x{} → {} bytes, {:.4} bpp (estimate {:.4} bpp), PSNR {:.2} dB, quality {:.3}, {}{}, \
         {:.2} s{}",
        args.output.display(),
        img.width,
        img.height,
        enc.bytes.len(),
        enc.bytes.len() as f64 * 8.0 / pixels,
        enc.estimated_bits / pixels,
        lic::metrics::psnr_rgb(&img, &enc.reconstruction)?,
        enc.quality,
        family.id(),
        if enc.details.is_empty() {
            String::new()
        } else {
            format!(", {}", enc.details)
        },
        t.elapsed().as_secs_f64(),
        if args.verify { ", verified" } else { "" }
    );
    report_line(&args.output, &line);
    Ok(())
}

/// Refuses an output name with an image format's extension (`lic encode in.png out.png` would
/// write `.lic` bytes under a `.png` name).
pub fn check_lic_name(out: &std::path::Path) -> anyhow::Result<()> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if let Some(ext) = ext {
        if lic::io::image::EXTENSIONS.contains(&ext.as_str()) || ext == "pnm" {
            return Err(BadArgs(format!(
                "{}: lic encode writes a .lic file, not .{ext} (name the output *.lic)",
                out.display()
            ))
            .into());
        }
    }
    Ok(())
}
