//! Helpers of the libtorch subcommands: models, export paths, training-loop arguments.

/// Finds and loads a model by name or path.
pub fn load_model(name: &str) -> anyhow::Result<lic::codec::CodecModel> {
    let path = lic::codec::CodecModel::find(name)?;
    lic::codec::CodecModel::load(&path, tch::Device::Cpu)
        .map_err(|e| anyhow::anyhow!("loading model {}: {e}", path.display()))
}

/// Parses a `.lic` file's header and loads the model it names (or `model`, if given).
pub fn stream_model(
    bytes: &[u8],
    input: &std::path::Path,
    model: Option<&str>,
) -> anyhow::Result<(lic::format::Container, lic::codec::CodecModel)> {
    use anyhow::Context;
    let c = lic::codec::read_header(bytes, &Default::default())
        .with_context(|| format!("{}", input.display()))?;
    let m = load_model(model.unwrap_or(&c.header.model_id))?;
    Ok((c, m))
}

/// Checks an exported model's name and output: `OUT/NAME.safetensors`, creating `OUT`; refuses
/// to overwrite without `force` or to write over the checkpoint.
pub fn export_path(
    out: &std::path::Path,
    name: &str,
    ckpt: &std::path::Path,
    force: bool,
) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    anyhow::ensure!(
        !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_graphic()),
        "--name must be 1 to 64 printable ASCII characters"
    );
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let path = out.join(format!("{name}.safetensors"));
    lic::io::file::check_output(&path, &[ckpt], force)?;
    Ok(path)
}

/// The training-loop arguments that `lic train` and `lic video train` share (their defaults are
/// the same for both).
#[derive(clap::Args, Debug)]
pub struct LoopArgs {
    /// Samples (crops or sequences) per step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// Seed of the initialization, the crops and the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop (with a checkpoint) after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
    /// Steps per (averaged) log line.
    #[arg(long, default_value_t = 50)]
    pub log_every: u64,
    /// Steps per checkpoint.
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: u64,
}
