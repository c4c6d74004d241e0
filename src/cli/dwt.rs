//! `lic encode --model dwt`: the wavelet codec (`lic-dwt`, the default), no model file.

use std::time::Instant;

use anyhow::Context;

use lic::dwt::{self, EncodeOptions};
use lic::io::file::{check_output, write_atomic};

/// `lic encode IN OUT --model dwt` (also the default model).
pub fn encode(args: &super::encode::Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.dump_symbols.is_none()
            && args.refine == 0
            && args.time_limit.is_none()
            && args.tile == lic::codec::DEFAULT_TILE,
        "--dump-symbols, --refine, --tile and --time-limit are not available with {} \
         (choose another --model)",
        dwt::MODEL_ID
    );
    let (lo, hi) = dwt::QUALITY_RANGE;
    let (lo, hi) = (f64::from(lo), f64::from(hi));
    if let Some(q) = args.quality {
        anyhow::ensure!(
            q.is_finite() && (lo..=hi).contains(&q),
            "--quality {q} outside {}'s range [{lo}, {hi}]",
            dwt::MODEL_ID
        );
    }
    let target = super::encode::target(args)?;
    check_output(&args.output, &[&args.input], args.force)?;
    let img = super::common::load_input(&args.input, args.alpha)?;
    let pixels = img.pixels() as f64;
    let t = Instant::now();
    let encode_at = |q: f64| {
        dwt::encode_image(&img, &EncodeOptions::new(q as f32))
            .with_context(|| format!("encoding {}", args.input.display()))
    };
    // The reported PSNR is always that of the decoded stream (the encoder keeps no
    // reconstruction), so every stream this command writes has been decoded once.
    let decode =
        |e: &dwt::Encoded| dwt::decode_image(&e.bytes).context("decoding the stream just encoded");
    let (quality, enc, dec) = match target {
        Some((value, what)) => {
            let (q, (e, d)) = super::encode::bisect_quality(lo, hi, (value, what), |q| {
                let e = encode_at(q)?;
                let d = decode(&e)?;
                let v = match what {
                    super::encode::Target::Bpp => e.bytes.len() as f64 * 8.0 / pixels,
                    super::encode::Target::Psnr => lic::metrics::psnr_rgb(&img, &d)?,
                };
                Ok(((e, d), v))
            })?;
            (q, e, d)
        }
        None => {
            let q = args.quality.unwrap_or(f64::from(dwt::DEFAULT_QUALITY));
            let e = encode_at(q)?;
            let d = decode(&e)?;
            (q, e, d)
        }
    };
    if args.verify {
        // Decoded twice: the same pixels, the input's size and colour.
        anyhow::ensure!(
            decode(&enc)?.data == dec.data,
            "verification failed: two decodes of the stream differ"
        );
        anyhow::ensure!(
            (dec.width, dec.height, dec.gray) == (img.width, img.height, img.gray),
            "verification failed: the stream decodes to {}x{}{}, the input is {}x{}{}",
            dec.width,
            dec.height,
            if dec.gray { " gray" } else { "" },
            img.width,
            img.height,
            if img.gray { " gray" } else { "" }
        );
    }
    let psnr = lic::metrics::psnr_rgb(&img, &dec)?;
    write_atomic(&args.output, &enc.bytes)?;
    println!(
        "{}: {}x{} → {} bytes, {:.4} bpp (estimate {:.4} bpp), PSNR {:.2} dB, quality {quality:.3}, \
         {}, {:.2} s{}",
        args.output.display(),
        img.width,
        img.height,
        enc.bytes.len(),
        enc.bytes.len() as f64 * 8.0 / pixels,
        enc.estimated_bits / pixels,
        psnr,
        dwt::MODEL_ID,
        t.elapsed().as_secs_f64(),
        if args.verify { ", verified" } else { "" }
    );
    Ok(())
}
