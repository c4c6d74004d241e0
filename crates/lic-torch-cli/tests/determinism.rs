//! Bit-exact decoding whatever the thread count and instruction set: the table choice comes from
//! exact integer networks (`nn::int`), so a bitstream decodes to the encoder's symbols, table
//! indexes, μ and σ (compared bit for bit with `lic decode --check-symbols`) with 1–4 threads and
//! with oneDNN restricted to AVX2 or not, for both model families; and the debug switch reports
//! the first mismatching value.

use std::process::Command;

use lic::codec::{self, CodecModel, EncodeOptions, SymbolTrace};

#[path = "../../../tests/common/mod.rs"]
mod common;
use common::synthetic;

fn lic(args: &[&str], isa: Option<&str>) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lic-torch"));
    c.args(args);
    match isa {
        Some(v) => c.env("ONEDNN_MAX_CPU_ISA", v),
        None => c.env_remove("ONEDNN_MAX_CPU_ISA"),
    };
    c.output().expect("run lic")
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn thread_and_isa_matrix_decodes_the_encoders_symbols() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_string();
    lic::io::image::save(&synthetic(200, 136, 31), &d.path().join("s.png")).unwrap();
    for (model, q) in [("lic-elic-small", "3.3"), ("lic-walloc", "4.5")] {
        // Encoded under one setting (AVX2, 3 threads) ...
        ok(lic(
            &[
                "--threads",
                "3",
                "encode",
                &p("s.png"),
                &p(&format!("{model}.lic")),
                "--model",
                model,
                "--quality",
                q,
                "--dump-symbols",
                &p(&format!("{model}.sym")),
            ],
            Some("AVX2"),
        ));
        // ... decoded under every other.
        for threads in ["1", "2", "3", "4"] {
            for isa in [None, Some("AVX2")] {
                let err = ok(lic(
                    &[
                        "--threads",
                        threads,
                        "decode",
                        &p(&format!("{model}.lic")),
                        &p(&format!("{model}-{threads}-{}.png", isa.unwrap_or("any"))),
                        "--check-symbols",
                        &p(&format!("{model}.sym")),
                    ],
                    isa,
                ));
                assert!(
                    err.contains("all") && err.contains("match"),
                    "{model}, {threads} threads, {isa:?}: {err}"
                );
            }
        }
    }
}

#[test]
fn the_first_mismatch_is_reported_with_its_inputs() {
    tch::set_num_threads(1);
    let m = CodecModel::load(
        &CodecModel::find("lic-elic-small").unwrap(),
        tch::Device::Cpu,
    )
    .unwrap();
    let img = synthetic(96, 64, 7);
    let opts = EncodeOptions {
        quality: 2.0,
        ..Default::default()
    };
    let (e, trace) = codec::encode_traced(&img, &m, &opts).unwrap();
    // One substream per tile for z plus two per slice.
    assert_eq!(trace.records.len(), 1 + 2 * m.config.slice_ranges().len());
    let clean = codec::decode_checked(&e.bytes, &m, &trace).unwrap();
    assert!(clean == e.reconstruction);
    let (_, dec) = codec::decode_traced(&e.bytes, &m).unwrap();
    assert_eq!(dec, trace, "the decoder's trace equals the encoder's");
    // A σ off by one float step in substream 4 (slice 1, non-anchors), value 10.
    let mut bad: SymbolTrace = trace.clone();
    let r = bad.records.iter_mut().find(|r| r.stream == 4).unwrap();
    r.sigma[10] = f32::from_bits(r.sigma[10].to_bits() + 1);
    let err = codec::decode_checked(&e.bytes, &m, &bad).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("substream 4") && msg.contains("value 10") && msg.contains("sigma"),
        "{msg}"
    );
    // A wrong symbol: reported as a symbol mismatch with both values.
    let mut bad = trace.clone();
    let r = bad.records.iter_mut().find(|r| r.stream == 1).unwrap();
    r.symbols[3] += 1;
    let msg = codec::decode_checked(&e.bytes, &m, &bad)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("substream 1") && msg.contains("value 3") && msg.contains("symbol differs"),
        "{msg}"
    );
    // Through the CLI: exit 1 and the same report.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.lic"), &e.bytes).unwrap();
    bad.save(&d.path().join("bad.sym")).unwrap();
    let o = lic(
        &[
            "decode",
            d.path().join("a.lic").to_str().unwrap(),
            d.path().join("a.png").to_str().unwrap(),
            "--check-symbols",
            d.path().join("bad.sym").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("first mismatch"));
    assert!(!d.path().join("a.png").exists());
}
