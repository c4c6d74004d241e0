//! Replays of `decode_container` fuzz inputs, plus the writer of the committed seed corpus.
//!
//! Every crash the fuzzer finds gets a named test here that runs the input through the same
//! harness (`fuzz/harness.rs`).
#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

/// Seed inputs: (file name, flags, seed, chunks).
fn seeds() -> Vec<(&'static str, u8, u8, Vec<Vec<i32>>)> {
    let wave: Vec<i32> = (0..200).map(|i| ((i * 37) % 23) - 11).collect();
    let wild = vec![0, i32::MIN, i32::MAX, -3, 1 << 20, -(1 << 25), 7];
    vec![
        ("gauss_ans", 0, 3, vec![wave.clone(), wild.clone(), vec![]]),
        ("gauss_range", 2, 9, vec![wave.clone(), wild.clone()]),
        ("fact_ans", 1, 1, vec![wave.clone(), wild.clone()]),
        ("fact_range", 3, 0, vec![wild.clone()]),
        (
            "fact_tables_ans",
            5,
            2,
            vec![wave[..50].to_vec(), wild.clone()],
        ),
        ("gray_empty", 8, 0, vec![]),
    ]
}

#[test]
fn seeds_decode_through_the_harness() {
    for (name, flags, seed, chunks) in seeds() {
        let bytes = harness::make_container(flags, seed, &chunks);
        assert!(lic::format::Container::parse(&bytes).is_ok(), "{name}");
        let total: usize = chunks.iter().map(Vec::len).sum();
        assert_eq!(harness::run(&bytes), Some(total), "{name}");
        // Every truncation of a seed is rejected without panicking.
        for len in 0..bytes.len() {
            assert_eq!(harness::run(&bytes[..len]), None, "{name} cut at {len}");
            harness::run_fuzz(&bytes[..len]);
        }
        // Repairing the CRCs of a valid file changes nothing; with a flipped payload bit the
        // repaired file reaches the decoder, which must not panic.
        assert_eq!(harness::repair_crcs(&bytes).as_deref(), Some(&bytes[..]));
        for bit in (0..bytes.len() * 8).step_by(3) {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            harness::run_fuzz(&b);
        }
    }
}

/// Writes `fuzz/seeds/*.lic`; run by `fuzz/seeds.sh`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, flags, seed, chunks) in seeds() {
        let bytes = harness::make_container(flags, seed, &chunks);
        std::fs::write(dir.join(format!("{name}.lic")), bytes).unwrap();
    }
}

/// A substream whose decoding runs past the end of the data must be an error, not a stream of
/// "free" symbols (ANS state 0 decodes the first table entry at no cost).
#[test]
fn overlong_symbol_count_is_rejected() {
    use lic::coder::{decode_chunk, encode_chunk, gaussian_tables, Backend};
    let t = gaussian_tables();
    let s = encode_chunk(t, &[1, 2, 3], &[10, 10, 10], Backend::Ans).unwrap();
    assert!(decode_chunk(t, &s, &[10; 4], Backend::Ans).is_err());
    assert!(decode_chunk(t, &[], &[10], Backend::Ans).is_err());
    assert!(decode_chunk(t, &[1, 0, 0, 0], &[10], Backend::Ans).is_err());
}
