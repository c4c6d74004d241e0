//! `lic-dwt --tune machine`: its streams carry step weights (parameter blob version 4) that the
//! ordinary decoder reads, default streams carry none (unchanged bytes), malformed weights are
//! typed errors, and a golden machine-tuned stream (`tests/golden/dwt-machine.json`) decodes to
//! the stored pixels. Libtorch-free (the core crate).
use std::path::{Path, PathBuf};

use lic::dwt::tune::{self, BandWeights, Tune};
use lic::dwt::{self, DwtError, EncodeOptions, Params};
use lic::format::{Container, FORMAT_VERSION};
use lic::io::image::Image;
use sha2::{Digest, Sha256};

#[path = "../../../tests/common/mod.rs"]
mod common;
use common::synthetic;

fn sha256_hex(b: &[u8]) -> String {
    lic::util::hex(&Sha256::digest(b))
}

fn machine(img: &Image, q: f32) -> dwt::Encoded {
    dwt::encode_image(img, &EncodeOptions::tuned(q, Tune::Machine)).unwrap()
}

fn blob(bytes: &[u8]) -> Vec<u8> {
    Container::parse(bytes).unwrap().header.params
}

/// Weights that differ from one everywhere, so that a test does not depend on the learned table.
fn uneven() -> BandWeights {
    let mut w = BandWeights::ONE;
    for (i, v) in w.luma.iter_mut().enumerate() {
        *v = 1.125 + 0.125 * (i % 4) as f32;
    }
    for (i, v) in w.chroma.iter_mut().enumerate() {
        *v = 1.5 + 0.25 * (i % 3) as f32;
    }
    w
}

#[test]
fn machine_streams_round_trip_with_the_plain_decoder() {
    for (w, h, gray, q) in [
        (67, 45, false, 6.0),
        (40, 33, true, 8.0),
        (256, 256, false, 7.0),
    ] {
        let img = if gray {
            synthetic(w, h, 5).to_gray()
        } else {
            synthetic(w, h, 5)
        };
        let mut o = EncodeOptions::new(q);
        o.weights = uneven();
        let e = dwt::encode_image(&img, &o).unwrap();
        let b = blob(&e.bytes);
        assert_eq!(b[0], 4, "weights are sent as blob version 4");
        let p = Params::parse(&b).unwrap();
        let comps = if gray { 1 } else { 3 };
        assert_eq!(p.weights.len(), comps * (1 + 3 * p.levels));
        assert_eq!(Params::parse(&p.to_bytes()).unwrap(), p);
        // The plain decoder (and the registry's) reads it, deterministically.
        let d = dwt::decode_image(&e.bytes).unwrap();
        assert_eq!(d, lic::decode(&e.bytes, &Default::default()).unwrap());
        assert_eq!((d.width, d.height, d.gray), (w, h, gray));
        // Coarser steps: fewer bytes than the default at the same quality (where the image is
        // large enough for the coefficients to outweigh the table).
        let plain = dwt::encode_image(&img, &EncodeOptions::new(q)).unwrap();
        if w * h >= 256 * 256 {
            assert!(
                e.bytes.len() < plain.bytes.len(),
                "{} vs {}",
                e.bytes.len(),
                plain.bytes.len()
            );
        }
    }
    // The machine tuning itself, through the registry (the path of `lic encode --tune machine`).
    let img = synthetic(96, 80, 2);
    let mut opts = lic::family::EncodeOptions::with_quality(7.0);
    opts.tune = Tune::Machine;
    let e = lic::registry::by_name("dwt")
        .unwrap()
        .encode(&img, &opts, &mut |_| lic::family::Control::Continue)
        .unwrap();
    assert_eq!(blob(&e.bytes)[0], 4);
    assert_eq!(
        dwt::decode_image(&e.bytes).unwrap(),
        e.reconstruction,
        "the reported reconstruction is what the decoder makes"
    );
    assert_eq!(machine(&img, 7.0).bytes, e.bytes);
}

#[test]
fn default_streams_carry_no_weights() {
    let img = synthetic(64, 48, 1);
    let e = dwt::encode_image(&img, &EncodeOptions::new(6.0)).unwrap();
    let b = blob(&e.bytes);
    assert!(b[0] <= 3, "blob version {}", b[0]);
    assert!(Params::parse(&b).unwrap().weights.is_empty());
    // Weights that round to one everywhere are not sent either.
    let mut o = EncodeOptions::new(6.0);
    o.weights.luma[3] = 1.01;
    assert_eq!(dwt::encode_image(&img, &o).unwrap().bytes, e.bytes);
    // Tune::Psnr is the default options.
    assert_eq!(
        EncodeOptions::tuned(6.0, Tune::Psnr),
        EncodeOptions::new(6.0)
    );
}

#[test]
fn weight_table_follows_level_and_image_scale() {
    assert_eq!(tune::level_shift(256), 0);
    assert_eq!(tune::level_shift(361), 0);
    assert_eq!(tune::level_shift(362), 1);
    assert_eq!(tune::level_shift(512), 1);
    assert_eq!(tune::level_shift(1024), 2);
    let w = uneven();
    let small = dwt::transform::bands(256, 256, 5);
    let t = w.table(3, &small, 256, 256);
    assert_eq!(t.len(), 3 * small.len());
    for (b, band) in small.iter().enumerate() {
        let s = tune::slot(band.level, band.orient);
        assert_eq!(t[b], tune::quantize(w.luma[s]));
        assert_eq!(t[small.len() + b], tune::quantize(w.chroma[s]));
    }
    // A 512-pixel image: its level 2 has the weights of a 256-pixel image's level 1.
    let big = dwt::transform::bands(512, 512, 6);
    let t = w.table(1, &big, 512, 512);
    for (b, band) in big.iter().enumerate() {
        let level = band.level.saturating_sub(1).max(1);
        assert_eq!(t[b], tune::quantize(w.luma[tune::slot(level, band.orient)]));
    }
    assert!(BandWeights::ONE.table(3, &small, 256, 256).is_empty());
}

#[test]
fn corrupt_weights_are_typed_errors() {
    let img = synthetic(64, 48, 3);
    let mut o = EncodeOptions::new(6.0);
    o.weights = uneven();
    let e = dwt::encode_image(&img, &o).unwrap();
    let good = blob(&e.bytes);
    let n = usize::from(good[1]);
    for cut in 1..good.len() {
        assert!(Params::parse(&good[..cut]).is_err(), "blob cut at {cut}");
    }
    let is_params = |b: &[u8]| matches!(Params::parse(b), Err(DwtError::Params { .. }));
    let mut b = good.clone();
    b[2] = 0;
    assert!(is_params(&b), "a zero weight");
    let mut b = good.clone();
    b[1] = 7;
    assert!(is_params(&b), "a count that fits no level count");
    let mut b = vec![4, 0];
    b.extend(&good);
    assert!(is_params(&b), "weights twice");
    let mut b = vec![4, 1, 16];
    b.extend(&good[2 + n..]);
    assert!(is_params(&b), "one weight");
    // A count that parses but does not match the image's planes: refused by the decoder.
    let mut c = Container::parse(&e.bytes).unwrap();
    let per_plane = n / 3;
    let mut b = vec![4, per_plane as u8];
    b.extend(&good[2..2 + per_plane]);
    b.extend(&good[2 + n..]);
    assert!(Params::parse(&b).is_ok());
    c.header.params = b;
    let bytes = c.to_bytes().unwrap();
    assert!(matches!(
        dwt::decode(&bytes, dwt::DEFAULT_MAX_PIXELS),
        Err(DwtError::Params { .. })
    ));
    // Every byte value in every weight position: an error or a decode, never a panic.
    for i in 0..n + 2 {
        for v in [0u8, 1, 2, 3, 4, 5, 128, 255] {
            let mut c = Container::parse(&e.bytes).unwrap();
            c.header.params[i] = v;
            if let Ok(bytes) = c.to_bytes() {
                let _ = dwt::decode(&bytes, dwt::DEFAULT_MAX_PIXELS);
            }
        }
    }
}

fn golden_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/golden")
}

/// The golden machine-tuned case: (file stem, width, height, seed, quality).
const GOLDEN: (&str, u32, u32, u32, f32) = ("dwt-machine-synthetic-96x80-q7", 96, 80, 2, 7.0);

const REGENERATE: &str = "if the lic-dwt bitstream or the machine weights changed on purpose, \
     regenerate with `cargo test --release -p lic --test dwt_tune -- --ignored write_dwt`";

/// The stored machine-tuned stream decodes to the stored pixels, and the encoder makes the
/// stored bytes.
#[test]
fn golden_machine_bitstream() {
    let (stem, w, h, seed, q) = GOLDEN;
    let text = std::fs::read_to_string(golden_dir().join("dwt-machine.json")).unwrap();
    let index: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want = &index[stem];
    assert_eq!(
        want["format_version"].as_u64(),
        Some(u64::from(FORMAT_VERSION)),
        "{REGENERATE}"
    );
    let bytes = std::fs::read(golden_dir().join(format!("{stem}.lic"))).unwrap();
    assert_eq!(sha256_hex(&bytes), want["bytes_sha256"].as_str().unwrap());
    assert_eq!(blob(&bytes)[0], 4);
    let d = dwt::decode(&bytes, dwt::DEFAULT_MAX_PIXELS).unwrap();
    assert_eq!(
        sha256_hex(&d.data),
        want["decoded_sha256"].as_str().unwrap(),
        "the decoder's pixels changed; {REGENERATE}"
    );
    assert!(
        machine(&synthetic(w, h, seed), q).bytes == bytes,
        "the encoder's bytes changed; {REGENERATE}"
    );
}

#[test]
#[ignore]
fn write_dwt_machine_golden() {
    let (stem, w, h, seed, q) = GOLDEN;
    let e = machine(&synthetic(w, h, seed), q);
    let d = dwt::decode(&e.bytes, dwt::DEFAULT_MAX_PIXELS).unwrap();
    std::fs::write(golden_dir().join(format!("{stem}.lic")), &e.bytes).unwrap();
    let index = serde_json::json!({
        stem: {
            "bytes": e.bytes.len(),
            "bytes_sha256": sha256_hex(&e.bytes),
            "decoded_sha256": sha256_hex(&d.data),
            "quality": q,
            "gray": false,
            "tune": "machine",
            "format_version": FORMAT_VERSION,
            "blob_version": blob(&e.bytes)[0],
        }
    });
    std::fs::write(
        golden_dir().join("dwt-machine.json"),
        serde_json::to_string_pretty(&index).unwrap() + "\n",
    )
    .unwrap();
}
