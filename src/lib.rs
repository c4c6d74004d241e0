//! lic: a learned image and video codec.
//!
//! Module graph (one way): `format`, `coder` (no libtorch) → `nn` → `transforms`, `entropy` →
//! `zoo` → `codec` → `video` → `eval`, `train`. The `engine` feature (default) enables everything
//! that needs libtorch or FFmpeg; without it only the libtorch-free core builds (`format`,
//! `coder`, `io`, `video::colour`, and the libtorch-free parts of `eval`), which is what `fuzz/`
//! uses.
pub mod coder;
pub mod datasets;
pub mod eval;
pub mod format;
pub mod io;
pub mod video;

#[cfg(feature = "engine")]
pub mod codec;
#[cfg(feature = "engine")]
pub mod entropy;
#[cfg(feature = "engine")]
pub mod nn;
#[cfg(feature = "engine")]
pub mod train;
#[cfg(feature = "engine")]
pub mod transforms;
#[cfg(feature = "engine")]
pub mod zoo;
