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

/// `lic-overfit` behind the codec interface ([`crate::family::ImageFamily`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Overfit;

impl crate::family::ImageFamily for Overfit {
    fn id(&self) -> &str {
        MODEL_ID
    }
    fn short_name(&self) -> &str {
        "overfit"
    }
    fn description(&self) -> &str {
        "overfitted codec (C3 / Cool-chic class): latents and small networks fitted to each image \
         (best RD; seconds to minutes per image)"
    }
    fn quality_range(&self) -> (f64, f64) {
        (
            f64::from(train::QUALITY_RANGE.0),
            f64::from(train::QUALITY_RANGE.1),
        )
    }
    fn default_quality(&self) -> f64 {
        4.0
    }
    fn capabilities(&self) -> crate::family::Capabilities {
        // A --bpp/--psnr search runs up to ten fits: slow, but a user may want it.
        crate::family::Capabilities {
            effort: true,
            time_limit: true,
            learned: true,
            rate_search: true,
            ..Default::default()
        }
    }
    fn encode(
        &self,
        img: &crate::io::image::Image,
        opts: &crate::family::EncodeOptions,
        progress: &mut dyn FnMut(&crate::family::Progress) -> crate::family::Control,
    ) -> Result<crate::family::Encoded, crate::family::Error> {
        use std::sync::atomic::{AtomicBool, Ordering};
        crate::family::check_options(self, opts)?;
        if img.pixels() > DEFAULT_MAX_PIXELS {
            // Refused before any work: the decoder would not accept the stream.
            return Err(OverfitError::TooLarge {
                width: img.width,
                height: img.height,
                limit: DEFAULT_MAX_PIXELS,
            }
            .into());
        }
        let quality = opts.quality.unwrap_or(self.default_quality());
        let cancel = std::sync::Arc::new(AtomicBool::new(false));
        let o = EncodeOptions {
            quality: quality as f32,
            effort: opts.effort,
            time_limit: opts.time_limit,
            cancel: Some(cancel.clone()),
            ..Default::default()
        };
        let e = encode_image(img, &o, &mut |p| {
            let report = crate::family::Progress {
                done: p.iteration as u64,
                total: p.total as u64,
                message: format!("{} bpp {:.3} PSNR {:.2} dB", p.phase, p.bpp, p.psnr),
            };
            if progress(&report) == crate::family::Control::Cancel {
                cancel.store(true, Ordering::Relaxed);
            }
        })?;
        let mut reconstruction = crate::io::image::Image::new(img.width, img.height, e.rgb);
        reconstruction.gray = img.gray;
        let px = img.pixels() as f64;
        Ok(crate::family::Encoded {
            estimated_bits: e.bpp_estimate * px,
            details: format!(
                "weights {:.4} bpp, {} iterations at {:.1} ms ({:.1} ARM, {:.1} synthesis)",
                e.weight_bits / px,
                e.iterations,
                e.ms_per_iteration,
                e.ms_arm,
                e.ms_synthesis
            ),
            bytes: e.bytes,
            reconstruction,
            quality,
        })
    }
    fn decode(
        &self,
        container: &crate::format::Container,
        limits: &crate::format::Limits,
    ) -> Result<crate::io::image::Image, crate::family::Error> {
        let d = decode_container(container, limits.max_pixels.min(DEFAULT_MAX_PIXELS))?;
        let mut img = crate::io::image::Image::new(d.width, d.height, d.rgb);
        img.gray = d.gray;
        Ok(img)
    }
}
