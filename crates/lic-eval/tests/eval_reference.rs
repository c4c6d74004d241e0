//! Reference tests of the evaluation toolkit against the Python packages the field uses:
//! `pytorch_msssim` 1.0.0 (MS-SSIM) and `bjontegaard` 1.3.0 (BD-rate / BD-PSNR).
//!
//! The expected numbers come from `scripts/reference/msssim_reference.py` and
//! `scripts/reference/bdrate_reference.py` (see their headers for how to regenerate them).

use std::path::{Path, PathBuf};

use lic::io::image::Image;
use lic::metrics::{ms_ssim, ms_ssim_db, psnr_rgb, MetricError, PSNR_CAP_DB};
use lic_eval::bdrate::{bd_quality, bd_rate, Method};
use lic_eval::results::RdResults;

/// splitmix64: a tiny deterministic PRNG (integer only, identical on every platform).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform integer in `-a..=a`.
    fn sym(&mut self, a: i32) -> i32 {
        (self.next() % (2 * a as u64 + 1)) as i32 - a
    }
}

fn clamp8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// A smooth, textured test picture from integer formulas only.
fn pattern(w: u32, h: u32, seed: u64) -> Image {
    let mut rng = Rng(seed);
    // Low-frequency random field: random values on an 16-pixel grid, bilinearly interpolated.
    let gw = (w / 16 + 2) as usize;
    let gh = (h / 16 + 2) as usize;
    let grid: Vec<i32> = (0..gw * gh * 3)
        .map(|_| (rng.next() % 256) as i32)
        .collect();
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let (gx, gy) = ((x / 16) as usize, (y / 16) as usize);
            let (fx, fy) = ((x % 16) as i32, (y % 16) as i32);
            for c in 0..3 {
                let at = |i: usize, j: usize| grid[(j * gw + i) * 3 + c];
                let top = at(gx, gy) * (16 - fx) + at(gx + 1, gy) * fx;
                let bot = at(gx, gy + 1) * (16 - fx) + at(gx + 1, gy + 1) * fx;
                let smooth = (top * (16 - fy) + bot * fy) / 256;
                // Fine structure: diagonal stripes and a checkerboard of different periods.
                let stripes = if ((x + 2 * y + 7 * c as u32) / 5).is_multiple_of(2) {
                    18
                } else {
                    -18
                };
                let checker = if ((x / 9) + (y / 13)) % 2 == 0 {
                    10
                } else {
                    -10
                };
                data.push(clamp8(smooth + stripes + checker));
            }
        }
    }
    Image::new(w, h, data)
}

fn add_noise(img: &Image, amp: i32, seed: u64) -> Image {
    let mut rng = Rng(seed);
    let data = img
        .data
        .iter()
        .map(|&v| clamp8(v as i32 + rng.sym(amp)))
        .collect();
    Image::new(img.width, img.height, data)
}

fn box_blur3(img: &Image) -> Image {
    let (w, h) = (img.width as i32, img.height as i32);
    let mut data = Vec::with_capacity(img.data.len());
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut s = 0;
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        let (xx, yy) = ((x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1));
                        s += img.data[((yy * w + xx) * 3 + c) as usize] as i32;
                    }
                }
                data.push(((s + 4) / 9) as u8);
            }
        }
    }
    Image::new(img.width, img.height, data)
}

/// The reference pairs (name, X, Y). Sizes cover even and odd sides (odd sides exercise the padded
/// average pooling) and the minimum size 161.
fn pairs() -> Vec<(&'static str, Image, Image)> {
    let a = pattern(256, 192, 1);
    let p1 = add_noise(&a, 12, 11);
    let b = pattern(192, 256, 2);
    let p2 = box_blur3(&b);
    let c = pattern(203, 171, 3);
    let p3 = Image::new(203, 171, c.data.iter().map(|&v| (v & 0xF0) | 8).collect());
    // One channel inverted: negative contrast-structure there, so the relu clamps it.
    let d = pattern(200, 180, 4);
    let mut p4 = add_noise(&d, 6, 44);
    for px in p4.data.chunks_exact_mut(3) {
        px[2] = 255 - px[2];
    }
    // Minimum size, heavy noise.
    let e = pattern(161, 161, 5);
    let p5 = add_noise(&e, 60, 55);
    vec![
        ("noise12", a, p1),
        ("blur3", b, p2),
        ("posterize_odd", c, p3),
        ("inverted_blue", d, p4),
        ("heavy_noise_161", e, p5),
    ]
}

/// `(name, ms_ssim, psnr)` from `pytorch_msssim.ms_ssim(X.double(), Y.double(), data_range=255,
/// size_average=True)` and numpy's PSNR, by `scripts/reference/msssim_reference.py`.
const MSSSIM_REFERENCE: &[(&str, f64, f64)] = &[
    ("noise12", 0.9937251057391628, 31.00031156916817), // float32: 0.9937252402305603, size 256x192
    ("blur3", 0.9694834739685412, 26.16991409671893),   // float32: 0.9694835543632507, size 192x256
    ("posterize_odd", 0.9969142283633082, 34.74283525350762), // float32: 0.9969142079353333, size 203x171
    ("inverted_blue", 0.6655773643352246, 12.448732135878677), // float32: 0.6655773520469666, size 200x180
    ("heavy_noise_161", 0.888662748588153, 17.47784322234397), // float32: 0.8886628150939941, size 161x161
];

/// Writes the reference pairs as PNG into `$LIC_REF_DIR` for the Python script.
#[test]
#[ignore = "writes the reference images for scripts/reference/msssim_reference.py"]
fn dump_msssim_reference_images() {
    let dir = PathBuf::from(std::env::var("LIC_REF_DIR").expect("set LIC_REF_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, x, y) in pairs() {
        lic::io::image::save(&x, &dir.join(format!("{name}_x.png"))).unwrap();
        lic::io::image::save(&y, &dir.join(format!("{name}_y.png"))).unwrap();
    }
}

#[test]
fn ms_ssim_and_psnr_match_pytorch_msssim() {
    let pairs = pairs();
    assert_eq!(pairs.len(), MSSSIM_REFERENCE.len());
    let mut max_ms = 0.0f64;
    let mut max_psnr = 0.0f64;
    for ((name, x, y), &(rname, ms_ref, psnr_ref)) in pairs.iter().zip(MSSSIM_REFERENCE) {
        assert_eq!(*name, rname);
        let ms = ms_ssim(x, y).unwrap();
        let p = psnr_rgb(x, y).unwrap();
        eprintln!(
            "{name}: ms-ssim {ms:.12} (ref {ms_ref:.12}, Δ {:.2e}), psnr {p:.9} (Δ {:.2e})",
            ms - ms_ref,
            p - psnr_ref
        );
        max_ms = max_ms.max((ms - ms_ref).abs());
        max_psnr = max_psnr.max((p - psnr_ref).abs());
    }
    eprintln!("max |Δ| MS-SSIM {max_ms:e}, PSNR {max_psnr:e}");
    assert!(
        max_ms <= 1e-9,
        "MS-SSIM differs from pytorch_msssim by {max_ms:e}"
    );
    assert!(max_psnr <= 1e-9, "PSNR differs from numpy by {max_psnr:e}");
}

#[test]
fn metric_edge_cases() {
    let x = pattern(192, 170, 9);
    assert_eq!(psnr_rgb(&x, &x).unwrap(), PSNR_CAP_DB);
    assert!((ms_ssim(&x, &x).unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(ms_ssim_db(1.0), PSNR_CAP_DB);
    let small = pattern(300, 160, 1);
    match ms_ssim(&small, &small) {
        Err(MetricError::TooSmall { min: 160, .. }) => {}
        other => panic!("expected TooSmall, got {other:?}"),
    }
    let other = pattern(192, 171, 9);
    assert!(matches!(
        psnr_rgb(&x, &other),
        Err(MetricError::SizeMismatch { .. })
    ));
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("anchors")
        .join(rel)
}

fn db(ms: &[f64]) -> Vec<f64> {
    ms.iter().map(|&m| ms_ssim_db(m)).collect()
}

/// `(test, anchor, metric, method, bd_rate %, bd_quality)` from `bjontegaard` 1.3.0
/// (`require_matching_points=False`), by `scripts/reference/bdrate_reference.py`.
const BD_REFERENCE: &[(&str, &str, &str, &str, f64, f64)] = &[
    (
        "measured/kodak/avif.json",
        "kodak/vtm.json",
        "psnr",
        "pchip",
        35.27762507740162,
        -1.327322037071397,
    ),
    (
        "measured/kodak/avif.json",
        "kodak/vtm.json",
        "psnr",
        "cubic",
        34.98167313476215,
        -1.3192302935094191,
    ),
    (
        "measured/kodak/avif.json",
        "kodak/vtm.json",
        "ms-ssim-db",
        "pchip",
        29.76114012466471,
        -1.0787275491266757,
    ),
    (
        "measured/kodak/avif.json",
        "kodak/vtm.json",
        "ms-ssim-db",
        "cubic",
        29.354106366383004,
        -1.08369890650505,
    ),
    (
        "measured/kodak/webp.json",
        "kodak/vtm.json",
        "psnr",
        "pchip",
        81.86479124458094,
        -2.8073488942680034,
    ),
    (
        "measured/kodak/webp.json",
        "kodak/vtm.json",
        "psnr",
        "cubic",
        81.58695234013757,
        -2.842099752517222,
    ),
    (
        "measured/kodak/webp.json",
        "kodak/vtm.json",
        "ms-ssim-db",
        "pchip",
        60.002208134295934,
        -2.101570333320767,
    ),
    (
        "measured/kodak/webp.json",
        "kodak/vtm.json",
        "ms-ssim-db",
        "cubic",
        60.278856828439785,
        -2.127774328526581,
    ),
    (
        "measured/kodak/x265-intra-444.json",
        "measured/kodak/jpeg420.json",
        "psnr",
        "pchip",
        -55.471663001454594,
        4.178820338936763,
    ),
    (
        "measured/kodak/x265-intra-444.json",
        "measured/kodak/jpeg420.json",
        "psnr",
        "cubic",
        -55.53778773832294,
        4.174600174670084,
    ),
    (
        "measured/kodak/x265-intra-444.json",
        "measured/kodak/jpeg420.json",
        "ms-ssim-db",
        "pchip",
        -40.87847730983122,
        2.7693473449644004,
    ),
    (
        "measured/kodak/x265-intra-444.json",
        "measured/kodak/jpeg420.json",
        "ms-ssim-db",
        "cubic",
        -40.72582210532839,
        2.77767622614937,
    ),
    (
        "measured/kodak/webp.json",
        "measured/kodak/avif.json",
        "psnr",
        "pchip",
        36.27346833245364,
        -1.43600935228346,
    ),
    (
        "measured/kodak/webp.json",
        "measured/kodak/avif.json",
        "psnr",
        "cubic",
        36.330714562610986,
        -1.4686052154535316,
    ),
    (
        "measured/kodak/webp.json",
        "measured/kodak/avif.json",
        "ms-ssim-db",
        "pchip",
        24.683762674867225,
        -0.9574212409779085,
    ),
    (
        "measured/kodak/webp.json",
        "measured/kodak/avif.json",
        "ms-ssim-db",
        "cubic",
        25.031633109778628,
        -0.9665434023779327,
    ),
    (
        "kodak/vtm.json",
        "kodak/bpg_444_x265_ycbcr.json",
        "psnr",
        "pchip",
        -18.02419503296503,
        0.9774679995600338,
    ),
    (
        "kodak/vtm.json",
        "kodak/bpg_444_x265_ycbcr.json",
        "psnr",
        "cubic",
        -18.066750251874996,
        0.9944261814440927,
    ),
    (
        "kodak/vtm.json",
        "kodak/bpg_444_x265_ycbcr.json",
        "ms-ssim-db",
        "pchip",
        -17.70329207560778,
        0.9264324688082568,
    ),
    (
        "kodak/vtm.json",
        "kodak/bpg_444_x265_ycbcr.json",
        "ms-ssim-db",
        "cubic",
        -17.860446175463764,
        0.9448482165521742,
    ),
];

#[test]
fn bd_rate_matches_bjontegaard_package() {
    let mut max_rate = 0.0f64;
    let mut max_q = 0.0f64;
    for &(test, anchor, metric, method, rate_ref, q_ref) in BD_REFERENCE {
        let t = RdResults::read(&fixture(test)).unwrap();
        let a = RdResults::read(&fixture(anchor)).unwrap();
        let method: Method = method.parse().unwrap();
        let (qa, qt) = match metric {
            "psnr" => (a.results.psnr_rgb.clone(), t.results.psnr_rgb.clone()),
            "ms-ssim-db" => (db(&a.results.ms_ssim), db(&t.results.ms_ssim)),
            _ => unreachable!(),
        };
        let r = bd_rate(&a.results.bpp, &qa, &t.results.bpp, &qt, method).unwrap();
        let q = bd_quality(&a.results.bpp, &qa, &t.results.bpp, &qt, method).unwrap();
        eprintln!("{test} vs {anchor} {metric} {method}: BD-rate {:.6}% (ref {rate_ref:.6}), BD-q {:.6} (ref {q_ref:.6})",
            r.value, q.value);
        max_rate = max_rate.max((r.value - rate_ref).abs());
        max_q = max_q.max((q.value - q_ref).abs());
    }
    eprintln!("max |Δ| BD-rate {max_rate:e} points, BD-quality {max_q:e}");
    assert!(
        max_rate <= 1e-8,
        "BD-rate differs from bjontegaard by {max_rate:e} percentage points"
    );
    assert!(
        max_q <= 1e-8,
        "BD-quality differs from bjontegaard by {max_q:e}"
    );
}

#[test]
fn all_shipped_and_shared_anchors_parse() {
    let mut dirs = vec![fixture("kodak"), fixture("measured/kodak")];
    // The shared anchors, when this machine has them.
    let shared = Path::new("/work/shared/anchors");
    if shared.is_dir() {
        let mut stack = vec![shared.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p.clone());
                    dirs.push(p);
                }
            }
        }
    }
    let mut n = 0;
    for d in dirs {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&p).unwrap();
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                if v.get("results").is_none() {
                    // Not a results file (per-image lists, the DCVC video anchor).
                    continue;
                }
                let r = RdResults::from_json(&text, &p).unwrap_or_else(|e| panic!("{e}"));
                let has_rate = !r.results.bpp.is_empty() || r.results.extra.contains_key("bitrate");
                assert!(has_rate, "{}: no rate", p.display());
                n += 1;
            }
        }
    }
    assert!(n >= 18, "only {n} results files found");
}
