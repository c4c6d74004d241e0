//! The new-user defects of issue #36 that live on the libtorch side, through the `lic-torch`
//! binary (which `lic` hands these commands to).
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
fn latents_of_a_libtorch_free_stream_say_what_latents_are() {
    let d = tempfile::tempdir().unwrap();
    lic::io::image::save(&common::synthetic(32, 24, 1), &d.path().join("in.png")).unwrap();
    let o = lic(d.path(), &["encode", "in.png", "a.lic"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fails(
        &lic(d.path(), &["latents", "a.lic", "-o", "a.safetensors"]),
        "lic-dwt has no latent tensor",
    );
    fails(
        &lic(
            d.path(),
            &["latents", "in.png", "-o", "a.safetensors", "-m", "overfit"],
        ),
        "lic-overfit has no latent tensor",
    );
    assert!(!d.path().join("a.safetensors").exists());
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
