//! The `.lic` container: a small self-describing header, a substream table and the payloads.
//!
//! The byte layout is specified in `docs/format.md`. All integers are little-endian; the header
//! (everything before the payloads) is protected by one CRC32 and every payload by its own, so
//! any truncation or bit flip is reported as a typed [`FormatError`]. Parsing never panics and
//! never allocates more than the input justifies: every count and length is checked against the
//! [`Limits`] and against the bytes actually present before it is used.
use std::fmt;

mod reader;
pub mod video;

use reader::{le32, Reader};

/// File signature: a high-bit byte (catches 7-bit transfers), then `LIC`.
pub const MAGIC: [u8; 4] = [0x89, b'L', b'I', b'C'];
/// Current format version. Bump it on any change of the layout, of the entropy coder's tables or
/// of the meaning of fields. History: 1 — float entropy-parameter networks; 2 — exact integer
/// entropy-parameter networks (`nn::int`), same layout and tables; 3 — the overfitted model
/// family `lic-overfit` (its parameter blob and substreams, `docs/format.md`), same container;
/// 4 — the wavelet family `lic-dwt` (its parameter blob and range-coded substream), same
/// container.
pub const FORMAT_VERSION: u16 = 4;
/// Longest model id, in bytes.
pub const MAX_MODEL_ID: usize = 64;

/// What the container holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// A single still image (code 1). Codes 2 (video) and 3 (wavelet) are reserved.
    Image,
}

impl StreamKind {
    fn code(self) -> u8 {
        match self {
            StreamKind::Image => 1,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(StreamKind::Image),
            _ => None,
        }
    }
}

/// Everything before the substream table.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Content kind.
    pub kind: StreamKind,
    /// Model identifier, printable ASCII, at most [`MAX_MODEL_ID`] bytes.
    pub model_id: String,
    /// First 16 bytes of the SHA-256 of the model weights.
    pub weights_hash: [u8; 16],
    /// Image width in pixels (≥ 1).
    pub width: u32,
    /// Image height in pixels (≥ 1).
    pub height: u32,
    /// Single-channel (gray) image rather than RGB.
    pub gray: bool,
    /// Bits per sample; only 8 is defined.
    pub bit_depth: u8,
    /// Rate parameter the image was coded with, stored bit-exact.
    pub quality: f32,
    /// Tile width in pixels; `0` together with `tile_height == 0` means one tile.
    pub tile_width: u32,
    /// Tile height in pixels (see `tile_width`).
    pub tile_height: u32,
    /// Model-specific parameters (e.g. latent shapes), opaque to the container.
    pub params: Vec<u8>,
}

/// A parsed or to-be-written `.lic` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    /// Header fields.
    pub header: Header,
    /// Entropy-coded substreams, in order.
    pub substreams: Vec<Vec<u8>>,
}

/// Caps applied while parsing untrusted files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width or height.
    pub max_side: u32,
    /// Largest `width × height`.
    pub max_pixels: u64,
    /// Largest number of substreams.
    pub max_substreams: u32,
    /// Largest parameter blob, in bytes.
    pub max_params: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_side: 1 << 16,
            max_pixels: 1 << 28,
            max_substreams: 1 << 16,
            max_params: 1 << 14,
        }
    }
}

/// Errors of writing or parsing a container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The magic bytes are wrong.
    #[error("not a .lic file (bad magic)")]
    BadMagic,
    /// The version is not understood by this build.
    #[error("unsupported .lic format version {found} (this build reads version {FORMAT_VERSION}; version 1 files used float entropy networks, version 2 files predate lic-overfit and version 3 files predate lic-dwt: re-encode them from the source image)")]
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
    },
    /// The file ends inside a field.
    #[error("truncated at field {field}: needs {needed} bytes at offset {offset}, file has {len}")]
    Truncated {
        /// Field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Offset of the field.
        offset: usize,
        /// File length.
        len: usize,
    },
    /// A checksum does not match.
    #[error("CRC mismatch in {section}: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// `header` or `substream N`.
        section: String,
        /// CRC in the file.
        stored: u32,
        /// CRC of the data.
        computed: u32,
    },
    /// A field holds a value that is not allowed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A field exceeds the parsing limits.
    #[error("{field} = {value} exceeds the limit {limit}")]
    LimitExceeded {
        /// Field name.
        field: &'static str,
        /// Value in the file.
        value: u64,
        /// Limit in force.
        limit: u64,
    },
    /// Bytes follow the last payload.
    #[error("{0} trailing bytes after the last substream")]
    TrailingBytes(usize),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> FormatError {
    FormatError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl Header {
    /// The header of a single-tile 8-bit still image.
    pub fn image(
        model_id: &str,
        weights_hash: [u8; 16],
        (width, height): (u32, u32),
        gray: bool,
        quality: f32,
        params: Vec<u8>,
    ) -> Header {
        Header {
            kind: StreamKind::Image,
            model_id: model_id.to_string(),
            weights_hash,
            width,
            height,
            gray,
            bit_depth: 8,
            quality,
            tile_width: 0,
            tile_height: 0,
            params,
        }
    }

    /// Checks the fields that the layout constrains regardless of limits.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.model_id.len() > MAX_MODEL_ID {
            return Err(invalid(
                "model id",
                format!("{} bytes, at most {MAX_MODEL_ID}", self.model_id.len()),
            ));
        }
        if !self.model_id.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(invalid("model id", "not printable ASCII"));
        }
        if self.width == 0 || self.height == 0 {
            return Err(invalid(
                "dimensions",
                format!("{}x{} is empty", self.width, self.height),
            ));
        }
        if self.bit_depth != 8 {
            return Err(invalid(
                "bit depth",
                format!("{} (only 8 is defined)", self.bit_depth),
            ));
        }
        if (self.tile_width == 0) != (self.tile_height == 0) {
            return Err(invalid(
                "tiling",
                format!(
                    "{}x{}: both or neither must be 0",
                    self.tile_width, self.tile_height
                ),
            ));
        }
        Ok(())
    }

    /// Number of tiles across and down (`(1, 1)` for one tile).
    pub fn tile_grid(&self) -> (u32, u32) {
        if self.tile_width == 0 {
            (1, 1)
        } else {
            (
                self.width.div_ceil(self.tile_width),
                self.height.div_ceil(self.tile_height),
            )
        }
    }
}

impl Container {
    /// Serializes the container; fails if a header field or a size cannot be represented.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        let h = &self.header;
        h.validate()?;
        let too_big = |field, value: usize| FormatError::LimitExceeded {
            field,
            value: value as u64,
            limit: u64::from(u32::MAX),
        };
        let params_len =
            u32::try_from(h.params.len()).map_err(|_| too_big("parameter blob", h.params.len()))?;
        let count = u32::try_from(self.substreams.len())
            .map_err(|_| too_big("substream count", self.substreams.len()))?;
        let payload: usize = self.substreams.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(64 + h.params.len() + 8 * self.substreams.len() + payload);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(h.kind.code());
        out.push(u8::from(h.gray));
        out.push(h.bit_depth);
        out.push(h.model_id.len() as u8);
        out.extend_from_slice(h.model_id.as_bytes());
        out.extend_from_slice(&h.weights_hash);
        for v in [
            h.width,
            h.height,
            h.quality.to_bits(),
            h.tile_width,
            h.tile_height,
            params_len,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&h.params);
        out.extend_from_slice(&count.to_le_bytes());
        for s in &self.substreams {
            let len = u32::try_from(s.len()).map_err(|_| too_big("substream length", s.len()))?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&crc32fast::hash(s).to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        for s in &self.substreams {
            out.extend_from_slice(s);
        }
        Ok(out)
    }

    /// Parses with the default [`Limits`].
    pub fn parse(bytes: &[u8]) -> Result<Container, FormatError> {
        Self::parse_with_limits(bytes, &Limits::default())
    }

    /// Parses and validates an untrusted file.
    pub fn parse_with_limits(bytes: &[u8], limits: &Limits) -> Result<Container, FormatError> {
        let mut r = Reader::new(bytes);
        if r.take("magic", 4)? != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = r.u16("format version")?;
        if version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion { found: version });
        }
        let kind_code = r.u8("stream kind")?;
        let kind = StreamKind::from_code(kind_code)
            .ok_or_else(|| invalid("stream kind", format!("unknown code {kind_code}")))?;
        let flags = r.u8("colour flags")?;
        if flags > 1 {
            return Err(invalid(
                "colour flags",
                format!("reserved bits set in {flags:#04x}"),
            ));
        }
        let bit_depth = r.u8("bit depth")?;
        let id_len = usize::from(r.u8("model id length")?);
        if id_len > MAX_MODEL_ID {
            return Err(invalid(
                "model id",
                format!("{id_len} bytes, at most {MAX_MODEL_ID}"),
            ));
        }
        let id = r.take("model id", id_len)?;
        let model_id = String::from_utf8(id.to_vec())
            .map_err(|_| invalid("model id", "not printable ASCII"))?;
        let mut weights_hash = [0u8; 16];
        weights_hash.copy_from_slice(r.take("weights hash", 16)?);
        let width = r.u32("width")?;
        let height = r.u32("height")?;
        let quality = f32::from_bits(r.u32("quality")?);
        let tile_width = r.u32("tile width")?;
        let tile_height = r.u32("tile height")?;
        let params_len = r.u32("parameter blob length")?;
        check_limit(
            "parameter blob length",
            params_len.into(),
            limits.max_params.into(),
        )?;
        let params = r.take("parameter blob", params_len as usize)?.to_vec();
        let header = Header {
            kind,
            model_id,
            weights_hash,
            width,
            height,
            gray: flags == 1,
            bit_depth,
            quality,
            tile_width,
            tile_height,
            params,
        };
        header.validate()?;
        check_limit("width", width.into(), limits.max_side.into())?;
        check_limit("height", height.into(), limits.max_side.into())?;
        check_limit(
            "pixel count",
            u64::from(width) * u64::from(height),
            limits.max_pixels,
        )?;
        let count = r.u32("substream count")?;
        check_limit(
            "substream count",
            count.into(),
            limits.max_substreams.into(),
        )?;
        let table = r.take("substream table", 8 * count as usize)?;
        let entries: Vec<(u32, u32)> = table
            .chunks_exact(8)
            .map(|e| (le32(&e[..4]), le32(&e[4..])))
            .collect();
        let header_end = r.pos();
        let stored = r.u32("header CRC")?;
        let computed = crc32fast::hash(&bytes[..header_end]);
        if stored != computed {
            return Err(FormatError::CrcMismatch {
                section: "header".into(),
                stored,
                computed,
            });
        }
        let payload_len: u64 = entries.iter().map(|&(len, _)| u64::from(len)).sum();
        let remaining = (bytes.len() - r.pos()) as u64;
        if payload_len > remaining {
            return Err(FormatError::Truncated {
                field: "substream payloads",
                needed: payload_len as usize,
                offset: r.pos(),
                len: bytes.len(),
            });
        }
        if payload_len < remaining {
            return Err(FormatError::TrailingBytes(
                (remaining - payload_len) as usize,
            ));
        }
        let mut substreams = Vec::with_capacity(entries.len());
        for (i, &(len, crc)) in entries.iter().enumerate() {
            let data = r.take("substream payload", len as usize)?;
            let computed = crc32fast::hash(data);
            if computed != crc {
                return Err(FormatError::CrcMismatch {
                    section: format!("substream {i}"),
                    stored: crc,
                    computed,
                });
            }
            substreams.push(data.to_vec());
        }
        Ok(Container { header, substreams })
    }

    /// Size of the serialized file in bytes.
    pub fn file_size(&self) -> usize {
        let h = &self.header;
        4 + 2
            + 4
            + h.model_id.len()
            + 16
            + 24
            + h.params.len()
            + 4
            + 8 * self.substreams.len()
            + 4
            + self.substreams.iter().map(Vec::len).sum::<usize>()
    }

    /// Bits per pixel of the serialized file.
    pub fn bpp(&self) -> f64 {
        let pixels = u64::from(self.header.width) * u64::from(self.header.height);
        self.file_size() as f64 * 8.0 / pixels.max(1) as f64
    }
}

fn check_limit(field: &'static str, value: u64, limit: u64) -> Result<(), FormatError> {
    if value > limit {
        Err(FormatError::LimitExceeded {
            field,
            value,
            limit,
        })
    } else {
        Ok(())
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamKind::Image => "image",
        })
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hash: String = self
            .weights_hash
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (tx, ty) = self.tile_grid();
        writeln!(f, "format version: {FORMAT_VERSION}")?;
        writeln!(f, "kind:           {}", self.kind)?;
        writeln!(f, "model id:       {}", self.model_id)?;
        writeln!(f, "weights hash:   {hash}")?;
        writeln!(f, "size:           {}x{}", self.width, self.height)?;
        writeln!(
            f,
            "colour:         {}, {} bit",
            if self.gray { "gray" } else { "RGB" },
            self.bit_depth
        )?;
        writeln!(
            f,
            "quality:        {} (bits {:#010x})",
            self.quality,
            self.quality.to_bits()
        )?;
        if self.tile_width == 0 {
            writeln!(f, "tiling:         one tile")?;
        } else {
            writeln!(
                f,
                "tiling:         {}x{} px tiles, {tx}x{ty} grid",
                self.tile_width, self.tile_height
            )?;
        }
        write!(f, "parameters:     {} bytes", self.params.len())
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.header)?;
        writeln!(f, "substreams:     {}", self.substreams.len())?;
        for (i, s) in self.substreams.iter().enumerate() {
            writeln!(
                f,
                "  #{i:<4} {:>10} bytes  crc32 {:08x}",
                s.len(),
                crc32fast::hash(s)
            )?;
        }
        write!(
            f,
            "file size:      {} bytes, {:.4} bpp",
            self.file_size(),
            self.bpp()
        )
    }
}
