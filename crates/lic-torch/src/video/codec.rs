//! Video coding with a [`VideoModel`]: every frame through the base image model's transforms
//! (one tile per frame, padded to the model's multiple), the hyper-latent `z` coded with the
//! factorized tables (substream 0), and the latent (substream 1) coded under Gaussian tables
//! whose (μ, σ) come from
//!
//! - intra frames (every `gop`-th frame, starting with the first): the integer hyperprior, exactly
//!   as a still image;
//! - inter frames: the integer hyperprior plus the integer temporal prior on the decoded latents
//!   of the previous one or two frames ([`crate::zoo::temporal`]).
//!
//! The decoded latents kept as references are the exact fixed-point `symbol·2^8 + μ_fx`, built by
//! the same function at both ends, so inter-frame prediction never drifts between encoder and
//! decoder, whatever the machine or thread count.

use tch::Tensor;

use crate::codec::latent::{
    channel_indexes, check_quality, coding_inputs, dequantize, fixed_values, quantize_all, to_f32,
    to_f64, z_fixed,
};
use crate::codec::{CodecError, IntEntropy};
use crate::coder;
use crate::format::video::{FrameChunk, FrameKind, VideoColour, VideoHeader};
use crate::format::Limits;

use super::model::VideoModel;

/// Largest frame side the video codec accepts (frames are coded in one piece).
pub const MAX_VIDEO_SIDE: u32 = 4096;
/// Largest frame area.
pub const MAX_VIDEO_PIXELS: u64 = 4096 * 2304;

/// Parsing limits for `.licv` streams.
pub fn video_limits() -> Limits {
    Limits {
        max_side: MAX_VIDEO_SIDE,
        max_pixels: MAX_VIDEO_PIXELS,
        ..Limits::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VideoCodecError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("frame {0}: an inter frame needs the previous frame, which was not decoded")]
    NoReference(u32),
    #[error("frame {index}: {found} substreams, 2 expected")]
    Substreams { index: u32, found: usize },
    #[error("frame is {found} values, {expected} expected ({width}x{height} RGB)")]
    FrameSize {
        expected: usize,
        found: usize,
        width: u32,
        height: u32,
    },
    #[error("{width}x{height} frames are outside the video limits ({MAX_VIDEO_SIDE} per side, {MAX_VIDEO_PIXELS} pixels)")]
    TooLarge { width: u32, height: u32 },
    #[error("intra period must be at least 1")]
    Gop,
    #[error("frame {index}: {source}")]
    Frame {
        index: u32,
        #[source]
        source: CodecError,
    },
}

fn check_size(width: u32, height: u32) -> Result<(), VideoCodecError> {
    if width == 0
        || height == 0
        || width > MAX_VIDEO_SIDE
        || height > MAX_VIDEO_SIDE
        || u64::from(width) * u64::from(height) > MAX_VIDEO_PIXELS
    {
        return Err(VideoCodecError::TooLarge { width, height });
    }
    Ok(())
}

/// A planar `[3][H][W]` frame as a `[1, 3, H', W']` tensor padded (edge replication) to the
/// model's multiple.
fn frame_tensor(model: &VideoModel, rgb: &[f32], width: u32, height: u32) -> Tensor {
    let (h, w) = (i64::from(height), i64::from(width));
    let m = model.base.config.multiple();
    let t = Tensor::from_slice(rgb).view([1, 3, h, w]);
    let (ph, pw) = ((m - h % m) % m, (m - w % m) % m);
    let t = if ph > 0 || pw > 0 {
        t.replication_pad2d([0, pw, 0, ph])
    } else {
        t
    };
    t.to_device(model.base.device)
}

/// The synthesis of `ŷ` (with the gain), cropped to the frame: planar `[3][H][W]` f32, clamped
/// to [0, 1], not rounded (the writer converts to the output format).
fn synthesize(
    model: &VideoModel,
    y_hat: &Tensor,
    inv_gain: &Tensor,
    width: u32,
    height: u32,
) -> Vec<f32> {
    let x = model.base.net.synthesis(&(y_hat * inv_gain));
    to_f32(
        &x.narrow(2, 0, i64::from(height))
            .narrow(3, 0, i64::from(width))
            .clamp(0.0, 1.0),
    )
}

/// References (fixed-point decoded latents, most recent first) and the per-stream state shared
/// by [`VideoEncoder`] and [`VideoDecoder`].
struct State<'a> {
    model: &'a VideoModel,
    width: u32,
    height: u32,
    gain: Tensor,
    inv_gain: Tensor,
    refs: Vec<Tensor>,
    /// Padded frame size in latent units and hyper-latent size.
    latent: (i64, i64),
    /// Per-value median (the coder's μ) and factorized table index of the hyper-latent: the
    /// same for every frame of the stream.
    z_mu: Vec<f32>,
    z_tables: Vec<u16>,
}

/// Shape `(channels, h, w)` of the hyper-latent for a latent of size `latent`.
fn z_shape(model: &VideoModel, (h, w): (i64, i64)) -> (i64, i64, i64) {
    (model.base.config.z_channels(), h / 4, w / 4)
}

impl<'a> State<'a> {
    fn new(
        model: &'a VideoModel,
        width: u32,
        height: u32,
        quality: f64,
    ) -> Result<Self, VideoCodecError> {
        check_size(width, height)?;
        check_quality(&model.base, quality)?;
        let m = model.base.config.multiple() as u64;
        let s = model.base.config.latent_stride();
        let ph = (u64::from(height)).div_ceil(m) as i64 * m as i64;
        let pw = (u64::from(width)).div_ceil(m) as i64 * m as i64;
        let gains = model.base.net.gains();
        let latent = (ph / s, pw / s);
        let (n, hz, wz) = z_shape(model, latent);
        let plane = (hz * wz) as usize;
        let z_tables = channel_indexes(n, hz, wz);
        let z_mu = (0..z_tables.len())
            .map(|k| model.base.z_medians[k / plane])
            .collect();
        Ok(State {
            model,
            width,
            height,
            gain: gains.gains(&[quality]),
            inv_gain: gains.inv_gains(&[quality]),
            refs: Vec::new(),
            latent,
            z_mu,
            z_tables,
        })
    }

    /// Fixed-point (μ, σ) of the latent from the decoded `z` symbols.
    fn params(
        &self,
        kind: FrameKind,
        z_syms: &[i32],
        index: u32,
    ) -> Result<(Vec<f64>, Vec<f64>), VideoCodecError> {
        let IntEntropy::Walloc(hs) = &self.model.base.int else {
            unreachable!("checked when the video model was loaded")
        };
        let zfx = z_fixed(&self.model.base, z_syms, z_shape(self.model, self.latent));
        let hyper = hs.forward(&zfx);
        let params = match kind {
            FrameKind::Intra => hyper,
            FrameKind::Inter => {
                if self.refs.is_empty() {
                    return Err(VideoCodecError::NoReference(index));
                }
                let refs: Vec<&Tensor> = self.refs.iter().collect();
                self.model.int.forward(&hyper, &refs)
            }
        };
        let c = self.model.base.config.latent_channels();
        Ok((
            to_f64(&params.narrow(1, 0, c)),
            to_f64(&params.narrow(1, c, c)),
        ))
    }

    /// Rebuilds `ŷ` (f32 `symbol + μ`, with the gain, for the synthesis) from the symbols, and
    /// keeps its exact fixed-point form as the newest reference. An intra frame drops the older
    /// references, so every intra period decodes on its own (random access, recovery).
    fn finish(&mut self, kind: FrameKind, syms: &[i32], mu: &[f32], mu_fx: &[f64]) -> Tensor {
        if kind == FrameKind::Intra {
            self.refs.clear();
        }
        let c = self.model.base.config.latent_channels();
        let (h, w) = self.latent;
        let dev = self.model.base.device;
        let y_hat = dequantize(syms, mu, &[1, c, h, w], dev);
        let y_fixed = Tensor::from_slice(&fixed_values(syms, mu_fx))
            .view([1, c, h, w])
            .to_device(dev);
        self.refs.insert(0, y_fixed);
        self.refs.truncate(self.model.config.refs as usize);
        y_hat
    }
}

/// One encoded frame.
pub struct EncodedFrame {
    pub chunk: FrameChunk,
    /// Rate estimate from the model's likelihoods, in bits (the real rate is the chunk's size).
    pub estimated_bits: f64,
    /// The encoder's reconstruction (what the decoder returns), planar `[3][H][W]` in [0, 1].
    pub reconstruction: Vec<f32>,
}

/// Encodes frames one after another.
pub struct VideoEncoder<'a> {
    state: State<'a>,
    quality: f32,
    gop: u32,
    index: u32,
}

impl<'a> VideoEncoder<'a> {
    /// `quality` in the base model's range; `gop` ≥ 1 is the intra period.
    pub fn new(
        model: &'a VideoModel,
        quality: f64,
        gop: u32,
        width: u32,
        height: u32,
    ) -> Result<Self, VideoCodecError> {
        if gop == 0 {
            return Err(VideoCodecError::Gop);
        }
        let q32 = quality as f32;
        Ok(VideoEncoder {
            state: State::new(model, width, height, f64::from(q32))?,
            quality: q32,
            gop,
            index: 0,
        })
    }

    /// The stream header for `frames` frames.
    pub fn header(&self, frames: u32, fps: (u32, u32), colour: VideoColour) -> VideoHeader {
        let m = self.state.model;
        VideoHeader {
            model_id: m.id.clone(),
            weights_hash: m.hash,
            width: self.state.width,
            height: self.state.height,
            fps_num: fps.0,
            fps_den: fps.1,
            colour,
            quality: self.quality,
            gop: self.gop,
            frames,
        }
    }

    /// Encodes the next frame (planar `[3][H][W]` RGB, nominally [0, 1]).
    pub fn encode_frame(&mut self, rgb: &[f32]) -> Result<EncodedFrame, VideoCodecError> {
        let expected = 3 * self.state.width as usize * self.state.height as usize;
        if rgb.len() != expected {
            return Err(VideoCodecError::FrameSize {
                expected,
                found: rgb.len(),
                width: self.state.width,
                height: self.state.height,
            });
        }
        let index = self.index;
        let kind = if index.is_multiple_of(self.gop) {
            FrameKind::Intra
        } else {
            FrameKind::Inter
        };
        let frame = |e: CodecError| VideoCodecError::Frame { index, source: e };
        let out = tch::no_grad(|| -> Result<EncodedFrame, VideoCodecError> {
            let st = &self.state;
            let model = st.model;
            let x = frame_tensor(model, rgb, st.width, st.height);
            let y = model.base.net.analysis(&x) * &st.gain;
            let z = model.base.net.hyper_analysis(&y);
            let z_syms = quantize_all(&to_f32(&z), &st.z_mu);
            let mut bits = model
                .base
                .z_coder
                .ideal_bits(&z_syms, &st.z_tables)
                .map_err(|e| frame(e.into()))?;
            let mut streams = model
                .base
                .z_coder
                .encode_chunks(&[(&z_syms, &st.z_tables)])
                .map_err(|e| frame(e.into()))?;
            let (mu_fx, sigma_fx) = st.params(kind, &z_syms, index)?;
            let (mu, _sigma, tables) = coding_inputs(&mu_fx, &sigma_fx);
            let syms = quantize_all(&to_f32(&y), &mu);
            bits += coder::gaussian_ideal_bits(&syms, &tables).map_err(|e| frame(e.into()))?;
            streams.extend(
                coder::encode_gaussian_chunks(&[(&syms, &tables)]).map_err(|e| frame(e.into()))?,
            );
            let st = &mut self.state;
            let y_hat = st.finish(kind, &syms, &mu, &mu_fx);
            let reconstruction = synthesize(st.model, &y_hat, &st.inv_gain, st.width, st.height);
            Ok(EncodedFrame {
                chunk: FrameChunk {
                    kind,
                    substreams: streams,
                },
                estimated_bits: bits,
                reconstruction,
            })
        })?;
        self.index += 1;
        Ok(out)
    }
}

/// Decodes frames one after another.
pub struct VideoDecoder<'a> {
    state: State<'a>,
}

impl<'a> VideoDecoder<'a> {
    /// Checks that `header` was made with `model`.
    pub fn new(model: &'a VideoModel, header: &VideoHeader) -> Result<Self, VideoCodecError> {
        if header.model_id != model.id || header.weights_hash != model.hash {
            return Err(CodecError::ModelMismatch {
                stream_id: header.model_id.clone(),
                stream_hash: crate::util::hex(&header.weights_hash),
                model_id: model.id.clone(),
                model_hash: model.hash_hex(),
            }
            .into());
        }
        Ok(VideoDecoder {
            state: State::new(
                model,
                header.width,
                header.height,
                f64::from(header.quality),
            )?,
        })
    }

    /// Forgets the reference frames (after a frame that could not be decoded: inter frames
    /// fail with [`VideoCodecError::NoReference`] until the next intra frame).
    pub fn reset(&mut self) {
        self.state.refs.clear();
    }

    /// Decodes frame `index` from its chunk: planar `[3][H][W]` RGB in [0, 1].
    pub fn decode_frame(
        &mut self,
        index: u32,
        chunk: &FrameChunk,
    ) -> Result<Vec<f32>, VideoCodecError> {
        if chunk.substreams.len() != 2 {
            return Err(VideoCodecError::Substreams {
                index,
                found: chunk.substreams.len(),
            });
        }
        let frame = |e: CodecError| VideoCodecError::Frame { index, source: e };
        tch::no_grad(|| {
            let st = &self.state;
            let z_syms = st
                .model
                .base
                .z_coder
                .decode_chunks(&[chunk.substreams[0].as_slice()], &[st.z_tables.as_slice()])
                .map_err(|e| frame(e.into()))?
                .pop()
                .expect("one chunk");
            let (mu_fx, sigma_fx) = st.params(chunk.kind, &z_syms, index)?;
            let (mu, _sigma, tables) = coding_inputs(&mu_fx, &sigma_fx);
            let syms = coder::decode_gaussian_chunks(
                &[chunk.substreams[1].as_slice()],
                &[tables.as_slice()],
            )
            .map_err(|e| frame(e.into()))?
            .pop()
            .expect("one chunk");
            let st = &mut self.state;
            let y_hat = st.finish(chunk.kind, &syms, &mu, &mu_fx);
            Ok(synthesize(
                st.model,
                &y_hat,
                &st.inv_gain,
                st.width,
                st.height,
            ))
        })
    }
}
