//! The [`Codec`] trait the evaluation loop drives, and conventional codecs that call the system
//! command-line tools.
//!
//! Settings follow `anchors/measured/README.md` of the shared anchors so our measurements are
//! comparable with those curves:
//!
//! | id | encode | decode |
//! |---|---|---|
//! | `jpeg420` / `jpeg444` | `cjpeg -quality Q -optimize -sample 2x2 / 1x1` (PPM in) | `djpeg` (PPM) |
//! | `webp` | `cwebp -q Q -m 6 -mt` (PPM in) | `dwebp -mt -ppm` |
//! | `avif` | `avifenc -s 6 -j 2 --yuv 444 -d 8 -r full --min Q --max Q -a tune=psnr --ignore-icc` (PNG in) | `avifdec` (PNG) |
//! | `jxl` | `cjxl -d D -e 7 --num_threads 2` (PPM in) | `djxl --num_threads 2` (PPM) |
//! | `x265-intra-444` | own RGB → full-range BT.601 YCbCr 4:4:4 (untimed), `ffmpeg -c:v libx265 -preset veryslow -tune psnr -x265-params qp=Q:no-info=1`, raw Annex-B | `ffmpeg -threads 2` to yuv444p, own YCbCr → RGB (untimed) |
//!
//! `--ignore-icc` keeps an ICC profile of the source PNG out of the AVIF file (the other codecs
//! read PPM, which has none; a 2.6 KB profile is 0.3 bpp on a 256x256 image, and avifdec cannot
//! write some profiles back to PNG). Kodak's PNGs carry none, so the Kodak anchors are unchanged.
//!
//! The x265 anchor in the shared measurements used the `x265` CLI; here libx265 is driven through
//! `ffmpeg` (same library and settings; the timings include ffmpeg's start-up).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use crate::io::image::Image;

/// A source image handed to [`Codec::prepare`].
#[derive(Clone, Debug)]
pub struct SourceImage {
    /// File name in the dataset (e.g. `kodim01.png`).
    pub name: String,
    /// An 8-bit RGB PNG with exactly the pixels of `image` (the dataset file itself when it is
    /// one, otherwise a normalised copy).
    pub png: PathBuf,
    /// The reference pixels the metrics compare against.
    pub image: Image,
}

/// An image codec as the evaluation loop sees it. Only [`Codec::encode`] and [`Codec::decode`]
/// are timed; both must work through real files so that the rate is the file size.
pub trait Codec: Send + Sync {
    /// Short id used as the results name (`jpeg420`, `webp`, a model name, ...).
    fn name(&self) -> String;
    /// The settings, in words, for the results description.
    fn description(&self) -> String {
        String::new()
    }
    /// Version string of the tool or model, when known.
    fn version(&self) -> Option<String> {
        None
    }
    /// Content hash of the model (learned codecs).
    fn hash(&self) -> Option<String> {
        None
    }
    /// What the quality parameter means (`quality`, `qp`, `distance`, ...).
    fn quality_name(&self) -> String {
        "quality".to_string()
    }
    /// Extension of the bitstream file (no dot).
    fn bitstream_extension(&self) -> String;
    /// Extension of the decoded file [`Codec::decode`] writes (no dot).
    fn decoded_extension(&self) -> String {
        "png".to_string()
    }
    /// Fails with a clear message when the codec cannot run (a tool is missing, ...).
    fn check_available(&self) -> Result<()> {
        Ok(())
    }
    /// Fails when `q` is not a valid quality for this codec.
    fn check_quality(&self, q: f64) -> Result<()> {
        if q.is_finite() {
            Ok(())
        } else {
            bail!("quality {q} is not a number")
        }
    }
    /// Untimed: turns the source into the file [`Codec::encode`] reads (written under `work_dir`).
    /// The default is the PNG itself.
    fn prepare(&self, src: &SourceImage, work_dir: &Path) -> Result<PathBuf> {
        let _ = work_dir;
        Ok(src.png.clone())
    }
    /// Timed: encodes `input` (from [`Codec::prepare`]) at quality `q` into the file `out`.
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<()>;
    /// Timed: decodes the bitstream file into `out` (extension [`Codec::decoded_extension`]).
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()>;
    /// Untimed: reads the decoded file back as 8-bit RGB. The default loads PNG/PNM/... files.
    fn read_decoded(&self, decoded: &Path) -> Result<Image> {
        let opts = crate::io::image::LoadOptions::default();
        Ok(crate::io::image::load(decoded, &opts)?.image)
    }
    /// `points` qualities spread over the codec's useful range, from low to high rate.
    fn default_qualities(&self, points: usize) -> Vec<f64>;
}

/// Picks `points` values from `ladder` (ordered from low to high rate): evenly spaced entries when
/// `points <= ladder.len()`, linear interpolation between entries (rounded when `integer`)
/// otherwise.
pub fn spread_ladder(ladder: &[f64], points: usize, integer: bool) -> Vec<f64> {
    let l = ladder.len();
    if points == 0 || l == 0 {
        return Vec::new();
    }
    if points == 1 {
        return vec![ladder[l / 2]];
    }
    let mut out: Vec<f64> = (0..points)
        .map(|i| {
            let pos = i as f64 * (l - 1) as f64 / (points - 1) as f64;
            if points <= l {
                ladder[pos.round() as usize]
            } else {
                let k = (pos.floor() as usize).min(l - 2);
                let t = pos - k as f64;
                let v = ladder[k] + t * (ladder[k + 1] - ladder[k]);
                if integer {
                    v.round()
                } else {
                    (v * 100.0).round() / 100.0
                }
            }
        })
        .collect();
    out.dedup();
    out
}

/// `q` as a command-line number (`50`, not `50.0`).
pub(crate) fn fmt_q(q: f64) -> String {
    if q == q.trunc() && q.abs() < 1e15 {
        format!("{}", q as i64)
    } else {
        format!("{q}")
    }
}

fn check_range(q: f64, lo: f64, hi: f64, integer: bool, what: &str) -> Result<()> {
    if !q.is_finite() || q < lo || q > hi || (integer && q != q.trunc()) {
        bail!(
            "{what} {q} is out of range ({}{lo}..={hi})",
            if integer { "integer " } else { "" }
        );
    }
    Ok(())
}

/// Is `name` an executable on PATH?
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub(crate) fn require_tool(tool: &str, package: &str) -> Result<()> {
    if find_tool(tool).is_none() {
        bail!(
            "`{tool}` not found on PATH: install the Debian package {package} \
             (scripts/setup.sh installs it)"
        );
    }
    Ok(())
}

/// Runs a tool to completion; a failure names the tool, its package and the tail of stderr.
pub(crate) fn run_tool(tool: &str, package: &str, args: &[&OsStr]) -> Result<()> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(
                    "`{tool}` not found on PATH: install the Debian package {package} \
                     (scripts/setup.sh installs it)"
                )
            } else {
                anyhow!("cannot run `{tool}`: {e}")
            }
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(6).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "`{tool} {}` failed ({}): {}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            out.status,
            tail.join(" | ")
        );
    }
    Ok(())
}

/// First line of `tool <flag>` output (stdout, else stderr).
pub(crate) fn tool_version(tool: &str, flag: &str) -> Option<String> {
    let out = Command::new(tool)
        .arg(flag)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}

/// Writes `img` as binary PPM (P6), always RGB.
pub fn write_ppm(img: &Image, path: &Path) -> Result<()> {
    let mut bytes = format!("P6\n{} {}\n255\n", img.width, img.height).into_bytes();
    bytes.extend_from_slice(&img.data);
    std::fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

fn prepare_ppm(src: &SourceImage, work_dir: &Path) -> Result<PathBuf> {
    let p = work_dir.join("source.ppm");
    write_ppm(&src.image, &p)?;
    Ok(p)
}

fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

/// libjpeg-turbo `cjpeg`/`djpeg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Jpeg {
    /// 4:4:4 (`-sample 1x1`) instead of 4:2:0 (`-sample 2x2`).
    pub full_chroma: bool,
}

const PKG_JPEG: &str = "libjpeg-turbo-progs";

impl Codec for Jpeg {
    fn name(&self) -> String {
        if self.full_chroma {
            "jpeg444"
        } else {
            "jpeg420"
        }
        .to_string()
    }
    fn description(&self) -> String {
        format!(
            "libjpeg-turbo cjpeg -quality Q -optimize -sample {} (PPM in); decoded with djpeg (PPM)",
            if self.full_chroma { "1x1 (4:4:4)" } else { "2x2 (4:2:0)" }
        )
    }
    fn version(&self) -> Option<String> {
        tool_version("cjpeg", "-version")
    }
    fn bitstream_extension(&self) -> String {
        "jpg".into()
    }
    fn decoded_extension(&self) -> String {
        "ppm".into()
    }
    fn check_available(&self) -> Result<()> {
        require_tool("cjpeg", PKG_JPEG)?;
        require_tool("djpeg", PKG_JPEG)
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        check_range(q, 0.0, 100.0, true, "JPEG quality")
    }
    fn prepare(&self, src: &SourceImage, work_dir: &Path) -> Result<PathBuf> {
        prepare_ppm(src, work_dir)
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<()> {
        let q = fmt_q(q);
        let sample = if self.full_chroma { "1x1" } else { "2x2" };
        run_tool(
            "cjpeg",
            PKG_JPEG,
            &[
                os("-quality"),
                os(&q),
                os("-optimize"),
                os("-sample"),
                os(sample),
                os("-outfile"),
                out.as_os_str(),
                input.as_os_str(),
            ],
        )
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        run_tool(
            "djpeg",
            PKG_JPEG,
            &[
                os("-pnm"),
                os("-outfile"),
                out.as_os_str(),
                bitstream.as_os_str(),
            ],
        )
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        spread_ladder(
            &[3.0, 5.0, 10.0, 15.0, 25.0, 40.0, 60.0, 80.0, 90.0],
            points,
            true,
        )
    }
}

/// libwebp `cwebp`/`dwebp` (lossy, 4:2:0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Webp;

const PKG_WEBP: &str = "webp";

impl Codec for Webp {
    fn name(&self) -> String {
        "webp".into()
    }
    fn description(&self) -> String {
        "libwebp cwebp -q Q -m 6 -mt (lossy VP8, 4:2:0; PPM in); decoded with dwebp -mt -ppm".into()
    }
    fn version(&self) -> Option<String> {
        tool_version("cwebp", "-version").map(|v| format!("libwebp {v}"))
    }
    fn bitstream_extension(&self) -> String {
        "webp".into()
    }
    fn decoded_extension(&self) -> String {
        "ppm".into()
    }
    fn check_available(&self) -> Result<()> {
        require_tool("cwebp", PKG_WEBP)?;
        require_tool("dwebp", PKG_WEBP)
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        check_range(q, 0.0, 100.0, false, "WebP quality")
    }
    fn prepare(&self, src: &SourceImage, work_dir: &Path) -> Result<PathBuf> {
        prepare_ppm(src, work_dir)
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<()> {
        let q = fmt_q(q);
        run_tool(
            "cwebp",
            PKG_WEBP,
            &[
                os("-quiet"),
                os("-q"),
                os(&q),
                os("-m"),
                os("6"),
                os("-mt"),
                input.as_os_str(),
                os("-o"),
                out.as_os_str(),
            ],
        )
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        run_tool(
            "dwebp",
            PKG_WEBP,
            &[
                os("-quiet"),
                os("-mt"),
                os("-ppm"),
                bitstream.as_os_str(),
                os("-o"),
                out.as_os_str(),
            ],
        )
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        spread_ladder(
            &[0.0, 5.0, 15.0, 30.0, 50.0, 70.0, 85.0, 95.0],
            points,
            true,
        )
    }
}

/// libavif `avifenc` (libaom, 4:4:4, tune=psnr) / `avifdec` (dav1d).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avif {
    /// libaom speed (`-s`): 6 is avifenc's default, 2 is the slow anchor.
    pub speed: u32,
}

impl Default for Avif {
    fn default() -> Self {
        Avif { speed: 6 }
    }
}

const PKG_AVIF: &str = "libavif-bin";

impl Codec for Avif {
    fn name(&self) -> String {
        if self.speed == 6 {
            "avif".into()
        } else {
            format!("avif-s{}", self.speed)
        }
    }
    fn description(&self) -> String {
        format!(
            "libavif avifenc (libaom) -s {} -j 2 --yuv 444 -d 8 -r full --min Q --max Q -a tune=psnr \
             --ignore-icc (PNG in); decoded with avifdec to 8-bit PNG",
            self.speed
        )
    }
    fn version(&self) -> Option<String> {
        tool_version("avifenc", "--version")
    }
    fn quality_name(&self) -> String {
        "quantizer(min=max)".into()
    }
    fn bitstream_extension(&self) -> String {
        "avif".into()
    }
    fn check_available(&self) -> Result<()> {
        require_tool("avifenc", PKG_AVIF)?;
        require_tool("avifdec", PKG_AVIF)
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        check_range(q, 0.0, 63.0, true, "AVIF quantizer")
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<()> {
        let q = fmt_q(q);
        let s = self.speed.to_string();
        run_tool(
            "avifenc",
            PKG_AVIF,
            &[
                os("-s"),
                os(&s),
                os("-j"),
                os("2"),
                os("--yuv"),
                os("444"),
                os("-d"),
                os("8"),
                os("-r"),
                os("full"),
                os("--min"),
                os(&q),
                os("--max"),
                os(&q),
                os("-a"),
                os("tune=psnr"),
                os("--ignore-icc"),
                input.as_os_str(),
                out.as_os_str(),
            ],
        )
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        run_tool(
            "avifdec",
            PKG_AVIF,
            &[os("-d"), os("8"), bitstream.as_os_str(), out.as_os_str()],
        )
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        spread_ladder(
            &[62.0, 56.0, 50.0, 44.0, 38.0, 32.0, 26.0, 20.0, 14.0],
            points,
            true,
        )
    }
}

/// libjxl `cjxl`/`djxl` (VarDCT, effort 7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Jxl;

const PKG_JXL: &str = "libjxl-tools";

impl Codec for Jxl {
    fn name(&self) -> String {
        "jxl".into()
    }
    fn description(&self) -> String {
        "libjxl cjxl -d D -e 7 --num_threads 2 (PPM in); decoded with djxl to 8-bit PPM".into()
    }
    fn version(&self) -> Option<String> {
        tool_version("cjxl", "--version")
    }
    fn quality_name(&self) -> String {
        "distance".into()
    }
    fn bitstream_extension(&self) -> String {
        "jxl".into()
    }
    fn decoded_extension(&self) -> String {
        "ppm".into()
    }
    fn check_available(&self) -> Result<()> {
        require_tool("cjxl", PKG_JXL)?;
        require_tool("djxl", PKG_JXL)
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        // 0 would be lossless (a different mode); cjxl accepts distances up to 25.
        if q <= 0.0 {
            bail!("JPEG XL distance {q} must be positive (0 is lossless)");
        }
        check_range(q, 0.0, 25.0, false, "JPEG XL distance")
    }
    fn prepare(&self, src: &SourceImage, work_dir: &Path) -> Result<PathBuf> {
        prepare_ppm(src, work_dir)
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<()> {
        let q = fmt_q(q);
        run_tool(
            "cjxl",
            PKG_JXL,
            &[
                input.as_os_str(),
                out.as_os_str(),
                os("-d"),
                os(&q),
                os("-e"),
                os("7"),
                os("--num_threads"),
                os("2"),
                os("--quiet"),
            ],
        )
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        run_tool(
            "djxl",
            PKG_JXL,
            &[
                bitstream.as_os_str(),
                out.as_os_str(),
                os("--num_threads"),
                os("2"),
                os("--quiet"),
            ],
        )
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        spread_ladder(
            &[18.0, 13.0, 9.0, 6.0, 4.0, 2.5, 1.5, 1.0, 0.5],
            points,
            false,
        )
    }
}

/// HEVC intra 4:4:4 ("BPG-like") with libx265 through `ffmpeg`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct X265;

pub(crate) const PKG_FFMPEG: &str = "ffmpeg";

/// Full-range BT.601 (JFIF) RGB → YCbCr, rounded (half to even, like numpy) and clamped to 8 bits.
pub fn rgb_to_ycbcr(p: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (p[0] as f64, p[1] as f64, p[2] as f64);
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    [y, cb, cr].map(|v| v.round_ties_even().clamp(0.0, 255.0) as u8)
}

/// Full-range BT.601 (JFIF) YCbCr → RGB, rounded (half to even) and clamped to 8 bits.
pub fn ycbcr_to_rgb(p: [u8; 3]) -> [u8; 3] {
    let (y, cb, cr) = (p[0] as f64, p[1] as f64 - 128.0, p[2] as f64 - 128.0);
    let r = y + 1.402 * cr;
    let g = y - 0.344_136 * cb - 0.714_136 * cr;
    let b = y + 1.772 * cb;
    [r, g, b].map(|v| v.round_ties_even().clamp(0.0, 255.0) as u8)
}

/// Writes `img` as a one-frame 4:4:4 Y4M file in full-range BT.601 YCbCr (planar).
pub fn write_y4m_444(img: &Image, path: &Path) -> Result<()> {
    let n = img.pixels() as usize;
    let header = format!(
        "YUV4MPEG2 W{} H{} F25:1 Ip C444\nFRAME\n",
        img.width, img.height
    );
    let mut bytes = Vec::with_capacity(header.len() + 3 * n);
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(header.len() + 3 * n, 0);
    let (_, planes) = bytes.split_at_mut(header.len());
    let (yp, rest) = planes.split_at_mut(n);
    let (cbp, crp) = rest.split_at_mut(n);
    for (i, px) in img.data.chunks_exact(3).enumerate() {
        let [y, cb, cr] = rgb_to_ycbcr([px[0], px[1], px[2]]);
        yp[i] = y;
        cbp[i] = cb;
        crp[i] = cr;
    }
    std::fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// Reads the first frame of an 8-bit 4:4:4 Y4M file and converts it to RGB (full-range BT.601).
pub fn read_y4m_444(path: &Path) -> Result<Image> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let bad = |why: &str| anyhow!("{}: not an 8-bit 4:4:4 Y4M file ({why})", path.display());
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header"))?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| bad("header is not text"))?;
    let mut tokens = header.split_ascii_whitespace();
    if tokens.next() != Some("YUV4MPEG2") {
        return Err(bad("no YUV4MPEG2 signature"));
    }
    let (mut w, mut h, mut c444) = (0u32, 0u32, false);
    for t in tokens {
        match t.split_at(1) {
            ("W", v) => w = v.parse().map_err(|_| bad("bad width"))?,
            ("H", v) => h = v.parse().map_err(|_| bad("bad height"))?,
            ("C", v) => c444 = v == "444",
            _ => {}
        }
    }
    if !c444 {
        return Err(bad("colour space is not C444"));
    }
    let rest = &bytes[nl + 1..];
    if !rest.starts_with(b"FRAME") {
        return Err(bad("no FRAME"));
    }
    let fnl = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("truncated FRAME line"))?;
    let data = &rest[fnl + 1..];
    let n = w as usize * h as usize;
    if w == 0 || h == 0 || data.len() < 3 * n {
        return Err(bad("truncated frame"));
    }
    let mut rgb = Vec::with_capacity(3 * n);
    for i in 0..n {
        rgb.extend_from_slice(&ycbcr_to_rgb([data[i], data[n + i], data[2 * n + i]]));
    }
    Ok(Image::new(w, h, rgb))
}

impl Codec for X265 {
    fn name(&self) -> String {
        "x265-intra-444".into()
    }
    fn description(&self) -> String {
        "HEVC intra ('BPG-like'): RGB -> full-range BT.601 YCbCr 4:4:4 8-bit (own conversion, not \
         timed), ffmpeg libx265 -preset veryslow -tune psnr -x265-params qp=Q:no-info=1, one frame, \
         raw Annex-B .hevc; decoded by ffmpeg -threads 2 to yuv444p, converted back to RGB (not timed)"
            .into()
    }
    fn version(&self) -> Option<String> {
        tool_version("ffmpeg", "-version")
    }
    fn quality_name(&self) -> String {
        "qp".into()
    }
    fn bitstream_extension(&self) -> String {
        "hevc".into()
    }
    fn decoded_extension(&self) -> String {
        "y4m".into()
    }
    fn check_available(&self) -> Result<()> {
        require_tool("ffmpeg", PKG_FFMPEG)
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        check_range(q, 0.0, 51.0, true, "HEVC QP")
    }
    fn prepare(&self, src: &SourceImage, work_dir: &Path) -> Result<PathBuf> {
        let p = work_dir.join("source.y4m");
        write_y4m_444(&src.image, &p)?;
        Ok(p)
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<()> {
        let params = format!("qp={}:no-info=1:log-level=error", fmt_q(q));
        run_tool(
            "ffmpeg",
            PKG_FFMPEG,
            &[
                os("-hide_banner"),
                os("-nostdin"),
                os("-loglevel"),
                os("error"),
                os("-y"),
                os("-i"),
                input.as_os_str(),
                os("-frames:v"),
                os("1"),
                os("-c:v"),
                os("libx265"),
                os("-preset"),
                os("veryslow"),
                os("-tune"),
                os("psnr"),
                os("-x265-params"),
                os(&params),
                os("-f"),
                os("hevc"),
                out.as_os_str(),
            ],
        )
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        run_tool(
            "ffmpeg",
            PKG_FFMPEG,
            &[
                os("-hide_banner"),
                os("-nostdin"),
                os("-loglevel"),
                os("error"),
                os("-y"),
                os("-threads"),
                os("2"),
                os("-i"),
                bitstream.as_os_str(),
                os("-f"),
                os("yuv4mpegpipe"),
                os("-pix_fmt"),
                os("yuv444p"),
                out.as_os_str(),
            ],
        )
    }
    fn read_decoded(&self, decoded: &Path) -> Result<Image> {
        read_y4m_444(decoded)
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        spread_ladder(
            &[46.0, 42.0, 38.0, 34.0, 30.0, 26.0, 22.0, 18.0],
            points,
            true,
        )
    }
}

/// Names accepted by [`conventional_codec`].
pub const CONVENTIONAL_CODECS: &[&str] =
    &["jpeg", "jpeg444", "webp", "avif", "avif-s2", "jxl", "x265"];

/// A conventional codec by name (`jpeg` is 4:2:0; the results ids are `jpeg420`, `jpeg444`,
/// `webp`, `avif`, `avif-s2`, `jxl`, `x265-intra-444`).
pub fn conventional_codec(name: &str) -> Result<Box<dyn Codec>> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "jpeg" | "jpg" | "jpeg420" => Box::new(Jpeg { full_chroma: false }),
        "jpeg444" => Box::new(Jpeg { full_chroma: true }),
        "webp" => Box::new(Webp),
        "avif" => Box::new(Avif::default()),
        "avif-s2" => Box::new(Avif { speed: 2 }),
        "jxl" | "jpegxl" => Box::new(Jxl),
        "x265" | "hevc" | "x265-intra-444" | "bpg" => Box::new(X265),
        _ => bail!(
            "unknown codec {name:?}; conventional codecs: {}",
            CONVENTIONAL_CODECS.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders() {
        let j = Jpeg { full_chroma: false };
        assert_eq!(
            j.default_qualities(6),
            vec![3.0, 10.0, 15.0, 40.0, 60.0, 90.0]
        );
        assert_eq!(j.default_qualities(9).len(), 9);
        assert_eq!(j.default_qualities(2), vec![3.0, 90.0]);
        let many = j.default_qualities(17);
        assert_eq!(many.len(), 17);
        assert!(many.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            Webp.default_qualities(6),
            vec![0.0, 5.0, 30.0, 50.0, 85.0, 95.0]
        );
        assert_eq!(X265.default_qualities(8)[0], 46.0);
        assert!(Jxl.default_qualities(12).iter().all(|&d| d > 0.0));
    }

    #[test]
    fn quality_checks_and_names() {
        let j = Jpeg { full_chroma: true };
        assert!(j.check_quality(50.0).is_ok());
        assert!(j.check_quality(50.5).is_err());
        assert!(j.check_quality(101.0).is_err());
        assert!(Jxl.check_quality(0.0).is_err());
        assert!(X265.check_quality(52.0).is_err());
        assert_eq!(conventional_codec("jpeg").unwrap().name(), "jpeg420");
        assert_eq!(conventional_codec("x265").unwrap().name(), "x265-intra-444");
        let e = conventional_codec("mp3").err().unwrap().to_string();
        assert!(e.contains("jpeg, jpeg444"), "{e}");
        assert_eq!(fmt_q(50.0), "50");
        assert_eq!(fmt_q(1.5), "1.5");
    }

    #[test]
    fn missing_tool_names_the_package() {
        let e = run_tool("lic-no-such-tool", "some-package", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("some-package"), "{e}");
        assert!(require_tool("lic-no-such-tool", "pkg-x")
            .unwrap_err()
            .to_string()
            .contains("pkg-x"));
    }

    #[test]
    fn ycbcr_round_trip_and_y4m() {
        let mut max_err = 0;
        for r in (0..=255).step_by(5) {
            for g in (0..=255).step_by(7) {
                for b in (0..=255).step_by(11) {
                    let back = ycbcr_to_rgb(rgb_to_ycbcr([r as u8, g as u8, b as u8]));
                    for (x, y) in back.iter().zip([r, g, b]) {
                        max_err = max_err.max((*x as i32 - y).abs());
                    }
                }
            }
        }
        assert!(max_err <= 2, "8-bit YCbCr round trip error {max_err}");
        let img = Image::new(3, 2, (0..18).map(|v| (v * 14) as u8).collect());
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.y4m");
        write_y4m_444(&img, &p).unwrap();
        let back = read_y4m_444(&p).unwrap();
        assert_eq!((back.width, back.height), (3, 2));
        assert!(back
            .data
            .iter()
            .zip(&img.data)
            .all(|(a, b)| (*a as i32 - *b as i32).abs() <= 2));
    }
}
