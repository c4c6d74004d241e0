//! `lic decode IN OUT`: `.lic` → image (format from OUT's extension, PNG by default).

use std::path::PathBuf;

use anyhow::Context;

use super::common::{check_out, decoded_format, read_input};
use crate::{BadArgs, Engine, Global};

const EXAMPLES: &str = "\
Examples:
  lic decode kodim01.lic kodim01.png
  lic decode kodim01.lic kodim01.ppm --force   # overwrite an existing output
  lic decode a.lic a.png --check-symbols a.sym  # a.sym from `lic encode --dump-symbols`: report the first mismatch
  lic decode a.lic a.png --dump-symbols b.sym   # the decoder's view, to compare machines or thread counts";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input .lic file (`-`: standard input).
    pub input: PathBuf,
    /// Output image: .png, .ppm/.pgm (binary PPM/PGM), .bmp or .tif (lossless formats only);
    /// `-`: PNG on standard output.
    pub output: PathBuf,
    /// Model name or path; by default the model named in the file (lic-dwt and lic-overfit
    /// streams need no model file).
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
    /// Compare every substream's μ, σ, table index and symbols with an encoder's dump
    /// (`lic encode --dump-symbols`) and stop at the first difference.
    #[arg(long, value_name = "FILE", conflicts_with = "dump_symbols")]
    pub check_symbols: Option<PathBuf>,
    /// Write the decoder's symbols, table indexes, μ and σ (safetensors).
    #[arg(long, value_name = "FILE")]
    pub dump_symbols: Option<PathBuf>,
}

pub fn run(args: Args, global: &Global, engine: &dyn Engine) -> anyhow::Result<()> {
    check_out(&args.output, &[&args.input], args.force)?;
    // A format lic cannot write is refused before any decoding.
    decoded_format(&args.output)?;
    let bytes = read_input(&args.input)?;
    if bytes.starts_with(&lic::format::video::VIDEO_MAGIC) {
        anyhow::bail!(
            "{} is a .licv video stream: decode it with `lic video decode {} OUT.mkv`",
            args.input.display(),
            args.input.display()
        );
    }
    // The container is parsed once, then handed to the family its model id names.
    let limits = lic::format::Limits::default();
    let c = lic::format::Container::parse_with_limits(&bytes, &limits)
        .with_context(|| format!("{}", args.input.display()))?;
    let Some(family) = lic::registry::by_model_id(&c.header.model_id) else {
        if let Some(named) = args.model.as_deref().and_then(lic::registry::by_name) {
            anyhow::bail!(
                "{} is a {} stream, not {}; leave out --model to use the model it names",
                args.input.display(),
                c.header.model_id,
                named.id()
            );
        }
        // A libtorch model's stream.
        return engine.decode(args, global);
    };
    if let Some(m) = &args.model {
        anyhow::ensure!(
            lic::registry::by_name(m).is_some_and(|n| n.id() == family.id()),
            "{} is a {} stream; --model {m} cannot decode it (leave out --model to use the \
             model it names)",
            args.input.display(),
            family.id()
        );
    }
    if args.check_symbols.is_some() || args.dump_symbols.is_some() {
        return Err(anyhow::Error::new(BadArgs(format!(
            "--check-symbols and --dump-symbols are not available for {} streams",
            family.id()
        ))));
    }
    let img = family
        .decode(&c, &limits)
        .with_context(|| format!("decoding {}", args.input.display()))?;
    super::common::save_decoded(&img, &args.output)
}
