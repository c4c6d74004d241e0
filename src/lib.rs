//! lic: a learned image and video codec.
//!
//! Module graph, from the bottom up; a module imports only from its own layer and the layers
//! below (checked by `tests/module_graph.rs`, which holds the same table):
//!
//! 1. `format`, `coder`, `io`, `metrics`, `util`, `datasets`, `family`, `dwt`, `overfit`,
//!    `registry`: no libtorch (containers and their byte reader, entropy coding, image/file I/O,
//!    PSNR/MS-SSIM, hex/CPU/progress helpers, dataset folders, the error type of the
//!    libtorch-free families, the wavelet codec, the overfitted codec, the table of those
//!    families that `lic decode` and the libtorch-free `lic-decode` binary use);
//! 2. `nn` (layers, exact integer layers, weights);
//! 3. `transforms`, `entropy`;
//! 4. `zoo` (architectures: the family interface `ConfigFamily` / `NetworkFamily` and their
//!    registration);
//! 5. `codec` (the image `encode`/`decode` API, and `codec::latent`, the latent toolkit the
//!    video codec shares);
//! 6. `video`;
//! 7. `eval`, `train` (one loop, `train::driver`, for the image and the video trainers);
//! 8. the CLI (`src/cli`, `src/main.rs`, and `src/bin/lic-decode.rs`: separate binaries that
//!    see the library as `lic::`).
//!
//! The `engine` feature (default) enables everything that needs libtorch or FFmpeg; without it
//! only the libtorch-free core builds (layer 1, `video::colour`, `video::bt601`, and the
//! libtorch-free parts of `eval`), which is what `fuzz/` uses.
pub mod coder;
pub mod datasets;
pub mod dwt;
pub mod eval;
pub mod family;
pub mod format;
pub mod io;
pub mod metrics;
pub mod overfit;
pub mod registry;
pub mod util;
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
