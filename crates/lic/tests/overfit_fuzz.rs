//! Replays of the `decode_overfit` fuzz target's inputs through its harness
//! (`fuzz/overfit.rs`), and the writer of its seed corpus (`fuzz/seeds-overfit/`).
#[path = "../../../fuzz/overfit.rs"]
mod harness;
#[path = "../../../tests/common/seeds.rs"]
mod seeds;

use std::path::Path;

use lic::overfit::{self, EncodeOptions};

fn seed_dir() -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fuzz/seeds-overfit")
}

/// Every committed seed decodes through the harness; its truncations and (repaired) bit flips
/// do not panic.
#[test]
fn seeds_replay_through_the_harness() {
    let h = seeds::Harness {
        run: harness::run,
        repair_crcs: harness::repair_crcs,
        run_fuzz: harness::run_fuzz,
    };
    let n = seeds::replay(&seed_dir(), &h, 5, 11);
    assert!(n >= 2, "seed corpus missing");
}

/// Regenerates the seeds (by hand: `cargo test --release -p lic --test
/// overfit_fuzz -- --ignored write_overfit_seeds`).
#[test]
#[ignore]
fn write_overfit_seeds() {
    use lic::overfit::model::Upsampling;
    for (name, w, h, q, iters, up) in [
        (
            "tiny-9x7-q2",
            9u32,
            7u32,
            2.0f32,
            (30, 10),
            Upsampling::Bilinear,
        ),
        (
            "small-33x20-q6",
            33,
            20,
            6.0,
            (60, 20),
            Upsampling::Bilinear,
        ),
        (
            "low-rate-24x17-q1",
            24,
            17,
            1.0,
            (40, 10),
            Upsampling::Bilinear,
        ),
        (
            "cubic-21x13-q4",
            21,
            13,
            4.0,
            (40, 10),
            Upsampling::CatmullRom,
        ),
    ] {
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37) % 251) as u8).collect();
        let opts = EncodeOptions {
            quality: q,
            iterations: Some(iters),
            arch: Some(lic::overfit::model::Arch {
                upsampling: up,
                arm_skip: false,
                syn_skip: false,
                ..lic::overfit::train::default_arch(q)
            }),
            ..Default::default()
        };
        let e = overfit::encode(&rgb, w, h, false, &opts, &mut |_| {}).unwrap();
        std::fs::write(seed_dir().join(format!("{name}.lic")), &e.bytes).unwrap();
    }
    // Parent inputs: the grids are decoded from the coarsest.
    let (w, h) = (27u32, 19u32);
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 53) % 251) as u8).collect();
    let opts = EncodeOptions {
        quality: 3.0,
        iterations: Some((40, 10)),
        arch: Some(lic::overfit::model::Arch {
            parents: 3,
            ifce: 0,
            ifce_levels: 0,
            arm_residual: false,
            arm_hidden: vec![16, 16],
            ..lic::overfit::train::default_arch(3.0)
        }),
        ..Default::default()
    };
    let e = overfit::encode(&rgb, w, h, false, &opts, &mut |_| {}).unwrap();
    std::fs::write(seed_dir().join("parents-27x19-q3.lic"), &e.bytes).unwrap();
    for v in ["v2", "v3", "v4", "v5"] {
        std::fs::copy(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .join(format!("tests/golden/overfit-synthetic-45x29-q5-{v}.lic")),
            seed_dir().join(format!("golden-{v}-45x29-q5.lic")),
        )
        .unwrap();
    }
}
