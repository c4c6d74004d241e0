//! The `.licv` video container: a header (model, size, frame rate, colour description, quality,
//! intra period, frame count) protected by a CRC32, then one chunk per frame, each with its own
//! lengths and CRC32.
//!
//! Frames are parsed one at a time by [`FrameReader`], so a corrupt or truncated frame is reported
//! with its index while every frame before it has already been handed out (`lic video decode
//! --keep-going`). A frame whose CRC fails but whose lengths stay inside the file is skipped and
//! reading continues with the next chunk; a chunk that runs past the end stops the reader. Like
//! the image container, parsing never panics and never allocates more than the input justifies.
//! The byte layout is specified in `docs/format.md`.

use super::reader::Reader;
use super::{check_limit, invalid, FormatError, Limits, MAX_MODEL_ID};

/// File signature: a high-bit byte, then `LCV`.
pub const VIDEO_MAGIC: [u8; 4] = [0x89, b'L', b'C', b'V'];
/// Current `.licv` version. History: 1 — first version (integer temporal prior).
pub const VIDEO_FORMAT_VERSION: u16 = 1;
/// Most substreams in one frame chunk.
pub const MAX_FRAME_SUBSTREAMS: u8 = 16;
/// Most frames in one stream.
pub const MAX_FRAMES: u32 = 1 << 20;

/// How a frame is coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Coded alone with the image entropy model (code 0).
    Intra,
    /// Coded with the temporal prior on the previous decoded latents (code 1).
    Inter,
}

/// Colour description, kept as FFmpeg's enum codes so that it can be written back unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VideoColour {
    /// 0: 4:2:0 YCbCr source; 1: RGB (or any other format, converted to RGB).
    pub chroma: u8,
    /// AVColorSpace.
    pub matrix: u8,
    /// AVColorRange.
    pub range: u8,
    /// AVColorPrimaries.
    pub primaries: u8,
    /// AVColorTransferCharacteristic.
    pub transfer: u8,
    /// AVChromaLocation.
    pub chroma_location: u8,
}

/// The `.licv` header fields.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoHeader {
    /// Video model id (printable ASCII, at most [`MAX_MODEL_ID`] bytes).
    pub model_id: String,
    /// First 16 bytes of the SHA-256 of the video model file.
    pub weights_hash: [u8; 16],
    pub width: u32,
    pub height: u32,
    /// Frame rate `fps_num / fps_den` (both ≥ 1).
    pub fps_num: u32,
    pub fps_den: u32,
    pub colour: VideoColour,
    /// Rate parameter of every frame, bit-exact.
    pub quality: f32,
    /// Intra period in frames (≥ 1).
    pub gop: u32,
    /// Number of frame chunks that follow.
    pub frames: u32,
}

/// One frame chunk: its kind and substreams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameChunk {
    pub kind: FrameKind,
    pub substreams: Vec<Vec<u8>>,
}

impl FrameChunk {
    /// Bytes this chunk takes in the file (for per-frame rates).
    pub fn coded_len(&self) -> usize {
        2 + 4 * self.substreams.len() + 4 + self.substreams.iter().map(Vec::len).sum::<usize>()
    }
}

/// A frame that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("frame {index}: {error}")]
pub struct FrameError {
    /// Zero-based frame index.
    pub index: u32,
    pub error: FormatError,
}

impl VideoHeader {
    /// Checks the fields the layout constrains, and the limits.
    pub fn validate(&self, limits: &Limits) -> Result<(), FormatError> {
        if self.model_id.len() > MAX_MODEL_ID
            || !self.model_id.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(invalid(
                "model id",
                format!("must be at most {MAX_MODEL_ID} printable ASCII bytes"),
            ));
        }
        if self.width == 0 || self.height == 0 {
            return Err(invalid(
                "dimensions",
                format!("{}x{} is empty", self.width, self.height),
            ));
        }
        check_limit("width", self.width.into(), limits.max_side.into())?;
        check_limit("height", self.height.into(), limits.max_side.into())?;
        check_limit(
            "pixels per frame",
            u64::from(self.width) * u64::from(self.height),
            limits.max_pixels,
        )?;
        if self.fps_num == 0 || self.fps_den == 0 {
            return Err(invalid(
                "frame rate",
                format!("{}/{}", self.fps_num, self.fps_den),
            ));
        }
        if self.colour.chroma > 1 {
            return Err(invalid("chroma", format!("code {}", self.colour.chroma)));
        }
        if !self.quality.is_finite() {
            return Err(invalid("quality", "not a finite number"));
        }
        if self.gop == 0 {
            return Err(invalid("intra period", "0"));
        }
        check_limit("frames", self.frames.into(), MAX_FRAMES.into())
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64 + self.model_id.len());
        b.push(self.model_id.len() as u8);
        b.extend_from_slice(self.model_id.as_bytes());
        b.extend_from_slice(&self.weights_hash);
        for v in [self.width, self.height, self.fps_num, self.fps_den] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let c = &self.colour;
        b.extend_from_slice(&[
            c.chroma,
            c.matrix,
            c.range,
            c.primaries,
            c.transfer,
            c.chroma_location,
        ]);
        b.extend_from_slice(&self.quality.to_bits().to_le_bytes());
        b.extend_from_slice(&self.gop.to_le_bytes());
        b.extend_from_slice(&self.frames.to_le_bytes());
        b
    }

    /// The header bytes (magic, version, length, body, CRC).
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.validate(&Limits::default())?;
        let body = self.body();
        let mut out = Vec::with_capacity(14 + body.len());
        out.extend_from_slice(&VIDEO_MAGIC);
        out.extend_from_slice(&VIDEO_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }
}

/// Writes one frame chunk.
pub fn frame_bytes(chunk: &FrameChunk) -> Result<Vec<u8>, FormatError> {
    if chunk.substreams.is_empty() || chunk.substreams.len() > MAX_FRAME_SUBSTREAMS as usize {
        return Err(invalid(
            "frame substreams",
            format!("{} (1 to {MAX_FRAME_SUBSTREAMS})", chunk.substreams.len()),
        ));
    }
    let mut head = vec![
        match chunk.kind {
            FrameKind::Intra => 0,
            FrameKind::Inter => 1,
        },
        chunk.substreams.len() as u8,
    ];
    for s in &chunk.substreams {
        let n = u32::try_from(s.len()).map_err(|_| invalid("substream", "longer than 4 GiB"))?;
        head.extend_from_slice(&n.to_le_bytes());
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&head);
    for s in &chunk.substreams {
        h.update(s);
    }
    let mut out = head;
    out.extend_from_slice(&h.finalize().to_le_bytes());
    for s in &chunk.substreams {
        out.extend_from_slice(s);
    }
    Ok(out)
}

/// A whole stream's bytes: header, then the chunks (the header's frame count must match).
pub fn stream_bytes(header: &VideoHeader, chunks: &[FrameChunk]) -> Result<Vec<u8>, FormatError> {
    if chunks.len() != header.frames as usize {
        return Err(invalid(
            "frames",
            format!(
                "header says {}, {} chunks given",
                header.frames,
                chunks.len()
            ),
        ));
    }
    let mut out = header.to_bytes()?;
    for c in chunks {
        out.extend_from_slice(&frame_bytes(c)?);
    }
    Ok(out)
}

/// Parses the header; returns it and a reader over the frame chunks.
pub fn parse_video<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<(VideoHeader, FrameReader<'a>), FormatError> {
    let mut c = Reader::new(bytes);
    if c.take("magic", 4)? != VIDEO_MAGIC {
        return Err(FormatError::BadMagic);
    }
    let version = c.u16("version")?;
    if version != VIDEO_FORMAT_VERSION {
        return Err(FormatError::Invalid {
            field: "version",
            reason: format!(
                "unsupported .licv version {version} (this build reads {VIDEO_FORMAT_VERSION})"
            ),
        });
    }
    let len = c.u32("header length")?;
    check_limit("header length", len.into(), 1024)?;
    let body = c.take("header", len as usize)?;
    let end = c.pos();
    let stored = c.u32("header crc")?;
    let computed = crc32fast::hash(&bytes[..end]);
    if stored != computed {
        return Err(FormatError::CrcMismatch {
            section: "header".into(),
            stored,
            computed,
        });
    }
    let mut h = Reader::new(body);
    let id_len = h.u8("model id length")? as usize;
    let id = h.take("model id", id_len)?;
    let model_id = String::from_utf8(id.to_vec()).map_err(|_| invalid("model id", "not ASCII"))?;
    let mut weights_hash = [0u8; 16];
    weights_hash.copy_from_slice(h.take("weights hash", 16)?);
    let width = h.u32("width")?;
    let height = h.u32("height")?;
    let fps_num = h.u32("fps numerator")?;
    let fps_den = h.u32("fps denominator")?;
    let col = h.take("colour", 6)?;
    let colour = VideoColour {
        chroma: col[0],
        matrix: col[1],
        range: col[2],
        primaries: col[3],
        transfer: col[4],
        chroma_location: col[5],
    };
    let quality = f32::from_bits(h.u32("quality")?);
    let gop = h.u32("intra period")?;
    let frames = h.u32("frames")?;
    if h.pos() != body.len() {
        return Err(invalid(
            "header",
            format!("{} unread bytes", body.len() - h.pos()),
        ));
    }
    let header = VideoHeader {
        model_id,
        weights_hash,
        width,
        height,
        fps_num,
        fps_den,
        colour,
        quality,
        gop,
        frames,
    };
    header.validate(limits)?;
    // Every frame chunk takes at least MIN_FRAME_CHUNK bytes: a frame count the file cannot hold
    // is a damaged header, refused before anything is decoded or written.
    let room = (bytes.len() - c.pos()) / MIN_FRAME_CHUNK;
    if header.frames as usize > room {
        return Err(invalid(
            "frames",
            format!(
                "the header says {} frames; the {} bytes after it hold at most {room}",
                header.frames,
                bytes.len() - c.pos()
            ),
        ));
    }
    Ok((
        header.clone(),
        FrameReader {
            bytes,
            pos: c.pos(),
            index: 0,
            frames: header.frames,
            stopped: false,
        },
    ))
}

/// The smallest frame chunk: kind, substream count, one length and the CRC.
pub const MIN_FRAME_CHUNK: usize = 1 + 1 + 4 + 4;

/// Reads frame chunks one by one (an iterator of `Result<FrameChunk, FrameError>`).
#[derive(Debug)]
pub struct FrameReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    index: u32,
    frames: u32,
    stopped: bool,
}

impl FrameReader<'_> {
    /// Reads chunk `self.index` at `self.pos`. On a CRC error the position still moves past the
    /// chunk (its lengths were in bounds), so the next frame can be tried.
    fn read_one(&mut self) -> Result<FrameChunk, FormatError> {
        let mut c = Reader::at(self.bytes, self.pos);
        let start = c.pos();
        let kind = match c.u8("frame kind")? {
            0 => FrameKind::Intra,
            1 => FrameKind::Inter,
            k => {
                self.stopped = true;
                return Err(invalid("frame kind", format!("code {k}")));
            }
        };
        let n = c.u8("frame substream count")?;
        if n == 0 || n > MAX_FRAME_SUBSTREAMS {
            self.stopped = true;
            return Err(invalid("frame substream count", n.to_string()));
        }
        let mut lens = Vec::with_capacity(n as usize);
        for _ in 0..n {
            lens.push(c.u32("substream length")? as usize);
        }
        let head_end = c.pos();
        let stored = c.u32("frame crc")?;
        let total: usize = lens
            .iter()
            .try_fold(0usize, |a, &l| a.checked_add(l))
            .ok_or_else(|| invalid("substream lengths", "overflow"))?;
        let payload = c.take("frame payload", total)?;
        let mut h = crc32fast::Hasher::new();
        h.update(&self.bytes[start..head_end]);
        h.update(payload);
        let computed = h.finalize();
        self.pos = c.pos();
        if stored != computed {
            return Err(FormatError::CrcMismatch {
                section: "frame".into(),
                stored,
                computed,
            });
        }
        let mut substreams = Vec::with_capacity(lens.len());
        let mut off = 0;
        for l in lens {
            substreams.push(payload[off..off + l].to_vec());
            off += l;
        }
        Ok(FrameChunk { kind, substreams })
    }

    /// Bytes after the last frame, once every frame was read (0 for a well-formed stream).
    pub fn trailing(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

impl Iterator for FrameReader<'_> {
    type Item = Result<FrameChunk, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped || self.index >= self.frames {
            return None;
        }
        let index = self.index;
        self.index += 1;
        Some(self.read_one().map_err(|error| {
            if matches!(error, FormatError::Truncated { .. }) {
                self.stopped = true;
            }
            FrameError { index, error }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (VideoHeader, Vec<FrameChunk>) {
        let header = VideoHeader {
            model_id: "lic-video".into(),
            weights_hash: [7; 16],
            width: 352,
            height: 288,
            fps_num: 30000,
            fps_den: 1001,
            colour: VideoColour {
                chroma: 0,
                matrix: 5,
                range: 1,
                primaries: 5,
                transfer: 6,
                chroma_location: 1,
            },
            quality: 3.25,
            gop: 8,
            frames: 3,
        };
        let chunks = vec![
            FrameChunk {
                kind: FrameKind::Intra,
                substreams: vec![vec![1, 2, 3], vec![4; 40]],
            },
            FrameChunk {
                kind: FrameKind::Inter,
                substreams: vec![vec![9; 5], vec![8; 17]],
            },
            FrameChunk {
                kind: FrameKind::Inter,
                substreams: vec![vec![], vec![6; 3]],
            },
        ];
        (header, chunks)
    }

    #[test]
    fn round_trip() {
        let (h, chunks) = sample();
        let bytes = stream_bytes(&h, &chunks).unwrap();
        let (h2, reader) = parse_video(&bytes, &Limits::default()).unwrap();
        assert_eq!(h2, h);
        let got: Vec<FrameChunk> = reader.map(Result::unwrap).collect();
        assert_eq!(got, chunks);
        let total: usize =
            h.to_bytes().unwrap().len() + chunks.iter().map(FrameChunk::coded_len).sum::<usize>();
        assert_eq!(total, bytes.len());
    }

    #[test]
    fn corrupt_frame_is_named_and_earlier_frames_survive() {
        let (h, chunks) = sample();
        let bytes = stream_bytes(&h, &chunks).unwrap();
        let hlen = h.to_bytes().unwrap().len();
        let f1 = hlen + chunks[0].coded_len();
        // A flipped payload byte in frame 1: frames 0 and 2 still read.
        let mut b = bytes.clone();
        b[f1 + chunks[1].coded_len() - 1] ^= 0x40;
        let (_, r) = parse_video(&b, &Limits::default()).unwrap();
        let res: Vec<_> = r.collect();
        assert!(res[0].is_ok());
        let e = res[1].as_ref().unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.to_string().starts_with("frame 1: CRC mismatch"), "{e}");
        assert_eq!(res[2].as_ref().unwrap(), &chunks[2]);
        // Truncated inside frame 2: frames 0 and 1 read, frame 2 is reported, then nothing.
        let cut = &bytes[..bytes.len() - 2];
        let (_, r) = parse_video(cut, &Limits::default()).unwrap();
        let res: Vec<_> = r.collect();
        assert_eq!(res.len(), 3);
        assert!(res[0].is_ok() && res[1].is_ok());
        assert_eq!(res[2].as_ref().unwrap_err().index, 2);
        assert!(matches!(
            res[2].as_ref().unwrap_err().error,
            FormatError::Truncated { .. }
        ));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error_or_reported_frame() {
        let (h, chunks) = sample();
        let bytes = stream_bytes(&h, &chunks).unwrap();
        for cut in 0..bytes.len() {
            match parse_video(&bytes[..cut], &Limits::default()) {
                Err(_) => {}
                Ok((_, r)) => {
                    let res: Vec<_> = r.collect();
                    assert!(res.iter().any(|x| x.is_err()), "cut {cut} not detected");
                }
            }
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                if let Ok((h2, r)) = parse_video(&b, &Limits::default()) {
                    let res: Vec<_> = r.collect();
                    let all_ok = res.len() == 3 && res.iter().all(|x| x.is_ok());
                    assert!(!all_ok || h2 != h, "flip {i}:{bit} not detected");
                }
            }
        }
    }

    #[test]
    fn limits_and_bad_fields_are_refused() {
        let (mut h, _) = sample();
        h.width = 70_000;
        assert!(h.to_bytes().is_err());
        let (h, _) = sample();
        let bytes = h.to_bytes().unwrap();
        let small = Limits {
            max_side: 100,
            ..Limits::default()
        };
        assert!(matches!(
            parse_video(&bytes, &small),
            Err(FormatError::LimitExceeded { .. })
        ));
        assert_eq!(
            parse_video(b"\x89LIC\x02\x00", &Limits::default()).unwrap_err(),
            FormatError::BadMagic
        );
        let mut h0 = h.clone();
        h0.gop = 0;
        assert!(h0.to_bytes().is_err());
    }
}
