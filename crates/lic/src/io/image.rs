//! Image files in and out. Inside lic every picture is 8-bit RGB ([`Image`]).
//!
//! Policy (also in the README):
//! - Formats: PNG, JPEG, PPM/PGM (PNM), BMP, TIFF, WebP in; the output format follows the
//!   extension of the output path (PNG when it has none or an unknown one).
//! - Grayscale inputs become RGB with R = G = B and `gray = true`; the container records it, and
//!   decoding writes a gray image again (mean of the decoded channels).
//! - Alpha: a fully opaque alpha channel is dropped silently (nothing is lost). Any other alpha is
//!   refused with [`ImageIoError::Alpha`] unless the caller passes [`AlphaPolicy::Drop`].
//! - 16-bit and float inputs are rounded to 8 bits, with a notice.
//! - EXIF orientation (JPEG, TIFF, WebP, PNG eXIf) is applied on load, so pixels are stored upright.
//! - Any size from 1x1 up to the caps below is accepted; the codec pads internally.

use std::path::{Path, PathBuf};

use super::file::{write_atomic_with, OutputError};

/// Largest side accepted on load, unless a caller raises it.
pub const MAX_SIDE: u32 = 65536;
/// Largest pixel count accepted on load: 2^26 (67 megapixels), the libtorch-free decoders' cap,
/// so that an image no decoder would accept is refused before it is decoded or encoded.
pub const MAX_PIXELS: u64 = 1 << 26;

/// An 8-bit RGB picture, rows top to bottom, pixels interleaved R, G, B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
    /// The source was grayscale: save as gray.
    pub gray: bool,
}

impl Image {
    /// A new image; panics only if `data` has the wrong length (a programming error).
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Self {
        assert_eq!(
            data.len(),
            width as usize * height as usize * 3,
            "RGB buffer size"
        );
        Image {
            width,
            height,
            data,
            gray: false,
        }
    }
    pub fn pixels(&self) -> u64 {
        self.width as u64 * self.height as u64
    }
    /// Luma-like gray of this image (mean of R, G, B, rounded), as RGB with `gray = true`.
    pub fn to_gray(&self) -> Image {
        let mut data = self.data.clone();
        for px in data.chunks_exact_mut(3) {
            let m = gray_of(px);
            px.fill(m);
        }
        Image {
            data,
            gray: true,
            ..*self
        }
    }
}

/// What to do with a non-opaque alpha channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AlphaPolicy {
    /// Refuse the image with a clear message.
    #[default]
    Refuse,
    /// Drop the alpha channel (composite nothing: the colour channels are kept as they are).
    Drop,
}

/// Load options.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub alpha: AlphaPolicy,
    pub max_side: u32,
    pub max_pixels: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            alpha: AlphaPolicy::Refuse,
            max_side: MAX_SIDE,
            max_pixels: MAX_PIXELS,
        }
    }
}

/// A loaded image and the notices about what was converted.
#[derive(Debug)]
pub struct Loaded {
    pub image: Image,
    pub notices: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageIoError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an image in a supported format (PNG, JPEG, PPM/PGM, BMP, TIFF, WebP)")]
    UnknownFormat { path: PathBuf },
    #[error("{path}: cannot decode image: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path}: image is {width}x{height}, over the limit ({max_side} per side, {max_pixels} pixels)")]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error("{path}: image has an empty dimension ({width}x{height})")]
    Empty {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error("{path}: image has a non-opaque alpha channel; lic codes RGB only (pass --alpha drop to discard alpha)")]
    Alpha { path: PathBuf },
    #[error("{path}: cannot encode image: {reason}")]
    Encode { path: PathBuf, reason: String },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{path}: cannot write decoded images in this format ({why}); use {exts}", exts = OUTPUT_EXTENSIONS)]
    OutputFormat { path: PathBuf, why: String },
}

/// Loads an image file as 8-bit RGB, applying the policy in the module docs.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, ImageIoError> {
    let bytes = std::fs::read(path).map_err(|source| ImageIoError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_from_memory(&bytes, path, opts)
}

/// Like [`load`], from bytes; `path` is used in messages only.
pub fn load_from_memory(
    bytes: &[u8],
    path: &Path,
    opts: &LoadOptions,
) -> Result<Loaded, ImageIoError> {
    use image::ImageDecoder;
    let p = || path.to_path_buf();
    let format =
        image::guess_format(bytes).map_err(|_| ImageIoError::UnknownFormat { path: p() })?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(opts.max_side);
    limits.max_image_height = Some(opts.max_side);
    // RGBA16 or RGB32F of the largest accepted image, plus slack.
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(16).max(64 << 20));
    reader.limits(limits);
    let mut decoder = match reader.into_decoder() {
        Ok(d) => d,
        // Float TIFFs the image crate does not decode (gray 32- and 64-bit float).
        Err(image::ImageError::Unsupported(_)) if format == image::ImageFormat::Tiff => {
            return float_tiff(bytes, path, opts);
        }
        Err(e) => return Err(decode_error(path, opts, e)),
    };
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageIoError::Empty {
            path: p(),
            width,
            height,
        });
    }
    if width > opts.max_side
        || height > opts.max_side
        || width as u64 * height as u64 > opts.max_pixels
    {
        return Err(ImageIoError::TooLarge {
            path: p(),
            width,
            height,
            max_side: opts.max_side,
            max_pixels: opts.max_pixels,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img =
        image::DynamicImage::from_decoder(decoder).map_err(|e| decode_error(path, opts, e))?;
    let mut notices = Vec::new();
    if orientation != image::metadata::Orientation::NoTransforms {
        img.apply_orientation(orientation);
        notices.push(format!("applied EXIF orientation ({orientation:?})"));
    }
    use image::ColorType as C;
    let color = img.color();
    let gray = matches!(color, C::L8 | C::L16 | C::La8 | C::La16);
    if matches!(color, C::L16 | C::La16 | C::Rgb16 | C::Rgba16) {
        notices.push("16-bit image rounded to 8 bits per channel".to_string());
    } else if matches!(color, C::Rgb32F | C::Rgba32F) {
        notices.push("floating-point image clamped to [0,1] and rounded to 8 bits".to_string());
    }
    if color.has_alpha() {
        let opaque = match &img {
            image::DynamicImage::ImageLumaA8(b) => b.pixels().all(|p| p[1] == u8::MAX),
            image::DynamicImage::ImageRgba8(b) => b.pixels().all(|p| p[3] == u8::MAX),
            image::DynamicImage::ImageLumaA16(b) => b.pixels().all(|p| p[1] == u16::MAX),
            image::DynamicImage::ImageRgba16(b) => b.pixels().all(|p| p[3] == u16::MAX),
            image::DynamicImage::ImageRgba32F(b) => b.pixels().all(|p| p[3] >= 1.0),
            _ => false,
        };
        if !opaque {
            match opts.alpha {
                AlphaPolicy::Refuse => return Err(ImageIoError::Alpha { path: p() }),
                AlphaPolicy::Drop => notices.push("non-opaque alpha channel dropped".to_string()),
            }
        }
    }
    // to_rgb8 rounds 16-bit (x*255/65535, rounded) and clamps floats.
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    Ok(Loaded {
        image: Image {
            width: w,
            height: h,
            data: rgb.into_raw(),
            gray,
        },
        notices,
    })
}

/// A gray or RGB floating-point TIFF (32 or 64 bits per sample), clamped to [0, 1] and rounded
/// to 8 bits, as the README promises for float images. Limits are checked from the header first.
fn float_tiff(bytes: &[u8], path: &Path, opts: &LoadOptions) -> Result<Loaded, ImageIoError> {
    use tiff::decoder::{Decoder, DecodingResult};
    let p = || path.to_path_buf();
    let unsupported = |what: String| ImageIoError::Decode {
        path: p(),
        reason: format!("unsupported: {what}"),
    };
    let err = |e: tiff::TiffError| ImageIoError::Decode {
        path: p(),
        reason: e.to_string(),
    };
    let mut d = Decoder::new(std::io::Cursor::new(bytes)).map_err(err)?;
    let (width, height) = d.dimensions().map_err(err)?;
    if width == 0 || height == 0 {
        return Err(ImageIoError::Empty {
            path: p(),
            width,
            height,
        });
    }
    if width > opts.max_side
        || height > opts.max_side
        || u64::from(width) * u64::from(height) > opts.max_pixels
    {
        return Err(ImageIoError::TooLarge {
            path: p(),
            width,
            height,
            max_side: opts.max_side,
            max_pixels: opts.max_pixels,
        });
    }
    let channels = match d.colortype().map_err(err)? {
        tiff::ColorType::Gray(32 | 64) => 1,
        tiff::ColorType::RGB(32 | 64) => 3,
        other => return Err(unsupported(format!("TIFF colour type {other:?}"))),
    };
    let values: Vec<f64> = match d.read_image().map_err(err)? {
        DecodingResult::F32(v) => v.into_iter().map(f64::from).collect(),
        DecodingResult::F64(v) => v,
        _ => return Err(unsupported("integer samples of this depth".to_string())),
    };
    let n = width as usize * height as usize;
    if values.len() < n * channels {
        return Err(ImageIoError::Decode {
            path: p(),
            reason: "fewer samples than the image size".to_string(),
        });
    }
    let to8 = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let data: Vec<u8> = if channels == 1 {
        values[..n].iter().flat_map(|&v| [to8(v); 3]).collect()
    } else {
        values[..3 * n].iter().map(|&v| to8(v)).collect()
    };
    Ok(Loaded {
        image: Image {
            width,
            height,
            data,
            gray: channels == 1,
        },
        notices: vec!["floating-point image clamped to [0,1] and rounded to 8 bits".to_string()],
    })
}

fn decode_error(path: &Path, opts: &LoadOptions, e: image::ImageError) -> ImageIoError {
    match e {
        image::ImageError::Limits(_) => ImageIoError::TooLarge {
            path: path.to_path_buf(),
            width: 0,
            height: 0,
            max_side: opts.max_side,
            max_pixels: opts.max_pixels,
        },
        image::ImageError::Unsupported(u) => ImageIoError::Decode {
            path: path.to_path_buf(),
            reason: format!("unsupported: {u}"),
        },
        other => ImageIoError::Decode {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// File extensions (lower case) that [`load`] reads.
pub const EXTENSIONS: [&str; 9] = [
    "png", "jpg", "jpeg", "ppm", "pgm", "bmp", "tif", "tiff", "webp",
];

/// Files in `dir` whose extension is one of `extensions` (case-insensitive), sorted by path.
pub fn image_files(dir: &Path, extensions: &[&str]) -> std::io::Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let known = p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| extensions.iter().any(|k| x.eq_ignore_ascii_case(k)));
        if known && p.is_file() {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// Mean of R, G and B, rounded: the gray value lic writes for gray images.
fn gray_of(px: &[u8]) -> u8 {
    ((px[0] as u32 + px[1] as u32 + px[2] as u32 + 1) / 3) as u8
}

/// A lossless image format lic writes decoded images in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// `.png`.
    Png,
    /// `.ppm` / `.pgm` / `.pnm`: binary PPM (P6) for colour, PGM (P5) for gray, as every reader
    /// (Pillow, netpbm) opens them.
    Pnm,
    /// `.bmp`.
    Bmp,
    /// `.tif` / `.tiff`.
    Tiff,
}

/// The extensions [`output_format`] accepts.
pub const OUTPUT_EXTENSIONS: &str = ".png, .ppm/.pgm/.pnm, .bmp, .tif/.tiff";

/// The output format named by the extension of `path`. Lossy formats (`.jpg`, `.webp`) would
/// re-encode the decoded pixels and are refused, as are unknown or missing extensions (instead
/// of writing PNG bytes under another name).
pub fn output_format(path: &Path) -> Result<OutputFormat, ImageIoError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "png" => Ok(OutputFormat::Png),
        "ppm" | "pgm" | "pnm" => Ok(OutputFormat::Pnm),
        "bmp" => Ok(OutputFormat::Bmp),
        "tif" | "tiff" => Ok(OutputFormat::Tiff),
        _ => Err(ImageIoError::OutputFormat {
            path: path.to_path_buf(),
            why: match ext.as_str() {
                "jpg" | "jpeg" | "webp" | "avif" | "jxl" => {
                    "a lossy format would re-encode the decoded pixels".to_string()
                }
                "" => "no extension to choose the format by".to_string(),
                e => format!("unknown image extension .{e}"),
            },
        }),
    }
}

/// Binary PPM (P6) or, for gray images, PGM (P5).
fn encode_pnm(img: &Image) -> Vec<u8> {
    let (magic, body): (&str, Vec<u8>) = if img.gray {
        ("P5", img.data.chunks_exact(3).map(gray_of).collect())
    } else {
        ("P6", img.data.clone())
    };
    let mut out = format!("{magic}\n{} {}\n255\n", img.width, img.height).into_bytes();
    out.extend_from_slice(&body);
    out
}

/// `img` encoded in `format`.
pub fn encode_output(img: &Image, format: OutputFormat) -> Result<Vec<u8>, image::ImageError> {
    match format {
        OutputFormat::Png => encode_to_vec(img, image::ImageFormat::Png),
        OutputFormat::Pnm => Ok(encode_pnm(img)),
        OutputFormat::Bmp => encode_to_vec(img, image::ImageFormat::Bmp),
        OutputFormat::Tiff => encode_to_vec(img, image::ImageFormat::Tiff),
    }
}

/// Encodes `img` in `format` (gray images as 8-bit gray).
pub fn encode_to_vec(
    img: &Image,
    format: image::ImageFormat,
) -> Result<Vec<u8>, image::ImageError> {
    let mut buf = std::io::Cursor::new(Vec::new());
    if img.gray {
        let g: Vec<u8> = img.data.chunks_exact(3).map(gray_of).collect();
        let b = image::GrayImage::from_raw(img.width, img.height, g).expect("gray buffer size");
        b.write_to(&mut buf, format)?;
    } else {
        let b = image::RgbImage::from_raw(img.width, img.height, img.data.clone())
            .expect("rgb buffer size");
        b.write_to(&mut buf, format)?;
    }
    Ok(buf.into_inner())
}

/// Saves `img` to `path` atomically in the format of its extension ([`output_format`]).
/// The caller has checked overwrite rules with [`super::file::check_output`].
pub fn save(img: &Image, path: &Path) -> Result<(), ImageIoError> {
    let bytes = encode_output(img, output_format(path)?).map_err(|e| ImageIoError::Encode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic_with(path, |f| {
        use std::io::Write;
        f.write_all(&bytes).map_err(|source| {
            ImageIoError::Output(OutputError::Io {
                path: path.to_path_buf(),
                source,
            })
        })
    })
}
