//! Replays of the `decode_dwt` fuzz target's inputs through its harness (`fuzz/dwt.rs`), and
//! the writer of its seed corpus (`fuzz/seeds-dwt/`). Each crash the fuzzer finds gets a named
//! test here.
#[path = "../../../fuzz/dwt.rs"]
mod harness;
#[path = "../../../tests/common/seeds.rs"]
mod seeds;

use std::path::Path;

use lic::dwt::{self, EncodeOptions};

fn seed_dir() -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fuzz/seeds-dwt")
}

/// The seeds: (file name, width, height, gray, quality); small enough for the harness's pixel
/// cap, with zero to three wavelet levels.
const SEEDS: [(&str, u32, u32, bool, f32); 4] = [
    ("tiny-5x3-q8", 5, 3, false, 8.0),
    ("small-37x33-q6", 37, 33, false, 6.0),
    ("gray-40x24-q10", 40, 24, true, 10.0),
    ("levels3-70x64-q3", 70, 64, false, 3.0),
];

fn seed_image(w: u32, h: u32, gray: bool) -> Vec<u8> {
    let c = if gray { 1 } else { 3 };
    (0..w * h * c)
        .map(|i| {
            let (x, y) = ((i / c) % w, (i / c) / w);
            ((x * 7 + y * 3 + (i % c) * 50 + (x * y) % 13) % 256) as u8
        })
        .collect()
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
    let n = seeds::replay(&seed_dir(), &h, 3, 7);
    assert!(n >= SEEDS.len(), "seed corpus missing");
}

/// Regenerates the seeds (by hand, with the golden files: `cargo test --release --test dwt
/// --test dwt_fuzz -- --ignored write_dwt`).
#[test]
#[ignore]
fn write_dwt_seeds() {
    std::fs::create_dir_all(seed_dir()).unwrap();
    for (name, w, h, gray, q) in SEEDS {
        let e = dwt::encode(&seed_image(w, h, gray), w, h, gray, &EncodeOptions::new(q)).unwrap();
        std::fs::write(seed_dir().join(format!("{name}.lic")), &e.bytes).unwrap();
    }
    // A stream with chroma from luma (blob version 2): blocks whose colours follow their luma.
    let (w, h) = (64u32, 48u32);
    let data: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let l = 40 + (x / 6 + y / 5) % 2 * 110 + (x * y) % 23 * 3;
            [
                (l * 9 / 10 + 20) as u8,
                (l * 3 / 5 + 50 + i % 5) as u8,
                (240 - l * 4 / 5) as u8,
            ]
        })
        .collect();
    let e = dwt::encode(&data, w, h, false, &EncodeOptions::new(6.0)).unwrap();
    let c = lic::format::Container::parse(&e.bytes).unwrap();
    assert_eq!(c.header.params[0], 2, "no chroma from luma in the seed");
    std::fs::write(seed_dir().join("cfl-64x48-q6.lic"), &e.bytes).unwrap();
    // A stream with classified restoration filters (blob version 3; too small for the encoder
    // to choose them, so they are written into the blob): two groups per channel, some classes
    // unfiltered.
    let (w, h) = (40u32, 32u32);
    let e = dwt::encode(
        &seed_image(w, h, false),
        w,
        h,
        false,
        &EncodeOptions::new(6.0),
    )
    .unwrap();
    let mut c = lic::format::Container::parse(&e.bytes).unwrap();
    let mut p = dwt::Params::parse(&c.header.params).unwrap();
    p.filters.clear();
    p.alf = (0..3)
        .map(|ch| dwt::alf::Channel {
            map: std::array::from_fn(|k| ((k + ch) % 3) as u8),
            taps: vec![
                [6, 6, 2, 2, -1, -1, 0, 0, 0, 0, 0, 0],
                [-4, 3, 1, -2, 1, 0, 0, 1, 0, 0, 0, -1],
            ],
        })
        .collect();
    c.header.params = p.to_bytes();
    assert_eq!(c.header.params[0], 3);
    let bytes = c.to_bytes().unwrap();
    dwt::decode(&bytes, u64::MAX).unwrap();
    std::fs::write(seed_dir().join("alf-40x32-q6.lic"), &bytes).unwrap();
}
