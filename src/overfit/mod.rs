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
pub mod soap;
pub mod stream;
pub mod train;
pub mod vmath;

pub use stream::{decode, decode_container, Decoded, DEFAULT_MAX_PIXELS, MODEL_ID};
pub use train::{encode, Effort, EncodeOptions, Encoded, Progress};

/// Errors of the overfit codec: the libtorch-free families' shared error type.
pub type OverfitError = crate::family::FamilyError;

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
