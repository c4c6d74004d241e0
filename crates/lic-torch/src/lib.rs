//! lic's libtorch side: the neural image families (`lic-elic-small`, `lic-walloc`), the learned
//! video model, and training, on [`tch`].
//!
//! Nothing in the core (`lic`) depends on this crate; the `lic` binary hands work that needs it
//! to the `lic-torch` binary. Module graph, from the bottom up: `nn` (layers, exact integer
//! layers, weights); `transforms`, `entropy`; `zoo` (architectures: `ConfigFamily` /
//! `NetworkFamily` and their registration); `codec` (the image `encode`/`decode` API and the
//! latent toolkit the video codec shares; [`codec::family`] puts these models behind the core's
//! `ImageFamily` trait); `video`; `eval`, `train`.

// The core's modules, re-exported: `lic_torch` is the whole library (the core, evaluation and the
// libtorch parts) under one name.
pub use lic::{coder, datasets, dwt, family, format, io, mcw, metrics, overfit, registry, util};

pub mod codec;
pub mod entropy;
pub mod eval;
pub mod nn;
pub mod train;
pub mod transforms;
pub mod video;
pub mod zoo;
