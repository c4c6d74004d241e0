//! Machine-perception evaluation: the TorchScript classifier against the Python reference
//! logits, and `lic eval --task classify` end to end through the real binary.
//!
//! Needs `.perception/efficientnet-lite0.ts`, made by `scripts/setup-perception.sh` (which
//! scripts/test.sh runs). The fixtures in tests/golden/perception are project-made synthetic
//! images and the Python logits for them (`scripts/setup-perception.sh --reference`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lic::eval::classify::TorchClassifier;
use lic::io::image::{load, LoadOptions};
use serde_json::Value;

fn golden(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/golden/perception")
        .join(name)
}

/// The exported classifier; fails with the set-up instruction when it is missing.
fn classifier_path() -> PathBuf {
    match TorchClassifier::find(None) {
        Ok(p) => p,
        Err(e) => panic!(
            "the EfficientNet-Lite0 TorchScript file is missing: run scripts/setup-perception.sh \
             (scripts/test.sh does). {e}"
        ),
    }
}

fn reference() -> Value {
    let text = std::fs::read_to_string(golden("logits.json")).expect("read logits.json");
    serde_json::from_str(&text).expect("parse logits.json")
}

/// A JSON list of numbers.
fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, found {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn lic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lic-torch"))
        .args(["--threads", "1"])
        .args(args)
        .output()
        .expect("run lic")
}

/// `lic eval --task classify --dataset DS --codec jpeg --quality Q EXTRA...`.
fn classify_jpeg(ds: &Path, quality: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "eval",
        "--task",
        "classify",
        "--dataset",
        ds.to_str().unwrap(),
        "--codec",
        "jpeg",
        "--quality",
        quality,
    ];
    args.extend_from_slice(extra);
    lic(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn rust_logits_match_the_python_reference() {
    tch::set_num_threads(1);
    let classifier = TorchClassifier::load(&classifier_path()).expect("load classifier");
    let r = reference();
    let images = r["images"].as_array().expect("images list");
    assert!(images.len() >= 4, "reference has {} images", images.len());
    let mut resized = 0;
    for im in images {
        let file = im["file"].as_str().unwrap();
        let img = load(&golden(file), &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .image;
        assert_eq!(
            (img.width as u64, img.height as u64),
            (
                im["width"].as_u64().unwrap(),
                im["height"].as_u64().unwrap()
            ),
            "{file}"
        );
        if (img.width, img.height) != (256, 256) {
            resized += 1;
        }
        let want = numbers(&im["logits"]);
        let got = classifier.classify(&img).expect("classify");
        assert_eq!(got.len(), 1000, "{file}");
        assert_eq!(want.len(), 1000, "{file}");
        let max_diff = got
            .iter()
            .zip(&want)
            .map(|(&g, &w)| (g as f64 - w).abs())
            .fold(0.0, f64::max);
        assert!(max_diff <= 1e-4, "{file}: max |logit diff| {max_diff:e}");
        let top5: Vec<f64> = lic::eval::perception::top_k(&got, 5)
            .into_iter()
            .map(|i| i as f64)
            .collect();
        assert_eq!(top5, numbers(&im["top5"]), "{file}");
    }
    // Landscape and portrait images exercise the resize path, 256x256 the crop-only path.
    assert!(resized >= 2 && resized < images.len());
}

/// A synthetic photo-like image: smooth colour fields (which survive 4:2:0 chroma subsampling)
/// with a luma-only pattern.
fn smooth_image(w: u32, h: u32, kind: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let luma = match kind {
            0 => ((x / 12 + y / 12) % 2) as i32 * 60,
            _ => {
                let (dx, dy) = (x as i32 - w as i32 / 2, y as i32 - h as i32 / 3);
                ((dx * dx + dy * dy) / 400 % 3) * 45
            }
        };
        let base = [
            70 + (x * 90 / w) as i32,
            50 + (y * 120 / h) as i32,
            160 - (x * 60 / w) as i32 - (y * 40 / h) as i32,
        ];
        image::Rgb(base.map(|c| (c + luma).clamp(0, 255) as u8))
    })
}

/// A two-image labelled dataset: the first image labelled with its top-1 class, the second with
/// its second class (so on the originals top-1 accuracy is 1/2 and top-5 accuracy 1).
fn make_dataset(dir: &Path) -> PathBuf {
    tch::set_num_threads(1);
    let classifier = TorchClassifier::load(&classifier_path()).expect("load classifier");
    let ds = dir.join("ds");
    std::fs::create_dir(&ds).unwrap();
    let mut labels = String::from("file\tclass_index\tname\n");
    for (i, (w, h)) in [(256u32, 256u32), (320, 240)].into_iter().enumerate() {
        let name = format!("im{i}.png");
        let img = smooth_image(w, h, i as u32);
        img.save(ds.join(&name)).unwrap();
        let loaded = load(&ds.join(&name), &LoadOptions::default())
            .unwrap()
            .image;
        let top = lic::eval::perception::top_k(&classifier.classify(&loaded).unwrap(), 2);
        labels.push_str(&format!("{name}\t{}\tsynthetic\n", top[i]));
    }
    std::fs::write(ds.join("labels.tsv"), labels).unwrap();
    ds
}

#[test]
fn eval_classify_end_to_end_with_jpeg() {
    classifier_path();
    let dir = tempfile::tempdir().unwrap();
    let ds = make_dataset(dir.path());
    let out = dir.path().join("cls.json");
    let png = dir.path().join("cls.png");
    let o = classify_jpeg(
        &ds,
        "5,95",
        &["-o", out.to_str().unwrap(), "--plot", png.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("agreement"), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["task"], "classify");
    assert_eq!(v["name"], "jpeg420");
    assert_eq!(v["classifier"]["name"], "efficientnet-lite0");
    assert_eq!(v["classifier"]["sha256"].as_str().unwrap().len(), 64);
    let r = &v["results"];
    let list = |k: &str| numbers(&r[k]);
    assert_eq!(list("quality"), vec![5.0, 95.0]);
    let bpp = list("bpp");
    assert!(bpp[0] > 0.0 && bpp[1] > bpp[0], "bpp {bpp:?}");
    let agreement = list("agreement");
    assert_eq!(agreement[1], 1.0, "agreement {agreement:?}");
    assert_eq!(list("top1")[1], 0.5);
    assert_eq!(list("top5")[1], 1.0);
    let kl = list("kl");
    assert!(kl.iter().all(|&k| k >= 0.0) && kl[1] < kl[0], "kl {kl:?}");
    assert!(list("psnr-rgb")[1] > list("psnr-rgb")[0]);
    for k in ["agreement", "top1", "top5", "kl"] {
        let vals = list(k);
        for (i, ci) in r[format!("{k}_ci95")]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
            assert!(
                lo <= vals[i] + 1e-12 && vals[i] <= hi + 1e-12,
                "{k}[{i}] {} outside [{lo}, {hi}]",
                vals[i]
            );
        }
    }
    // Wilson interval of 2/2.
    let ci = &r["agreement_ci95"][1];
    assert!(
        (ci[0].as_f64().unwrap() - 0.3424).abs() < 1e-3 && ci[1] == 1.0,
        "{ci}"
    );
    // The uncompressed images: 1 of 2 labels is the top-1, both are in the top-5.
    assert_eq!(v["reference"]["top1"], 0.5);
    assert_eq!(v["reference"]["top5"], 1.0);
    assert_eq!(v["originals"].as_array().unwrap().len(), 2);
    // Summary: both thresholds reached, at no more than the top rate.
    let s = v["summary"]["bpp_at_agreement"].as_array().unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0]["agreement"], 0.8);
    assert_eq!(s[1]["agreement"], 0.9);
    for c in s {
        let b = c["bpp"].as_f64().expect("threshold reached");
        assert!(b > 0.0 && b <= bpp[1] + 1e-12, "{c}");
    }
    // Per-image rows: real file sizes and the classifier's view.
    let rows = v["points"][1]["per_image"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["agree"], true);
        assert!(row["bytes"].as_u64().unwrap() > 100);
        assert!(row["kl"].as_f64().unwrap() >= 0.0);
    }
    // The plot, and `lic plot` reading the file as agreement and as RD results.
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (1100, 800));
    let a = dir.path().join("a.png");
    let o = lic(&[
        "plot",
        "--metric",
        "agreement",
        out.to_str().unwrap(),
        "-o",
        a.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(&a).unwrap().len() > 10_000);
    let rd = dir.path().join("rd.png");
    let o = lic(&["plot", out.to_str().unwrap(), "-o", rd.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Outputs are not overwritten without --force.
    let o = classify_jpeg(&ds, "50", &["-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
}

#[test]
fn eval_classify_refuses_bad_input() {
    classifier_path();
    let dir = tempfile::tempdir().unwrap();
    let ds = make_dataset(dir.path());
    let run = |extra: &[&str]| classify_jpeg(&ds, "50", extra);
    // A missing classifier names the set-up script.
    let o = run(&["--classifier", "/nonexistent/classifier.ts"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("setup-perception.sh"), "{}", stderr(&o));
    // --classifier belongs to --task classify.
    let o = lic(&[
        "eval",
        "--dataset",
        ds.to_str().unwrap(),
        "--codec",
        "jpeg",
        "--classifier",
        "x.ts",
    ]);
    assert_eq!(o.status.code(), Some(1));
    // An image without a label.
    let labels = ds.join("labels.tsv");
    let text = std::fs::read_to_string(&labels).unwrap();
    let header_and_one: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&labels, header_and_one.join("\n")).unwrap();
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no label for 1 image"),
        "{}",
        stderr(&o)
    );
    // A class index the classifier does not have.
    std::fs::write(&labels, "file\tclass_index\nim0.png\t5000\nim1.png\t1\n").unwrap();
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("out of range"), "{}", stderr(&o));
    // No labels file at all.
    std::fs::remove_file(&labels).unwrap();
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("labels.tsv"), "{}", stderr(&o));
}
