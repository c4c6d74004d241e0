//! `lic latents IN -o OUT.safetensors`: the dequantized latent tensor of an image or a `.lic`
//! file, for learning in the compressed domain.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;

use lic::codec::{self, EncodeOptions};
use lic::io::file::check_output;
use lic::io::image::{load, LoadOptions};
use lic::nn::weights::{self, FloatStorage};

use crate::common::{load_model, stream_model};
use lic_cli::common::read_input;

const EXAMPLES: &str = "\
Examples:
  lic latents kodim01.png -o kodim01.lat.safetensors              # encoder only (lic-walloc, quality 4)
  lic latents kodim01.lic -o kodim01.lat.safetensors              # entropy decoding only, no synthesis
  lic latents photo.jpg -o photo.lat.safetensors --model lic-elic-small --quality 2.5

The file holds one f32 tensor `latent` [C, ceil(H/s), ceil(W/s)] (s = 8 for lic-walloc, 16 for
lic-elic-small), gain-normalized (what the synthesis transform sees), and metadata: model,
weights hash, quality, stride, image size, route. Both routes give the same tensor.";

/// Model used for images when none is given: the WaLLoC-style model, made for this.
pub const DEFAULT_LATENT_MODEL: &str = "lic-walloc";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// An image (PNG, JPEG, …) or a .lic file.
    pub input: PathBuf,
    /// Output .safetensors file.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Model name or path (images: default lic-walloc; .lic files: the model named in the file).
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// Quality for images (continuous, in the model's range).
    #[arg(long, short = 'q', default_value_t = 4.0)]
    pub quality: f64,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    check_output(&args.output, &[&args.input], args.force)?;
    let bytes = read_input(&args.input)?;
    let is_stream = bytes.starts_with(&lic::format::MAGIC);
    // The libtorch-free families have no latent tensor to export.
    let family = match (&args.model, is_stream) {
        (Some(m), _) => lic::registry::by_name(m).map(|f| f.id().to_string()),
        (None, true) => lic::format::Container::parse(&bytes)
            .ok()
            .filter(|c| lic::registry::by_model_id(&c.header.model_id).is_some())
            .map(|c| c.header.model_id),
        (None, false) => None,
    };
    if let Some(id) = family {
        anyhow::bail!(
            "{id} has no latent tensor to export: `lic latents` exports the latents of the \
             libtorch models (lic-walloc, the default, and lic-elic-small); encode the image \
             with one of them, or give the source image with --model walloc"
        );
    }
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
            quality: args.quality,
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
