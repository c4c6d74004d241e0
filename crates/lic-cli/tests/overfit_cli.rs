//! `lic encode/decode/info` with `--model overfit` (needs the binary, so the engine feature).
use std::process::Command;

fn lic(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lic"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn encode_verify_decode_and_info() {
    let d = tempfile::tempdir().unwrap();
    let (w, h) = (24u32, 16u32);
    let data: Vec<u8> = (0..w * h * 3).map(|i| ((i * 29) % 253) as u8).collect();
    lic::io::image::save(
        &lic::io::image::Image::new(w, h, data),
        &d.path().join("in.png"),
    )
    .unwrap();
    let args = [
        "--threads",
        "2",
        "encode",
        "in.png",
        "o.lic",
        "--model",
        "overfit",
        "--effort",
        "fast",
        "--time-limit",
        "3",
        "--verify",
    ];
    let o = lic(d.path(), &args);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("verified") && out.contains("iterations"),
        "{out}"
    );
    let o = lic(d.path(), &["--threads", "1", "decode", "o.lic", "back.png"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let back = lic::io::image::load(&d.path().join("back.png"), &Default::default()).unwrap();
    assert_eq!((back.image.width, back.image.height), (w, h));
    let o = lic(d.path(), &["info", "o.lic"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("lic-overfit"));
    // Out-of-range quality is refused before any work, and nothing is written.
    let o = lic(
        d.path(),
        &[
            "encode",
            "in.png",
            "q.lic",
            "--model",
            "overfit",
            "--quality",
            "11",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside lic-overfit's range"));
    assert!(!d.path().join("q.lic").exists());
}
