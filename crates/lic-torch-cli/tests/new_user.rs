//! The new-user defect of issue #36 that lives on the libtorch side (`--model FILE` that is no
//! model), through the `lic-torch` binary (which `lic` hands it to). `lic latents` of the
//! libtorch-free families is tested in `crates/lic-cli/tests/new_user.rs`.
use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../tests/common/mod.rs"]
mod common;

fn lic(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lic-torch"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn fails(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_file_that_is_not_a_model_is_named_as_such() {
    let d = tempfile::tempdir().unwrap();
    lic::io::image::save(&common::synthetic(32, 24, 1), &d.path().join("in.png")).unwrap();
    std::fs::write(d.path().join("notes.txt"), "not a model").unwrap();
    fails(
        &lic(d.path(), &["encode", "in.png", "a.lic", "-m", "notes.txt"]),
        "not a lic model",
    );
}
