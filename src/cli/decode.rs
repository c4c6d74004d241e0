//! `lic decode IN OUT`: `.lic` → image (format from OUT's extension, PNG by default).

use std::path::PathBuf;

use anyhow::Context;

use lic::codec;
use lic::io::file::check_output;

use super::common::{read_input, stream_model};
use super::family::Family;

const EXAMPLES: &str = "\
Examples:
  lic decode kodim01.lic kodim01.png
  lic decode kodim01.lic kodim01.ppm --force   # overwrite an existing output
  lic decode a.lic a.png --check-symbols a.sym  # a.sym from `lic encode --dump-symbols`: report the first mismatch
  lic decode a.lic a.png --dump-symbols b.sym   # the decoder's view, to compare machines or thread counts";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input .lic file.
    pub input: PathBuf,
    /// Output image (.png, .ppm/.pgm, .bmp, .tif; PNG for other names).
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

pub fn run(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    check_output(&args.output, &[&args.input], args.force)?;
    let bytes = read_input(&args.input)?;
    // A libtorch-free family decodes without a model file; `--model`, if given, must agree.
    let named = args.model.as_deref().and_then(Family::from_name);
    if let Some((f, c)) = super::family::of_stream(&bytes) {
        if let Some(m) = &args.model {
            anyhow::ensure!(
                named.map(|n| n.id) == Some(f.id),
                "{} is a {} stream; --model {m} cannot decode it",
                args.input.display(),
                c.header.model_id
            );
        }
        return f.decode(&bytes, &args);
    }
    if let Some(f) = named {
        let id = lic::format::Container::parse(&bytes)
            .map(|c| c.header.model_id)
            .with_context(|| format!("{}", args.input.display()))?;
        anyhow::bail!(
            "{} is a {id} stream, not {}; leave out --model to use the model it names",
            args.input.display(),
            f.id
        );
    }
    let (_, model) = stream_model(&bytes, &args.input, args.model.as_deref())?;
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
        codec::decode(&bytes, &model).with_context(ctx)?
    };
    super::common::save_decoded(&img, &args.output)
}
