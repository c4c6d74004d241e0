//! Evaluation toolkit without libtorch: Bjøntegaard deltas (metrics are in [`crate::metrics`]),
//! CompressAI-format results files, RD plots, conventional codec anchors and the evaluation loop;
//! machine-perception (classifier agreement) evaluation in [`perception`], its TorchScript
//! classifier in `classify` (engine feature); video anchors (x264/x265) and per-frame video
//! metrics in `video` (engine feature).
//!
//! The lic codecs (`lic`, engine feature; [`dwt`], [`overfit`]) plug into [`run::evaluate`] by
//! implementing [`codec::Codec`].

pub mod bdrate;
#[cfg(feature = "engine")]
pub mod classify;
pub mod codec;
pub mod conventional;
pub mod dwt;
#[cfg(feature = "engine")]
pub mod lic;
pub mod overfit;
pub mod perception;
pub mod plot;
pub mod results;
pub mod run;
#[cfg(feature = "engine")]
pub mod video;

pub use crate::metrics::{ms_ssim, psnr_rgb};
pub use bdrate::{bd_quality, bd_rate, BdResult, Method};
pub use codec::{Codec, SourceImage};
pub use conventional::conventional_codec;
pub use plot::{plot, plot_with, Curve, PlotOptions};
pub use results::RdResults;
pub use run::{evaluate, EvalOptions};
