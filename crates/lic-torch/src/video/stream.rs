//! Whole streams: frames from a [`VideoReader`] into `.licv` bytes, and `.licv` bytes back into
//! frames, with the `--keep-going` policy for damaged streams.

use std::time::Instant;

use crate::format::video::{parse_video, stream_bytes, FrameError, VideoColour, VideoHeader};
use crate::format::FormatError;

use super::codec::{video_limits, VideoCodecError, VideoDecoder, VideoEncoder};
use super::colour::{ColourInfo, RgbF32};
use super::io::{Chroma, VideoError, VideoInfo, VideoReader};
use super::model::VideoModel;

#[derive(Debug, thiserror::Error)]
pub enum VideoStreamError {
    #[error(transparent)]
    Codec(#[from] VideoCodecError),
    #[error(transparent)]
    Io(#[from] VideoError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("the input has no frames")]
    Empty,
    #[error("{0} trailing bytes after the last frame")]
    Trailing(usize),
    #[error("the stream ends after frame {from} of {frames} (truncated)")]
    Missing {
        /// Frames read.
        from: u32,
        /// Frames in the header.
        frames: u32,
    },
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

/// What [`decode_video`] did.
#[derive(Debug, Default)]
pub struct DecodeReport {
    /// Frames decoded from their own data.
    pub decoded: u32,
    /// Frames that could not be decoded (with `keep_going`), with the reason; each was replaced
    /// by a copy of the last good frame, or by mid-grey before the first good one.
    pub damaged: Vec<(u32, String)>,
    /// Bytes after the last frame (with `keep_going`; without, they are an error).
    pub trailing: usize,
    pub seconds: f64,
}

/// Decodes a `.licv` stream, handing each frame to `sink(index, frame)` in order.
///
/// Without `keep_going` the first damaged frame is an error (frames before it were already
/// handed out). With it, a damaged frame and the inter frames that depend on it are replaced by
/// the last good frame (nothing is handed out before the first good one), decoding resumes at
/// the next intra frame, and the damage is listed in the report.
pub fn decode_video<E: From<VideoStreamError>>(
    bytes: &[u8],
    model: &VideoModel,
    keep_going: bool,
    mut sink: impl FnMut(u32, &RgbF32) -> Result<(), E>,
) -> Result<DecodeReport, E> {
    let t0 = Instant::now();
    let (header, frames) = parse_video(bytes, &video_limits()).map_err(VideoStreamError::from)?;
    let mut dec = VideoDecoder::new(model, &header).map_err(VideoStreamError::from)?;
    let mut report = DecodeReport::default();
    let mut last: Option<RgbF32> = None;
    // Every frame slot is written: a frame that cannot be decoded is replaced by the last good
    // frame, or mid-grey before the first one, so the output keeps the stream's timeline.
    let grey = || RgbF32 {
        width: header.width,
        height: header.height,
        data: vec![0.5; 3 * header.width as usize * header.height as usize],
    };
    let mut index = 0u32;
    let mut frames = frames;
    for item in frames.by_ref() {
        let result = item.map_err(VideoStreamError::from).and_then(|chunk| {
            dec.decode_frame(index, &chunk)
                .map_err(VideoStreamError::from)
        });
        match result {
            Ok(data) => {
                let f = RgbF32 {
                    width: header.width,
                    height: header.height,
                    data,
                };
                sink(index, &f)?;
                last = Some(f);
                report.decoded += 1;
            }
            Err(e) if keep_going => {
                report.damaged.push((index, e.to_string()));
                dec.reset();
                match &last {
                    Some(f) => sink(index, f)?,
                    None => sink(index, &grey())?,
                }
            }
            Err(e) => return Err(e.into()),
        }
        index += 1;
    }
    if index < header.frames {
        // The reader stopped early (truncation): the rest of the frames are lost.
        if !keep_going {
            return Err(VideoStreamError::Missing {
                from: index,
                frames: header.frames,
            }
            .into());
        }
        let fill = last.unwrap_or_else(grey);
        for k in index..header.frames {
            report
                .damaged
                .push((k, "missing (stream truncated)".to_string()));
            sink(k, &fill)?;
        }
    } else if frames.trailing() > 0 {
        if !keep_going {
            return Err(VideoStreamError::Trailing(frames.trailing()).into());
        }
        report.trailing = frames.trailing();
    }
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}
