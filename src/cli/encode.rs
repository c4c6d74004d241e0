//! `lic encode IN OUT`: image → `.lic`.

use std::path::PathBuf;

use anyhow::Context;

use lic::codec::{self, EncodeOptions};
use lic::io::file::{check_output, write_atomic};
use lic::io::image::AlphaPolicy;

use super::common::load_model;

const EXAMPLES: &str = "\
Examples:
  lic encode kodim01.png kodim01.lic                 # default model (lic-dwt), quality 6
  lic encode photo.jpg photo.lic --quality 8.5       # any quality in the model's range
  lic encode photo.png photo.lic --bpp 0.4           # search the quality for a target rate
  lic encode photo.png photo.lic --psnr 34 --verify  # target PSNR, decode once to verify
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
    /// Input image (PNG, JPEG, PPM/PGM, BMP, TIFF, WebP).
    pub input: PathBuf,
    /// Output .lic file.
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
    #[arg(long, short = 'm', default_value = super::family::DEFAULT_MODEL)]
    pub model: String,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
    /// What to do with a non-opaque alpha channel.
    #[arg(long, value_parser = super::common::alpha_parser(), default_value = "refuse")]
    pub alpha: AlphaPolicy,
    /// Tile side in pixels for large images (multiple of 64).
    #[arg(long, default_value_t = codec::DEFAULT_TILE)]
    pub tile: u32,
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
    /// `--model overfit`: fitting effort (fast ≈ 30 s, default ≈ 3 min, slow: best RD).
    #[arg(long, value_enum, default_value = "default")]
    pub effort: super::overfit::EffortArg,
    /// `--model overfit`: wall-clock budget of the fitting in seconds.
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
}

/// What `--bpp` / `--psnr` aim at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Bits per pixel of the file.
    Bpp,
    /// PSNR-RGB of the decoded image.
    Psnr,
}

/// `--bpp` or `--psnr`, checked to be a positive number.
pub fn target(args: &Args) -> anyhow::Result<Option<(f64, Target)>> {
    let t = match (args.bpp, args.psnr) {
        (Some(b), _) => Some((b, Target::Bpp, "--bpp")),
        (_, Some(p)) => Some((p, Target::Psnr, "--psnr")),
        _ => None,
    };
    Ok(match t {
        Some((v, what, name)) => {
            anyhow::ensure!(v.is_finite() && v > 0.0, "{name} must be a positive number");
            Some((v, what))
        }
        None => None,
    })
}

pub fn run(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    if let Some(f) = super::family::Family::from_name(&args.model) {
        return f.encode(&args);
    }
    for (name, v) in [
        ("--quality", args.quality),
        ("--bpp", args.bpp),
        ("--psnr", args.psnr),
    ] {
        if let Some(v) = v {
            anyhow::ensure!(v.is_finite() && v > 0.0, "{name} must be a positive number");
        }
    }
    check_output(&args.output, &[&args.input], args.force)?;
    if let Some(d) = &args.dump_symbols {
        check_output(d, &[&args.input, &args.output], args.force)?;
    }
    let img = super::common::load_input(&args.input, args.alpha)?;
    let model = load_model(&args.model)?;
    let (lo, hi) = model.config.quality_range();
    let mut opts = EncodeOptions {
        quality: args.quality.unwrap_or(4.0).clamp(lo, hi),
        tile: args.tile,
        refine: args.refine,
    };
    if let Some(q) = args.quality {
        anyhow::ensure!(
            (lo..=hi).contains(&q),
            "--quality {q} outside the model's range [{lo}, {hi}]"
        );
    }
    let pixels = img.pixels() as f64;
    let enc = if let Some((value, what)) = target(&args)? {
        let (q, e) = bisect_quality(lo, hi, (value, what), |q| {
            let e = codec::encode(&img, &model, &EncodeOptions { quality: q, ..opts })?;
            let v = match what {
                Target::Bpp => e.bytes.len() as f64 * 8.0 / pixels,
                Target::Psnr => lic::metrics::psnr_rgb(&img, &e.reconstruction).unwrap_or(0.0),
            };
            Ok((e, v))
        })?;
        opts.quality = q;
        e
    } else {
        codec::encode(&img, &model, &opts)
            .with_context(|| format!("encoding {}", args.input.display()))?
    };
    let enc = match &args.dump_symbols {
        Some(path) => {
            let (e, trace) = codec::encode_traced(&img, &model, &opts)
                .with_context(|| format!("encoding {}", args.input.display()))?;
            anyhow::ensure!(
                e.bytes == enc.bytes,
                "the traced encode made a different bitstream (non-deterministic encoder)"
            );
            trace.save(path)?;
            e
        }
        None => enc,
    };
    if args.verify {
        let dec = codec::decode(&enc.bytes, &model).context("verification decode")?;
        anyhow::ensure!(
            dec == enc.reconstruction,
            "verification failed: the decoded image differs from the encoder's reconstruction"
        );
    }
    write_atomic(&args.output, &enc.bytes)?;
    let bpp = enc.bytes.len() as f64 * 8.0 / pixels;
    println!(
        "{}: {}x{} → {} bytes, {:.4} bpp (estimate {:.4} bpp), PSNR {:.2} dB, quality {:.3}, {:.2} s{}",
        args.output.display(),
        img.width,
        img.height,
        enc.bytes.len(),
        bpp,
        enc.estimated_bits / pixels,
        lic::metrics::psnr_rgb(&img, &enc.reconstruction)?,
        opts.quality,
        enc.seconds,
        if args.verify { ", verified" } else { "" }
    );
    Ok(())
}

/// Bisection over the quality for a target of a metric that grows with the quality:
/// `encode(q)` gives a result and its metric. Reports the reached value on stderr and returns
/// the best quality and its result.
pub fn bisect_quality<E>(
    lo: f64,
    hi: f64,
    (target, what): (f64, Target),
    mut encode: impl FnMut(f64) -> anyhow::Result<(E, f64)>,
) -> anyhow::Result<(f64, E)> {
    let (mut a, mut b) = (lo, hi);
    let mut best: Option<(f64, E, f64, f64)> = None;
    for _ in 0..10 {
        let q = 0.5 * (a + b);
        let (e, v) = encode(q)?;
        let err = (v - target).abs();
        if v < target {
            a = q;
        } else {
            b = q;
        }
        if best.as_ref().is_none_or(|(.., be, _)| err < *be) {
            best = Some((q, e, err, v));
        }
        if err <= 0.002 * target {
            break;
        }
    }
    let (q, e, _, v) = best.expect("at least one encode");
    let name = match what {
        Target::Bpp => "bpp",
        Target::Psnr => "PSNR",
    };
    eprintln!("quality {q:.4} reaches {name} {v:.4} (target {target})");
    Ok((q, e))
}
