//! `lic plot`: rate–distortion plot (PSNR and MS-SSIM vs bpp) of results files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use lic::eval::plot::{plot_with, Curve, PlotOptions};
use lic::eval::results::RdResults;
use lic::io::file::check_output;

const EXAMPLES: &str = "\
Examples:
  lic plot anchors/kodak/vtm.json anchors/measured/kodak/avif.json results/kodak-lic.json -o rd.png
  lic plot results/*.json -o rd.png --title \"Kodak\" --max-bpp 1.5";

/// Plots RD curves (PSNR-RGB and MS-SSIM vs bpp) of CompressAI-format results files into a PNG.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Results files (CompressAI JSON format), one curve each.
    #[arg(value_name = "RESULTS.json", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output PNG.
    #[arg(short, long, value_name = "PNG")]
    pub output: PathBuf,
    /// Plot title.
    #[arg(long, default_value = "Rate–distortion")]
    pub title: String,
    /// Show rates up to this many bits per pixel.
    #[arg(long, value_name = "BPP")]
    pub max_bpp: Option<f64>,
    /// Image size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1800x780", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Overwrite the output file.
    #[arg(short, long)]
    pub force: bool,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, e.g. 1800x780")?;
    let w: u32 = w.trim().parse().map_err(|_| format!("bad width {w:?}"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("bad height {h:?}"))?;
    Ok((w, h))
}

pub fn run(args: Args, _global: &super::Global) -> Result<()> {
    let inputs: Vec<&Path> = args.inputs.iter().map(|p| p.as_path()).collect();
    check_output(&args.output, &inputs, args.force)?;
    if let Some(m) = args.max_bpp {
        if !(m > 0.0 && m.is_finite()) {
            bail!("--max-bpp must be a positive number");
        }
    }
    let mut curves = Vec::new();
    for p in &args.inputs {
        let r = RdResults::read(p)?;
        curves.push(Curve::from_results(&r, r.label(p)));
    }
    let opts = PlotOptions {
        title: args.title,
        width: args.size.0,
        height: args.size.1,
        max_bpp: args.max_bpp,
    };
    plot_with(&curves, &args.output, &opts)?;
    eprintln!("wrote {} ({} curves)", args.output.display(), curves.len());
    Ok(())
}
