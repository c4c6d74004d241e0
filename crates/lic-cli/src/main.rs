//! The `lic` command line. It links neither libtorch nor FFmpeg: what needs them is handed to the
//! `lic-torch` binary (see `lic_cli::handover`).
fn main() -> std::process::ExitCode {
    lic_cli::main_with(&lic_cli::handover::Handover)
}
