//! Conventional codecs that call the system command-line tools: one table of [`AnchorSpec`]s
//! (tool, argv templates, quality range and ladder, file extensions, decoder) driven by one
//! [`Codec`] impl, [`ToolCodec`].
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

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use super::codec::{Codec, EncodeStats, SourceImage};
use crate::bt601::{read_y4m_444, write_y4m_444};
use crate::io::image::Image;

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
pub fn fmt_q(q: f64) -> String {
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

pub fn require_tool(tool: &str, package: &str) -> Result<()> {
    if find_tool(tool).is_none() {
        bail!(
            "`{tool}` not found on PATH: install the Debian package {package} \
             (scripts/setup.sh installs it)"
        );
    }
    Ok(())
}

/// Runs a tool to completion; a failure names the tool, its package and the tail of stderr.
pub fn run_tool(tool: &str, package: &str, args: &[&OsStr]) -> Result<()> {
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
pub fn tool_version(tool: &str, flag: &str) -> Option<String> {
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

/// What an anchor's encoder reads, made untimed by [`Codec::prepare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFile {
    /// The source PNG itself.
    Png,
    /// `source.ppm` (binary P6, [`write_ppm`]).
    Ppm,
    /// `source.y4m`: one 4:4:4 frame in full-range BT.601 YCbCr ([`write_y4m_444`]).
    Y4m444,
}

/// How an anchor's decoded file is read back as RGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodedFile {
    /// An image file (PNG, PPM, ...) loaded by `io::image`.
    Image,
    /// A 4:4:4 Y4M frame converted back to RGB ([`read_y4m_444`]).
    Y4m444,
}

/// The valid qualities of an anchor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QualityRange {
    /// The quality in words, for error messages (`JPEG quality`, `HEVC QP`, ...).
    pub what: &'static str,
    pub lo: f64,
    pub hi: f64,
    /// Only whole numbers.
    pub integer: bool,
    /// `lo` itself is refused: it is lossless, a different mode (JPEG XL distance 0).
    pub lo_is_lossless: bool,
}

/// A conventional codec described as data. The argv templates are arguments separated by spaces;
/// `{in}` and `{out}` are the input and output paths (whole arguments, passed as they are), and
/// `{q}` inside an argument is the quality as a command-line number (`50`, `1.5`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnchorSpec {
    /// Results id (`jpeg420`, `webp`, ...).
    pub id: &'static str,
    /// Names [`conventional_codec`] accepts for it (lower case; the first is its listed name).
    pub names: &'static [&'static str],
    /// The settings, in words, for the results description.
    pub description: &'static str,
    /// Debian package of the tools.
    pub package: &'static str,
    /// What the quality parameter means (`quality`, `qp`, `distance`, ...).
    pub quality_name: &'static str,
    pub quality: QualityRange,
    /// Default qualities from low to high rate ([`spread_ladder`]).
    pub ladder: &'static [f64],
    /// Whether qualities interpolated between ladder entries are rounded to whole numbers.
    pub ladder_integer: bool,
    pub source: SourceFile,
    pub encoder: &'static str,
    /// The encoder's arguments, separated by spaces.
    pub encode_args: &'static str,
    pub decoder: &'static str,
    /// The decoder's arguments, separated by spaces.
    pub decode_args: &'static str,
    /// Flag that makes the encoder print its version.
    pub version_flag: &'static str,
    /// Put before the version line (`libwebp `).
    pub version_prefix: &'static str,
    /// Extension of the bitstream file (no dot).
    pub bitstream_extension: &'static str,
    /// Extension of the decoded file (no dot).
    pub decoded_extension: &'static str,
    pub decoded: DecodedFile,
}

const PKG_JPEG: &str = "libjpeg-turbo-progs";
const PKG_WEBP: &str = "webp";
const PKG_AVIF: &str = "libavif-bin";
const PKG_JXL: &str = "libjxl-tools";
pub const PKG_FFMPEG: &str = "ffmpeg";

/// libjpeg-turbo `cjpeg`/`djpeg`, 4:2:0.
const JPEG420: AnchorSpec = AnchorSpec {
    id: "jpeg420",
    names: &["jpeg", "jpg", "jpeg420"],
    description: "libjpeg-turbo cjpeg -quality Q -optimize -sample 2x2 (4:2:0) (PPM in); \
                  decoded with djpeg (PPM)",
    package: PKG_JPEG,
    quality_name: "quality",
    quality: QualityRange {
        what: "JPEG quality",
        lo: 0.0,
        hi: 100.0,
        integer: true,
        lo_is_lossless: false,
    },
    ladder: &[3.0, 5.0, 10.0, 15.0, 25.0, 40.0, 60.0, 80.0, 90.0],
    ladder_integer: true,
    source: SourceFile::Ppm,
    encoder: "cjpeg",
    encode_args: "-quality {q} -optimize -sample 2x2 -outfile {out} {in}",
    decoder: "djpeg",
    decode_args: "-pnm -outfile {out} {in}",
    version_flag: "-version",
    version_prefix: "",
    bitstream_extension: "jpg",
    decoded_extension: "ppm",
    decoded: DecodedFile::Image,
};

/// libavif `avifenc` (libaom, 4:4:4, tune=psnr, speed 6: avifenc's default) / `avifdec` (dav1d).
const AVIF: AnchorSpec = AnchorSpec {
    id: "avif",
    names: &["avif"],
    description: "libavif avifenc (libaom) -s 6 -j 2 --yuv 444 -d 8 -r full --min Q --max Q \
                  -a tune=psnr --ignore-icc (PNG in); decoded with avifdec to 8-bit PNG",
    package: PKG_AVIF,
    quality_name: "quantizer(min=max)",
    quality: QualityRange {
        what: "AVIF quantizer",
        lo: 0.0,
        hi: 63.0,
        integer: true,
        lo_is_lossless: false,
    },
    ladder: &[62.0, 56.0, 50.0, 44.0, 38.0, 32.0, 26.0, 20.0, 14.0],
    ladder_integer: true,
    source: SourceFile::Png,
    encoder: "avifenc",
    encode_args: "-s 6 -j 2 --yuv 444 -d 8 -r full --min {q} --max {q} -a tune=psnr \
                  --ignore-icc {in} {out}",
    decoder: "avifdec",
    decode_args: "-d 8 {in} {out}",
    version_flag: "--version",
    version_prefix: "",
    bitstream_extension: "avif",
    decoded_extension: "png",
    decoded: DecodedFile::Image,
};

/// The conventional anchors, in the order of [`CONVENTIONAL_CODECS`].
pub const ANCHORS: &[AnchorSpec] = &[
    JPEG420,
    // The same, 4:4:4.
    AnchorSpec {
        id: "jpeg444",
        names: &["jpeg444"],
        description: "libjpeg-turbo cjpeg -quality Q -optimize -sample 1x1 (4:4:4) (PPM in); \
                      decoded with djpeg (PPM)",
        encode_args: "-quality {q} -optimize -sample 1x1 -outfile {out} {in}",
        ..JPEG420
    },
    // libwebp `cwebp`/`dwebp` (lossy, 4:2:0).
    AnchorSpec {
        id: "webp",
        names: &["webp"],
        description: "libwebp cwebp -q Q -m 6 -mt (lossy VP8, 4:2:0; PPM in); decoded with \
                      dwebp -mt -ppm",
        package: PKG_WEBP,
        quality_name: "quality",
        quality: QualityRange {
            what: "WebP quality",
            lo: 0.0,
            hi: 100.0,
            integer: false,
            lo_is_lossless: false,
        },
        ladder: &[0.0, 5.0, 15.0, 30.0, 50.0, 70.0, 85.0, 95.0],
        ladder_integer: true,
        source: SourceFile::Ppm,
        encoder: "cwebp",
        encode_args: "-quiet -q {q} -m 6 -mt {in} -o {out}",
        decoder: "dwebp",
        decode_args: "-quiet -mt -ppm {in} -o {out}",
        version_flag: "-version",
        version_prefix: "libwebp ",
        bitstream_extension: "webp",
        decoded_extension: "ppm",
        decoded: DecodedFile::Image,
    },
    AVIF,
    // The same at speed 2, the slow anchor.
    AnchorSpec {
        id: "avif-s2",
        names: &["avif-s2"],
        description: "libavif avifenc (libaom) -s 2 -j 2 --yuv 444 -d 8 -r full --min Q --max Q \
                      -a tune=psnr --ignore-icc (PNG in); decoded with avifdec to 8-bit PNG",
        encode_args: "-s 2 -j 2 --yuv 444 -d 8 -r full --min {q} --max {q} -a tune=psnr \
                      --ignore-icc {in} {out}",
        ..AVIF
    },
    // libjxl `cjxl`/`djxl` (VarDCT, effort 7); distance 0 would be lossless, cjxl accepts up to 25.
    AnchorSpec {
        id: "jxl",
        names: &["jxl", "jpegxl"],
        description:
            "libjxl cjxl -d D -e 7 --num_threads 2 (PPM in); decoded with djxl to 8-bit PPM",
        package: PKG_JXL,
        quality_name: "distance",
        quality: QualityRange {
            what: "JPEG XL distance",
            lo: 0.0,
            hi: 25.0,
            integer: false,
            lo_is_lossless: true,
        },
        ladder: &[18.0, 13.0, 9.0, 6.0, 4.0, 2.5, 1.5, 1.0, 0.5],
        ladder_integer: false,
        source: SourceFile::Ppm,
        encoder: "cjxl",
        encode_args: "{in} {out} -d {q} -e 7 --num_threads 2 --quiet",
        decoder: "djxl",
        decode_args: "{in} {out} --num_threads 2 --quiet",
        version_flag: "--version",
        version_prefix: "",
        bitstream_extension: "jxl",
        decoded_extension: "ppm",
        decoded: DecodedFile::Image,
    },
    // HEVC intra 4:4:4 ("BPG-like") with libx265 through `ffmpeg`.
    AnchorSpec {
        id: "x265-intra-444",
        names: &["x265", "hevc", "x265-intra-444", "bpg"],
        description: "HEVC intra ('BPG-like'): RGB -> full-range BT.601 YCbCr 4:4:4 8-bit (own \
                      conversion, not timed), ffmpeg libx265 -preset veryslow -tune psnr \
                      -x265-params qp=Q:no-info=1, one frame, raw Annex-B .hevc; decoded by \
                      ffmpeg -threads 2 to yuv444p, converted back to RGB (not timed)",
        package: PKG_FFMPEG,
        quality_name: "qp",
        quality: QualityRange {
            what: "HEVC QP",
            lo: 0.0,
            hi: 51.0,
            integer: true,
            lo_is_lossless: false,
        },
        ladder: &[46.0, 42.0, 38.0, 34.0, 30.0, 26.0, 22.0, 18.0],
        ladder_integer: true,
        source: SourceFile::Y4m444,
        encoder: "ffmpeg",
        encode_args: "-hide_banner -nostdin -loglevel error -y -i {in} -frames:v 1 -c:v libx265 \
                      -preset veryslow -tune psnr -x265-params qp={q}:no-info=1:log-level=error \
                      -f hevc {out}",
        decoder: "ffmpeg",
        decode_args: "-hide_banner -nostdin -loglevel error -y -threads 2 -i {in} \
                      -f yuv4mpegpipe -pix_fmt yuv444p {out}",
        version_flag: "-version",
        version_prefix: "",
        bitstream_extension: "hevc",
        decoded_extension: "y4m",
        decoded: DecodedFile::Y4m444,
    },
];

/// An argv from a template of [`AnchorSpec`].
fn argv(template: &str, input: &Path, out: &Path, q: Option<f64>) -> Vec<OsString> {
    let q = q.map(fmt_q);
    template
        .split_ascii_whitespace()
        .map(|a| match a {
            "{in}" => input.as_os_str().to_os_string(),
            "{out}" => out.as_os_str().to_os_string(),
            _ => match &q {
                Some(q) => a.replace("{q}", q).into(),
                None => a.into(),
            },
        })
        .collect()
}

/// The one [`Codec`] impl of the conventional anchors: runs the tools of its [`AnchorSpec`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToolCodec(pub &'static AnchorSpec);

impl ToolCodec {
    fn run(&self, tool: &str, args: &[OsString]) -> Result<()> {
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        run_tool(tool, self.0.package, &args)
    }
}

impl Codec for ToolCodec {
    fn name(&self) -> String {
        self.0.id.into()
    }
    fn description(&self) -> String {
        self.0.description.into()
    }
    fn version(&self) -> Option<String> {
        tool_version(self.0.encoder, self.0.version_flag)
            .map(|v| format!("{}{v}", self.0.version_prefix))
    }
    fn quality_name(&self) -> String {
        self.0.quality_name.into()
    }
    fn bitstream_extension(&self) -> String {
        self.0.bitstream_extension.into()
    }
    fn decoded_extension(&self) -> String {
        self.0.decoded_extension.into()
    }
    fn check_available(&self) -> Result<()> {
        let a = self.0;
        require_tool(a.encoder, a.package)?;
        if a.decoder != a.encoder {
            require_tool(a.decoder, a.package)?;
        }
        Ok(())
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        let r = &self.0.quality;
        if r.lo_is_lossless && q <= r.lo {
            bail!("{} {q} must be positive (0 is lossless)", r.what);
        }
        check_range(q, r.lo, r.hi, r.integer, r.what)
    }
    fn prepare(&self, src: &SourceImage, work_dir: &Path) -> Result<PathBuf> {
        match self.0.source {
            SourceFile::Png => Ok(src.png.clone()),
            SourceFile::Ppm => {
                let p = work_dir.join("source.ppm");
                write_ppm(&src.image, &p)?;
                Ok(p)
            }
            SourceFile::Y4m444 => {
                let p = work_dir.join("source.y4m");
                write_y4m_444(&src.image, &p)?;
                Ok(p)
            }
        }
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<EncodeStats> {
        self.run(
            self.0.encoder,
            &argv(self.0.encode_args, input, out, Some(q)),
        )?;
        Ok(EncodeStats::new())
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        self.run(
            self.0.decoder,
            &argv(self.0.decode_args, bitstream, out, None),
        )
    }
    fn read_decoded(&self, decoded: &Path) -> Result<Image> {
        match self.0.decoded {
            DecodedFile::Image => {
                let opts = crate::io::image::LoadOptions::default();
                Ok(crate::io::image::load(decoded, &opts)?.image)
            }
            DecodedFile::Y4m444 => read_y4m_444(decoded),
        }
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        spread_ladder(self.0.ladder, points, self.0.ladder_integer)
    }
}

/// Names accepted by [`conventional_codec`].
pub const CONVENTIONAL_CODECS: &[&str] =
    &["jpeg", "jpeg444", "webp", "avif", "avif-s2", "jxl", "x265"];

/// The anchor `name` stands for (case-insensitive).
pub fn anchor(name: &str) -> Option<&'static AnchorSpec> {
    let name = name.to_ascii_lowercase();
    ANCHORS.iter().find(|a| a.names.contains(&name.as_str()))
}

/// A conventional codec by name (`jpeg` is 4:2:0; the results ids are `jpeg420`, `jpeg444`,
/// `webp`, `avif`, `avif-s2`, `jxl`, `x265-intra-444`).
pub fn conventional_codec(name: &str) -> Result<Box<dyn Codec>> {
    match anchor(name) {
        Some(a) => Ok(Box::new(ToolCodec(a))),
        None => bail!(
            "unknown codec {name:?}; conventional codecs: {}",
            CONVENTIONAL_CODECS.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(name: &str) -> ToolCodec {
        ToolCodec(anchor(name).unwrap())
    }

    #[test]
    fn ladders() {
        let j = codec("jpeg");
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
            codec("webp").default_qualities(6),
            vec![0.0, 5.0, 30.0, 50.0, 85.0, 95.0]
        );
        assert_eq!(codec("x265").default_qualities(8)[0], 46.0);
        assert!(codec("jxl").default_qualities(12).iter().all(|&d| d > 0.0));
    }

    #[test]
    fn quality_checks_and_names() {
        let j = codec("jpeg444");
        assert!(j.check_quality(50.0).is_ok());
        assert!(j.check_quality(50.5).is_err());
        assert!(j.check_quality(101.0).is_err());
        assert!(codec("jxl").check_quality(0.0).is_err());
        assert!(codec("x265").check_quality(52.0).is_err());
        assert_eq!(conventional_codec("jpeg").unwrap().name(), "jpeg420");
        assert_eq!(conventional_codec("x265").unwrap().name(), "x265-intra-444");
        let e = conventional_codec("mp3").err().unwrap().to_string();
        assert!(e.contains("jpeg, jpeg444"), "{e}");
        assert_eq!(fmt_q(50.0), "50");
        assert_eq!(fmt_q(1.5), "1.5");
    }

    #[test]
    fn table_is_consistent() {
        for (a, listed) in ANCHORS.iter().zip(CONVENTIONAL_CODECS) {
            assert_eq!(a.names[0], *listed);
            assert_eq!(anchor(a.id), Some(a), "{}", a.id);
        }
        assert_eq!(ANCHORS.len(), CONVENTIONAL_CODECS.len());
        let q = argv(
            codec("x265").0.encode_args,
            Path::new("in.y4m"),
            Path::new("o.hevc"),
            Some(30.0),
        );
        assert!(q.contains(&OsString::from("qp=30:no-info=1:log-level=error")));
        assert!(q.contains(&OsString::from("in.y4m")) && q.contains(&OsString::from("o.hevc")));
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
}
