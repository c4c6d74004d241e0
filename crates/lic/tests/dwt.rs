//! The wavelet codec (`lic-dwt`): round trips at odd sizes (RGB and gray), rate and quality
//! growing with the quality, determinism, the rate estimate, malformed streams and options, and
//! the golden bitstreams (`tests/golden/dwt.json`). Libtorch-free (the core crate,
//! `crates/lic`).
use std::path::{Path, PathBuf};

use lic::dwt::{self, DwtError, EncodeOptions, Params};
use lic::format::{Container, FormatError, FORMAT_VERSION};
use lic::io::image::Image;
use sha2::{Digest, Sha256};

#[path = "../../../tests/common/mod.rs"]
mod common;
use common::synthetic;

fn sha256_hex(b: &[u8]) -> String {
    lic::util::hex(&Sha256::digest(b))
}

fn enc(img: &Image, q: f32) -> dwt::Encoded {
    dwt::encode_image(img, &EncodeOptions::new(q))
        .unwrap_or_else(|e| panic!("{}x{} q{q}: {e}", img.width, img.height))
}

/// An encode through the registry's `dwt` family (its result carries the reconstruction).
fn family_enc(img: &Image, q: f32) -> lic::family::Encoded {
    lic::registry::by_name("dwt")
        .unwrap()
        .encode(
            img,
            &lic::family::EncodeOptions::with_quality(f64::from(q)),
            &mut |_| lic::family::Control::Continue,
        )
        .unwrap_or_else(|e| panic!("{}x{} q{q}: {e}", img.width, img.height))
}

fn psnr(a: &Image, b: &Image) -> f64 {
    lic::metrics::psnr_rgb(a, b).expect("same size")
}

/// A 128x96 crop of kodim01 when the shared datasets are present, else a synthetic picture.
fn photo() -> Image {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("../shared/datasets/kodak/kodim01.png");
    let Ok(l) = lic::io::image::load(&p, &Default::default()) else {
        return synthetic(128, 96, 7);
    };
    let (w, h) = (128u32, 96u32);
    let (x0, y0) = (300usize, 200usize);
    let src = &l.image;
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h as usize {
        let row = ((y0 + y) * src.width as usize + x0) * 3;
        data.extend_from_slice(&src.data[row..row + w as usize * 3]);
    }
    Image::new(w, h, data)
}

/// Every test image: odd sizes, RGB and gray.
fn images() -> Vec<(String, Image)> {
    let mut v = Vec::new();
    for (i, (w, h)) in [(1, 1), (2, 3), (17, 9), (33, 65)].into_iter().enumerate() {
        let img = synthetic(w, h, i as u32 + 1);
        v.push((format!("{w}x{h}"), img.clone()));
        v.push((format!("{w}x{h} gray"), img.to_gray()));
    }
    let p = photo();
    v.push(("photo gray".to_string(), p.to_gray()));
    v.push(("photo".to_string(), p));
    v
}

fn payload_len(bytes: &[u8]) -> usize {
    Container::parse(bytes).unwrap().substreams[0].len()
}

#[test]
fn round_trips_rgb_and_gray_at_odd_sizes() {
    for (name, img) in images() {
        for q in [0.0, 4.0, 9.5, 16.0] {
            let e = enc(&img, q);
            let c = Container::parse(&e.bytes).unwrap();
            assert_eq!(c.header.model_id, dwt::MODEL_ID);
            assert_eq!(c.header.gray, img.gray, "{name}");
            let d = dwt::decode_image(&e.bytes).unwrap_or_else(|e| panic!("{name} q{q}: {e}"));
            assert_eq!(
                (d.width, d.height, d.gray),
                (img.width, img.height, img.gray)
            );
            if img.gray {
                assert!(d.data.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]));
            }
            // The same bytes decode to the same pixels again.
            assert_eq!(dwt::decode_image(&e.bytes).unwrap().data, d.data, "{name}");
            if q == 16.0 {
                // A step of one level: near-lossless.
                let p = psnr(&img, &d);
                assert!(p > 45.0, "{name}: PSNR {p:.2} at quality 16");
            }
        }
    }
}

#[test]
fn psnr_and_rate_grow_with_quality() {
    for img in [photo(), photo().to_gray(), synthetic(64, 48, 3)] {
        let px = f64::from(img.width * img.height);
        let mut last = (0.0, 0.0);
        for q in [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0] {
            let e = enc(&img, q);
            let d = dwt::decode_image(&e.bytes).unwrap();
            let (bpp, p) = (e.bytes.len() as f64 * 8.0 / px, psnr(&img, &d));
            if q > 0.0 {
                assert!(
                    bpp > last.0 && p > last.1,
                    "gray {}: q{q}: {bpp:.4} bpp {p:.2} dB after {:.4} bpp {:.2} dB",
                    img.gray,
                    last.0,
                    last.1
                );
            }
            last = (bpp, p);
        }
    }
}

#[test]
fn the_estimate_matches_the_payload() {
    let mut checked = 0;
    for (name, img) in images() {
        for q in [2.0, 6.0, 10.0, 14.0] {
            let e = enc(&img, q);
            let bits = 8.0 * payload_len(&e.bytes) as f64;
            // Below a few hundred bytes the coder's final words dominate.
            if bits < 8.0 * 400.0 {
                continue;
            }
            let rel = (e.estimated_bits - bits).abs() / bits;
            assert!(
                rel <= 0.02,
                "{name} q{q}: estimate {:.0} bits, payload {bits} bits ({:.2}%)",
                e.estimated_bits,
                100.0 * rel
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} streams large enough");
}

#[test]
fn coding_does_not_depend_on_the_thread_count() {
    let img = photo();
    let opts = EncodeOptions::new(7.0);
    let mut outs = Vec::new();
    for n in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap();
        outs.push(pool.install(|| {
            let e = dwt::encode_image(&img, &opts).unwrap();
            let d = dwt::decode(&e.bytes, u64::MAX).unwrap();
            (e.bytes, d.data)
        }));
    }
    for (i, o) in outs.iter().enumerate().skip(1) {
        assert!(o == &outs[0], "pool {i} differs");
    }
}

/// A small stream with detail bands (two levels): 37x33 RGB at quality 8.
fn small() -> Vec<u8> {
    enc(&synthetic(37, 33, 11), 8.0).bytes
}

/// Seeded positions (xorshift32).
fn positions(seed: u32, n: usize, below: usize) -> Vec<usize> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as usize % below
        })
        .collect()
}

#[test]
fn truncations_and_bit_flips_are_errors_never_panics() {
    let bytes = small();
    assert!(dwt::decode(&bytes, u64::MAX).is_ok());
    for len in 0..bytes.len() {
        assert!(
            dwt::decode(&bytes[..len], u64::MAX).is_err(),
            "cut at {len}"
        );
    }
    for bit in positions(0x5eed, 400, bytes.len() * 8) {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(dwt::decode(&b, u64::MAX).is_err(), "bit {bit}");
    }
    // Behind repaired CRCs the damage reaches the decoder: an error or some image, never a
    // panic; a payload cut to a partial word is always an error.
    let c = Container::parse(&bytes).unwrap();
    let payload = c.substreams[0].clone();
    let mut errors = 0;
    for len in 0..payload.len() {
        let mut m = c.clone();
        m.substreams[0].truncate(len);
        let r = dwt::decode_container(&m, u64::MAX);
        if len % 4 != 0 {
            assert!(r.is_err(), "payload cut at {len}");
        }
        errors += usize::from(r.is_err());
    }
    let cut_errors = errors;
    for bit in positions(7, 2000, payload.len() * 8) {
        let mut m = c.clone();
        m.substreams[0][bit / 8] ^= 1 << (bit % 8);
        errors += usize::from(dwt::decode_container(&m, u64::MAX).is_err());
    }
    eprintln!(
        "repaired damage detected: {cut_errors} of {} payload cuts, {} of 2000 bit flips",
        payload.len(),
        errors - cut_errors
    );
    assert!(errors > 0, "no damaged stream was detected");
    for bit in positions(9, 300, c.header.params.len() * 8) {
        let mut m = c.clone();
        m.header.params[bit / 8] ^= 1 << (bit % 8);
        let _ = dwt::decode_container(&m, u64::MAX);
    }
}

#[test]
fn header_and_parameter_errors_are_typed() {
    let c = Container::parse(&small()).unwrap();
    let mut m = c.clone();
    m.header.model_id = "lic-overfit".into();
    assert_eq!(
        dwt::decode_container(&m, u64::MAX).err(),
        Some(DwtError::model_id("lic-overfit", lic::dwt::MODEL_ID))
    );
    let mut m = c.clone();
    m.header.weights_hash[3] ^= 1;
    assert!(matches!(
        dwt::decode_container(&m, u64::MAX),
        Err(DwtError::Params { .. })
    ));
    assert!(matches!(
        dwt::decode_container(&c, 37 * 33 - 1),
        Err(DwtError::TooLarge {
            width: 37,
            height: 33,
            ..
        })
    ));
    assert!(dwt::decode_container(&c, 37 * 33).is_ok());
    for n in [0, 2] {
        let mut m = c.clone();
        m.substreams = vec![c.substreams[0].clone(); n];
        assert!(matches!(
            dwt::decode_container(&m, u64::MAX),
            Err(DwtError::Params { .. })
        ));
    }
    // The parameter blob: round trip, then every cut, a trailing byte and bad fields.
    let p = Params::parse(&c.header.params).unwrap();
    assert_eq!(p.to_bytes(), c.header.params);
    assert_eq!(Params::parse(&p.to_bytes()).unwrap(), p);
    let good = c.header.params.clone();
    for cut in 0..good.len() {
        assert!(Params::parse(&good[..cut]).is_err(), "blob cut at {cut}");
    }
    let mut b = good.clone();
    b.push(0);
    assert!(Params::parse(&b).is_err(), "trailing byte");
    let nan = f32::NAN.to_le_bytes();
    let zero = 0f32.to_le_bytes();
    let huge = 1e9f32.to_le_bytes();
    let bad: Vec<(usize, Vec<u8>)> = vec![
        (0, vec![dwt::BLOB_VERSION + 1]),
        (1, vec![99]),
        (2, nan.to_vec()),
        (2, zero.to_vec()),
        (6, huge.to_vec()),
        (10, vec![33]),
        (10, vec![(-33i8) as u8]),
    ];
    for (at, v) in bad {
        let mut b = good.clone();
        b[at..at + v.len()].copy_from_slice(&v);
        assert!(
            matches!(Params::parse(&b), Err(DwtError::Params { .. })),
            "byte {at} = {v:?}"
        );
    }
    // A level count that does not fit the image size.
    let mut m = c.clone();
    let mut q = p.clone();
    q.levels = 1;
    // (The chroma-from-luma table's size follows the levels: none, for the level check.)
    q.cfl.clear();
    m.header.params = q.to_bytes();
    let err = dwt::decode_container(&m, u64::MAX).unwrap_err();
    assert!(err.to_string().contains("levels"), "{err}");
    // Format errors come through typed.
    let mut b = small();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert!(matches!(
        dwt::decode(&b, u64::MAX),
        Err(DwtError::Format(FormatError::CrcMismatch { .. }))
    ));
}

#[test]
fn older_format_versions_are_refused_with_a_hint() {
    let mut bytes = small();
    bytes[4..6].copy_from_slice(&3u16.to_le_bytes());
    let err = dwt::decode(&bytes, u64::MAX).unwrap_err();
    assert_eq!(
        err,
        DwtError::Format(FormatError::UnsupportedVersion { found: 3 })
    );
    assert!(err.to_string().contains("re-encode"), "{err}");
}

#[test]
fn bad_options_and_inputs_are_refused() {
    let img = synthetic(8, 8, 1);
    for q in [-0.5, 16.01, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(
                dwt::encode_image(&img, &EncodeOptions::new(q)),
                Err(DwtError::Params { .. })
            ),
            "quality {q}"
        );
    }
    let mut o = EncodeOptions::new(4.0);
    o.rounding = 0.7;
    assert!(dwt::encode_image(&img, &o).is_err());
    let mut o = EncodeOptions::new(4.0);
    o.chroma = 0.0;
    assert!(dwt::encode_image(&img, &o).is_err());
    let opts = EncodeOptions::new(4.0);
    // Wrong buffer sizes, empty images, and images no .lic reader accepts.
    assert!(dwt::encode(&img.data, 8, 7, false, &opts).is_err());
    assert!(dwt::encode(&img.data, 8, 8, true, &opts).is_err());
    assert!(dwt::encode(&[], 0, 0, false, &opts).is_err());
    let wide = vec![0u8; 70_000 * 3];
    let err = dwt::encode(&wide, 70_000, 1, false, &opts).err().unwrap();
    assert!(err.to_string().contains("larger"), "{err}");
    // Not a .lic file, another model's file.
    assert!(matches!(
        dwt::decode(b"\x89PNG\r\n\x1a\n....", u64::MAX),
        Err(DwtError::Format(FormatError::BadMagic))
    ));
    let mut c = Container::parse(&small()).unwrap();
    c.header.model_id = "lic-walloc".into();
    assert!(matches!(
        dwt::decode(&c.to_bytes().unwrap(), u64::MAX),
        Err(DwtError::ModelId { .. })
    ));
}

fn golden_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/golden")
}

/// The golden cases: (file stem, width, height, seed, quality, gray). The first two are blob
/// version 1 (no chroma from luma: their bytes predate version 2), the third version 2, the
/// fourth version 3 (classified restoration filter).
const GOLDEN: [(&str, u32, u32, u32, f32, bool); 4] = [
    ("dwt-synthetic-45x29-q5", 45, 29, 2, 5.0, false),
    ("dwt-synthetic-gray-32x40-q9", 32, 40, 3, 9.0, true),
    ("dwt-cfl-synthetic-64x48-q6", 64, 48, 4, 6.0, false),
    ("dwt-alf-mixed-256x192-q6", 256, 192, 0, 6.0, false),
];

/// A colour picture whose chroma follows its luma (blocks and stripes with colours along one
/// line through RGB, plus a little independent noise), where chroma from luma pays.
fn colour_line(w: u32, h: u32, seed: u32) -> Image {
    let data = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let block = ((x + seed) / 6 + y / 5) % 2 * 110;
            let l = 40 + block + (x * y + seed) % 23 * 3 + if x * 3 > w { 30 } else { 0 };
            let n = (i * 7 + seed) % 5;
            [
                (l * 9 / 10 + 20) as u8,
                (l * 3 / 5 + 50 + n) as u8,
                (240 - l * 4 / 5) as u8,
            ]
        })
        .collect();
    Image::new(w, h, data)
}

fn golden_image(stem: &str, w: u32, h: u32, seed: u32, gray: bool) -> Image {
    let img = if stem.contains("cfl") {
        colour_line(w, h, seed)
    } else if stem.contains("alf") {
        mixed(w, h)
    } else {
        synthetic(w, h, seed)
    };
    if gray {
        img.to_gray()
    } else {
        img
    }
}

fn golden_index() -> serde_json::Value {
    let text =
        std::fs::read_to_string(golden_dir().join("dwt.json")).expect("tests/golden/dwt.json");
    serde_json::from_str(&text).unwrap()
}

const REGENERATE: &str = "if the lic-dwt bitstream changed on purpose, regenerate with \
     `cargo test --release --test dwt --test dwt_fuzz -- --ignored write_dwt`";

/// The stored streams decode to the stored pixels, and the encoder makes the stored bytes.
#[test]
fn golden_bitstreams() {
    let index = golden_index();
    for (stem, w, h, seed, q, gray) in GOLDEN {
        let want = &index[stem];
        assert_eq!(
            want["format_version"].as_u64(),
            Some(u64::from(FORMAT_VERSION)),
            "{stem}: format version moved; {REGENERATE}"
        );
        let bytes = std::fs::read(golden_dir().join(format!("{stem}.lic"))).unwrap();
        assert_eq!(
            sha256_hex(&bytes),
            want["bytes_sha256"].as_str().unwrap(),
            "{stem}.lic does not match dwt.json; {REGENERATE}"
        );
        let d = dwt::decode(&bytes, dwt::DEFAULT_MAX_PIXELS)
            .unwrap_or_else(|e| panic!("{stem}: {e}; {REGENERATE}"));
        assert_eq!(
            sha256_hex(&d.data),
            want["decoded_sha256"].as_str().unwrap(),
            "{stem}: the decoder's pixels changed; {REGENERATE}"
        );
        let e = enc(&golden_image(stem, w, h, seed, gray), q);
        let version = Container::parse(&bytes).unwrap().header.params[0];
        assert_eq!(want["blob_version"].as_u64(), Some(u64::from(version)));
        assert!(
            e.bytes == bytes,
            "{stem}: the encoder's bytes changed; {REGENERATE}"
        );
    }
}

/// Regenerates `tests/golden/dwt*.lic` and `tests/golden/dwt.json` (by hand, after a deliberate
/// change of the bitstream, together with the fuzz seeds:
/// `cargo test --release --test dwt --test dwt_fuzz -- --ignored write_dwt`).
#[test]
#[ignore]
fn write_dwt_golden() {
    let mut index = serde_json::Map::new();
    for (stem, w, h, seed, q, gray) in GOLDEN {
        let e = enc(&golden_image(stem, w, h, seed, gray), q);
        let d = dwt::decode(&e.bytes, dwt::DEFAULT_MAX_PIXELS).unwrap();
        let version = Container::parse(&e.bytes).unwrap().header.params[0];
        std::fs::write(golden_dir().join(format!("{stem}.lic")), &e.bytes).unwrap();
        index.insert(
            stem.to_string(),
            serde_json::json!({
                "bytes": e.bytes.len(),
                "bytes_sha256": sha256_hex(&e.bytes),
                "decoded_sha256": sha256_hex(&d.data),
                "quality": q,
                "gray": gray,
                "format_version": FORMAT_VERSION,
                "blob_version": version,
            }),
        );
    }
    std::fs::write(
        golden_dir().join("dwt.json"),
        serde_json::to_string_pretty(&index).unwrap() + "\n",
    )
    .unwrap();
}

/// Chroma from luma: a picture whose chroma follows its luma gets scales (blob version 2), its
/// stream decodes to the encoder's reconstruction, and it costs fewer bytes than without; the
/// same picture with chroma from luma off is a version 1 stream; a gray image never has scales.
#[test]
fn chroma_from_luma_round_trips_and_pays_on_a_colour_line() {
    let img = colour_line(96, 80, 5);
    for q in [3.0, 6.0, 10.0] {
        let e = family_enc(&img, q);
        let c = Container::parse(&e.bytes).unwrap();
        let p = Params::parse(&c.header.params).unwrap();
        assert_eq!(c.header.params[0], 2, "q{q}: no chroma from luma");
        assert!(p.cfl.iter().any(|&a| a != 0));
        // The decoder's pixels are the encoder's reconstruction, on any thread count.
        let d = dwt::decode_image(&e.bytes).unwrap();
        assert_eq!(d.data, e.reconstruction.data, "q{q}");
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| dwt::decode_image(&e.bytes).unwrap());
        assert_eq!(one.data, d.data, "q{q}: 1 thread");
        // Without chroma from luma: version 1, more bytes, and the chroma coefficients the
        // decoder reconstructs are as close to the picture's.
        let mut o = EncodeOptions::new(q);
        o.cfl = false;
        let off = dwt::encode_image(&img, &o).unwrap();
        assert_eq!(Container::parse(&off.bytes).unwrap().header.params[0], 1);
        let d_off = dwt::decode_image(&off.bytes).unwrap();
        let (gain_bytes, psnr_on, psnr_off) = (
            off.bytes.len() as f64 / e.bytes.len() as f64,
            psnr(&img, &d),
            psnr(&img, &d_off),
        );
        assert!(
            gain_bytes > 1.0 && psnr_on > psnr_off - 0.2,
            "q{q}: {} vs {} bytes, {psnr_on:.2} vs {psnr_off:.2} dB",
            e.bytes.len(),
            off.bytes.len()
        );
    }
    let e = enc(&img.to_gray(), 6.0);
    assert_eq!(Container::parse(&e.bytes).unwrap().header.params[0], 1);
}

/// Malformed chroma-from-luma tables are typed errors: a zero or −128 scale, a mask bit past
/// the image's bands, an empty table, every truncation, scales in a gray image.
#[test]
fn corrupt_chroma_from_luma_scales_are_errors() {
    let img = colour_line(64, 48, 4);
    let e = enc(&img, 6.0);
    let c = Container::parse(&e.bytes).unwrap();
    let good = c.header.params.clone();
    let p = Params::parse(&good).unwrap();
    assert_eq!(good[0], 2);
    assert_eq!(p.to_bytes(), good);
    for cut in 0..good.len() {
        assert!(Params::parse(&good[..cut]).is_err(), "blob cut at {cut}");
    }
    let slots = dwt::cfl::slots(p.levels);
    let mask_at = good.len() - slots.div_ceil(8) - p.cfl.iter().filter(|&&a| a != 0).count();
    let first = mask_at + slots.div_ceil(8);
    let mut bad = Vec::new();
    for v in [0u8, 0x80] {
        let mut b = good.clone();
        b[first] = v;
        bad.push(b);
    }
    if !slots.is_multiple_of(8) {
        let mut b = good.clone();
        b[mask_at + slots / 8] |= 0x80;
        bad.push(b);
    }
    // An empty table in a version 2 blob.
    let mut b = good[..mask_at].to_vec();
    b.extend(vec![0u8; slots.div_ceil(8)]);
    bad.push(b);
    // A version 1 blob with a table after it.
    let mut b = good.clone();
    b[0] = 1;
    bad.push(b);
    for b in bad {
        assert!(
            matches!(Params::parse(&b), Err(DwtError::Params { .. })),
            "{b:?}"
        );
        let mut m = c.clone();
        m.header.params = b;
        assert!(dwt::decode_container(&m, u64::MAX).is_err());
    }
    // Any nonzero scale decodes (to other pixels), never panics.
    for a in [1i8, -1, 127, -127] {
        let mut q = p.clone();
        q.cfl = vec![a; slots];
        let mut m = c.clone();
        m.header.params = q.to_bytes();
        assert!(dwt::decode_container(&m, u64::MAX).is_ok(), "scale {a}");
    }
    // Scales in a gray image.
    let g = Container::parse(&enc(&img.to_gray(), 6.0).bytes).unwrap();
    let mut q = Params::parse(&g.header.params).unwrap();
    q.cfl = vec![3; dwt::cfl::slots(q.levels)];
    let mut m = g.clone();
    m.header.params = q.to_bytes();
    let err = dwt::decode_container(&m, u64::MAX).unwrap_err();
    assert!(err.to_string().contains("gray"), "{err}");
}

/// A picture where the classified restoration filter pays: smooth gradients, fine stripes and
/// sharp-edged blocks in different regions (so the blocks' classes want different filters).
fn mixed(w: u32, h: u32) -> Image {
    let data = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let v = if x < w / 2 && y < h / 2 {
                40 + (x + y) * 150 / (w / 2 + h / 2)
            } else if x >= w / 2 && y < h / 2 {
                if (x / 2 + y / 3) % 2 == 0 {
                    60
                } else {
                    190
                }
            } else if x < w / 2 {
                if (x / 11 + y / 9) % 2 == 0 {
                    30
                } else {
                    220
                }
            } else {
                128 + ((x * 7 + y * 13) % 17) * 5 - ((x * y) % 11) * 4
            };
            [v as u8, (v * 3 / 4 + 30) as u8, (250 - v * 4 / 5) as u8]
        })
        .collect();
    Image::new(w, h, data)
}

/// The classified restoration filter (blob version 3): chosen on a picture where it pays, the
/// decoder's pixels are the encoder's reconstruction on 1 and 2 threads, the blob round-trips,
/// and with the classified filter off the stream is version 1 or 2 again.
#[test]
fn classified_filter_round_trips_on_any_thread_count() {
    let img = mixed(256, 192);
    let mut used = 0;
    for q in [4.0, 6.0, 8.0] {
        let e = family_enc(&img, q);
        let c = Container::parse(&e.bytes).unwrap();
        let p = Params::parse(&c.header.params).unwrap();
        assert_eq!(p.to_bytes(), c.header.params);
        if c.header.params[0] != 3 {
            continue;
        }
        used += 1;
        assert!(p.alf.iter().any(|a| a.taps.len() > 1 || a.map.contains(&0)));
        for n in [1, 2] {
            let d = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
                .install(|| dwt::decode_image(&e.bytes).unwrap());
            assert_eq!(d.data, e.reconstruction.data, "q{q}: {n} threads");
        }
        let mut o = EncodeOptions::new(q);
        o.alf = false;
        let off = dwt::encode_image(&img, &o).unwrap();
        assert!(Container::parse(&off.bytes).unwrap().header.params[0] < 3);
        let d_off = dwt::decode_image(&off.bytes).unwrap();
        assert!(psnr(&img, &e.reconstruction) > psnr(&img, &d_off), "q{q}");
    }
    assert!(used > 0, "the classified filter was never chosen");
}

/// Malformed classified filters are typed errors: every truncation, a bad mode, group count,
/// class map or chroma-from-luma flag, and a channel count that does not match the image.
#[test]
fn corrupt_classified_filters_are_errors() {
    let img = mixed(256, 192);
    let e = enc(&img, 6.0);
    let c = Container::parse(&e.bytes).unwrap();
    let good = c.header.params.clone();
    assert_eq!(
        good[0], 3,
        "the golden picture should use the classified filter"
    );
    let p = Params::parse(&good).unwrap();
    for cut in 0..good.len() {
        assert!(Params::parse(&good[..cut]).is_err(), "blob cut at {cut}");
    }
    let first = 2 + 8 + dwt::code::RECON_CLASSES + 1;
    let mut bad = Vec::new();
    for v in [3u8, 4, 255] {
        let mut b = good.clone();
        b[first] = v;
        bad.push(b);
    }
    // No channel at all in a version 3 blob.
    let mut b = good[..first - 1].to_vec();
    b.push(0);
    b.push(0);
    bad.push(b);
    // A chroma-from-luma flag of 2.
    let mut q = p.clone();
    q.cfl.clear();
    let mut b = q.to_bytes();
    *b.last_mut().unwrap() = 2;
    bad.push(b);
    for b in &bad {
        assert!(
            matches!(Params::parse(b), Err(DwtError::Params { .. })),
            "{b:?}"
        );
        let mut m = c.clone();
        m.header.params = b.clone();
        assert!(dwt::decode_container(&m, u64::MAX).is_err());
    }
    // Any taps decode (to other pixels), never panic; two channels for an RGB image are an
    // error.
    let mut q = p.clone();
    for ch in &mut q.alf {
        for t in &mut ch.taps {
            *t = [-128; dwt::filter::TAPS];
        }
    }
    let mut m = c.clone();
    m.header.params = q.to_bytes();
    assert!(dwt::decode_container(&m, u64::MAX).is_ok());
    q.alf.truncate(2);
    m.header.params = q.to_bytes();
    assert!(dwt::decode_container(&m, u64::MAX).is_err());
}
