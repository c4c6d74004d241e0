//! The `lic` command line. Thin: parsing here, one module per subcommand in `cli/`.
mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
