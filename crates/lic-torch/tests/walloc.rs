//! The WaLLoC-style model through the codec: round trips at odd sizes and with tiles, the
//! encoder's reconstruction equals the decoder's output, and the latent export (shape, dtype,
//! both routes equal, through the library and the CLI). Uses a freshly exported tiny model, so
//! it does not depend on the shipped weights; the shipped `lic-walloc` is tested in
//! `shipped_walloc_round_trip`.

use std::path::{Path, PathBuf};

use lic::io::image::Image;
use lic_torch::codec::{self, model::TrainedModel, CodecModel, EncodeOptions};
use lic_torch::nn::weights::{FloatStorage, TensorFile};
use lic_torch::train::{TrainOptions, Trainer};
use lic_torch::zoo::WallocConfig;
use tch::{Device, Kind};

#[path = "../../../tests/common/mod.rs"]
mod common;
use common::{lic, synthetic};

fn tiny_model(dir: &Path) -> (CodecModel, PathBuf) {
    tch::set_num_threads(1);
    let t = Trainer::new(TrainOptions::new(WallocConfig::tiny(), vec![]), Device::Cpu).unwrap();
    let path = dir.join("walloc-tiny.safetensors");
    let m = CodecModel::export(
        TrainedModel {
            vs: &t.vs,
            net: &t.model,
        },
        "walloc-tiny",
        &path,
        FloatStorage::F32,
    )
    .unwrap();
    (m, path)
}

#[test]
fn round_trip_tiles_and_latents() {
    let d = tempfile::tempdir().unwrap();
    let (m, _) = tiny_model(d.path());
    assert_eq!(m.config.arch(), "walloc");
    for (w, h, q, tile) in [(37, 21, 1.0, 1024), (64, 48, 2.5, 1024), (150, 70, 3.0, 64)] {
        let img = synthetic(w, h, w + h);
        let opts = EncodeOptions {
            quality: q,
            tile,
            ..Default::default()
        };
        let e = codec::encode(&img, &m, &opts).unwrap();
        let out = codec::decode(&e.bytes, &m).unwrap();
        assert_eq!((out.width, out.height), (w, h));
        assert!(
            out.data == e.reconstruction.data,
            "{w}x{h}: decoder output differs from the encoder's reconstruction"
        );
        assert!(e.estimated_bits > 0.0);
        // Latents: tiny model has J = 2 (stride 4) and 8 channels.
        let a = codec::encode_latents(&img, &m, &opts).unwrap();
        let b = codec::decode_latents(&e.bytes, &m).unwrap();
        let shape = vec![8, (h as i64 + 3) / 4, (w as i64 + 3) / 4];
        assert_eq!(a.tensor.size(), shape);
        assert_eq!(a.tensor.kind(), Kind::Float);
        assert_eq!(a.stride, 4);
        assert!(
            a.tensor.equal(&b.tensor),
            "{w}x{h}: encoder and bitstream latents differ"
        );
        assert!(a.tensor.abs().sum(Kind::Double).double_value(&[]) > 0.0);
    }
}

#[test]
fn corrupt_walloc_streams_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let (m, _) = tiny_model(d.path());
    let opts = EncodeOptions {
        quality: 2.0,
        ..Default::default()
    };
    let e = codec::encode(&synthetic(64, 64, 3), &m, &opts).unwrap();
    for cut in [0, 10, e.bytes.len() / 2, e.bytes.len() - 1] {
        assert!(codec::decode(&e.bytes[..cut], &m).is_err());
        assert!(codec::decode_latents(&e.bytes[..cut], &m).is_err());
    }
}

#[test]
fn cli_latents_from_image_and_from_bitstream_agree() {
    let d = tempfile::tempdir().unwrap();
    let (_, model_path) = tiny_model(d.path());
    let mp = model_path.to_str().unwrap();
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_string();
    lic::io::image::save(&synthetic(70, 50, 5), &d.path().join("s.png")).unwrap();
    let ok = |o: std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(lic(&[
        "encode",
        &p("s.png"),
        &p("s.lic"),
        "--model",
        mp,
        "--quality",
        "2",
    ]));
    ok(lic(&[
        "latents",
        &p("s.png"),
        "-o",
        &p("a.safetensors"),
        "--model",
        mp,
        "--quality",
        "2",
    ]));
    ok(lic(&[
        "latents",
        &p("s.lic"),
        "-o",
        &p("b.safetensors"),
        "--model",
        mp,
    ]));
    let a = TensorFile::read(&d.path().join("a.safetensors")).unwrap();
    let b = TensorFile::read(&d.path().join("b.safetensors")).unwrap();
    let (ta, tb) = (&a.tensors["latent"], &b.tensors["latent"]);
    assert_eq!(ta.size(), vec![8, 13, 18]);
    assert_eq!(ta.kind(), Kind::Float);
    assert!(ta.equal(tb), "the two routes differ");
    assert_eq!(a.metadata["lic.route"], "encoder");
    assert_eq!(b.metadata["lic.route"], "bitstream");
    assert_eq!(a.metadata["lic.stride"], "4");
    // No overwrite without --force; a text file is a clear error.
    let o = lic(&[
        "latents",
        &p("s.lic"),
        "-o",
        &p("b.safetensors"),
        "--model",
        mp,
    ]);
    assert_eq!(o.status.code(), Some(1));
    std::fs::write(d.path().join("t.png"), "not an image").unwrap();
    let o = lic(&[
        "latents",
        &p("t.png"),
        "-o",
        &p("c.safetensors"),
        "--model",
        mp,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.path().join("c.safetensors").exists());
}

#[test]
fn shipped_walloc_round_trip() {
    tch::set_num_threads(1);
    let p = CodecModel::find("lic-walloc").expect("lic-walloc shipped in models/");
    let m = CodecModel::load(&p, Device::Cpu).unwrap();
    let img: Image = synthetic(256, 192, 11);
    let mut last_bytes = 0;
    for q in [1.0, 3.5, 6.0] {
        let opts = EncodeOptions {
            quality: q,
            ..Default::default()
        };
        let e = codec::encode(&img, &m, &opts).unwrap();
        let out = codec::decode(&e.bytes, &m).unwrap();
        assert!(out.data == e.reconstruction.data);
        let psnr = lic::metrics::psnr_rgb(&img, &out).unwrap();
        assert!(psnr > 24.0, "q {q}: PSNR {psnr:.2}");
        assert!(e.bytes.len() > last_bytes, "rate must grow with quality");
        last_bytes = e.bytes.len();
        let real = e.bytes.len() as f64 * 8.0;
        // The file also holds the header and substream table (~100 bytes) and the coder's
        // 32-bit flush words.
        assert!(
            e.estimated_bits < real && real - e.estimated_bits < 0.05 * real + 1200.0,
            "estimate {} vs real {real}",
            e.estimated_bits
        );
    }
}

#[test]
fn cli_train_walloc_with_validation_then_export_and_code() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for i in 0..3 {
        lic::io::image::save(&synthetic(64, 64, 20 + i), &data.join(format!("{i}.png"))).unwrap();
    }
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_string();
    let o = lic(&[
        "--threads",
        "1",
        "train",
        "--arch",
        "walloc-tiny",
        "--data",
        &p("data"),
        "--out",
        &p("run"),
        "--steps",
        "2",
        "--batch",
        "2",
        "--crop",
        "64",
        "--warmup",
        "1",
        "--log-every",
        "1",
        "--val",
        &p("data"),
        "--val-every",
        "2",
        "--val-limit",
        "2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(d.path().join("run/train_log.jsonl")).unwrap();
    let val: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("validation_step").is_some())
        .collect();
    assert_eq!(val.len(), 1, "{log}");
    let pts = val[0]["points"].as_array().unwrap();
    assert_eq!(pts.len(), 3);
    for pt in pts {
        assert!(pt["bpp"].as_f64().unwrap() > 0.0);
        assert!(pt["psnr"].as_f64().unwrap() > 5.0);
    }
    assert!(!d.path().join("run/validation-model.safetensors").exists());
    let o = lic(&[
        "train",
        "--export",
        &p("run/checkpoint.safetensors"),
        "--name",
        "w-test",
        "--out",
        &p("models"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let card: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("models/w-test.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(card["architecture"]["family"], "walloc");
    assert!(card["reproduce"]
        .as_str()
        .unwrap()
        .contains("--arch walloc-tiny"));
    let o = lic(&[
        "encode",
        &p("data/0.png"),
        &p("x.lic"),
        "--model",
        &p("models/w-test.safetensors"),
        "--quality",
        "2",
        "--verify",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
