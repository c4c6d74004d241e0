//! `lic decode IN OUT`: `.lic` → image (format from OUT's extension, PNG by default).

use std::path::PathBuf;

use anyhow::Context;

use lic::codec;
use lic::io::file::check_output;

use super::common::{load_model, read_input};

const EXAMPLES: &str = "\
Examples:
  lic decode kodim01.lic kodim01.png
  lic decode kodim01.lic kodim01.ppm --force   # overwrite an existing output";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input .lic file.
    pub input: PathBuf,
    /// Output image (.png, .ppm/.pgm, .bmp, .tif; PNG for other names).
    pub output: PathBuf,
    /// Model name or path; by default the model named in the file.
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    check_output(&args.output, &[&args.input], args.force)?;
    let bytes = read_input(&args.input)?;
    let c = codec::read_header(&bytes, &Default::default())
        .with_context(|| format!("{}", args.input.display()))?;
    let name = args
        .model
        .clone()
        .unwrap_or_else(|| c.header.model_id.clone());
    let model = load_model(&name)?;
    let img = codec::decode(&bytes, &model)
        .with_context(|| format!("decoding {}", args.input.display()))?;
    lic::io::image::save(&img, &args.output)?;
    println!(
        "{}: {}x{}{}",
        args.output.display(),
        img.width,
        img.height,
        if img.gray { " (gray)" } else { "" }
    );
    Ok(())
}
