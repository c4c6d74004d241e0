//! Builds and drives the `bdrate`, `plot` and `eval` CLI modules without the `engine` feature (the
//! `lic` binary needs libtorch). The modules only use `super::Global` from `src/cli/mod.rs`.
//!
//! Opt-in measurement: `LIC_EVAL_DS=<dir> LIC_EVAL_CODEC=jpeg cargo test ... --test cli_eval_modules`
//! runs `lic eval --points 6 --limit 4` and writes `/tmp/lic-eval-<codec>.json`.
#![allow(dead_code)]

/// Stands in for `src/cli/mod.rs`'s `Global` (the modules' `super`).
#[derive(Debug, Clone)]
pub struct Global {
    pub threads: Option<u32>,
}
#[path = "../src/cli/bdrate.rs"]
pub mod bdrate;
#[path = "../src/cli/eval.rs"]
pub mod eval;
#[path = "../src/cli/plot.rs"]
pub mod plot;

mod cli {
    use super::{bdrate, eval, plot, Global};
    use clap::{Parser, Subcommand};
    #[derive(Parser, Debug)]
    #[command(name = "lic")]
    pub struct Cli {
        #[command(subcommand)]
        pub command: Command,
    }
    #[derive(Subcommand, Debug)]
    pub enum Command {
        Bdrate(bdrate::Args),
        Plot(plot::Args),
        Eval(eval::Args),
    }
    pub fn dispatch(args: &[&str]) -> anyhow::Result<()> {
        let cli = Cli::try_parse_from(args)?;
        let g = Global { threads: None };
        match cli.command {
            Command::Bdrate(a) => bdrate::run(a, &g),
            Command::Plot(a) => plot::run(a, &g),
            Command::Eval(a) => eval::run(a, &g),
        }
    }
}

fn anchor(rel: &str) -> String {
    format!("{}/anchors/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn bdrate_plot_and_eval_commands() {
    use clap::CommandFactory;
    cli::Cli::command().debug_assert();
    let a = anchor("measured/kodak/avif.json");
    let v = anchor("kodak/vtm.json");
    let w = anchor("measured/kodak/webp.json");
    let j = anchor("measured/kodak/jpeg420.json");
    cli::dispatch(&["lic", "bdrate", &a, &v]).unwrap();
    cli::dispatch(&[
        "lic", "bdrate", &a, &v, "--metric", "ms-ssim", "--method", "cubic",
    ])
    .unwrap();
    assert!(cli::dispatch(&["lic", "bdrate", &a, "/nonexistent.json"]).is_err());

    let dir = tempfile::tempdir().unwrap();
    let out = std::env::var("LIC_PLOT_OUT")
        .unwrap_or_else(|_| dir.path().join("rd.png").display().to_string());
    cli::dispatch(&[
        "lic",
        "plot",
        &v,
        &a,
        &w,
        &j,
        "-o",
        &out,
        "--force",
        "--title",
        "Kodak (24 images)",
    ])
    .unwrap();
    assert!(std::fs::metadata(&out).unwrap().len() > 20_000);
    // Existing output without --force, and output = input, are refused.
    assert!(cli::dispatch(&["lic", "plot", &v, "-o", &out]).is_err());
    assert!(cli::dispatch(&["lic", "plot", &v, "-o", &v, "--force"]).is_err());
    let clipped = dir.path().join("rd-1.5.png").display().to_string();
    let bpg = anchor("kodak/bpg_444_x265_ycbcr.json");
    cli::dispatch(&[
        "lic",
        "plot",
        &v,
        &bpg,
        &a,
        "-o",
        &clipped,
        "--max-bpp",
        "1.5",
        "--size",
        "1200x520",
    ])
    .unwrap();

    assert!(cli::dispatch(&[
        "lic",
        "eval",
        "--dataset",
        "/nonexistent",
        "--codec",
        "jpeg"
    ])
    .is_err());
    let e = cli::dispatch(&["lic", "eval", "--dataset", ".", "--codec", "mp3"]).unwrap_err();
    assert!(format!("{e:#}").contains("jpeg444"), "{e:#}");
    assert!(cli::dispatch(&[
        "lic",
        "eval",
        "--dataset",
        ".",
        "--codec",
        "jpeg",
        "--quality",
        "5",
        "--points",
        "3"
    ])
    .is_err());

    if let Ok(ds) = std::env::var("LIC_EVAL_DS") {
        let codec = std::env::var("LIC_EVAL_CODEC").unwrap_or_else(|_| "jpeg".into());
        let o = format!("/tmp/lic-eval-{codec}.json");
        cli::dispatch(&[
            "lic",
            "eval",
            "--dataset",
            &ds,
            "--codec",
            &codec,
            "--points",
            "6",
            "--limit",
            "4",
            "-o",
            &o,
            "--force",
        ])
        .unwrap();
    }
}
