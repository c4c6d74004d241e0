//! `lic bdrate`, `lic plot` and `lic eval --codec` through the real binary.

use std::process::{Command, Output};

fn lic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lic"))
        .args(args)
        .output()
        .expect("run lic")
}

fn anchor(rel: &str) -> String {
    format!(
        "{}/anchors/{rel}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../..")
    )
}

#[test]
fn bdrate_command() {
    let a = anchor("measured/kodak/avif.json");
    let v = anchor("kodak/vtm.json");
    let o = lic(&["bdrate", &a, &v]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    // AVIF (speed 6) vs VTM on Kodak: +35.28 % (pchip), per the bjontegaard package.
    assert!(out.contains("35.2") || out.contains("35.3"), "{out}");
    let o = lic(&["bdrate", &a, &v, "--metric", "ms-ssim", "--method", "cubic"]);
    assert!(o.status.success());
    let o = lic(&["bdrate", &a, "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn plot_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rd.png");
    let out_s = out.to_str().unwrap();
    let v = anchor("kodak/vtm.json");
    let a = anchor("measured/kodak/avif.json");
    let o = lic(&["plot", &v, &a, "-o", out_s, "--title", "Kodak"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::metadata(&out).unwrap().len() > 20_000);
    let img = image::open(&out).unwrap();
    assert!(img.width() >= 800);
    // Existing output without --force, and output = input, are refused.
    assert_eq!(lic(&["plot", &v, "-o", out_s]).status.code(), Some(1));
    assert_eq!(
        lic(&["plot", &v, "-o", &v, "--force"]).status.code(),
        Some(1)
    );
}

#[test]
fn eval_command_with_a_conventional_codec() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    std::fs::create_dir(&ds).unwrap();
    for i in 0..2u32 {
        let img = image::RgbImage::from_fn(192, 176, |x, y| {
            image::Rgb([
                (x * 3 + i * 40) as u8,
                (y * 2) as u8,
                ((x ^ y) & 0xff) as u8,
            ])
        });
        img.save(ds.join(format!("im{i}.png"))).unwrap();
    }
    let out = dir.path().join("r.json");
    let o = lic(&[
        "eval",
        "--dataset",
        ds.to_str().unwrap(),
        "--codec",
        "jpeg",
        "--quality",
        "20,80",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let bpp = r["results"]["bpp"].as_array().unwrap();
    assert_eq!(bpp.len(), 2);
    assert!(bpp[0].as_f64().unwrap() < bpp[1].as_f64().unwrap());
    assert!(
        r["results"]["psnr-rgb"][1].as_f64().unwrap()
            > r["results"]["psnr-rgb"][0].as_f64().unwrap()
    );
    // --resume adds the missing quality only; without it the file is not overwritten.
    let out_s = out.to_str().unwrap();
    let ds_s = ds.to_str().unwrap();
    let args = |extra: &[&'static str]| {
        let mut a = vec!["eval", "--dataset", ds_s, "--codec", "jpeg", "-o", out_s];
        a.extend_from_slice(extra);
        a
    };
    assert_eq!(lic(&args(&["--quality", "20,50"])).status.code(), Some(1));
    let o = lic(&args(&["--quality", "20,50,80", "--resume"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        r2["results"]["quality"],
        serde_json::json!([20.0, 50.0, 80.0])
    );
    // The rows of quality 20 are the first run's (the same encoding time).
    assert_eq!(
        r2["points"][0]["per_image"][0]["encoding_time"],
        r["points"][0]["per_image"][0]["encoding_time"]
    );
    assert_eq!(r2["earlier_runs"].as_array().unwrap().len(), 1);
    // Another codec's rows are refused; --resume needs --output.
    let o = lic(&[
        "eval",
        "--dataset",
        ds_s,
        "--codec",
        "webp",
        "-o",
        out_s,
        "--resume",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("another file"));
    assert_eq!(
        lic(&["eval", "--dataset", ds_s, "--codec", "jpeg", "--resume"])
            .status
            .code(),
        Some(2)
    );
    // Errors: missing dataset, unknown codec, conflicting options.
    assert_eq!(
        lic(&["eval", "--dataset", "/nonexistent", "--codec", "jpeg"])
            .status
            .code(),
        Some(1)
    );
    let o = lic(&["eval", "--dataset", ".", "--codec", "mp3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("jpeg444"));
    let o = lic(&[
        "eval",
        "--dataset",
        ".",
        "--codec",
        "jpeg",
        "--quality",
        "5",
        "--points",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_failed_eval_says_whether_the_output_holds_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    std::fs::create_dir(&ds).unwrap();
    let img = image::RgbImage::from_fn(192, 176, |x, y| image::Rgb([x as u8, y as u8, 7]));
    img.save(ds.join("b.png")).unwrap();
    let out = dir.path().join("r.json");
    let (ds_s, out_s) = (ds.to_str().unwrap(), out.to_str().unwrap());
    let eval = |extra: &[&str]| {
        let mut a = vec![
            "eval",
            "--dataset",
            ds_s,
            "--codec",
            "jpeg",
            "--quality",
            "50",
            "-o",
            out_s,
        ];
        a.extend_from_slice(extra);
        lic(&a)
    };
    let o = eval(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = std::fs::read(&out).unwrap();
    // A broken image listed before the good one: --force fails before any row, and the file
    // is still the first run's, which the error says instead of pointing --resume at it.
    std::fs::write(ds.join("a.png"), b"not a png").unwrap();
    let o = eval(&["--force"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unchanged") && !err.contains("--resume"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), first);
    // Listed after it: the good image's row is written, and the error says so.
    std::fs::rename(ds.join("a.png"), ds.join("c.png")).unwrap();
    let o = eval(&["--force"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("measured so far") && err.contains("--resume"),
        "{err}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["points"][0]["per_image"][0]["image"], "b.png");
}
