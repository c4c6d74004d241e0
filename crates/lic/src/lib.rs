//! lic's pure-Rust core: the `.lic` container, entropy coding, image I/O, metrics and the
//! libtorch-free codec families, behind one codec interface.
//!
//! No libtorch, FFmpeg, clap or anyhow here: this crate builds for `wasm32-unknown-unknown`, and
//! the `lic` binary, the Python and WebAssembly bindings are built on it. The libtorch families
//! (crate `lic-torch`) implement the same [`family::ImageFamily`] trait.
//!
//! ```
//! use lic::prelude::*;
//!
//! // A small gradient image, coded with the default family (lic-dwt) and decoded again.
//! let data: Vec<u8> = (0..32 * 24).flat_map(|i| [(i % 32 * 8) as u8, (i / 32 * 10) as u8, 128]).collect();
//! let img = Image::new(32, 24, data);
//! let family = lic::registry::default_family();
//! let enc = family.encode(&img, &EncodeOptions::default(), &mut |_| Control::Continue).unwrap();
//! let dec = lic::decode(&enc.bytes, &Limits::default()).unwrap();
//! assert_eq!((dec.width, dec.height), (32, 24));
//! assert!(lic::metrics::psnr_rgb(&img, &dec).unwrap() > 30.0);
//! ```
//!
//! Module graph, from the bottom up; a module imports only from its own layer and the layers
//! below (checked by `tests/module_graph.rs`):
//!
//! 1. `format`, `coder`, `io`, `metrics`, `util`, `datasets`, `video` (containers and their
//!    byte reader, entropy coding, image/file I/O, PSNR/MS-SSIM, small helpers, dataset
//!    folders, YCbCr 4:2:0, YUV-PSNR and the `.licv` stream layer);
//! 2. `family`: the codec interface ([`family::ImageFamily`]), its options, progress and errors;
//! 3. the image families `dwt` (lic-dwt) and `overfit` (lic-overfit);
//! 4. the video family `mcw` (lic-mcw: motion-compensated prediction with `dwt`'s coder);
//! 5. `registry`: every libtorch-free family, registered once by model id, and [`decode`].
pub mod coder;
pub mod datasets;
pub mod dwt;
pub mod family;
pub mod format;
pub mod io;
pub mod mcw;
pub mod metrics;
pub mod overfit;
pub mod registry;
pub mod util;
pub mod video;

pub use family::Error;
pub use registry::decode;

/// The types most users need: the codec interface, images, options and errors.
pub mod prelude {
    pub use crate::family::{
        Capabilities, Control, EncodeOptions, Encoded, Error, ImageFamily, Progress,
    };
    pub use crate::format::Limits;
    pub use crate::io::image::Image;
}
