//! Overfitted image codec of the C3 / Cool-chic family (model id `lic-overfit`).
//!
//! Nothing is trained in advance: for each image the encoder fits a few latent grids, a tiny
//! synthesis network and a tiny autoregressive entropy model (ARM) by gradient descent on
//! `MSE + λ · rate` ([`train`]), with fused float forward/backward kernels written in Rust
//! ([`model`], runtime-dispatched SIMD in [`simd`]). The bitstream carries the quantized
//! network weights and the latents; decoding ([`stream`]) is pure integer arithmetic
//! ([`fixed`]): the ARM that selects each latent's probability table and the fixed-point
//! upsampling and synthesis give the same pixels on every machine, thread count and ISA.
//! No libtorch is involved, so this module builds without the `engine` feature.
pub mod fixed;
pub mod laplace;
pub mod model;
pub mod simd;
pub mod stream;
pub mod train;

pub use stream::{decode, decode_container, Decoded, DEFAULT_MAX_PIXELS, MODEL_ID};
pub use train::{encode, Effort, EncodeOptions, Encoded, Progress};

use crate::coder::CoderError;
use crate::format::FormatError;

/// Errors of the overfit codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverfitError {
    /// The container is malformed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// An entropy-coded substream is malformed.
    #[error("entropy-coded data: {0}")]
    Coder(#[from] CoderError),
    /// The file is of another model.
    #[error("model id {0:?} is not {MODEL_ID}")]
    ModelId(String),
    /// The parameter blob or the options are invalid.
    #[error("invalid lic-overfit parameters: {0}")]
    Params(String),
    /// Wrong number of substreams.
    #[error("{found} substreams, lic-overfit with these parameters has {expected}")]
    Substreams {
        /// In the file.
        found: usize,
        /// Expected.
        expected: usize,
    },
    /// The weights substream does not match the header's hash.
    #[error("weights substream does not match the header's weights hash")]
    WeightsHash,
    /// A decoded weight is out of range.
    #[error("decoded weight {0} out of range")]
    WeightOutOfRange(i32),
    /// A decoded latent is out of range.
    #[error("decoded latent out of range at level {level}, ({x}, {y})")]
    LatentOutOfRange {
        /// Level.
        level: usize,
        /// Column.
        x: usize,
        /// Row.
        y: usize,
    },
    /// The image is larger than the decoder accepts.
    #[error("image {width}x{height} exceeds the decoder's limit of {limit} pixels")]
    TooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Pixel limit.
        limit: u64,
    },
}

/// Encodes an image (see [`train::encode`]).
pub fn encode_image(
    img: &crate::io::image::Image,
    opts: &EncodeOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Encoded, OverfitError> {
    encode(&img.data, img.width, img.height, img.gray, opts, progress)
}

/// Decodes `.lic` bytes of `lic-overfit` into an image (at most [`DEFAULT_MAX_PIXELS`]).
pub fn decode_image(bytes: &[u8]) -> Result<crate::io::image::Image, OverfitError> {
    let d = decode(bytes, DEFAULT_MAX_PIXELS)?;
    let mut img = crate::io::image::Image::new(d.width, d.height, d.rgb);
    img.gray = d.gray;
    Ok(img)
}
