//! Decoding whole `.licv` streams with any video family, and the `--keep-going` policy for
//! damaged ones, written once for every family ([`FrameDecoder`]).
//!
//! Every frame slot is written: a frame that cannot be decoded (a CRC mismatch, corrupt
//! entropy-coded data, an inter frame whose reference was lost) is replaced by the last good
//! frame, or by mid-grey before the first one, and decoding resumes at the next intra frame; a
//! stream cut short fills the missing slots the same way. Without `keep_going` the first damage
//! is an error (the frames before it were already handed out).
use std::time::Instant;

use crate::format::video::{FrameChunk, FrameError, FrameReader, VideoHeader};
use crate::format::FormatError;

/// One video family's frame decoder.
pub trait FrameDecoder {
    /// A decoded frame.
    type Frame;
    /// Decodes frame `index` from its chunk.
    fn decode_frame(&mut self, index: u32, chunk: &FrameChunk) -> Result<Self::Frame, String>;
    /// Forgets every reference (after damage; the next intra frame starts afresh).
    fn reset(&mut self);
    /// A mid-grey frame (what replaces lost frames before the first good one).
    fn blank(&self) -> Self::Frame;
}

/// Why a stream could not be decoded (without `keep_going`).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The header is malformed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A frame chunk is malformed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The family refuses the stream's header (another design, an unsupported layout).
    #[error("{0}")]
    Unsupported(String),
    /// A frame's data does not decode.
    #[error("frame {index}: {reason}")]
    Decode {
        /// Frame index.
        index: u32,
        /// The decoder's error.
        reason: String,
    },
    /// Bytes follow the last frame.
    #[error("{0} trailing bytes after the last frame")]
    Trailing(usize),
    /// The stream ends early.
    #[error("the stream ends after frame {from} of {frames} (truncated)")]
    Missing {
        /// Frames read.
        from: u32,
        /// Frames in the header.
        frames: u32,
    },
}

/// What [`decode_frames`] did.
#[derive(Debug, Default)]
pub struct DecodeReport {
    /// Frames decoded from their own data.
    pub decoded: u32,
    /// Frames that could not be decoded (with `keep_going`), with the reason; each was replaced
    /// by a copy of the last good frame, or by mid-grey before the first good one.
    pub damaged: Vec<(u32, String)>,
    /// Bytes after the last frame (with `keep_going`; without, they are an error).
    pub trailing: usize,
    /// Wall time of the decode.
    pub seconds: f64,
}

/// Decodes the chunks of a parsed stream with `dec`, handing each frame slot to
/// `sink(index, frame)` in order (see the module documentation for the damage policy).
pub fn decode_frames<D, E>(
    header: &VideoHeader,
    mut frames: FrameReader<'_>,
    dec: &mut D,
    keep_going: bool,
    mut sink: impl FnMut(u32, &D::Frame) -> Result<(), E>,
) -> Result<DecodeReport, E>
where
    D: FrameDecoder,
    D::Frame: Clone,
    E: From<StreamError>,
{
    let t0 = Instant::now();
    let mut report = DecodeReport::default();
    let mut last: Option<D::Frame> = None;
    let mut index = 0u32;
    for item in frames.by_ref() {
        let result = item.map_err(StreamError::from).and_then(|chunk| {
            dec.decode_frame(index, &chunk)
                .map_err(|reason| StreamError::Decode { index, reason })
        });
        match result {
            Ok(f) => {
                sink(index, &f)?;
                last = Some(f);
                report.decoded += 1;
            }
            Err(e) if keep_going => {
                let reason = match e {
                    StreamError::Decode { reason, .. } => reason,
                    StreamError::Frame(f) => f.error.to_string(),
                    e => e.to_string(),
                };
                report.damaged.push((index, reason));
                dec.reset();
                match &last {
                    Some(f) => sink(index, f)?,
                    None => sink(index, &dec.blank())?,
                }
            }
            Err(e) => return Err(e.into()),
        }
        index += 1;
    }
    if index < header.frames {
        if !keep_going {
            return Err(StreamError::Missing {
                from: index,
                frames: header.frames,
            }
            .into());
        }
        let fill = last.unwrap_or_else(|| dec.blank());
        for k in index..header.frames {
            report
                .damaged
                .push((k, "missing (stream truncated)".to_string()));
            sink(k, &fill)?;
        }
    } else if frames.trailing() > 0 {
        if !keep_going {
            return Err(StreamError::Trailing(frames.trailing()).into());
        }
        report.trailing = frames.trailing();
    }
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}
