//! `lic latents IN -o OUT.safetensors`: a compressed-domain tensor of an image or a `.lic` file,
//! for learning without decoding pixels. `lic-dwt` gives its wavelet coefficients here (no
//! libtorch); the libtorch models' latents come from `lic-torch`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;

use lic::family::Control;
use lic::io::file::{check_output, write_atomic};

use super::common::read_input;
use crate::{BadArgs, Engine, Global};

const EXAMPLES: &str = "\
Examples:
  lic latents kodim01.png -o kodim01.lat.safetensors              # lic-walloc (libtorch), quality 4
  lic latents kodim01.lic -o kodim01.lat.safetensors              # the model named in the file
  lic latents photo.png -o photo.dwt.safetensors -m dwt -q 6      # lic-dwt's wavelet coefficients
  lic latents photo.jpg -o photo.lat.safetensors --model lic-elic-small --quality 2.5

lic-walloc / lic-elic-small: one f32 tensor `latent` [C, ceil(H/s), ceil(W/s)] (s = 8 for
lic-walloc, 16 for lic-elic-small), gain-normalized (what the synthesis transform sees); image
and bitstream routes give the same tensor. lic-dwt: `latent` f32 [C, H, W], the dequantized
CDF 9/7 coefficients (Y, Cb, Cr or gray) in the Mallat layout (LL top left, then HL/LH/HH per
level), and `symbols` i32 [C, H, W], the quantized values the entropy coder coded; metadata:
model, quality, levels, layout, image size, route. lic-overfit has no such tensor.";

/// `lic latents`.
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
    /// Quality for images (continuous, in the model's range; default: the model's).
    #[arg(long, short = 'q')]
    pub quality: Option<f64>,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, global: &Global, engine: &dyn Engine) -> anyhow::Result<()> {
    check_output(&args.output, &[&args.input], args.force)?;
    let bytes = read_input(&args.input)?;
    let is_stream = bytes.starts_with(&lic::format::MAGIC);
    let named = args.model.as_deref().and_then(lic::registry::by_name);
    let (container, route, quality) = if is_stream {
        let c = lic::format::Container::parse(&bytes)
            .with_context(|| format!("{}", args.input.display()))?;
        let Some(f) = lic::registry::by_model_id(&c.header.model_id) else {
            return engine.latents(args, global);
        };
        if let Some(n) = named.filter(|n| n.id() != f.id()) {
            anyhow::bail!(
                "{} is a {} stream, not {}",
                args.input.display(),
                f.id(),
                n.id()
            );
        }
        let q = f64::from(c.header.quality);
        (c, "bitstream", q)
    } else {
        let Some(f) = named else {
            return engine.latents(args, global);
        };
        if f.id() != lic::dwt::MODEL_ID {
            return Err(no_latents(f.id()));
        }
        let img = super::common::image_from_bytes(&bytes, &args.input, Default::default())?;
        let mut opts = lic::family::EncodeOptions::default();
        opts.quality = args.quality;
        lic::family::check_options(f, &opts).map_err(|e| BadArgs(e.to_string()))?;
        let enc = f
            .encode(&img, &opts, &mut |_| Control::Continue)
            .with_context(|| format!("encoding {}", args.input.display()))?;
        let c = lic::format::Container::parse(&enc.bytes)?;
        (c, "encoder", enc.quality)
    };
    if container.header.model_id != lic::dwt::MODEL_ID {
        return Err(no_latents(&container.header.model_id));
    }
    let co = lic::dwt::decode_coefficients(&container, lic::dwt::DEFAULT_MAX_PIXELS)
        .with_context(|| format!("decoding {}", args.input.display()))?;
    let (c, h, w) = (co.q.len(), co.height as usize, co.width as usize);
    let latent: Vec<u8> = co
        .dequantized()
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let symbols: Vec<u8> =
        co.q.iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
    let shape = vec![c, h, w];
    fn view<'a>(
        dtype: safetensors::Dtype,
        shape: &[usize],
        data: &'a [u8],
    ) -> anyhow::Result<safetensors::tensor::TensorView<'a>> {
        safetensors::tensor::TensorView::new(dtype, shape.to_vec(), data)
            .map_err(|e| anyhow::anyhow!("tensor: {e}"))
    }
    let tensors = vec![
        ("latent", view(safetensors::Dtype::F32, &shape, &latent)?),
        ("symbols", view(safetensors::Dtype::I32, &shape, &symbols)?),
    ];
    let meta: HashMap<String, String> = [
        ("lic.model_id", lic::dwt::MODEL_ID.to_string()),
        ("lic.quality", format!("{quality}")),
        ("lic.levels", co.params.levels.to_string()),
        ("lic.layout", "mallat".to_string()),
        (
            "lic.planes",
            if co.gray { "Y" } else { "Y,Cb,Cr" }.to_string(),
        ),
        ("lic.width", co.width.to_string()),
        ("lic.height", co.height.to_string()),
        ("lic.route", route.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let bytes = safetensors::serialize(tensors, Some(meta))
        .map_err(|e| anyhow::anyhow!("writing safetensors: {e}"))?;
    write_atomic(&args.output, &bytes)?;
    println!(
        "{}: latent [{c}, {h}, {w}] f32 and symbols i32 ({route} route, model {})",
        args.output.display(),
        lic::dwt::MODEL_ID
    );
    Ok(())
}

fn no_latents(id: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{id} has no latent tensor to export: `lic latents` exports lic-dwt's wavelet \
         coefficients and the libtorch models' latents (lic-walloc, the default, and \
         lic-elic-small)"
    )
}
