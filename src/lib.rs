//! lic: a learned image and video codec.
//!
//! Module graph (one way): `format`, `coder` (no libtorch) → `nn` → `transforms`, `entropy` →
//! `zoo` → `codec` → `video` → `eval`, `train`. The `engine` feature (default) enables everything
//! that needs libtorch or FFmpeg; without it only the libtorch-free core builds.
pub mod coder;
pub mod format;
pub mod io;
