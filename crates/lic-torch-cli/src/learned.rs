//! `lic encode` / `lic decode` with a libtorch model (`lic-elic-small`, `lic-walloc`, or a
//! `.safetensors` path): the libtorch side of those subcommands.

use anyhow::Context;

use lic::codec::{self, EncodeOptions};
use lic::io::file::{check_output, write_atomic};
use lic_cli::common::read_input;
use lic_cli::decode::Args as DecodeArgs;
use lic_cli::encode::{report_reached, target, Args as EncodeArgs};

use lic::codec::family::Learned;
use lic::family::{
    check_options, encode_target, Control, EncodeOptions as FamilyOptions, ImageFamily,
};
use lic_cli::BadArgs;

use crate::common::{load_model, stream_model};

pub fn encode(args: EncodeArgs) -> anyhow::Result<()> {
    let learned = Learned::new(load_model(&args.model)?);
    // The options this family cannot honour (--effort, --time-limit), a quality outside its
    // range, a bad --bpp/--psnr: bad arguments, exit 2.
    let mut checked = FamilyOptions::default();
    checked.quality = args.quality;
    checked.effort = args.effort.into();
    checked.time_limit = args.time_limit;
    checked.refine = args.refine;
    checked.tile = args.tile;
    check_options(&learned, &checked).map_err(|e| BadArgs(e.to_string()))?;
    let target = target(&args)?;
    check_output(&args.output, &[&args.input], args.force)?;
    if let Some(d) = &args.dump_symbols {
        check_output(d, &[&args.input, &args.output], args.force)?;
    }
    let img = lic_cli::common::load_input(&args.input, args.alpha)?;
    let model = learned.model();
    let mut opts = EncodeOptions {
        quality: args.quality.unwrap_or(learned.default_quality()),
        tile: args.tile.unwrap_or(codec::DEFAULT_TILE),
        refine: args.refine,
    };
    let pixels = img.pixels() as f64;
    let enc = if let Some(t) = target {
        let start = std::time::Instant::now();
        let r = encode_target(&learned, &img, &checked, t, &mut |_| Control::Continue)
            .with_context(|| format!("encoding {}", args.input.display()))?;
        report_reached(t, &r);
        opts.quality = r.encoded.quality;
        codec::Encoded {
            bytes: r.encoded.bytes,
            estimated_bits: r.encoded.estimated_bits,
            reconstruction: r.encoded.reconstruction,
            seconds: start.elapsed().as_secs_f64(),
        }
    } else {
        codec::encode(&img, model, &opts)
            .with_context(|| format!("encoding {}", args.input.display()))?
    };
    let enc = match &args.dump_symbols {
        Some(path) => {
            let (e, trace) = codec::encode_traced(&img, model, &opts)
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
        let dec = codec::decode(&enc.bytes, model).context("verification decode")?;
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

pub fn decode(args: DecodeArgs) -> anyhow::Result<()> {
    check_output(&args.output, &[&args.input], args.force)?;
    let bytes = read_input(&args.input)?;
    let (container, model) = stream_model(&bytes, &args.input, args.model.as_deref())?;
    if let Some(d) = &args.dump_symbols {
        check_output(d, &[&args.input, &args.output], args.force)?;
    }
    let ctx = || format!("decoding {}", args.input.display());
    let img = if let Some(dump) = &args.check_symbols {
        let expected = lic::codec::SymbolTrace::load(dump)?;
        let img = codec::decode_checked(&bytes, &model, &expected).with_context(ctx)?;
        eprintln!(
            "symbols check: all {} substreams match {}",
            expected.records.len(),
            dump.display()
        );
        img
    } else if let Some(path) = &args.dump_symbols {
        let (img, trace) = codec::decode_traced(&bytes, &model).with_context(ctx)?;
        trace.save(path)?;
        img
    } else {
        codec::decode_container(container, &model).with_context(ctx)?
    };
    lic_cli::common::save_decoded(&img, &args.output)
}
