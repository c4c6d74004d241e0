//! Video helpers without FFmpeg or libtorch: 8-bit YCbCr 4:2:0 ↔ float RGB with an exact round
//! trip, and YUV/RGB PSNR ([`colour`]); decoding whole `.licv` streams with any family and the
//! damaged-stream policy ([`stream`]). File I/O is in the `lic-video-io` crate.

pub mod colour;
pub mod stream;

pub use colour::{ColourInfo, RgbF32, Yuv420, YuvPsnr};
