//! `lic encode --model overfit`: the overfitted codec (`lic-overfit`), no model file.

use std::time::Instant;

use anyhow::Context;

use lic::io::file::{check_output, write_atomic};
use lic::overfit::{self, Effort, EncodeOptions};

/// `--effort` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EffortArg {
    /// About 30 s per Kodak image on 2 cores.
    Fast,
    /// About 3 minutes.
    Default,
    /// Longer, best rate-distortion.
    Slow,
}

impl From<EffortArg> for Effort {
    fn from(e: EffortArg) -> Self {
        match e {
            EffortArg::Fast => Effort::Fast,
            EffortArg::Default => Effort::Default,
            EffortArg::Slow => Effort::Slow,
        }
    }
}

/// `lic encode IN OUT --model overfit`.
pub fn encode(args: &super::encode::Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.bpp.is_none() && args.psnr.is_none() && args.dump_symbols.is_none(),
        "--bpp, --psnr and --dump-symbols are not available with --model overfit"
    );
    let (lo, hi) = overfit::train::QUALITY_RANGE;
    let quality = args.quality.unwrap_or(4.0);
    anyhow::ensure!(
        quality.is_finite() && (f64::from(lo)..=f64::from(hi)).contains(&quality),
        "--quality {quality} outside lic-overfit's range [{lo}, {hi}]"
    );
    if let Some(t) = args.time_limit {
        anyhow::ensure!(
            t.is_finite() && t > 0.0,
            "--time-limit must be a positive number"
        );
    }
    check_output(&args.output, &[&args.input], args.force)?;
    let img = super::common::load_input(&args.input, args.alpha)?;
    let opts = EncodeOptions {
        quality: quality as f32,
        effort: args.effort.into(),
        time_limit: args.time_limit,
        ..Default::default()
    };
    let t = Instant::now();
    let pb = lic::util::progress_bar(1, "fitting");
    let e = overfit::encode_image(&img, &opts, &mut |p| {
        pb.set_length(p.total as u64);
        pb.set_position(p.iteration as u64);
        pb.set_message(format!(
            "{} bpp {:.3} PSNR {:.2} dB",
            p.phase, p.bpp, p.psnr
        ));
    })
    .with_context(|| format!("encoding {}", args.input.display()))?;
    pb.finish_and_clear();
    if args.verify {
        let d = overfit::decode_image(&e.bytes).context("verifying the written stream")?;
        anyhow::ensure!(
            d.data == e.rgb,
            "verification failed: the decoded image differs from the encoder's reconstruction"
        );
    }
    write_atomic(&args.output, &e.bytes)?;
    let px = f64::from(img.width) * f64::from(img.height);
    let mse = e
        .rgb
        .iter()
        .zip(&img.data)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum::<f64>()
        / e.rgb.len() as f64;
    println!(
        "{}: {}x{} → {} bytes, {:.4} bpp (weights {:.4}), PSNR {:.2} dB, quality {quality}, \
         {} iterations at {:.1} ms ({:.1} ARM, {:.1} synthesis), {:.2} s{}",
        args.output.display(),
        img.width,
        img.height,
        e.bytes.len(),
        e.bytes.len() as f64 * 8.0 / px,
        e.weight_bits / px,
        10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10(),
        e.iterations,
        e.ms_per_iteration,
        e.ms_arm,
        e.ms_synthesis,
        t.elapsed().as_secs_f64(),
        if args.verify { ", verified" } else { "" }
    );
    Ok(())
}
