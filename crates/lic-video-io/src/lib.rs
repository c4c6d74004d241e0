//! Reading and writing video files with FFmpeg (ffmpeg-next, the system's libav*).
//!
//! * [`VideoReader`] decodes the best video stream of anything FFmpeg reads. 8-bit 4:2:0
//!   (`yuv420p`, and `yuvj420p`, which implies full range) is handed over as it is, plane by
//!   plane ([`Chroma::Yuv420`]), so lossless round trips are possible; every other pixel format is
//!   converted by swscale to packed 8-bit RGB ([`Chroma::Rgb`]), using the stream's matrix
//!   (BT.709 when tagged so, BT.601 otherwise) and range.
//! * [`VideoWriter`] writes `.mkv` (FFV1 version 3, lossless: `yuv420p` for 4:2:0 sources, `bgr0`
//!   for RGB ones; FFmpeg 5.1's FFV1 has no 8-bit `gbrp`) or `.y4m` (`yuv420p`; RGB sources are
//!   converted by swscale to BT.601 limited-range `yuv444p`, which is **lossy**). The frame rate
//!   and the colour tags are kept (Y4M itself only stores the range and the chroma siting). The
//!   file appears only when [`VideoWriter::finish`] succeeds.
//! * [`packet_sizes`] lists the byte size of every video packet, for per-frame rates of anchor
//!   bitstreams.
//!
//! FFmpeg is initialised once, with its log level at `error` (warnings such as "deprecated pixel
//! format" would otherwise go to stderr; the errors returned here name the file and the cause).

use std::path::{Path, PathBuf};
use std::sync::Once;

use ffmpeg_next as ffmpeg;

use ffmpeg::codec;
use ffmpeg::format::{self, Pixel};
use ffmpeg::software::scaling;
use ffmpeg::sys as ffi;
use ffmpeg::{frame, media, Packet, Rational};

use lic::io::image::Image;
use lic::video::colour::{
    chroma_size, rgb_from_u8, rgb_to_u8, rgb_to_yuv420, yuv420_to_rgb, ColourInfo, RgbF32, Yuv420,
};

/// Frame rate assumed when a stream has none (raw elementary streams without timing, some
/// image sequences): 25/1, FFmpeg's own guess for such streams.
pub const FALLBACK_FPS: (u32, u32) = (25, 1);

/// What went wrong reading or writing a video.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("{path}: cannot open as a video ({source})")]
    Open {
        path: PathBuf,
        #[source]
        source: ffmpeg::Error,
    },
    #[error("{0}: FFmpeg needs a UTF-8 path without NUL bytes")]
    BadPath(PathBuf),
    #[error("{0}: no video stream")]
    NoVideoStream(PathBuf),
    #[error("{path}: no decoder for the video codec {codec}")]
    NoDecoder { path: PathBuf, codec: String },
    #[error("{path}: unsupported pixel format {format}")]
    UnsupportedPixelFormat { path: PathBuf, format: String },
    #[error("{path}: video size {width}x{height} is invalid")]
    BadSize {
        path: PathBuf,
        width: i64,
        height: i64,
    },
    #[error(
        "{path}: video is {width}x{height}; the limit is {max_side} pixels per side and \
         {max_pixels} pixels per frame"
    )]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error("{path}: decoding failed after {frames} frames: {what}: {source}")]
    Decode {
        path: PathBuf,
        frames: u64,
        what: &'static str,
        #[source]
        source: ffmpeg::Error,
    },
    #[error(
        "{path}: frame {index} is {got_width}x{got_height} {got_format}, but the stream started \
         as {width}x{height} {format} (size or format changes are not supported)"
    )]
    FrameChanged {
        path: PathBuf,
        index: u64,
        width: u32,
        height: u32,
        format: String,
        got_width: u32,
        got_height: u32,
        got_format: String,
    },
    #[error("{0}: unsupported output extension (use .mkv or .y4m)")]
    UnsupportedOutput(PathBuf),
    #[error("{path}: frame rate {num}/{den} is invalid")]
    BadFrameRate { path: PathBuf, num: u32, den: u32 },
    #[error("{path}: cannot write video: {what}: {source}")]
    Write {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: ffmpeg::Error,
    },
    #[error(
        "{path}: frame {index} is {got} {got_width}x{got_height}, the writer was created for \
         {expected} {width}x{height}"
    )]
    FrameMismatch {
        path: PathBuf,
        index: u64,
        expected: &'static str,
        width: u32,
        height: u32,
        got: &'static str,
        got_width: u32,
        got_height: u32,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Initialises FFmpeg once and sets its log level to `error`.
fn ensure_init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // `init` only registers things on FFmpeg 5.1 and cannot fail there; an error would show
        // up again as a failure to open a file.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    });
}

/// ffmpeg-next turns paths into C strings with `unwrap`s: refuse the paths it would panic on.
fn check_path(path: &Path) -> Result<(), VideoError> {
    match path.to_str() {
        Some(s) if !s.contains('\0') => Ok(()),
        _ => Err(VideoError::BadPath(path.to_path_buf())),
    }
}

/// What the source was, which decides how frames are represented and written back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Chroma {
    /// 8-bit YCbCr 4:2:0, planes taken as they are.
    Yuv420,
    /// Anything else, converted to 8-bit RGB.
    Rgb,
}

impl Chroma {
    fn name(self) -> &'static str {
        match self {
            Chroma::Yuv420 => "4:2:0",
            Chroma::Rgb => "RGB",
        }
    }
}

/// Stream properties of a video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Frame rate `fps_num / fps_den`: the stream's average frame rate, else its base rate, else
    /// [`FALLBACK_FPS`].
    pub fps_num: u32,
    pub fps_den: u32,
    pub colour: ColourInfo,
    pub chroma: Chroma,
    /// The number of frames the container announces, else an estimate from the duration; `None`
    /// when neither is known. Only a hint (progress bars): count the frames actually decoded.
    pub frames_hint: Option<u64>,
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq)]
pub enum VideoFrame {
    Yuv420(Yuv420),
    /// Packed 8-bit RGB (`gray` is always false).
    Rgb(Image),
}

impl VideoFrame {
    pub fn width(&self) -> u32 {
        match self {
            VideoFrame::Yuv420(f) => f.width,
            VideoFrame::Rgb(i) => i.width,
        }
    }

    pub fn height(&self) -> u32 {
        match self {
            VideoFrame::Yuv420(f) => f.height,
            VideoFrame::Rgb(i) => i.height,
        }
    }

    pub fn chroma(&self) -> Chroma {
        match self {
            VideoFrame::Yuv420(_) => Chroma::Yuv420,
            VideoFrame::Rgb(_) => Chroma::Rgb,
        }
    }

    /// The frame as planar float RGB for the model: [`yuv420_to_rgb`] with `colour` for 4:2:0
    /// frames, `v / 255` for RGB frames.
    ///
    /// # Panics
    /// If the frame's buffers do not match its size (only possible by editing the public fields;
    /// frames from [`VideoReader`] and [`VideoFrame::from_rgb_f32`] always match).
    pub fn to_rgb_f32(&self, colour: &ColourInfo) -> RgbF32 {
        match self {
            VideoFrame::Yuv420(f) => yuv420_to_rgb(f, colour),
            VideoFrame::Rgb(i) => rgb_from_u8(i.width, i.height, &i.data)
                .expect("Image holds width * height * 3 bytes"),
        }
    }

    /// The inverse of [`VideoFrame::to_rgb_f32`] for the representation `chroma`: exact for
    /// anything `to_rgb_f32` produced (see [`lic::video::colour`]).
    pub fn from_rgb_f32(rgb: &RgbF32, chroma: Chroma, colour: &ColourInfo) -> VideoFrame {
        match chroma {
            Chroma::Yuv420 => VideoFrame::Yuv420(rgb_to_yuv420(rgb, colour)),
            Chroma::Rgb => VideoFrame::Rgb(Image::new(rgb.width, rgb.height, rgb_to_u8(rgb))),
        }
    }

    /// Packed 8-bit RGB of the frame (4:2:0 frames through [`yuv420_to_rgb`] and [`rgb_to_u8`]),
    /// what PSNR-RGB compares.
    pub fn to_rgb_u8(&self, colour: &ColourInfo) -> Image {
        match self {
            VideoFrame::Yuv420(f) => {
                Image::new(f.width, f.height, rgb_to_u8(&yuv420_to_rgb(f, colour)))
            }
            VideoFrame::Rgb(i) => i.clone(),
        }
    }
}

/// Copies `rows` rows of `row_bytes` bytes out of a plane with line stride `stride`.
fn copy_plane(src: &[u8], stride: usize, row_bytes: usize, rows: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(row_bytes * rows);
    for r in 0..rows {
        out.extend_from_slice(&src[r * stride..r * stride + row_bytes]);
    }
    out
}

/// Copies packed rows into a plane with line stride `stride`.
fn fill_plane(dst: &mut [u8], stride: usize, src: &[u8], row_bytes: usize) {
    for (r, row) in src.chunks_exact(row_bytes).enumerate() {
        dst[r * stride..r * stride + row_bytes].copy_from_slice(row);
    }
}

fn pixel_name(p: Pixel) -> String {
    p.descriptor()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|| format!("{p:?}"))
}

/// Reads the raw colour codes of a stream.
fn colour_of(params: &codec::Parameters) -> ColourInfo {
    // SAFETY: `params` wraps a valid AVCodecParameters owned by the open input; these are plain
    // enum fields, and every FFmpeg enum value fits in a u8.
    unsafe {
        let p = &*params.as_ptr();
        ColourInfo {
            matrix: p.color_space as u32 as u8,
            range: p.color_range as u32 as u8,
            primaries: p.color_primaries as u32 as u8,
            transfer: p.color_trc as u32 as u8,
            chroma_location: p.chroma_location as u32 as u8,
        }
    }
}

fn rational_u32(r: Rational) -> Option<(u32, u32)> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| (r.numerator() as u32, r.denominator() as u32))
}

/// A decoder over the best video stream of a file. Frames come out in presentation order.
pub struct VideoReader {
    path: PathBuf,
    input: format::context::Input,
    stream_index: usize,
    decoder: ffmpeg::decoder::Video,
    info: VideoInfo,
    format: Pixel,
    /// Source format → RGB24, for [`Chroma::Rgb`].
    scaler: Option<scaling::Context>,
    eof_sent: bool,
    done: bool,
    frames: u64,
}

impl VideoReader {
    /// Opens `path` and prepares a decoder. Frames wider or taller than `max_side`, or larger
    /// than `max_pixels`, are refused before anything is allocated for them.
    pub fn open(path: &Path, max_side: u32, max_pixels: u64) -> Result<Self, VideoError> {
        ensure_init();
        check_path(path)?;
        let p = path.to_path_buf();
        let input = format::input(&path).map_err(|source| VideoError::Open {
            path: p.clone(),
            source,
        })?;
        let stream = input
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| VideoError::NoVideoStream(p.clone()))?;
        let stream_index = stream.index();
        let params = stream.parameters();
        // SAFETY: plain integer fields of the stream's valid AVCodecParameters.
        let (w, h) = unsafe { ((*params.as_ptr()).width, (*params.as_ptr()).height) };
        if w <= 0 || h <= 0 {
            return Err(VideoError::BadSize {
                path: p,
                width: w as i64,
                height: h as i64,
            });
        }
        let (width, height) = (w as u32, h as u32);
        if width > max_side || height > max_side || width as u64 * height as u64 > max_pixels {
            return Err(VideoError::TooLarge {
                path: p,
                width,
                height,
                max_side,
                max_pixels,
            });
        }
        let mut colour = colour_of(&params);
        let (fps_num, fps_den) = rational_u32(stream.avg_frame_rate())
            .or_else(|| rational_u32(stream.rate()))
            .unwrap_or(FALLBACK_FPS);
        let frames_hint = if stream.frames() > 0 {
            Some(stream.frames() as u64)
        } else {
            let secs = if stream.duration() > 0 {
                stream.duration() as f64 * f64::from(stream.time_base())
            } else if input.duration() > 0 {
                input.duration() as f64 / ffi::AV_TIME_BASE as f64
            } else {
                0.0
            };
            let n = (secs * fps_num as f64 / fps_den as f64).round();
            (n >= 1.0 && n.is_finite()).then_some(n as u64)
        };
        let codec_id = params.id();
        let ctx = codec::context::Context::from_parameters(params).map_err(|source| {
            VideoError::Open {
                path: p.clone(),
                source,
            }
        })?;
        if ffmpeg::decoder::find(codec_id).is_none() {
            return Err(VideoError::NoDecoder {
                path: p,
                codec: format!("{codec_id:?}"),
            });
        }
        let decoder = ctx.decoder().video().map_err(|source| VideoError::Open {
            path: p.clone(),
            source,
        })?;
        let format = decoder.format();
        let chroma = match format {
            Pixel::YUV420P => Chroma::Yuv420,
            Pixel::YUVJ420P => {
                colour.range = ColourInfo::RANGE_FULL;
                Chroma::Yuv420
            }
            Pixel::None => {
                return Err(VideoError::UnsupportedPixelFormat {
                    path: p,
                    format: "none (unknown)".into(),
                })
            }
            _ => Chroma::Rgb,
        };
        let scaler = match chroma {
            Chroma::Yuv420 => None,
            Chroma::Rgb => Some(rgb_scaler(format, width, height, &colour).ok_or_else(|| {
                VideoError::UnsupportedPixelFormat {
                    path: p.clone(),
                    format: pixel_name(format),
                }
            })?),
        };
        Ok(VideoReader {
            path: p,
            input,
            stream_index,
            decoder,
            info: VideoInfo {
                width,
                height,
                fps_num,
                fps_den,
                colour,
                chroma,
                frames_hint,
            },
            format,
            scaler,
            eof_sent: false,
            done: false,
            frames: 0,
        })
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// Frames returned so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    fn decode_err(&self, what: &'static str, source: ffmpeg::Error) -> VideoError {
        VideoError::Decode {
            path: self.path.clone(),
            frames: self.frames,
            what,
            source,
        }
    }

    /// The next frame, `None` after the last one (the decoder is drained, so delayed frames at
    /// the end are not lost). After an error the reader should not be used again.
    ///
    /// A file cut short mostly ends early rather than failing: FFmpeg's Y4M and Matroska
    /// demuxers drop an incomplete last frame (Matroska logs "File ended prematurely"). Compare
    /// the count with [`VideoInfo::frames_hint`] where it matters.
    pub fn next_frame(&mut self) -> Result<Option<VideoFrame>, VideoError> {
        if self.done {
            return Ok(None);
        }
        let mut decoded = frame::Video::empty();
        loop {
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => {
                    let f = self.convert(&decoded)?;
                    self.frames += 1;
                    return Ok(Some(f));
                }
                Err(ffmpeg::Error::Eof) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => {}
                Err(e) => return Err(self.decode_err("receiving a frame", e)),
            }
            if self.eof_sent {
                // EAGAIN after end of stream cannot happen with a conforming decoder; stop
                // rather than loop.
                self.done = true;
                return Ok(None);
            }
            self.feed()?;
        }
    }

    /// Sends the next packet of the video stream to the decoder, or end-of-stream.
    fn feed(&mut self) -> Result<(), VideoError> {
        let mut packet = Packet::empty();
        loop {
            match packet.read(&mut self.input) {
                Ok(()) => {
                    if packet.stream() != self.stream_index {
                        continue;
                    }
                    return self
                        .decoder
                        .send_packet(&packet)
                        .map_err(|e| self.decode_err("decoding a packet", e));
                }
                Err(ffmpeg::Error::Eof) => {
                    self.eof_sent = true;
                    return self
                        .decoder
                        .send_eof()
                        .map_err(|e| self.decode_err("flushing the decoder", e));
                }
                Err(e) => return Err(self.decode_err("reading a packet", e)),
            }
        }
    }

    fn convert(&mut self, f: &frame::Video) -> Result<VideoFrame, VideoError> {
        let (w, h) = (self.info.width, self.info.height);
        if f.format() != self.format || f.width() != w || f.height() != h {
            return Err(VideoError::FrameChanged {
                path: self.path.clone(),
                index: self.frames,
                width: w,
                height: h,
                format: pixel_name(self.format),
                got_width: f.width(),
                got_height: f.height(),
                got_format: pixel_name(f.format()),
            });
        }
        match &mut self.scaler {
            None => {
                let (cw, ch) = chroma_size(w, h);
                let y = copy_plane(f.data(0), f.stride(0), w as usize, h as usize);
                let u = copy_plane(f.data(1), f.stride(1), cw as usize, ch as usize);
                let v = copy_plane(f.data(2), f.stride(2), cw as usize, ch as usize);
                Ok(VideoFrame::Yuv420(Yuv420 {
                    width: w,
                    height: h,
                    y,
                    u,
                    v,
                }))
            }
            Some(scaler) => {
                let mut rgb = frame::Video::empty();
                scaler.run(f, &mut rgb).map_err(|e| VideoError::Decode {
                    path: self.path.clone(),
                    frames: self.frames,
                    what: "converting to RGB",
                    source: e,
                })?;
                let data = copy_plane(rgb.data(0), rgb.stride(0), 3 * w as usize, h as usize);
                Ok(VideoFrame::Rgb(Image::new(w, h, data)))
            }
        }
    }
}

fn sws_flags() -> scaling::Flags {
    scaling::Flags::POINT
        | scaling::Flags::ACCURATE_RND
        | scaling::Flags::BITEXACT
        | scaling::Flags::FULL_CHR_H_INT
        | scaling::Flags::FULL_CHR_H_INP
}

/// Sets the YCbCr side of a swscale context to `colour`'s matrix and range (swscale would assume
/// BT.601 limited range otherwise); the RGB side is full range. No effect between RGB formats.
fn set_sws_colour(s: &mut scaling::Context, colour: &ColourInfo, yuv_is_src: bool) {
    let cs = match colour.conversion_matrix() {
        lic::video::colour::Matrix::Bt709 => ffi::SWS_CS_ITU709,
        lic::video::colour::Matrix::Bt601 => ffi::SWS_CS_DEFAULT,
    };
    let full = i32::from(colour.is_full_range());
    // SAFETY: the context is valid; sws_getCoefficients returns a pointer to static tables.
    unsafe {
        let table = ffi::sws_getCoefficients(cs);
        let (src_range, dst_range) = if yuv_is_src { (full, 1) } else { (1, full) };
        ffi::sws_setColorspaceDetails(
            s.as_mut_ptr(),
            table,
            src_range,
            table,
            dst_range,
            0,
            1 << 16,
            1 << 16,
        );
    }
}

fn rgb_scaler(format: Pixel, w: u32, h: u32, colour: &ColourInfo) -> Option<scaling::Context> {
    let mut s = scaling::Context::get(format, w, h, Pixel::RGB24, w, h, sws_flags()).ok()?;
    set_sws_colour(&mut s, colour, true);
    Some(s)
}

/// Byte size of every packet of the best video stream, in decode order: the per-frame rate of
/// a bitstream (for raw H.264/HEVC streams FFmpeg's parser splits the stream into access
/// units, so parameter sets count with the frame they precede).
pub fn packet_sizes(path: &Path) -> Result<Vec<usize>, VideoError> {
    ensure_init();
    check_path(path)?;
    let p = path.to_path_buf();
    let mut input = format::input(&path).map_err(|source| VideoError::Open {
        path: p.clone(),
        source,
    })?;
    let index = input
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| VideoError::NoVideoStream(p.clone()))?
        .index();
    let mut sizes = Vec::new();
    let mut packet = Packet::empty();
    loop {
        match packet.read(&mut input) {
            Ok(()) => {
                if packet.stream() == index {
                    sizes.push(packet.size());
                }
            }
            Err(ffmpeg::Error::Eof) => return Ok(sizes),
            Err(source) => {
                return Err(VideoError::Decode {
                    path: p,
                    frames: sizes.len() as u64,
                    what: "reading a packet",
                    source,
                })
            }
        }
    }
}

/// FFmpeg enum values for raw colour codes. Codes FFmpeg 5.1 does not define become
/// "unspecified" (a header from elsewhere cannot make us hand FFmpeg an invalid enum).
mod codes {
    use super::ffi;

    pub fn space(c: u8) -> ffi::AVColorSpace {
        use ffi::AVColorSpace::*;
        match c {
            0 => AVCOL_SPC_RGB,
            1 => AVCOL_SPC_BT709,
            4 => AVCOL_SPC_FCC,
            5 => AVCOL_SPC_BT470BG,
            6 => AVCOL_SPC_SMPTE170M,
            7 => AVCOL_SPC_SMPTE240M,
            8 => AVCOL_SPC_YCGCO,
            9 => AVCOL_SPC_BT2020_NCL,
            10 => AVCOL_SPC_BT2020_CL,
            11 => AVCOL_SPC_SMPTE2085,
            12 => AVCOL_SPC_CHROMA_DERIVED_NCL,
            13 => AVCOL_SPC_CHROMA_DERIVED_CL,
            14 => AVCOL_SPC_ICTCP,
            _ => AVCOL_SPC_UNSPECIFIED,
        }
    }

    pub fn range(c: u8) -> ffi::AVColorRange {
        use ffi::AVColorRange::*;
        match c {
            1 => AVCOL_RANGE_MPEG,
            2 => AVCOL_RANGE_JPEG,
            _ => AVCOL_RANGE_UNSPECIFIED,
        }
    }

    pub fn primaries(c: u8) -> ffi::AVColorPrimaries {
        use ffi::AVColorPrimaries::*;
        match c {
            1 => AVCOL_PRI_BT709,
            4 => AVCOL_PRI_BT470M,
            5 => AVCOL_PRI_BT470BG,
            6 => AVCOL_PRI_SMPTE170M,
            7 => AVCOL_PRI_SMPTE240M,
            8 => AVCOL_PRI_FILM,
            9 => AVCOL_PRI_BT2020,
            10 => AVCOL_PRI_SMPTE428,
            11 => AVCOL_PRI_SMPTE431,
            12 => AVCOL_PRI_SMPTE432,
            22 => AVCOL_PRI_EBU3213,
            _ => AVCOL_PRI_UNSPECIFIED,
        }
    }

    pub fn transfer(c: u8) -> ffi::AVColorTransferCharacteristic {
        use ffi::AVColorTransferCharacteristic::*;
        match c {
            1 => AVCOL_TRC_BT709,
            4 => AVCOL_TRC_GAMMA22,
            5 => AVCOL_TRC_GAMMA28,
            6 => AVCOL_TRC_SMPTE170M,
            7 => AVCOL_TRC_SMPTE240M,
            8 => AVCOL_TRC_LINEAR,
            9 => AVCOL_TRC_LOG,
            10 => AVCOL_TRC_LOG_SQRT,
            11 => AVCOL_TRC_IEC61966_2_4,
            12 => AVCOL_TRC_BT1361_ECG,
            13 => AVCOL_TRC_IEC61966_2_1,
            14 => AVCOL_TRC_BT2020_10,
            15 => AVCOL_TRC_BT2020_12,
            16 => AVCOL_TRC_SMPTE2084,
            17 => AVCOL_TRC_SMPTE428,
            18 => AVCOL_TRC_ARIB_STD_B67,
            _ => AVCOL_TRC_UNSPECIFIED,
        }
    }

    pub fn chroma_location(c: u8) -> ffi::AVChromaLocation {
        use ffi::AVChromaLocation::*;
        match c {
            1 => AVCHROMA_LOC_LEFT,
            2 => AVCHROMA_LOC_CENTER,
            3 => AVCHROMA_LOC_TOPLEFT,
            4 => AVCHROMA_LOC_TOP,
            5 => AVCHROMA_LOC_BOTTOMLEFT,
            6 => AVCHROMA_LOC_BOTTOM,
            _ => AVCHROMA_LOC_UNSPECIFIED,
        }
    }
}

/// How frames are stored in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutKind {
    /// `.y4m`, yuv420p planes as they are.
    Y4m420,
    /// `.y4m`, RGB converted by swscale to BT.601 limited-range yuv444p (lossy).
    Y4m444,
    /// `.mkv`, FFV1 yuv420p (lossless).
    Ffv1Yuv420,
    /// `.mkv`, FFV1 bgr0 (lossless RGB).
    Ffv1Bgr0,
}

/// Writes frames to `.mkv` (FFV1) or `.y4m` through a temporary file beside the output that
/// becomes the output only in [`VideoWriter::finish`]; dropping an unfinished writer removes it.
pub struct VideoWriter {
    // Field order matters: the muxer (which holds the file open) is dropped before `tmp`, whose
    // drop deletes the unfinished file.
    output: format::context::Output,
    encoder: ffmpeg::encoder::video::Encoder,
    scaler: Option<scaling::Context>,
    kind: OutKind,
    stream_index: usize,
    enc_tb: Rational,
    ost_tb: Rational,
    width: u32,
    height: u32,
    chroma: Chroma,
    next_pts: i64,
    tmp: tempfile::TempPath,
    dest: PathBuf,
}

impl VideoWriter {
    /// Prepares `path` (`.mkv` or `.y4m`, case-insensitive) for frames shaped like `info`
    /// (size, [`Chroma`], frame rate and colour tags). An existing file at `path` is replaced by
    /// [`VideoWriter::finish`]; callers check for overwrites first
    /// ([`lic::io::file::check_output`]).
    pub fn create(path: &Path, info: &VideoInfo) -> Result<Self, VideoError> {
        ensure_init();
        check_path(path)?;
        let dest = path.to_path_buf();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        let kind = match (ext.as_deref(), info.chroma) {
            (Some("y4m"), Chroma::Yuv420) => OutKind::Y4m420,
            (Some("y4m"), Chroma::Rgb) => OutKind::Y4m444,
            (Some("mkv"), Chroma::Yuv420) => OutKind::Ffv1Yuv420,
            (Some("mkv"), Chroma::Rgb) => OutKind::Ffv1Bgr0,
            _ => return Err(VideoError::UnsupportedOutput(dest)),
        };
        if info.width == 0 || info.height == 0 || info.width > i32::MAX as u32 {
            return Err(VideoError::BadSize {
                path: dest,
                width: info.width as i64,
                height: info.height as i64,
            });
        }
        if info.fps_num == 0
            || info.fps_den == 0
            || info.fps_num > i32::MAX as u32
            || info.fps_den > i32::MAX as u32
        {
            return Err(VideoError::BadFrameRate {
                path: dest,
                num: info.fps_num,
                den: info.fps_den,
            });
        }
        let io_err = |source| VideoError::Io {
            path: dest.clone(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (muxer, suffix) = match kind {
            OutKind::Y4m420 | OutKind::Y4m444 => ("yuv4mpegpipe", ".y4m"),
            OutKind::Ffv1Yuv420 | OutKind::Ffv1Bgr0 => ("matroska", ".mkv"),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".lic-tmp-")
            .suffix(suffix)
            .tempfile_in(&dir)
            .map_err(io_err)?
            .into_temp_path();
        let werr = |what: &'static str| {
            let dest = dest.clone();
            move |source| VideoError::Write {
                path: dest,
                what,
                source,
            }
        };
        check_path(&tmp)?;
        let mut output = format::output_as(&tmp, muxer).map_err(werr("opening the output"))?;

        let (codec_id, pix) = match kind {
            OutKind::Y4m420 => (codec::Id::WRAPPED_AVFRAME, Pixel::YUV420P),
            OutKind::Y4m444 => (codec::Id::WRAPPED_AVFRAME, Pixel::YUV444P),
            OutKind::Ffv1Yuv420 => (codec::Id::FFV1, Pixel::YUV420P),
            OutKind::Ffv1Bgr0 => (codec::Id::FFV1, Pixel::BGRZ),
        };
        let enc_codec = ffmpeg::encoder::find(codec_id).ok_or_else(|| VideoError::Write {
            path: dest.clone(),
            what: "finding the encoder",
            source: ffmpeg::Error::EncoderNotFound,
        })?;
        // The Y4M 4:4:4 output is swscale's BT.601 limited range whatever the source said.
        let colour = match kind {
            OutKind::Y4m444 => ColourInfo {
                matrix: ColourInfo::MATRIX_SMPTE170M,
                range: ColourInfo::RANGE_LIMITED,
                chroma_location: ColourInfo::CHROMA_LOC_UNSPECIFIED,
                ..info.colour
            },
            _ => info.colour,
        };
        let fps = Rational::new(info.fps_num as i32, info.fps_den as i32);
        let enc_tb = fps.invert();
        let global_header = output
            .format()
            .flags()
            .contains(format::Flags::GLOBAL_HEADER);
        let mut ost = output
            .add_stream(enc_codec)
            .map_err(werr("adding the stream"))?;
        let stream_index = ost.index();
        let mut enc = codec::context::Context::new_with_codec(enc_codec)
            .encoder()
            .video()
            .map_err(werr("setting up the encoder"))?;
        enc.set_width(info.width);
        enc.set_height(info.height);
        enc.set_format(pix);
        enc.set_time_base(enc_tb);
        enc.set_frame_rate(Some(fps));
        if global_header {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        // SAFETY: plain enum fields of the (not yet opened) encoder context, set to valid values.
        unsafe {
            let c = &mut *enc.as_mut_ptr();
            c.colorspace = codes::space(colour.matrix);
            c.color_range = codes::range(colour.range);
            c.color_primaries = codes::primaries(colour.primaries);
            c.color_trc = codes::transfer(colour.transfer);
            c.chroma_sample_location = codes::chroma_location(colour.chroma_location);
        }
        let mut opts = ffmpeg::Dictionary::new();
        if codec_id == codec::Id::FFV1 {
            // Version 3 (slices, CRCs per slice); every frame a keyframe so damage stays local.
            enc.set_gop(1);
            opts.set("level", "3");
            opts.set("slicecrc", "1");
        }
        let encoder = enc
            .open_as_with(enc_codec, opts)
            .map_err(werr("opening the encoder"))?;
        ost.set_parameters(&encoder);
        ost.set_time_base(enc_tb);
        ost.set_avg_frame_rate(fps);
        ost.set_rate(fps);
        output.write_header().map_err(werr("writing the header"))?;
        let ost_tb = output
            .stream(stream_index)
            .map(|s| s.time_base())
            .unwrap_or(enc_tb);
        let scaler = match kind {
            OutKind::Y4m444 => {
                let s = scaling::Context::get(
                    Pixel::RGB24,
                    info.width,
                    info.height,
                    Pixel::YUV444P,
                    info.width,
                    info.height,
                    sws_flags(),
                )
                .map_err(werr("setting up RGB to YUV 4:4:4 conversion"))?;
                Some(s)
            }
            _ => None,
        };
        Ok(VideoWriter {
            output,
            encoder,
            scaler,
            kind,
            stream_index,
            enc_tb,
            ost_tb,
            width: info.width,
            height: info.height,
            chroma: info.chroma,
            next_pts: 0,
            tmp,
            dest,
        })
    }

    fn err(&self, what: &'static str) -> impl FnOnce(ffmpeg::Error) -> VideoError + '_ {
        move |source| VideoError::Write {
            path: self.dest.clone(),
            what,
            source,
        }
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.next_pts as u64
    }

    /// Encodes and writes one frame; it must have the size and [`Chroma`] the writer was created
    /// for.
    pub fn write(&mut self, frame: &VideoFrame) -> Result<(), VideoError> {
        if frame.chroma() != self.chroma
            || frame.width() != self.width
            || frame.height() != self.height
        {
            return Err(VideoError::FrameMismatch {
                path: self.dest.clone(),
                index: self.next_pts as u64,
                expected: self.chroma.name(),
                width: self.width,
                height: self.height,
                got: frame.chroma().name(),
                got_width: frame.width(),
                got_height: frame.height(),
            });
        }
        let (w, h) = (self.width, self.height);
        // A fresh frame each time: the encoder or muxer may still hold a reference to the
        // previous one (wrapped_avframe hands the frame itself to the muxer).
        let mut out = match (self.kind, frame) {
            (OutKind::Y4m420 | OutKind::Ffv1Yuv420, VideoFrame::Yuv420(f)) => {
                f.check().map_err(|_| VideoError::FrameMismatch {
                    path: self.dest.clone(),
                    index: self.next_pts as u64,
                    expected: "consistent 4:2:0 planes",
                    width: w,
                    height: h,
                    got: "inconsistent 4:2:0 planes",
                    got_width: f.width,
                    got_height: f.height,
                })?;
                let cw = chroma_size(w, h).0;
                let mut o = frame::Video::new(Pixel::YUV420P, w, h);
                let strides = [o.stride(0), o.stride(1), o.stride(2)];
                fill_plane(o.data_mut(0), strides[0], &f.y, w as usize);
                fill_plane(o.data_mut(1), strides[1], &f.u, cw as usize);
                fill_plane(o.data_mut(2), strides[2], &f.v, cw as usize);
                o
            }
            (OutKind::Ffv1Bgr0, VideoFrame::Rgb(img)) => {
                let mut o = frame::Video::new(Pixel::BGRZ, w, h);
                let stride = o.stride(0);
                let data = o.data_mut(0);
                for (r, row) in img.data.chunks_exact(3 * w as usize).enumerate() {
                    let dst = &mut data[r * stride..r * stride + 4 * w as usize];
                    for (px, d) in row.chunks_exact(3).zip(dst.chunks_exact_mut(4)) {
                        d.copy_from_slice(&[px[2], px[1], px[0], 0]);
                    }
                }
                o
            }
            (OutKind::Y4m444, VideoFrame::Rgb(img)) => {
                let mut src = frame::Video::new(Pixel::RGB24, w, h);
                let stride = src.stride(0);
                fill_plane(src.data_mut(0), stride, &img.data, 3 * w as usize);
                let mut o = frame::Video::empty();
                let scaler = self.scaler.as_mut().expect("the 4:4:4 writer has a scaler");
                scaler
                    .run(&src, &mut o)
                    .map_err(|source| VideoError::Write {
                        path: self.dest.clone(),
                        what: "converting RGB to YUV 4:4:4",
                        source,
                    })?;
                o
            }
            _ => unreachable!("chroma checked above"),
        };
        out.set_pts(Some(self.next_pts));
        self.encoder
            .send_frame(&out)
            .map_err(self.err("encoding a frame"))?;
        self.next_pts += 1;
        self.drain()
    }

    /// Writes every packet the encoder has ready.
    fn drain(&mut self) -> Result<(), VideoError> {
        let mut packet = Packet::empty();
        loop {
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    if packet.duration() <= 0 {
                        packet.set_duration(1);
                    }
                    packet.set_stream(self.stream_index);
                    packet.rescale_ts(self.enc_tb, self.ost_tb);
                    packet
                        .write_interleaved(&mut self.output)
                        .map_err(|source| VideoError::Write {
                            path: self.dest.clone(),
                            what: "writing a packet",
                            source,
                        })?;
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => return Ok(()),
                Err(source) => {
                    return Err(VideoError::Write {
                        path: self.dest.clone(),
                        what: "receiving a packet",
                        source,
                    })
                }
            }
        }
    }

    /// Flushes the encoder, writes the trailer, and moves the file onto the output path
    /// (permissions 0644, data synced first). Returns the number of frames written.
    pub fn finish(mut self) -> Result<u64, VideoError> {
        self.encoder
            .send_eof()
            .map_err(self.err("flushing the encoder"))?;
        self.drain()?;
        self.output
            .write_trailer()
            .map_err(self.err("writing the trailer"))?;
        let frames = self.next_pts as u64;
        let VideoWriter {
            output,
            encoder,
            scaler,
            tmp,
            dest,
            ..
        } = self;
        drop(scaler);
        drop(encoder);
        drop(output); // closes the file
        let io_err = |source| VideoError::Io {
            path: dest.clone(),
            source,
        };
        let f = std::fs::File::open(&tmp).map_err(io_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(io_err)?;
        }
        f.sync_all().map_err(io_err)?;
        drop(f);
        tmp.persist(&dest).map_err(|e| io_err(e.error))?;
        Ok(frames)
    }
}
