//! The `lic` command line. Thin: parsing here, one module per subcommand in `cli/`.
mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`lic info a.lic | head -1`) would
    // panic; restore the default action: the process ends quietly, like other Unix tools.
    // SAFETY: called first thing in main, before any thread exists; it only resets a handler.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cli::main()
}
