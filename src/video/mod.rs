//! Video mode.
//!
//! * [`colour`]: 8-bit YCbCr 4:2:0 ↔ float RGB with an exact round trip, and YUV/RGB PSNR.
//!   Pure Rust: builds without the `engine` feature.
//! * [`bt601`]: full-range BT.601 RGB ↔ YCbCr 4:4:4 and one-frame 4:4:4 Y4M files (the still-image
//!   x265 anchor's conversion). Pure Rust.
//! * [`io`] (engine): reading any video FFmpeg decodes, writing lossless FFV1 `.mkv` or `.y4m`,
//!   and per-packet sizes of bitstreams.
//! * [`model`], [`codec`], [`stream`] (engine): the video codec. Every frame goes through a base
//!   image model's transforms; inter frames use a spatiotemporal entropy model
//!   ([`crate::zoo::temporal`]) on the previous decoded latents; `.licv` streams
//!   ([`crate::format::video`]).

pub mod bt601;
#[cfg(feature = "engine")]
pub mod codec;
pub mod colour;
#[cfg(feature = "engine")]
pub mod io;
#[cfg(feature = "engine")]
pub mod model;
#[cfg(feature = "engine")]
pub mod stream;

pub use colour::{ColourInfo, RgbF32, Yuv420, YuvPsnr};
#[cfg(feature = "engine")]
pub use io::{packet_sizes, Chroma, VideoError, VideoFrame, VideoInfo, VideoReader, VideoWriter};
