//! Video helpers without FFmpeg or libtorch: 8-bit YCbCr 4:2:0 ↔ float RGB with an exact round
//! trip, and YUV/RGB PSNR ([`colour`]). File I/O is in the `lic-video-io` crate.

pub mod colour;

pub use colour::{ColourInfo, RgbF32, Yuv420, YuvPsnr};
