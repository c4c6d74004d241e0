//! `lic encode/decode/info/eval` with `lic-dwt`, the default model (needs the binary, so the
//! engine feature). No model file is involved: `LIC_MODELS` points nowhere.
use std::path::Path;
use std::process::{Command, Output};

use lic::io::image::{load, save};

#[path = "../../../tests/common/mod.rs"]
mod common;
use common::synthetic;

fn lic(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lic"))
        .args(args)
        .current_dir(dir)
        .env("LIC_MODELS", "/nonexistent-lic-models")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn default_model_encodes_decodes_and_shows_in_info() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(45, 31, 3), &d.path().join("in.png")).unwrap();
    save(&synthetic(20, 17, 4).to_gray(), &d.path().join("gray.png")).unwrap();
    // No --model: lic-dwt, quality 6.
    let out = ok(&lic(d.path(), &["encode", "in.png", "a.lic", "--verify"]));
    assert!(
        out.contains("lic-dwt") && out.contains("verified") && out.contains("quality 6.000"),
        "{out}"
    );
    let info = ok(&lic(d.path(), &["info", "a.lic"]));
    assert!(
        info.contains("model id:       lic-dwt") && info.contains("levels"),
        "{info}"
    );
    ok(&lic(d.path(), &["decode", "a.lic", "a.png"]));
    let back = load(&d.path().join("a.png"), &Default::default())
        .unwrap()
        .image;
    assert_eq!((back.width, back.height), (45, 31));
    // `dwt` and `lic-dwt` name the same codec: the same bytes.
    ok(&lic(
        d.path(),
        &["encode", "in.png", "b.lic", "-m", "dwt", "-q", "6"],
    ));
    ok(&lic(
        d.path(),
        &[
            "encode",
            "in.png",
            "c.lic",
            "--model",
            "lic-dwt",
            "--quality",
            "6",
        ],
    ));
    let a = std::fs::read(d.path().join("a.lic")).unwrap();
    assert_eq!(a, std::fs::read(d.path().join("b.lic")).unwrap());
    assert_eq!(a, std::fs::read(d.path().join("c.lic")).unwrap());
    // Decoding with one or several threads gives the same pixels.
    ok(&lic(
        d.path(),
        &["--threads", "1", "decode", "a.lic", "t1.png"],
    ));
    ok(&lic(
        d.path(),
        &["--threads", "3", "decode", "a.lic", "t3.png"],
    ));
    assert_eq!(
        std::fs::read(d.path().join("t1.png")).unwrap(),
        std::fs::read(d.path().join("t3.png")).unwrap()
    );
    // Gray in, gray out.
    ok(&lic(d.path(), &["encode", "gray.png", "g.lic", "-q", "12"]));
    assert!(ok(&lic(d.path(), &["info", "g.lic"])).contains("gray"));
    assert!(ok(&lic(d.path(), &["decode", "g.lic", "g.png"])).contains("(gray)"));
    assert!(
        load(&d.path().join("g.png"), &Default::default())
            .unwrap()
            .image
            .gray
    );
    // A target rate.
    let o = lic(d.path(), &["encode", "in.png", "r.lic", "--bpp", "2"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("reaches bpp"));
}

#[test]
fn bad_options_and_files_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(24, 20, 5), &d.path().join("in.png")).unwrap();
    for q in ["16.5", "-1", "nan", "inf"] {
        let arg = format!("--quality={q}");
        let o = lic(d.path(), &["encode", "in.png", "q.lic", &arg]);
        fails(&o, 2, "outside lic-dwt's range [0, 16]");
    }
    assert!(!d.path().join("q.lic").exists());
    let o = lic(d.path(), &["encode", "in.png", "q.lic", "--refine", "5"]);
    fails(&o, 2, "not available with lic-dwt");
    let o = lic(d.path(), &["encode", "in.png", "q.lic", "--bpp=-1"]);
    fails(&o, 2, "--bpp must be a positive number");
    assert!(!d.path().join("q.lic").exists());
    // Outputs: no overwrite without --force, never the input.
    ok(&lic(d.path(), &["encode", "in.png", "a.lic"]));
    fails(&lic(d.path(), &["encode", "in.png", "a.lic"]), 1, "--force");
    ok(&lic(
        d.path(),
        &["encode", "in.png", "a.lic", "-q", "3", "--force"],
    ));
    let o = lic(d.path(), &["encode", "in.png", "in.png", "--force"]);
    // An image name for the .lic file is a bad argument (exit 2).
    assert_eq!(o.status.code(), Some(2));
    std::fs::copy(d.path().join("in.png"), d.path().join("in.lic")).unwrap();
    let o = lic(d.path(), &["encode", "in.lic", "in.lic", "--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(load(&d.path().join("in.png"), &Default::default()).is_ok());
    // Corrupt and truncated streams: exit 1, the file named, no output.
    let bytes = std::fs::read(d.path().join("a.lic")).unwrap();
    std::fs::write(d.path().join("cut.lic"), &bytes[..bytes.len() - 3]).unwrap();
    fails(
        &lic(d.path(), &["decode", "cut.lic", "cut.png"]),
        1,
        "cut.lic",
    );
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2 + 20;
    flipped[mid] ^= 4;
    std::fs::write(d.path().join("flip.lic"), &flipped).unwrap();
    fails(
        &lic(d.path(), &["decode", "flip.lic", "flip.png"]),
        1,
        "CRC",
    );
    // CRC-valid damage that the decoder sees: a bad parameter blob.
    let mut c = lic::format::Container::parse(&bytes).unwrap();
    c.header.params[1] = 5;
    std::fs::write(d.path().join("blob.lic"), c.to_bytes().unwrap()).unwrap();
    fails(
        &lic(d.path(), &["decode", "blob.lic", "blob.png"]),
        1,
        "levels",
    );
    // Absurd dimensions are refused by the container before any allocation.
    let mut c = lic::format::Container::parse(&bytes).unwrap();
    c.header.width = 1 << 16;
    c.header.height = 1 << 16;
    std::fs::write(d.path().join("huge.lic"), c.to_bytes().unwrap()).unwrap();
    fails(
        &lic(d.path(), &["decode", "huge.lic", "huge.png"]),
        1,
        "exceeds the limit",
    );
    for n in ["cut", "flip", "blob", "huge"] {
        assert!(
            !d.path().join(format!("{n}.png")).exists(),
            "{n}.png written"
        );
    }
    // A PNG is not a .lic file.
    fails(
        &lic(d.path(), &["decode", "in.png", "x.png"]),
        1,
        "not a .lic file",
    );
    fails(&lic(d.path(), &["info", "in.png"]), 1, "not a .lic file");
    // --model must agree with the file.
    fails(
        &lic(
            d.path(),
            &["decode", "a.lic", "m.png", "--model", "overfit"],
        ),
        1,
        "is a lic-dwt stream",
    );
    let golden = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/golden/synthetic-64x64-q2.lic");
    let o = lic(
        d.path(),
        &[
            "decode",
            golden.to_str().unwrap(),
            "m.png",
            "--model",
            "dwt",
        ],
    );
    fails(&o, 1, "not lic-dwt");
    assert!(!d.path().join("m.png").exists());
}

#[test]
fn eval_runs_lic_dwt_by_default_and_by_name() {
    let d = tempfile::tempdir().unwrap();
    let ds = d.path().join("ds");
    std::fs::create_dir(&ds).unwrap();
    for i in 0..2 {
        save(&synthetic(192, 168, 10 + i), &ds.join(format!("im{i}.png"))).unwrap();
    }
    let ds = ds.to_str().unwrap();
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.path().join(name)).unwrap()).unwrap()
    };
    ok(&lic(
        d.path(),
        &[
            "eval",
            "--dataset",
            ds,
            "--model",
            "dwt",
            "--quality",
            "4,9",
            "-o",
            "a.json",
        ],
    ));
    let r = read("a.json");
    assert_eq!(r["name"], "lic-dwt");
    let bpp = r["results"]["bpp"].as_array().unwrap();
    let psnr = r["results"]["psnr-rgb"].as_array().unwrap();
    assert_eq!(bpp.len(), 2);
    assert!(bpp[0].as_f64() < bpp[1].as_f64() && psnr[0].as_f64() < psnr[1].as_f64());
    // Neither --model nor --codec: lic-dwt on the quality ladder.
    ok(&lic(
        d.path(),
        &["eval", "--dataset", ds, "--points", "3", "-o", "b.json"],
    ));
    let r = read("b.json");
    assert_eq!(r["name"], "lic-dwt");
    let q: Vec<f64> = r["results"]["quality"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(q, [2.0, 6.0, 10.0]);
    // Errors.
    let o = lic(
        d.path(),
        &["eval", "--dataset", ds, "--model", "dwt", "--quality", "20"],
    );
    fails(&o, 2, "outside lic-dwt's range");
    let o = lic(
        d.path(),
        &[
            "eval",
            "--dataset",
            ds,
            "--model",
            "lic-dwt",
            "--refine",
            "3",
        ],
    );
    fails(&o, 2, "--refine is not available with lic-dwt");
}

#[test]
fn help_names_the_default_model() {
    let d = tempfile::tempdir().unwrap();
    for sub in ["encode", "eval"] {
        let out = ok(&lic(d.path(), &[sub, "--help"]));
        assert!(
            out.contains("lic-dwt") && out.contains("Examples:"),
            "{sub}: {out}"
        );
    }
    let out = ok(&lic(d.path(), &["encode", "--help"]));
    assert!(out.contains("[default: lic-dwt]"), "{out}");
}

/// `--tune machine`: the flag parses for encode and eval, the stream carries step weights
/// (shown by `lic info`) and the ordinary decoder reads it; eval names the results
/// `lic-dwt-machine`; a family without tunings refuses the flag; an unknown tuning is a bad
/// argument.
#[test]
fn tune_machine_encodes_decodes_and_evaluates() {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(160, 128, 7), &d.path().join("in.png")).unwrap();
    let out = ok(&lic(
        d.path(),
        &["encode", "in.png", "m.lic", "--tune", "machine", "--verify"],
    ));
    assert!(out.contains("verified"), "{out}");
    ok(&lic(
        d.path(),
        &["encode", "in.png", "p.lic", "--tune", "psnr"],
    ));
    ok(&lic(d.path(), &["encode", "in.png", "n.lic"]));
    assert_eq!(
        std::fs::read(d.path().join("p.lic")).unwrap(),
        std::fs::read(d.path().join("n.lic")).unwrap(),
        "--tune psnr is the default"
    );
    let info = ok(&lic(d.path(), &["info", "m.lic"]));
    assert!(info.contains("step weights"), "{info}");
    ok(&lic(d.path(), &["decode", "m.lic", "m.png"]));
    let back = load(&d.path().join("m.png"), &Default::default())
        .unwrap()
        .image;
    assert_eq!((back.width, back.height), (160, 128));
    let o = lic(d.path(), &["encode", "in.png", "x.lic", "--tune", "eyes"]);
    assert_eq!(o.status.code(), Some(2));
    let o = lic(
        d.path(),
        &[
            "encode", "in.png", "o.lic", "-m", "overfit", "--tune", "machine",
        ],
    );
    fails(&o, 2, "--tune is not available with lic-overfit");
    let ds = d.path().join("ds");
    std::fs::create_dir(&ds).unwrap();
    save(&synthetic(96, 80, 3), &ds.join("a.png")).unwrap();
    ok(&lic(
        d.path(),
        &[
            "eval",
            "--dataset",
            ds.to_str().unwrap(),
            "--tune",
            "machine",
            "--quality",
            "6",
            "-o",
            "e.json",
        ],
    ));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("e.json")).unwrap()).unwrap();
    assert_eq!(r["name"], "lic-dwt-machine");
}
