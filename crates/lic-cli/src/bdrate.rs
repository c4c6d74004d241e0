//! `lic bdrate`: Bjøntegaard delta rate and quality of one results file against an anchor.

use std::path::PathBuf;

use anyhow::{bail, Result};
use lic::metrics::ms_ssim_db;
use lic_eval::bdrate::{bd_quality, bd_rate, Method};
use lic_eval::results::RdResults;

const EXAMPLES: &str = "\
Examples:
  lic bdrate results/kodak-lic.json anchors/kodak/vtm.json
  lic bdrate results/kodak-lic.json anchors/kodak/vtm.json --metric ms-ssim --method cubic";

/// Quality axis of the BD computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Metric {
    /// PSNR-RGB in dB.
    Psnr,
    /// MS-SSIM in dB, -10·log10(1 - MS-SSIM).
    MsSsim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Piecewise cubic Hermite interpolation (bjontegaard's method='pchip').
    Pchip,
    /// Least-squares cubic polynomial (VCEG-M33, bjontegaard's method='cubic').
    Cubic,
}

/// Bjøntegaard delta rate (and delta quality) of TEST against ANCHOR.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Results file of the codec under test (CompressAI JSON format).
    #[arg(value_name = "TEST.json")]
    pub test: PathBuf,
    /// Results file of the anchor (CompressAI JSON format).
    #[arg(value_name = "ANCHOR.json")]
    pub anchor: PathBuf,
    /// Quality axis.
    #[arg(long, value_enum, default_value = "psnr")]
    pub metric: Metric,
    /// Interpolation method.
    #[arg(long, value_enum, default_value = "pchip")]
    pub method: MethodArg,
}

pub fn run(args: Args, _global: &super::Global) -> Result<()> {
    let test = RdResults::read(&args.test)?;
    let anchor = RdResults::read(&args.anchor)?;
    let (tn, an) = (
        args.test.display().to_string(),
        args.anchor.display().to_string(),
    );
    if let Some(w) = lic_eval::results::image_set_warning((&tn, &test), (&an, &anchor)) {
        eprintln!("warning: {w}");
    }
    let method = match args.method {
        MethodArg::Pchip => Method::Pchip,
        MethodArg::Cubic => Method::Cubic,
    };
    let (name, unit, qa, qt) = match args.metric {
        Metric::Psnr => (
            "PSNR-RGB",
            "dB",
            anchor.results.psnr_rgb.clone(),
            test.results.psnr_rgb.clone(),
        ),
        Metric::MsSsim => (
            "MS-SSIM",
            "dB",
            anchor
                .results
                .ms_ssim
                .iter()
                .map(|&m| ms_ssim_db(m))
                .collect(),
            test.results
                .ms_ssim
                .iter()
                .map(|&m| ms_ssim_db(m))
                .collect(),
        ),
    };
    for (r, q, path) in [(&anchor, &qa, &args.anchor), (&test, &qt, &args.test)] {
        if q.is_empty() {
            bail!("{}: has no {name} values", path.display());
        }
        if r.results.bpp.len() != q.len() {
            bail!("{}: bpp and {name} lists differ in length", path.display());
        }
    }
    let rate = bd_rate(&anchor.results.bpp, &qa, &test.results.bpp, &qt, method)?;
    let quality = bd_quality(&anchor.results.bpp, &qa, &test.results.bpp, &qt, method)?;
    let (tl, al) = (test.label(&args.test), anchor.label(&args.anchor));
    println!("test:   {tl} ({})", args.test.display());
    println!("anchor: {al} ({})", args.anchor.display());
    println!("metric: {name} ({unit}), method: {method}");
    println!(
        "BD-rate: {:+.2} %   (over {name} {:.3}..{:.3} {unit}; negative = test needs fewer bits)",
        rate.value, rate.interval.0, rate.interval.1
    );
    println!(
        "BD-{name}: {:+.3} {unit}   (over {:.4}..{:.4} bpp; positive = test is better)",
        quality.value,
        10f64.powf(quality.interval.0),
        10f64.powf(quality.interval.1)
    );
    for w in [&rate.warning, &quality.warning].into_iter().flatten() {
        eprintln!("warning: {w}");
    }
    Ok(())
}
