//! The libtorch-free `lic-decode` binary: it decodes the lic-dwt and lic-overfit golden streams
//! to the library's pixels, refuses a libtorch model's stream, a non-`.lic` input and an
//! existing output (without `--force`) with an error and exit status 1, and never writes a
//! half output.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lic-decode"))
        .args(args)
        .output()
        .expect("lic-decode runs")
}

fn decode_to(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut a: Vec<&std::ffi::OsStr> = extra.iter().map(|s| s.as_ref()).collect();
    a.push(input.as_os_str());
    a.push(out.as_os_str());
    run(&a)
}

#[test]
fn decodes_the_libtorch_free_golden_streams_to_the_library_pixels() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "overfit-synthetic-45x29-q5.lic",
        "dwt-synthetic-45x29-q5.lic",
        "dwt-synthetic-gray-32x40-q9.lic",
    ] {
        let out = dir.path().join(format!("{name}.png"));
        let o = decode_to(&golden(name), &out, &["--threads", "2"]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let bytes = std::fs::read(golden(name)).unwrap();
        let c = lic::format::Container::parse(&bytes).unwrap();
        let want = (lic::registry::by_model_id(&c.header.model_id)
            .unwrap()
            .decode)(&bytes)
        .unwrap();
        let got = lic::io::image::load(&out, &Default::default())
            .unwrap()
            .image;
        assert_eq!((got.width, got.height), (want.width, want.height), "{name}");
        // A grey image is written as one channel and loads back expanded to RGB.
        let want_rgb = if want.gray {
            want.to_gray().data
        } else {
            want.data.clone()
        };
        let got_rgb = if want.gray {
            got.to_gray().data
        } else {
            got.data
        };
        assert_eq!(got_rgb, want_rgb, "{name}");
    }
}

#[test]
fn bad_inputs_and_existing_outputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    // A libtorch model's stream.
    let o = decode_to(&golden("synthetic-45x29-q5.lic"), &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("lic decode"));
    assert!(!out.exists());
    // Not a .lic file.
    let o = decode_to(&golden("synthetic-45x29-q5.png"), &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
    // Truncated.
    let bytes = std::fs::read(golden("overfit-synthetic-45x29-q5.lic")).unwrap();
    let cut = dir.path().join("cut.lic");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = decode_to(&cut, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
    // An existing output is kept unless --force.
    std::fs::write(&out, b"keep").unwrap();
    let o = decode_to(&golden("overfit-synthetic-45x29-q5.lic"), &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep");
    let o = decode_to(
        &golden("overfit-synthetic-45x29-q5.lic"),
        &out,
        &["--force"],
    );
    assert!(o.status.success());
    assert_ne!(std::fs::read(&out).unwrap(), b"keep");
    // Usage errors exit with 2.
    assert_eq!(run(&["--bogus".as_ref()]).status.code(), Some(2));
}
