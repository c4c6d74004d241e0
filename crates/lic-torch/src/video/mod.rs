//! Video mode of the learned codec.
//!
//! * `colour` (from the core, re-exported): 8-bit YCbCr 4:2:0 ↔ float RGB with an exact round
//!   trip, and YUV/RGB PSNR.
//! * [`io`] (the `lic-video-io` crate): reading any video FFmpeg decodes, writing lossless FFV1
//!   `.mkv` or `.y4m`, and per-packet sizes of bitstreams.
//! * [`model`], [`codec`], [`stream`]: the video codec. Every frame goes through a base image
//!   model's transforms; inter frames use a spatiotemporal entropy model
//!   ([`crate::zoo::temporal`]) on the previous decoded latents; `.licv` streams
//!   (`lic::format::video`).

pub use lic::video::*;
pub use lic_video_io as io;

pub mod codec;
pub mod model;
pub mod stream;

pub use io::{packet_sizes, Chroma, VideoError, VideoFrame, VideoInfo, VideoReader, VideoWriter};
