//! Helpers shared by the subcommands: threads, inputs, models, export paths, and the clap view of
//! library option types (which stay clap-free).

use clap::builder::{EnumValueParser, TypedValueParser};
use lic::io::image::AlphaPolicy;

use crate::Global;

/// `--alpha`: clap's view of [`AlphaPolicy`] (same names, help and default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AlphaArg {
    /// Refuse the image with a clear message.
    Refuse,
    /// Drop the alpha channel (composite nothing: the colour channels are kept as they are).
    Drop,
}

impl From<AlphaArg> for AlphaPolicy {
    fn from(a: AlphaArg) -> Self {
        match a {
            AlphaArg::Refuse => AlphaPolicy::Refuse,
            AlphaArg::Drop => AlphaPolicy::Drop,
        }
    }
}

/// Parses `--alpha` values into an [`AlphaPolicy`] (`#[arg(value_parser = alpha_parser())]`).
pub fn alpha_parser() -> impl TypedValueParser<Value = AlphaPolicy> {
    EnumValueParser::<AlphaArg>::new().map(AlphaPolicy::from)
}

/// Applies `--threads` to rayon's global pool (the codecs' threads; `lic-torch` also sets
/// libtorch's).
pub fn apply_threads(global: &Global) {
    if let Some(n) = global.threads {
        // Fails only if the pool was already built, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build_global();
    }
}

/// Whether `path` is `-`: standard input or output.
pub fn is_stdio(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads an input file (standard input for `-`), naming it in the error.
pub fn read_input(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if is_stdio(path) {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut v)
            .map_err(|e| anyhow::anyhow!("standard input: cannot read: {e}"))?;
        return Ok(v);
    }
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))
}

/// [`lic::io::file::check_output`], except for `-` (standard output), which is always fine.
pub fn check_out(
    out: &std::path::Path,
    inputs: &[&std::path::Path],
    force: bool,
) -> anyhow::Result<()> {
    if !is_stdio(out) {
        lic::io::file::check_output(out, inputs, force)?;
    }
    Ok(())
}

/// Writes `bytes` to `out` atomically, or to standard output for `-`.
pub fn write_output(out: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    if is_stdio(out) {
        use std::io::Write;
        let mut o = std::io::stdout().lock();
        o.write_all(bytes)
            .and_then(|()| o.flush())
            .map_err(|e| anyhow::anyhow!("standard output: {e}"))?;
        return Ok(());
    }
    lic::io::file::write_atomic(out, bytes)?;
    Ok(())
}

/// Prints a command's one-line report: on standard output, or on standard error when the
/// result itself went to standard output (`-`).
pub fn report_line(out: &std::path::Path, line: &str) {
    if is_stdio(out) {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// Loads the image to encode (standard input for `-`), printing the loader's notices.
pub fn load_input(
    path: &std::path::Path,
    alpha: AlphaPolicy,
) -> anyhow::Result<lic::io::image::Image> {
    image_from_bytes(&read_input(path)?, path, alpha)
}

/// An input image from its file's bytes (read once by the caller), printing the loader's notices.
pub fn image_from_bytes(
    bytes: &[u8],
    path: &std::path::Path,
    alpha: AlphaPolicy,
) -> anyhow::Result<lic::io::image::Image> {
    let opts = lic::io::image::LoadOptions {
        alpha,
        ..Default::default()
    };
    let name = if is_stdio(path) {
        std::path::Path::new("standard input")
    } else {
        path
    };
    let loaded = lic::io::image::load_from_memory(bytes, name, &opts)?;
    for n in &loaded.notices {
        eprintln!("note: {}: {n}", name.display());
    }
    Ok(loaded.image)
}

/// The format a decoded image is written in: from OUT's extension, PNG on standard output.
pub fn decoded_format(out: &std::path::Path) -> anyhow::Result<lic::io::image::OutputFormat> {
    if is_stdio(out) {
        return Ok(lic::io::image::OutputFormat::Png);
    }
    Ok(lic::io::image::output_format(out)?)
}

/// Writes a decoded image (PNG on standard output for `-`) and prints its one-line summary.
pub fn save_decoded(img: &lic::io::image::Image, out: &std::path::Path) -> anyhow::Result<()> {
    if is_stdio(out) {
        let bytes = lic::io::image::encode_output(img, lic::io::image::OutputFormat::Png)
            .map_err(|e| anyhow::anyhow!("encoding the decoded image: {e}"))?;
        write_output(out, &bytes)?;
    } else {
        lic::io::image::save(img, out)?;
    }
    report_line(
        out,
        &format!(
            "{}: {}x{}{}",
            out.display(),
            img.width,
            img.height,
            if img.gray { " (gray)" } else { "" }
        ),
    );
    Ok(())
}

/// `--effort` values (the families with [`lic::family::Capabilities::effort`]).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EffortArg {
    /// lic-overfit: 1,800 iterations (about 1 minute per Kodak image on 2 cores).
    Fast,
    /// lic-overfit: 10,000 iterations (about 3–6 minutes).
    Default,
    /// lic-overfit: 24,000 iterations, best rate-distortion.
    Slow,
}

impl From<EffortArg> for lic::family::Effort {
    fn from(e: EffortArg) -> Self {
        match e {
            EffortArg::Fast => Self::Fast,
            EffortArg::Default => Self::Default,
            EffortArg::Slow => Self::Slow,
        }
    }
}

/// `--tune` values (the families with [`lic::family::Capabilities::tune`]: lic-dwt).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TuneArg {
    /// Pixel fidelity (PSNR-RGB).
    Psnr,
    /// Machine perception: per-band step weights learned against an ImageNet classifier, sent
    /// in the stream (the ordinary decoder reads it).
    Machine,
}

impl From<TuneArg> for lic::dwt::tune::Tune {
    fn from(t: TuneArg) -> Self {
        match t {
            TuneArg::Psnr => Self::Psnr,
            TuneArg::Machine => Self::Machine,
        }
    }
}

/// An error and its causes in one line, each cause once: `a: b: c` (a cause whose text repeats
/// the one before, as `std::io::Error` wrapped by an error that prints its source, is skipped).
pub fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || last.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        last = text;
    }
    out
}
