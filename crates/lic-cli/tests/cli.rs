//! The command line: help texts, exit codes (0 ok, 1 runtime error, 2 bad arguments), and the
//! file rules (no overwrite without --force, never the input, no partial output).

use std::path::Path;
use std::process::{Command, Output};

fn lic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lic"))
        .args(args)
        .env("LIC_MODELS", "/nonexistent-lic-models")
        .output()
        .expect("run lic")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_shows_examples_everywhere() {
    let top = lic(&["--help"]);
    assert_eq!(code(&top), 0);
    assert!(String::from_utf8_lossy(&top.stdout).contains("Examples:"));
    for sub in [
        vec!["encode"],
        vec!["decode"],
        vec!["info"],
        vec!["train"],
        vec!["video"],
        vec!["video", "encode"],
        vec!["video", "decode"],
        vec!["video", "train"],
    ] {
        let mut a = sub.clone();
        a.push("--help");
        let o = lic(&a);
        assert_eq!(code(&o), 0, "{sub:?}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("Examples:") && out.contains("lic "),
            "{sub:?} help lacks an example:\n{out}"
        );
    }
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        vec!["frobnicate"],
        vec!["encode"],
        vec!["encode", "a.png"],
        vec!["encode", "a.png", "b.lic", "--bogus"],
        vec!["--threads", "0", "info", "x.lic"],
        vec!["encode", "a.png", "b.lic", "--quality", "abc"],
        vec!["encode", "a.png", "b.lic", "--quality", "2", "--bpp", "0.5"],
    ] {
        let o = lic(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
    assert_eq!(code(&lic(&[])), 2);
}

#[test]
fn runtime_errors_exit_1_and_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let txt = d.path().join("notes.png");
    std::fs::write(&txt, "hello").unwrap();
    let out = d.path().join("o.lic");
    let o = lic(&["encode", txt.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("notes.png"), "{}", stderr(&o));
    assert!(!out.exists());

    // A missing input.
    let o = lic(&["info", d.path().join("missing.lic").to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("missing.lic"));

    // Not a .lic file.
    let o = lic(&["info", txt.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let o = lic(&[
        "decode",
        txt.to_str().unwrap(),
        d.path().join("x.png").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!d.path().join("x.png").exists());
}

#[test]
fn outputs_are_protected() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("in.png");
    image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]))
        .save(&img)
        .unwrap();
    let existing = d.path().join("exists.lic");
    std::fs::write(&existing, "keep me").unwrap();
    let o = lic(&["encode", img.to_str().unwrap(), existing.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    // The input is never the output, even with --force (here also an image name for a .lic
    // file: a bad argument, exit 2).
    let o = lic(&[
        "encode",
        img.to_str().unwrap(),
        img.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(code(&o), 2);
    assert!(image::open(&img).is_ok());
}

#[test]
fn missing_model_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("in.png");
    image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]))
        .save(&img)
        .unwrap();
    let out = d.path().join("o.lic");
    let o = lic(&[
        "encode",
        img.to_str().unwrap(),
        out.to_str().unwrap(),
        "--model",
        "no-such-model",
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no-such-model") && stderr(&o).contains("not found"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn video_checks_arguments_and_files() {
    let d = tempfile::tempdir().unwrap();
    let o = lic(&["video", "decode", "in.licv", "out.avi"]);
    assert_eq!(code(&o), 1);
    let o = lic(&[
        "video",
        "encode",
        d.path().join("none.y4m").to_str().unwrap(),
        "o.licv",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("none.y4m"));
    assert!(!Path::new("o.licv").exists());
}

#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    // `lic info a.lic | head -0`: the reader is gone before lic prints.
    let d = tempfile::tempdir().unwrap();
    let golden = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/golden/synthetic-64x64-q2.lic");
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lic"))
            .args(["info", golden.to_str().unwrap()])
            .current_dir(d.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{err}");
    }
}
