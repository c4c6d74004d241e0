//! Video I/O and measurement for `lic video`.
//!
//! * [`colour`]: 8-bit YCbCr 4:2:0 ↔ float RGB with an exact round trip, and YUV/RGB PSNR.
//!   Pure Rust: builds without the `engine` feature.
//! * [`io`] (engine feature): reading any video FFmpeg decodes, writing lossless FFV1 `.mkv` or
//!   `.y4m`, and per-packet sizes of bitstreams.

pub mod colour;
#[cfg(feature = "engine")]
pub mod io;

pub use colour::{ColourInfo, RgbF32, Yuv420, YuvPsnr};
#[cfg(feature = "engine")]
pub use io::{packet_sizes, Chroma, VideoError, VideoFrame, VideoInfo, VideoReader, VideoWriter};
