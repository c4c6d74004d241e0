//! Replays of the `decode_overfit` fuzz target's inputs through its harness
//! (`fuzz/overfit.rs`), and the writer of its seed corpus (`fuzz/seeds-overfit/`).
#[path = "../fuzz/overfit.rs"]
mod harness;
#[path = "common/seeds.rs"]
mod seeds;

use std::path::Path;

use lic::overfit::{self, EncodeOptions};

fn seed_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds-overfit")
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

/// Regenerates the seeds (by hand: `cargo test --release --no-default-features --test
/// overfit_fuzz -- --ignored write_overfit_seeds`).
#[test]
#[ignore]
fn write_overfit_seeds() {
    for (name, w, h, q, iters) in [
        ("tiny-9x7-q2", 9u32, 7u32, 2.0f32, (30, 10)),
        ("small-33x20-q6", 33, 20, 6.0, (60, 20)),
    ] {
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37) % 251) as u8).collect();
        let opts = EncodeOptions {
            quality: q,
            iterations: Some(iters),
            ..Default::default()
        };
        let e = overfit::encode(&rgb, w, h, false, &opts, &mut |_| {}).unwrap();
        std::fs::write(seed_dir().join(format!("{name}.lic")), &e.bytes).unwrap();
    }
}
