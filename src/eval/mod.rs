//! Evaluation toolkit without libtorch: metrics (PSNR-RGB, MS-SSIM), Bjøntegaard deltas,
//! CompressAI-format results files, RD plots, conventional codec anchors and the evaluation loop;
//! machine-perception (classifier agreement) evaluation in [`perception`], its TorchScript
//! classifier in `classify` (engine feature); video anchors (x264/x265) and per-frame video
//! metrics in `video` (engine feature).
//!
//! The learned codec plugs into [`run::evaluate`] by implementing [`conventional::Codec`].

pub mod bdrate;
#[cfg(feature = "engine")]
pub mod classify;
pub mod conventional;
#[cfg(feature = "engine")]
pub mod lic;
pub mod metrics;
pub mod perception;
pub mod plot;
pub mod results;
pub mod run;
#[cfg(feature = "engine")]
pub mod video;

pub use bdrate::{bd_quality, bd_rate, BdResult, Method};
pub use conventional::{conventional_codec, Codec, SourceImage};
pub use metrics::{ms_ssim, psnr_rgb};
pub use plot::{plot, plot_with, Curve, PlotOptions};
pub use results::RdResults;
pub use run::{evaluate, EvalOptions};

/// A progress bar on stderr for `len` steps (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb
}
