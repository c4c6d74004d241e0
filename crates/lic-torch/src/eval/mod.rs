//! Evaluation of what needs libtorch, on top of `lic-eval` (re-exported here whole): the learned
//! image codecs as an evaluation [`Codec`] ([`learned`]), the TorchScript classifier of
//! machine-perception evaluation ([`classify`]), and the video evaluation against x264/x265
//! ([`video`]).

pub use lic_eval::*;

pub mod classify;
pub mod learned;
pub mod video;
