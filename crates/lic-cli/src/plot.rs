//! `lic plot`: rate–distortion plot (PSNR and MS-SSIM vs bpp) of results files, or classifier
//! agreement vs bpp of `lic eval --task classify` results (`--metric agreement`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use lic::io::file::check_output;
use lic_eval::perception::{agreement_plot, ClassifyResults};
use lic_eval::plot::{plot_metric, plot_with, Curve, PlotOptions};
use lic_eval::results::RdResults;

const EXAMPLES: &str = "\
Examples:
  lic plot anchors/kodak/vtm.json anchors/measured/kodak/avif.json results/kodak-lic.json -o rd.png
  lic plot results/*.json -o rd.png --title \"Kodak\" --max-bpp 1.5
  lic plot --metric agreement out/perception/*.json -o agreement.png   # lic eval --task classify files";

/// What `lic plot` draws.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// PSNR-RGB and MS-SSIM vs bpp (CompressAI-format results).
    Rd,
    /// Top-1 classifier agreement vs bpp with 95% intervals (`lic eval --task classify` results).
    Agreement,
}

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
    /// What to plot.
    #[arg(long, value_enum, default_value_t = Metric::Rd)]
    pub metric: Metric,
    /// Plot title (default: "Rate–distortion", or "Machine perception" for agreement).
    #[arg(long)]
    pub title: Option<String>,
    /// Show rates up to this many bits per pixel.
    #[arg(long, value_name = "BPP")]
    pub max_bpp: Option<f64>,
    /// Image size in pixels, WIDTHxHEIGHT (default 1800x780, or 1100x800 for agreement).
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
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
    let (title, (width, height)) = match args.metric {
        Metric::Rd => ("Rate–distortion", (1800, 780)),
        Metric::Agreement => ("Machine perception", (1100, 800)),
    };
    let (width, height) = args.size.unwrap_or((width, height));
    let opts = PlotOptions {
        title: args.title.unwrap_or_else(|| title.to_string()),
        width,
        height,
        max_bpp: args.max_bpp,
    };
    let n = args.inputs.len();
    match args.metric {
        Metric::Rd => {
            let mut curves = Vec::new();
            let mut first: Option<(String, RdResults)> = None;
            for p in &args.inputs {
                let r = RdResults::read(p)?;
                curves.push(Curve::from_results(&r, r.label(p)));
                let name = p.display().to_string();
                match &first {
                    Some((f, fr)) => {
                        let w = lic_eval::results::image_set_warning((f, fr), (&name, &r));
                        if let Some(w) = w {
                            eprintln!("warning: {w}");
                        }
                    }
                    None => first = Some((name, r)),
                }
            }
            plot_with(&curves, &args.output, &opts)?;
        }
        Metric::Agreement => {
            let mut curves = Vec::new();
            for p in &args.inputs {
                let r = ClassifyResults::read(p)?;
                curves.push(r.agreement_curve(r.label()));
            }
            plot_metric(&curves, &agreement_plot(), &args.output, &opts)?;
        }
    }
    eprintln!("wrote {} ({n} curves)", args.output.display());
    Ok(())
}
