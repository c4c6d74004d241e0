//! `lic encode IN OUT`: image → `.lic`.

use std::path::PathBuf;

use anyhow::Context;

use lic::codec::{self, CodecModel, EncodeOptions};
use lic::io::file::{check_output, write_atomic};
use lic::io::image::AlphaPolicy;

use super::common::load_model;

const EXAMPLES: &str = "\
Examples:
  lic encode kodim01.png kodim01.lic                 # default model, quality 4
  lic encode photo.jpg photo.lic --quality 2.5       # any quality in the model's range
  lic encode photo.png photo.lic --bpp 0.4           # search the quality for a target rate
  lic encode photo.png photo.lic --psnr 34 --verify  # target PSNR, decode once to verify
  lic encode photo.png photo.lic --refine 100        # 100 steps on this image's latents first
  lic encode photo.png photo.lic --dump-symbols photo.sym   # keep what the entropy coder saw
  lic decode photo.lic out.png --check-symbols photo.sym    # ... and find the first mismatch";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input image (PNG, JPEG, PPM/PGM, BMP, TIFF, WebP).
    pub input: PathBuf,
    /// Output .lic file.
    pub output: PathBuf,
    /// Continuous quality in the model's range (1 = lowest rate; the default model goes to 6).
    #[arg(long, short = 'q', value_name = "Q", conflicts_with_all = ["bpp", "psnr"])]
    pub quality: Option<f64>,
    /// Target bits per pixel (bisection over the quality; reports the reached value).
    #[arg(long, value_name = "B", conflicts_with = "psnr")]
    pub bpp: Option<f64>,
    /// Target PSNR in dB (bisection over the quality; reports the reached value).
    #[arg(long, value_name = "DB")]
    pub psnr: Option<f64>,
    /// Model name or path to a .safetensors model file.
    #[arg(long, short = 'm', default_value = codec::DEFAULT_MODEL)]
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
    /// Decode the result and check it equals the encoder's reconstruction before reporting success.
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

pub fn run(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    if super::overfit::is_overfit(&args.model) {
        return super::overfit::encode(&args);
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
    let enc = if args.bpp.is_some() || args.psnr.is_some() {
        let (target, what) = match (args.bpp, args.psnr) {
            (Some(b), _) => (b, "bpp"),
            (_, Some(p)) => (p, "PSNR"),
            _ => unreachable!(),
        };
        let measure = |e: &codec::Encoded| -> f64 {
            if what == "bpp" {
                e.bytes.len() as f64 * 8.0 / pixels
            } else {
                lic::metrics::psnr_rgb(&img, &e.reconstruction).unwrap_or(0.0)
            }
        };
        let (q, e) = bisect_quality(&img, &model, &mut opts, lo, hi, target, measure)?;
        eprintln!(
            "quality {q:.4} reaches {what} {:.4} (target {target})",
            measure(&e)
        );
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

/// Bisection over the quality for a target of a metric that grows with the quality.
fn bisect_quality(
    img: &lic::io::image::Image,
    model: &CodecModel,
    opts: &mut EncodeOptions,
    lo: f64,
    hi: f64,
    target: f64,
    measure: impl Fn(&codec::Encoded) -> f64,
) -> anyhow::Result<(f64, codec::Encoded)> {
    let (mut a, mut b) = (lo, hi);
    let mut best: Option<(f64, codec::Encoded, f64)> = None;
    for _ in 0..10 {
        let q = 0.5 * (a + b);
        opts.quality = q;
        let e = codec::encode(img, model, opts)?;
        let v = measure(&e);
        let err = (v - target).abs();
        if v < target {
            a = q;
        } else {
            b = q;
        }
        if best.as_ref().is_none_or(|(_, _, be)| err < *be) {
            best = Some((q, e, err));
        }
        if err <= 0.002 * target {
            break;
        }
    }
    let (q, e, _) = best.expect("at least one encode");
    opts.quality = q;
    Ok((q, e))
}
