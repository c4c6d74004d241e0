//! Evaluation without libtorch: Bjøntegaard deltas (metrics are in `lic::metrics`),
//! CompressAI-format results files, RD plots, conventional codec anchors and the evaluation loop;
//! machine-perception (classifier agreement) evaluation in [`perception`] (its TorchScript
//! classifier is in `lic-torch`); BT.601 4:4:4 Y4M for the still-image x265 anchor in [`bt601`].
//!
//! The lic codecs ([`dwt`], [`overfit`]; the libtorch ones in `lic-torch`) plug into [`run::evaluate`] by
//! implementing [`codec::Codec`].

// The core's modules under their old paths, so that `crate::io::...` reads as before.
use lic::{format, io, metrics, util};

pub mod bdrate;
pub mod bt601;
pub mod codec;
pub mod conventional;
pub mod dwt;
pub mod overfit;
pub mod perception;
pub mod plot;
pub mod results;
pub mod run;

pub use bdrate::{bd_quality, bd_rate, BdResult, Method};
pub use codec::{Codec, SourceImage};
pub use conventional::conventional_codec;
pub use lic::metrics::{ms_ssim, psnr_rgb};
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

/// The evaluation codec of a libtorch-free family of the core's registry, with `opts`' effort,
/// time limit and tuning (the options are checked by the caller against the family's capabilities).
pub fn family_codec(
    f: &dyn lic::family::ImageFamily,
    opts: &lic::family::EncodeOptions,
) -> anyhow::Result<Box<dyn Codec>> {
    Ok(match f.id() {
        lic::dwt::MODEL_ID => Box::new(dwt::DwtCodec { tune: opts.tune }),
        lic::overfit::MODEL_ID => Box::new(overfit::OverfitCodec {
            effort: opts.effort,
            time_limit: opts.time_limit,
        }),
        id => anyhow::bail!("{id} has no evaluation codec"),
    })
}
