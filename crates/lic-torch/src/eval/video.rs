//! Video evaluation: conventional anchors (x264 and x265 through the `ffmpeg` command line) and
//! per-frame metrics shared with lic's own video points.
//!
//! # Anchor settings
//!
//! Low-delay P, the usual setting of learned video coding papers:
//!
//! | | x264 (`-c:v libx264`) | x265 (`-c:v libx265`) |
//! |---|---|---|
//! | speed | `-preset medium` | `-preset medium` |
//! | rate control | `-crf C` | `-crf C` |
//! | no B-frames | `-bf 0` | `bframes=0` |
//! | intra period G | `-g G -keyint_min G -sc_threshold 0` | `keyint=G:min-keyint=G:scenecut=0:open-gop=0` |
//! | threads (reproducible bitstreams) | `-threads 1` | `pools=1:frame-threads=1` |
//! | encoder info SEI removed | `-bsf:v filter_units=remove_types=6` | `no-info=1` |
//!
//! Both get `-frames:v N -pix_fmt yuv420p` and write the raw elementary stream (`-f h264` /
//! `-f hevc`), so the rate is the bitstream with its parameter sets and without container
//! overhead: `bpp = bytes · 8 / (W · H · N)`. The encoders' default tuning (psycho-visual
//! optimisations on) is kept. Constant rate factor rather than fixed QP: it is what the encoders
//! are used with in practice and the CRF ladders give evenly spaced rates.
//!
//! The encoder version settings string x264 writes as an SEI (about 600 bytes) is removed: at
//! 0.02 bpp on a 32-frame CIF clip it would be several percent of the rate.
//!
//! # Metrics
//!
//! Per frame: PSNR of Y, U and V (MAX = 255), `YUV-PSNR = (6·Y + U + V) / 8`, and PSNR-RGB of both
//! frames converted to 8-bit RGB with [`yuv420_to_rgb`] and [`rgb_to_u8`] (the stream's matrix and
//! range). A clip's value is the **mean of the per-frame PSNRs** (not the PSNR of the mean MSE),
//! as in the JVET/MPEG common test conditions and the learned video coding literature.
//!
//! `encode_seconds` is the wall time of the `ffmpeg` process (start-up and reading the source
//! included); `decode_seconds` the time of decoding the bitstream in process with libavcodec
//! (one thread) through [`VideoReader`].

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::bdrate::{bd_rate, BdResult, Method};
use super::conventional::{fmt_q, require_tool, run_tool, tool_version, PKG_FFMPEG};
use crate::io::image::{MAX_PIXELS, MAX_SIDE};
use crate::video::colour::rgb_to_yuv420;
use crate::video::colour::{rgb_psnr, rgb_to_u8, yuv420_to_rgb, yuv_psnr, ColourInfo, Yuv420};
use crate::video::io::{packet_sizes, VideoFrame, VideoInfo, VideoReader};
use crate::video::model::VideoModel;
use crate::video::stream::{decode_video, encode_video, VideoStreamError};

/// A conventional video codec run through `ffmpeg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Anchor {
    X264,
    X265,
    /// x265 with `-tune psnr` (psycho-visual optimisations off): the stricter PSNR anchor.
    X265Psnr,
}

impl Anchor {
    pub const ALL: [Anchor; 3] = [Anchor::X264, Anchor::X265, Anchor::X265Psnr];

    /// Results id (`x264`, `x265`).
    pub fn name(self) -> &'static str {
        match self {
            Anchor::X264 => "x264",
            Anchor::X265 => "x265",
            Anchor::X265Psnr => "x265-psnr",
        }
    }

    /// The FFmpeg encoder.
    pub fn encoder(self) -> &'static str {
        match self {
            Anchor::X264 => "libx264",
            Anchor::X265 | Anchor::X265Psnr => "libx265",
        }
    }

    /// Extension of the raw elementary stream.
    pub fn extension(self) -> &'static str {
        match self {
            Anchor::X264 => "h264",
            Anchor::X265 | Anchor::X265Psnr => "hevc",
        }
    }

    /// CRF ladder from high to low rate, spanning about 0.02–0.5 bpp on the CIF test clips.
    pub fn default_crfs(self) -> &'static [f64] {
        match self {
            Anchor::X264 => &[23.0, 28.0, 33.0, 38.0, 43.0],
            Anchor::X265 | Anchor::X265Psnr => &[25.0, 30.0, 35.0, 40.0, 45.0],
        }
    }

    /// The settings in words, for results files.
    pub fn description(self, gop: u32) -> String {
        match self {
            Anchor::X264 => format!(
                "ffmpeg libx264 -preset medium -crf C -bf 0 -g {gop} -keyint_min {gop} \
                 -sc_threshold 0 -threads 1, info SEI removed, yuv420p, raw Annex-B; low-delay P, \
                 intra period {gop}"
            ),
            Anchor::X265 | Anchor::X265Psnr => format!(
                "ffmpeg libx265 -preset medium{} -crf C -x265-params keyint={gop}:min-keyint={gop}:\
                 scenecut=0:bframes=0:open-gop=0:pools=1:frame-threads=1:no-info=1, yuv420p, raw \
                 Annex-B; low-delay P, intra period {gop}",
                if self == Anchor::X265Psnr {
                    " -tune psnr"
                } else {
                    ""
                }
            ),
        }
    }

    /// `ffmpeg -version`, first line.
    pub fn version(self) -> Option<String> {
        tool_version("ffmpeg", "-version")
    }

    /// Fails when `ffmpeg` is missing or was built without the encoder.
    pub fn check_available(self) -> Result<()> {
        require_tool("ffmpeg", PKG_FFMPEG)?;
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-encoders"])
            .stdin(Stdio::null())
            .output()
            .context("cannot run `ffmpeg -encoders`")?;
        let list = String::from_utf8_lossy(&out.stdout);
        let has = list
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(self.encoder()));
        ensure!(
            has,
            "this ffmpeg has no {} encoder (Debian's ffmpeg package has it)",
            self.encoder()
        );
        Ok(())
    }

    fn encode_args(self, crf: f64, gop: u32) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "-c:v".into(),
            self.encoder().into(),
            "-preset".into(),
            "medium".into(),
        ];
        if self == Anchor::X265Psnr {
            a.extend(["-tune".into(), "psnr".into()]);
        }
        a.extend(["-crf".into(), fmt_q(crf)]);
        let g = gop.to_string();
        match self {
            Anchor::X264 => a.extend(
                [
                    "-bf",
                    "0",
                    "-g",
                    &g,
                    "-keyint_min",
                    &g,
                    "-sc_threshold",
                    "0",
                    "-threads",
                    "1",
                    "-bsf:v",
                    "filter_units=remove_types=6",
                ]
                .map(String::from),
            ),
            Anchor::X265 | Anchor::X265Psnr => a.extend([
                "-x265-params".into(),
                format!(
                    "keyint={g}:min-keyint={g}:scenecut=0:bframes=0:open-gop=0:pools=1:\
                     frame-threads=1:no-info=1:log-level=error"
                ),
            ]),
        }
        a.extend(["-pix_fmt", "yuv420p", "-f", self.extension()].map(String::from));
        a
    }
}

impl std::str::FromStr for Anchor {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "x264" | "h264" | "avc" | "libx264" => Ok(Anchor::X264),
            "x265" | "h265" | "hevc" | "libx265" => Ok(Anchor::X265),
            "x265-psnr" | "x265psnr" => Ok(Anchor::X265Psnr),
            _ => bail!("unknown video anchor {s:?} (x264, x265 or x265-psnr)"),
        }
    }
}

/// One rate point of a clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoPoint {
    /// The codec's quality parameter (CRF for the anchors).
    pub quality: f64,
    /// Bits per pixel over all frames: `Σ frame_bits / (W · H · N)`.
    pub bpp: f64,
    /// Mean over frames of `(6·Y + U + V) / 8`.
    pub yuv_psnr: f64,
    pub y_psnr: f64,
    pub u_psnr: f64,
    pub v_psnr: f64,
    /// Mean over frames of PSNR-RGB.
    pub rgb_psnr: f64,
    /// Bits of each frame in decode order (= display order, no B-frames).
    pub frame_bits: Vec<u64>,
    /// Each frame's type, `I` or `P` (the anchors' by construction: an intra frame every
    /// intra period, no scene cuts).
    #[serde(default)]
    pub frame_types: String,
    /// Bits of all intra frames and of all inter frames.
    #[serde(default)]
    pub intra_bits: u64,
    #[serde(default)]
    pub inter_bits: u64,
    pub frame_yuv_psnr: Vec<f64>,
    pub encode_seconds: f64,
    pub decode_seconds: f64,
}

/// All points of one codec on one clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoClipResult {
    pub codec: String,
    pub clip: String,
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub gop: u32,
    pub points: Vec<VideoPoint>,
}

/// Reads up to `max_frames` frames (all when `None`) of an 8-bit 4:2:0 video. Other sources are
/// refused: the YUV metrics compare 4:2:0 planes.
pub fn read_yuv420_frames(
    path: &Path,
    max_frames: Option<u32>,
) -> Result<(VideoInfo, Vec<Yuv420>)> {
    let mut r = VideoReader::open(path, MAX_SIDE, MAX_PIXELS)?;
    let info = r.info().clone();
    let mut frames = Vec::new();
    while max_frames.is_none_or(|m| frames.len() < m as usize) {
        match r.next_frame()? {
            Some(VideoFrame::Yuv420(f)) => frames.push(f),
            Some(VideoFrame::Rgb(_)) => bail!(
                "{}: not 8-bit YUV 4:2:0 (the video metrics compare 4:2:0 planes)",
                path.display()
            ),
            None => break,
        }
    }
    Ok((info, frames))
}

/// Metrics of `decoded` against `source` (same count and size, at least one frame) with
/// `frame_bits` bits per frame. `quality`, `encode_seconds` and `decode_seconds` are left at 0 for
/// the caller to fill in.
pub fn measure(
    source: &[Yuv420],
    decoded: &[Yuv420],
    colour: &ColourInfo,
    frame_bits: Vec<u64>,
) -> Result<VideoPoint> {
    let n = source.len();
    ensure!(n > 0, "no frames to measure");
    ensure!(
        decoded.len() == n && frame_bits.len() == n,
        "{n} source frames, {} decoded frames, {} frame sizes",
        decoded.len(),
        frame_bits.len()
    );
    let (w, h) = (source[0].width, source[0].height);
    let mut frame_yuv_psnr = Vec::with_capacity(n);
    let (mut y, mut u, mut v, mut rgb) = (0.0, 0.0, 0.0, 0.0);
    for (i, (s, d)) in source.iter().zip(decoded).enumerate() {
        ensure!(
            s.width == w && s.height == h,
            "source frame {i} is {}x{}, frame 0 is {w}x{h}",
            s.width,
            s.height
        );
        let p = yuv_psnr(s, d).with_context(|| format!("frame {i}"))?;
        frame_yuv_psnr.push(p.yuv);
        y += p.y;
        u += p.u;
        v += p.v;
        let (sr, dr) = (
            rgb_to_u8(&yuv420_to_rgb(s, colour)),
            rgb_to_u8(&yuv420_to_rgb(d, colour)),
        );
        rgb += rgb_psnr(&sr, &dr).with_context(|| format!("frame {i}"))?;
    }
    let nf = n as f64;
    let bits: u64 = frame_bits.iter().sum();
    Ok(VideoPoint {
        quality: 0.0,
        bpp: bits as f64 / (w as f64 * h as f64 * nf),
        yuv_psnr: frame_yuv_psnr.iter().sum::<f64>() / nf,
        y_psnr: y / nf,
        u_psnr: u / nf,
        v_psnr: v / nf,
        rgb_psnr: rgb / nf,
        frame_bits,
        frame_types: String::new(),
        intra_bits: 0,
        inter_bits: 0,
        frame_yuv_psnr,
        encode_seconds: 0.0,
        decode_seconds: 0.0,
    })
}

/// Bits per frame of a `.licv` file of `total` bytes whose chunks take `frame_bytes`: the header
/// is counted in the first frame, so the sum is the file size.
fn file_frame_bits(frame_bytes: &[usize], total: usize) -> Vec<u64> {
    let mut bits: Vec<u64> = frame_bytes.iter().map(|&b| 8 * b as u64).collect();
    if let Some(first) = bits.first_mut() {
        *first += 8 * (total - frame_bytes.iter().sum::<usize>()) as u64;
    }
    bits
}

/// Frame types of a low-delay P stream with an intra frame every `gop` frames.
fn periodic_types(frames: usize, gop: u32) -> String {
    (0..frames)
        .map(|i| {
            if (i as u32).is_multiple_of(gop) {
                'I'
            } else {
                'P'
            }
        })
        .collect()
}

impl VideoPoint {
    /// Sets the frame types (`I`/`P` per frame) and the bits per type.
    pub fn set_frame_types(&mut self, types: String) {
        let (mut i, mut p) = (0, 0);
        for (t, &b) in types.chars().zip(&self.frame_bits) {
            if t == 'I' {
                i += b;
            } else {
                p += b;
            }
        }
        self.frame_types = types;
        self.intra_bits = i;
        self.inter_bits = p;
    }
}

/// Encodes the first `frames` frames of `source` (8-bit 4:2:0) with `anchor` at `crf`, intra
/// period `gop`, into `work_dir/<anchor>_crf<C>.<h264|hevc>`, decodes it and measures it.
pub fn run_anchor(
    anchor: Anchor,
    source: &Path,
    crf: f64,
    gop: u32,
    frames: u32,
    work_dir: &Path,
) -> Result<VideoPoint> {
    check_settings(crf, gop, frames)?;
    let (info, src) = read_source(source, frames)?;
    anchor_point(anchor, source, &info, &src, crf, gop, work_dir)
}

fn check_settings(crf: f64, gop: u32, frames: u32) -> Result<()> {
    ensure!(
        crf.is_finite() && (0.0..=51.0).contains(&crf),
        "CRF {crf} is out of range (0..=51)"
    );
    ensure!(gop >= 1, "the intra period must be at least 1");
    ensure!(frames >= 1, "at least one frame is needed");
    Ok(())
}

/// The first `frames` frames of `source`, which must have that many.
fn read_source(source: &Path, frames: u32) -> Result<(VideoInfo, Vec<Yuv420>)> {
    let (info, src) = read_yuv420_frames(source, Some(frames))?;
    ensure!(
        src.len() == frames as usize,
        "{}: {frames} frames asked for, the video has {}",
        source.display(),
        src.len()
    );
    Ok((info, src))
}

/// [`run_anchor`] on source frames already read (`src`, all of them encoded).
fn anchor_point(
    anchor: Anchor,
    source: &Path,
    info: &VideoInfo,
    src: &[Yuv420],
    crf: f64,
    gop: u32,
    work_dir: &Path,
) -> Result<VideoPoint> {
    let frames = src.len();
    let out = work_dir.join(format!(
        "{}_crf{}.{}",
        anchor.name(),
        fmt_q(crf),
        anchor.extension()
    ));
    let n = frames.to_string();
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"]
        .map(String::from)
        .to_vec();
    let src_str = source
        .to_str()
        .ok_or_else(|| anyhow!("{}: path is not UTF-8", source.display()))?;
    let out_str = out
        .to_str()
        .ok_or_else(|| anyhow!("{}: path is not UTF-8", out.display()))?;
    args.push(src_str.into());
    args.extend(["-map".into(), "0:v:0".into(), "-an".into()]);
    args.extend(["-frames:v".into(), n]);
    args.extend(anchor.encode_args(crf, gop));
    args.push(out_str.into());
    let os_args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let t = Instant::now();
    run_tool("ffmpeg", PKG_FFMPEG, &os_args)?;
    let encode_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (_, decoded) = read_yuv420_frames(&out, None)
        .with_context(|| format!("decoding the {} bitstream", anchor.name()))?;
    let decode_seconds = t.elapsed().as_secs_f64();
    ensure!(
        decoded.len() == src.len(),
        "{}: decoded {} frames, encoded {}",
        out.display(),
        decoded.len(),
        src.len()
    );
    let sizes = packet_sizes(&out)?;
    let file_bytes = std::fs::metadata(&out)
        .with_context(|| format!("{}: cannot stat", out.display()))?
        .len();
    let packet_bytes: u64 = sizes.iter().map(|&s| s as u64).sum();
    ensure!(
        packet_bytes == file_bytes && sizes.len() == src.len(),
        "{}: {} packets of {packet_bytes} bytes in all for {} frames and a {file_bytes}-byte file",
        out.display(),
        sizes.len(),
        src.len()
    );
    let frame_bits = sizes.iter().map(|&s| 8 * s as u64).collect();
    let mut p = measure(src, &decoded, &info.colour, frame_bits)?;
    p.set_frame_types(periodic_types(src.len(), gop));
    p.quality = crf;
    p.encode_seconds = encode_seconds;
    p.decode_seconds = decode_seconds;
    Ok(p)
}

/// Runs `anchor` at every CRF of `crfs` on `source` (clip name = file stem).
pub fn run_anchor_clip(
    anchor: Anchor,
    source: &Path,
    crfs: &[f64],
    gop: u32,
    frames: u32,
    work_dir: &Path,
) -> Result<VideoClipResult> {
    for &c in crfs {
        check_settings(c, gop, frames)?;
    }
    // The source is read once for every CRF.
    let (info, src) = read_source(source, frames)?;
    let points = crfs
        .iter()
        .map(|&c| anchor_point(anchor, source, &info, &src, c, gop, work_dir))
        .collect::<Result<Vec<_>>>()?;
    Ok(VideoClipResult {
        codec: anchor.name().into(),
        clip: source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        width: info.width,
        height: info.height,
        frames,
        gop,
        points,
    })
}

/// BD-rate (in %) of `test` against `anchor` on (bpp, YUV-PSNR).
pub fn bd_rate_yuv(
    anchor: &VideoClipResult,
    test: &VideoClipResult,
    method: Method,
) -> Result<BdResult> {
    let curve = |r: &VideoClipResult| -> (Vec<f64>, Vec<f64>) {
        r.points.iter().map(|p| (p.bpp, p.yuv_psnr)).unzip()
    };
    let (ar, aq) = curve(anchor);
    let (tr, tq) = curve(test);
    Ok(bd_rate(&ar, &aq, &tr, &tq, method)?)
}

/// Codes the first `frames` frames (all when `None`) of `source` with a lic video model at each
/// quality, through real `.licv` files in `work_dir`, and measures them like the anchors. The
/// stream header's bytes are counted in the first frame's bits, so `Σ frame_bits` is the file
/// size. `encode_seconds` and `decode_seconds` are in-process times of [`encode_video`] (reading
/// the source included) and [`decode_video`] (from the file's bytes).
pub fn run_lic_clip(
    model: &VideoModel,
    source: &Path,
    qualities: &[f64],
    gop: u32,
    frames: Option<u32>,
    work_dir: &Path,
) -> Result<VideoClipResult> {
    let (info, src) = read_yuv420_frames(source, frames)?;
    ensure!(!src.is_empty(), "{}: no frames", source.display());
    let clip = source
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = src.len() as u32;
    let mut points = Vec::with_capacity(qualities.len());
    for &q in qualities {
        let mut reader = VideoReader::open(source, MAX_SIDE, MAX_PIXELS)?;
        let enc = encode_video(model, &mut reader, q, gop, Some(n), false, |_| {})
            .with_context(|| format!("encoding {} at quality {q}", source.display()))?;
        let path = work_dir.join(format!("{}_q{}.licv", model.id, fmt_q(q)));
        crate::io::file::write_atomic(&path, &enc.bytes)?;
        let bytes =
            std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let mut decoded = Vec::with_capacity(src.len());
        let t = Instant::now();
        decode_video(&bytes, model, false, |_, rgb| {
            decoded.push(rgb_to_yuv420(rgb, &info.colour));
            Ok::<(), VideoStreamError>(())
        })
        .with_context(|| format!("decoding {}", path.display()))?;
        let decode_seconds = t.elapsed().as_secs_f64();
        let frame_bits = file_frame_bits(&enc.frame_bytes, enc.bytes.len());
        let mut p = measure(&src, &decoded, &info.colour, frame_bits)?;
        p.set_frame_types(periodic_types(src.len(), gop));
        p.quality = q;
        p.encode_seconds = enc.seconds;
        p.decode_seconds = decode_seconds;
        points.push(p);
    }
    Ok(VideoClipResult {
        codec: model.id.clone(),
        clip,
        width: info.width,
        height: info.height,
        frames: n,
        gop,
        points,
    })
}

/// Codes the first `frames` frames (all when `None`) of `source` with `lic-mcw` at each quality
/// (with `all_intra`, every frame intra: the row that shows the inter-frame gain), through real
/// `.licv` files in `work_dir`, and measures them like the anchors. The stream header's bytes
/// are counted in the first frame's bits, so `Σ frame_bits` is the file size. `encode_seconds`
/// and `decode_seconds` are in-process times of [`crate::mcw::encode_stream`] (source frames in
/// memory) and [`crate::mcw::decode_stream`] (from the file's bytes).
pub fn run_mcw_clip(
    source: &Path,
    qualities: &[f64],
    gop: u32,
    frames: Option<u32>,
    work_dir: &Path,
    all_intra: bool,
) -> Result<VideoClipResult> {
    use crate::format::video::{FrameKind, VideoColour};
    let (info, src) = read_yuv420_frames(source, frames)?;
    ensure!(!src.is_empty(), "{}: no frames", source.display());
    let clip = source
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let codec = if all_intra {
        "lic-mcw-intra"
    } else {
        crate::mcw::MODEL_ID
    };
    let c = &info.colour;
    let colour = VideoColour {
        chroma: 0,
        matrix: c.matrix,
        range: c.range,
        primaries: c.primaries,
        transfer: c.transfer,
        chroma_location: c.chroma_location,
    };
    let mut points = Vec::with_capacity(qualities.len());
    for &q in qualities {
        let mut opts = crate::mcw::VideoOptions::new(q as f32);
        opts.gop = gop;
        opts.tools.inter = !all_intra;
        let t = Instant::now();
        let enc = crate::mcw::encode_stream(
            src.iter().cloned().map(Ok::<_, anyhow::Error>),
            opts,
            (info.fps_num, info.fps_den),
            colour,
            false,
            |_| {},
        )
        .with_context(|| format!("encoding {} at quality {q}", source.display()))?;
        let encode_seconds = t.elapsed().as_secs_f64();
        let path = work_dir.join(format!("{codec}_q{}.licv", fmt_q(q)));
        crate::io::file::write_atomic(&path, &enc.bytes)?;
        let bytes =
            std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let mut decoded = Vec::with_capacity(src.len());
        let t = Instant::now();
        crate::mcw::decode_stream(&bytes, false, |_, f| {
            decoded.push(f.clone());
            Ok::<(), crate::video::stream::StreamError>(())
        })
        .with_context(|| format!("decoding {}", path.display()))?;
        let decode_seconds = t.elapsed().as_secs_f64();
        let frame_bits = file_frame_bits(&enc.frame_bytes, enc.bytes.len());
        let mut p = measure(&src, &decoded, &info.colour, frame_bits)?;
        p.set_frame_types(
            enc.kinds
                .iter()
                .map(|k| if *k == FrameKind::Intra { 'I' } else { 'P' })
                .collect(),
        );
        p.quality = q;
        p.encode_seconds = encode_seconds;
        p.decode_seconds = decode_seconds;
        points.push(p);
    }
    Ok(VideoClipResult {
        codec: codec.into(),
        clip,
        width: info.width,
        height: info.height,
        frames: src.len() as u32,
        gop,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_checks_and_averages() {
        let a = Yuv420::filled(4, 4, 100, 128, 128);
        let mut b = a.clone();
        b.y.iter_mut().for_each(|v| *v += 1);
        let c = ColourInfo::default();
        let p = measure(
            &[a.clone(), a.clone()],
            &[a.clone(), b.clone()],
            &c,
            vec![64, 32],
        )
        .unwrap();
        assert_eq!(p.bpp, 96.0 / 32.0);
        assert_eq!(p.frame_bits, vec![64, 32]);
        let db1 = 10.0 * (255.0f64 * 255.0).log10();
        assert!((p.y_psnr - (100.0 + db1) / 2.0).abs() < 1e-9);
        assert_eq!(p.frame_yuv_psnr[0], 100.0);
        assert!((p.frame_yuv_psnr[1] - (6.0 * db1 + 200.0) / 8.0).abs() < 1e-9);
        assert!(p.rgb_psnr < 100.0 && p.rgb_psnr > 40.0);
        let one = std::slice::from_ref(&a);
        assert!(measure(one, one, &c, vec![]).is_err());
        assert!(measure(&[], &[], &c, vec![]).is_err());
        let small = Yuv420::filled(2, 2, 0, 0, 0);
        assert!(measure(&[a], &[small], &c, vec![1]).is_err());
    }

    #[test]
    fn anchor_names_and_args() {
        assert_eq!("HEVC".parse::<Anchor>().unwrap(), Anchor::X265);
        assert!("vp9".parse::<Anchor>().is_err());
        let a = Anchor::X264.encode_args(23.0, 32);
        let s = a.join(" ");
        assert!(
            s.contains("-crf 23 -bf 0 -g 32 -keyint_min 32 -sc_threshold 0"),
            "{s}"
        );
        assert!(s.ends_with("-f h264"), "{s}");
        let s = Anchor::X265.encode_args(30.5, 8).join(" ");
        assert!(s.contains("-crf 30.5"), "{s}");
        assert!(
            s.contains("keyint=8:min-keyint=8:scenecut=0:bframes=0"),
            "{s}"
        );
        for a in Anchor::ALL {
            assert!(a.default_crfs().windows(2).all(|w| w[0] < w[1]));
        }
    }
}
