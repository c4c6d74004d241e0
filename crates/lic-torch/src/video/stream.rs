//! Whole streams: frames from a [`VideoReader`] into `.licv` bytes, and `.licv` bytes back into
//! frames, with the `--keep-going` policy for damaged streams.

use std::time::Instant;

use crate::format::video::{parse_video, stream_bytes, FrameChunk, VideoColour, VideoHeader};
use crate::format::FormatError;

use super::codec::{video_limits, VideoCodecError, VideoDecoder, VideoEncoder};
use super::colour::{ColourInfo, RgbF32};
use super::io::{Chroma, VideoError, VideoInfo, VideoReader};
use super::model::VideoModel;
use lic::video::stream::{decode_frames, FrameDecoder};
pub use lic::video::stream::{DecodeReport, StreamError};

#[derive(Debug, thiserror::Error)]
pub enum VideoStreamError {
    #[error(transparent)]
    Codec(#[from] VideoCodecError),
    #[error(transparent)]
    Io(#[from] VideoError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("the input has no frames")]
    Empty,
}

/// Header colour fields from a reader's description.
pub fn header_colour(info: &VideoInfo) -> VideoColour {
    let c = &info.colour;
    VideoColour {
        chroma: match info.chroma {
            Chroma::Yuv420 => 0,
            Chroma::Rgb => 1,
        },
        matrix: c.matrix,
        range: c.range,
        primaries: c.primaries,
        transfer: c.transfer,
        chroma_location: c.chroma_location,
    }
}

/// A writer's description from a stream header.
pub fn header_info(h: &VideoHeader) -> VideoInfo {
    VideoInfo {
        width: h.width,
        height: h.height,
        fps_num: h.fps_num,
        fps_den: h.fps_den,
        colour: ColourInfo {
            matrix: h.colour.matrix,
            range: h.colour.range,
            primaries: h.colour.primaries,
            transfer: h.colour.transfer,
            chroma_location: h.colour.chroma_location,
        },
        chroma: if h.colour.chroma == 0 {
            Chroma::Yuv420
        } else {
            Chroma::Rgb
        },
        frames_hint: Some(u64::from(h.frames)),
    }
}

/// Result of [`encode_video`].
pub struct EncodedVideo {
    pub bytes: Vec<u8>,
    pub header: VideoHeader,
    /// Bytes of each frame's chunk (the per-frame rate; the header adds the rest).
    pub frame_bytes: Vec<usize>,
    /// Rate estimate from the model's likelihoods, in bits, per frame.
    pub estimated_bits: Vec<f64>,
    /// The encoder's reconstructions (what a decoder returns), when asked for.
    pub reconstructions: Vec<RgbF32>,
    pub seconds: f64,
}

/// Encodes up to `max_frames` frames of `reader`. `on_frame(index)` is called after each frame
/// (progress). With `keep_reconstructions`, the encoder's decoded frames are returned too.
pub fn encode_video(
    model: &VideoModel,
    reader: &mut VideoReader,
    quality: f64,
    gop: u32,
    max_frames: Option<u32>,
    keep_reconstructions: bool,
    mut on_frame: impl FnMut(u32),
) -> Result<EncodedVideo, VideoStreamError> {
    let t0 = Instant::now();
    let info = reader.info().clone();
    let mut enc = VideoEncoder::new(model, quality, gop, info.width, info.height)?;
    let mut chunks = Vec::new();
    let mut estimated_bits = Vec::new();
    let mut reconstructions = Vec::new();
    while max_frames.is_none_or(|m| (chunks.len() as u32) < m) {
        let Some(frame) = reader.next_frame()? else {
            break;
        };
        let rgb = frame.to_rgb_f32(&info.colour);
        let e = enc.encode_frame(&rgb.data)?;
        chunks.push(e.chunk);
        estimated_bits.push(e.estimated_bits);
        if keep_reconstructions {
            reconstructions.push(RgbF32 {
                width: info.width,
                height: info.height,
                data: e.reconstruction,
            });
        }
        on_frame(chunks.len() as u32 - 1);
    }
    if chunks.is_empty() {
        return Err(VideoStreamError::Empty);
    }
    let header = enc.header(
        chunks.len() as u32,
        (info.fps_num, info.fps_den),
        header_colour(&info),
    );
    let bytes = stream_bytes(&header, &chunks)?;
    Ok(EncodedVideo {
        bytes,
        frame_bytes: chunks.iter().map(|c| c.coded_len()).collect(),
        header,
        estimated_bits,
        reconstructions,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Parses a `.licv` header (for choosing the model).
pub fn read_video_header(bytes: &[u8]) -> Result<VideoHeader, FormatError> {
    Ok(parse_video(bytes, &video_limits())?.0)
}

/// The learned codec's frame decoder behind the stream layer (frames as float RGB).
struct Learned<'a> {
    dec: VideoDecoder<'a>,
    width: u32,
    height: u32,
}

impl FrameDecoder for Learned<'_> {
    type Frame = RgbF32;
    fn decode_frame(&mut self, index: u32, chunk: &FrameChunk) -> Result<RgbF32, String> {
        let data = self
            .dec
            .decode_frame(index, chunk)
            .map_err(|e| e.to_string())?;
        Ok(RgbF32 {
            width: self.width,
            height: self.height,
            data,
        })
    }
    fn reset(&mut self) {
        self.dec.reset();
    }
    fn blank(&self) -> RgbF32 {
        RgbF32 {
            width: self.width,
            height: self.height,
            data: vec![0.5; 3 * self.width as usize * self.height as usize],
        }
    }
}

/// Decodes a `.licv` stream of the learned codec, handing each frame slot to
/// `sink(index, frame)` in order, with the damaged-stream policy of
/// [`lic::video::stream::decode_frames`].
pub fn decode_video<E: From<VideoStreamError>>(
    bytes: &[u8],
    model: &VideoModel,
    keep_going: bool,
    mut sink: impl FnMut(u32, &RgbF32) -> Result<(), E>,
) -> Result<DecodeReport, E> {
    let (header, frames) = parse_video(bytes, &video_limits()).map_err(VideoStreamError::from)?;
    let dec = VideoDecoder::new(model, &header).map_err(VideoStreamError::from)?;
    let mut learned = Learned {
        dec,
        width: header.width,
        height: header.height,
    };
    decode_frames(&header, frames, &mut learned, keep_going, |i, f| {
        sink(i, f).map_err(Wrapped::Sink)
    })
    .map_err(|e| match e {
        Wrapped::Sink(e) => e,
        Wrapped::Stream(e) => VideoStreamError::from(e).into(),
    })
}

/// The sink's error or the stream layer's.
enum Wrapped<E> {
    Sink(E),
    Stream(StreamError),
}

impl<E> From<StreamError> for Wrapped<E> {
    fn from(e: StreamError) -> Self {
        Wrapped::Stream(e)
    }
}
