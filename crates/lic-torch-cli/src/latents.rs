//! `lic latents` of the libtorch models: the dequantized latent tensor of an image or a `.lic`
//! file, for learning in the compressed domain (the arguments are `lic_cli::latents::Args`).

use std::collections::HashMap;

use anyhow::Context;

use lic::codec::{self, EncodeOptions};
use lic::io::file::check_output;
use lic::io::image::{load, LoadOptions};
use lic::nn::weights::{self, FloatStorage};

use crate::common::{load_model, stream_model};
use lic_cli::common::read_input;

/// Model used for images when none is given: the WaLLoC-style model, made for this.
pub const DEFAULT_LATENT_MODEL: &str = "lic-walloc";

pub use lic_cli::latents::Args;

pub fn run(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    check_output(&args.output, &[&args.input], args.force)?;
    let bytes = read_input(&args.input)?;
    let is_stream = bytes.starts_with(&lic::format::MAGIC);
    let (lat, model, width, height, route) = if is_stream {
        let (c, model) = stream_model(&bytes, &args.input, args.model.as_deref())?;
        let lat = codec::decode_latents(&bytes, &model)
            .with_context(|| format!("decoding {}", args.input.display()))?;
        (lat, model, c.header.width, c.header.height, "bitstream")
    } else {
        let loaded = load(&args.input, &LoadOptions::default())?;
        for n in &loaded.notices {
            eprintln!("note: {}: {n}", args.input.display());
        }
        let img = loaded.image;
        let model = load_model(args.model.as_deref().unwrap_or(DEFAULT_LATENT_MODEL))?;
        let opts = EncodeOptions {
            quality: args.quality.unwrap_or(4.0),
            ..Default::default()
        };
        let lat = codec::encode_latents(&img, &model, &opts)
            .with_context(|| format!("encoding {}", args.input.display()))?;
        (lat, model, img.width, img.height, "encoder")
    };
    let mut meta = HashMap::new();
    for (k, v) in [
        ("lic.model_id", model.id.clone()),
        ("lic.weights_hash", model.hash_hex()),
        ("lic.quality", format!("{}", lat.quality)),
        ("lic.stride", lat.stride.to_string()),
        ("lic.width", width.to_string()),
        ("lic.height", height.to_string()),
        ("lic.route", route.to_string()),
    ] {
        meta.insert(k.to_string(), v);
    }
    let shape = lat.tensor.size();
    weights::save(
        &args.output,
        &[("latent".to_string(), lat.tensor)],
        FloatStorage::F32,
        &meta,
    )?;
    println!(
        "{}: latent {:?} f32 ({} route, model {})",
        args.output.display(),
        shape,
        route,
        model.id
    );
    Ok(())
}
