//! The defects a new user hit on the landed main of 2026-12-07 (issue #36), one test each, run
//! through the `lic` binary as the user ran them.
use std::path::Path;
use std::process::{Command, Output, Stdio};

#[path = "../../../tests/common/mod.rs"]
mod common;
use common::synthetic;
use lic::io::image::save;

fn lic(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lic"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn lic_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lic"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn fails(o: &Output, code: i32, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A PNG whose header says `w`×`h` (no real pixel data: a loader that reads the header first refuses
/// it before decoding anything).
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    // The start of a zlib stream: the decoder reads up to the first IDAT before it says the size.
    chunk(b"IDAT", &[0x78, 0x9c]);
    chunk(b"IEND", &[]);
    out
}

#[test]
fn an_image_no_decoder_accepts_is_refused_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    // 8193×8192 is above the decoders' 2^26 pixels: refused on load, not after a 30 s encode.
    std::fs::write(d.path().join("big.png"), png_header_only(8193, 8192)).unwrap();
    let t = std::time::Instant::now();
    for model in ["dwt", "overfit"] {
        let o = lic(d.path(), &["encode", "big.png", "big.lic", "-m", model]);
        fails(&o, 1, "over the limit");
    }
    assert!(
        t.elapsed().as_secs() < 20,
        "the refusal took {:?}",
        t.elapsed()
    );
    assert!(!d.path().join("big.lic").exists());
}

#[test]
fn decoded_images_go_to_lossless_formats_named_by_the_extension() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(24, 20, 1), &d.path().join("in.png")).unwrap();
    save(&synthetic(16, 12, 2).to_gray(), &d.path().join("gray.png")).unwrap();
    ok(&lic(d.path(), &["encode", "in.png", "a.lic"]));
    ok(&lic(d.path(), &["encode", "gray.png", "g.lic"]));
    // .ppm is binary PPM (P6), .pgm PGM (P5): what Pillow and netpbm open.
    ok(&lic(d.path(), &["decode", "a.lic", "a.ppm"]));
    assert!(std::fs::read(d.path().join("a.ppm"))
        .unwrap()
        .starts_with(b"P6\n24 20\n255\n"));
    ok(&lic(d.path(), &["decode", "g.lic", "g.pgm"]));
    assert!(std::fs::read(d.path().join("g.pgm"))
        .unwrap()
        .starts_with(b"P5\n16 12\n255\n"));
    // Lossy, unknown and missing extensions are refused before decoding; nothing is written.
    for (name, why) in [
        ("a.jpg", "lossy"),
        ("a.webp", "lossy"),
        ("a.xyz", "unknown image extension"),
        ("a", "no extension"),
    ] {
        fails(&lic(d.path(), &["decode", "a.lic", name]), 1, why);
        assert!(!d.path().join(name).exists(), "{name} written");
    }
}

#[test]
fn encode_refuses_an_image_name_for_the_lic_file() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(24, 20, 1), &d.path().join("in.png")).unwrap();
    for name in ["out.png", "out.jpg", "out.PPM"] {
        fails(&lic(d.path(), &["encode", "in.png", name]), 2, ".lic");
        assert!(!d.path().join(name).exists());
    }
}

#[test]
fn a_dash_is_standard_input_and_output() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(24, 20, 1), &d.path().join("in.png")).unwrap();
    let o = lic(d.path(), &["encode", "in.png", "-"]);
    ok(&o);
    assert!(
        o.stdout.starts_with(&lic::format::MAGIC),
        "stdout is not a .lic"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("bpp"));
    let stream = o.stdout;
    // From standard input to a file, and to standard output (PNG).
    ok(&lic_stdin(d.path(), &["decode", "-", "out.png"], &stream));
    let o = lic_stdin(d.path(), &["decode", "-", "-"], &stream);
    ok(&o);
    assert!(o.stdout.starts_with(b"\x89PNG"));
    let png = std::fs::read(d.path().join("in.png")).unwrap();
    let o = lic_stdin(d.path(), &["encode", "-", "s.lic"], &png);
    ok(&o);
    assert_eq!(std::fs::read(d.path().join("s.lic")).unwrap(), stream);
    assert!(!d.path().join("-").exists(), "a file named - was created");
}

#[test]
fn eval_measures_an_image_too_small_for_ms_ssim() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("set");
    std::fs::create_dir(&data).unwrap();
    save(&synthetic(200, 180, 1), &data.join("a.png")).unwrap();
    save(&synthetic(100, 80, 2), &data.join("b.png")).unwrap();
    let o = lic(
        d.path(),
        &[
            "eval",
            "--dataset",
            "set",
            "--quality",
            "4,8",
            "-o",
            "r.json",
        ],
    );
    ok(&o);
    let r = lic_eval::RdResults::read(&d.path().join("r.json")).unwrap();
    let rows: Vec<_> = r.points.iter().flat_map(|p| &p.per_image).collect();
    assert_eq!(rows.len(), 4);
    for row in rows {
        assert_eq!(
            row.ms_ssim.is_some(),
            row.image.starts_with('a'),
            "{}",
            row.image
        );
        assert!(row.psnr_rgb > 20.0);
    }
}

#[test]
fn bdrate_and_plot_warn_about_different_image_sets() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("set");
    std::fs::create_dir(&data).unwrap();
    for i in 0..2 {
        save(&synthetic(64, 48, i), &data.join(format!("i{i}.png"))).unwrap();
    }
    let q = "2,6,10,14";
    ok(&lic(
        d.path(),
        &["eval", "--dataset", "set", "--quality", q, "-o", "two.json"],
    ));
    ok(&lic(
        d.path(),
        &[
            "eval",
            "--dataset",
            "set",
            "--quality",
            q,
            "--limit",
            "1",
            "-o",
            "one.json",
        ],
    ));
    let o = lic(d.path(), &["bdrate", "one.json", "two.json"]);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("different image sets"), "{err}");
    let o = lic(d.path(), &["plot", "one.json", "two.json", "-o", "p.png"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("different image sets"));
    // The same set: no warning.
    let o = lic(d.path(), &["bdrate", "two.json", "two.json"]);
    ok(&o);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"));
}

#[test]
fn an_unreachable_target_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(32, 24, 1), &d.path().join("in.png")).unwrap();
    fails(
        &lic(d.path(), &["encode", "in.png", "a.lic", "--psnr", "200"]),
        1,
        "cannot reach",
    );
    fails(
        &lic(d.path(), &["encode", "in.png", "a.lic", "--bpp", "0.0001"]),
        1,
        "cannot reach",
    );
    assert!(!d.path().join("a.lic").exists());
}

#[test]
fn options_a_family_cannot_honour_are_bad_arguments() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(32, 24, 1), &d.path().join("in.png")).unwrap();
    for (args, needle) in [
        (&["--quality", "17"][..], "outside lic-dwt's range"),
        (
            &["--effort", "slow"][..],
            "--effort is not available with lic-dwt",
        ),
        (
            &["--time-limit", "5"][..],
            "--time-limit is not available with lic-dwt",
        ),
        (
            &["-m", "overfit", "--refine", "5"][..],
            "--refine is not available with lic-overfit",
        ),
        (
            &["-m", "overfit", "--tile", "256"][..],
            "--tile is not available with lic-overfit",
        ),
    ] {
        let mut a = vec!["encode", "in.png", "a.lic"];
        a.extend_from_slice(args);
        fails(&lic(d.path(), &a), 2, needle);
    }
    assert!(!d.path().join("a.lic").exists());
}

#[test]
fn causes_are_printed_once_and_video_streams_are_pointed_to_lic_video() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(32, 24, 1), &d.path().join("in.png")).unwrap();
    std::fs::create_dir(d.path().join("dir")).unwrap();
    let err = fails(
        &lic(d.path(), &["decode", "dir", "x.png"]),
        1,
        "Is a directory",
    );
    assert_eq!(err.matches("Is a directory").count(), 1, "{err}");
    let mut licv = lic::format::video::VIDEO_MAGIC.to_vec();
    licv.extend_from_slice(&[0; 60]);
    std::fs::write(d.path().join("v.licv"), licv).unwrap();
    fails(
        &lic(d.path(), &["decode", "v.licv", "v.png"]),
        1,
        "lic video decode",
    );
}

#[test]
fn latents_of_the_libtorch_free_families() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(40, 24, 1), &d.path().join("in.png")).unwrap();
    ok(&lic(d.path(), &["encode", "in.png", "a.lic", "-q", "6"]));
    // lic-dwt: its wavelet coefficients, the same from the stream and from the image.
    ok(&lic(d.path(), &["latents", "a.lic", "-o", "a.safetensors"]));
    ok(&lic(
        d.path(),
        &[
            "latents",
            "in.png",
            "-o",
            "b.safetensors",
            "-m",
            "dwt",
            "-q",
            "6",
        ],
    ));
    let a = std::fs::read(d.path().join("a.safetensors")).unwrap();
    let b = std::fs::read(d.path().join("b.safetensors")).unwrap();
    let (ta, tb) = (
        safetensors::SafeTensors::deserialize(&a).unwrap(),
        safetensors::SafeTensors::deserialize(&b).unwrap(),
    );
    for name in ["latent", "symbols"] {
        let (x, y) = (ta.tensor(name).unwrap(), tb.tensor(name).unwrap());
        assert_eq!(x.shape(), &[3, 24, 40]);
        assert_eq!(x.data(), y.data(), "{name}: the two routes differ");
    }
    assert_eq!(
        ta.tensor("latent").unwrap().dtype(),
        safetensors::Dtype::F32
    );
    assert_eq!(
        ta.tensor("symbols").unwrap().dtype(),
        safetensors::Dtype::I32
    );
    let q: Vec<i32> = ta
        .tensor("symbols")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert!(q.iter().any(|&v| v != 0));
    // lic-overfit has none: a clear message, no file.
    let o = lic(
        d.path(),
        &["latents", "in.png", "-o", "o.safetensors", "-m", "overfit"],
    );
    fails(&o, 1, "lic-overfit has no latent tensor");
    assert!(!d.path().join("o.safetensors").exists());
}
