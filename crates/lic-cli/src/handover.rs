//! The `lic` binary's [`Engine`]: work that needs libtorch is handed to the `lic-torch` binary.
//!
//! `lic-torch` is looked for in `$LIC_TORCH` (a path), then beside the running `lic`, then on
//! `PATH`; the process is replaced by it (`exec`) with the same arguments, so its output, exit
//! code and signals are those of a single process.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::{decode, encode, eval, Engine, Global};

/// Hands the whole command line to `lic-torch`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Handover;

/// The name of the libtorch-enabled binary.
pub const TORCH_BINARY: &str = "lic-torch";

/// Where `lic-torch` is, if anywhere (`$LIC_TORCH` names it exclusively when set).
pub fn find_torch_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LIC_TORCH") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(TORCH_BINARY)));
    if let Some(p) = beside.filter(|p| p.is_file()) {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(TORCH_BINARY))
            .find(|p| p.is_file())
    })
}

/// Replaces this process by `lic-torch` with the same arguments; returns only on failure.
pub fn hand_over(what: &str) -> anyhow::Result<()> {
    let Some(bin) = find_torch_binary() else {
        anyhow::bail!(
            "{what} needs libtorch, which runs in the `{TORCH_BINARY}` binary; it was not found \
             beside lic, in $LIC_TORCH or on PATH (build it with \
             `cargo build --release -p lic-torch-cli`)"
        );
    };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = std::process::Command::new(&bin).args(&args).exec();
        anyhow::bail!("{}: cannot start: {err}", bin.display())
    }
    #[cfg(not(unix))]
    {
        let status = std::process::Command::new(&bin)
            .args(&args)
            .status()
            .map_err(|e| anyhow::anyhow!("{}: cannot start: {e}", bin.display()))?;
        std::process::exit(status.code().unwrap_or(1))
    }
}

impl Engine for Handover {
    fn encode(&self, args: encode::Args, _: &Global) -> anyhow::Result<()> {
        hand_over(&format!("--model {}", args.model))
    }
    fn decode(&self, args: decode::Args, _: &Global) -> anyhow::Result<()> {
        hand_over(&format!("decoding {}", args.input.display()))
    }
    fn eval(&self, _: eval::Args, _: &Global) -> anyhow::Result<()> {
        hand_over("this evaluation")
    }
    fn latents(&self, _: crate::latents::Args, _: &Global) -> anyhow::Result<()> {
        hand_over("lic latents")
    }
    fn train(&self, _: Vec<OsString>, _: &Global) -> anyhow::Result<()> {
        hand_over("lic train")
    }
    fn video(&self, _: Vec<OsString>, _: &Global) -> anyhow::Result<()> {
        hand_over("lic video")
    }
}
