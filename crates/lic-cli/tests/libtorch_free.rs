//! The `lic` binary without `lic-torch`: it links neither libtorch nor FFmpeg, decodes the lic-dwt
//! and lic-overfit golden streams to the library's pixels with `lic-torch` out of reach
//! (`LIC_TORCH` pointing nowhere), says that a libtorch model's stream needs `lic-torch`, refuses
//! a non-`.lic` input and an existing output (without `--force`) with an error and exit status
//! 1, and never writes a half output.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn golden(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/golden")
        .join(name)
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lic"))
        .env("LIC_TORCH", "/nonexistent/lic-torch")
        .args(args)
        .output()
        .expect("lic runs")
}

fn decode_to(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut a: Vec<&std::ffi::OsStr> = vec!["decode".as_ref()];
    a.extend(extra.iter().map(|s| -> &std::ffi::OsStr { s.as_ref() }));
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
        let want = lic::registry::by_model_id(&c.header.model_id)
            .unwrap()
            .decode(&c, &Default::default())
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
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("needs libtorch") && err.contains("lic-torch"),
        "{err}"
    );
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

#[test]
fn the_lic_binary_links_neither_libtorch_nor_ffmpeg() {
    // The dynamic dependencies as the loader resolves them.
    let o = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_lic"))
        .output()
        .expect("ldd runs");
    let deps = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{deps}");
    for lib in ["libtorch", "libc10", "libavcodec", "libavformat"] {
        assert!(!deps.contains(lib), "lic needs {lib}:\n{deps}");
    }
}

#[test]
fn libtorch_work_is_handed_to_lic_torch_with_the_same_arguments() {
    // `cargo test --workspace` builds lic-torch beside lic.
    let torch = Path::new(env!("CARGO_BIN_EXE_lic")).with_file_name("lic-torch");
    assert!(
        torch.is_file(),
        "{} not built: run `cargo test --workspace`",
        torch.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let lic = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lic"))
            .env_remove("LIC_TORCH")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // A subcommand only lic-torch parses: its help, exit 0.
    let o = lic(&["train", "--help"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--out"));
    // A libtorch model's golden stream decodes through lic to the same pixels as lic-torch.
    let g = golden("synthetic-45x29-q5.lic");
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    let o = lic(&["decode", g.to_str().unwrap(), a.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(&torch)
        .args(["decode", g.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // Bad arguments keep lic-torch's exit code 2.
    assert_eq!(lic(&["train", "--bogus"]).status.code(), Some(2));
}
