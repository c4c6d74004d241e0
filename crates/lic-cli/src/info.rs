//! `lic info FILE`: print a `.lic` header.

use std::path::PathBuf;

use anyhow::Context;

use super::common::read_input;

const EXAMPLES: &str = "\
Examples:
  lic info kodim01.lic
  lic info kodim01.lic | grep 'model id'";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// A .lic file.
    pub file: PathBuf,
}

pub fn run(args: Args, _global: &super::Global) -> anyhow::Result<()> {
    let bytes = read_input(&args.file)?;
    let c = lic::format::Container::parse(&bytes)
        .with_context(|| format!("{}", args.file.display()))?;
    println!("{}", args.file.display());
    println!("{c}");
    if let Some(line) =
        lic::registry::by_model_id(&c.header.model_id).and_then(|f| f.describe_params(&c))
    {
        println!("{line}");
    }
    Ok(())
}
