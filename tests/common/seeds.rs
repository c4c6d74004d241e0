//! The seed-replay check shared by the fuzz targets' tests (`tests/*_fuzz.rs`); libtorch-free,
//! so it is included by path rather than through `common` (whose helpers need the binary).

/// A fuzz target's harness: `run` decodes an input as it is (`Some` when it decodes),
/// `repair_crcs` mends its checksums, `run_fuzz` is the fuzzer's entry point (must not panic).
pub struct Harness {
    /// Decodes the input as it is.
    pub run: fn(&[u8]) -> Option<usize>,
    /// The input with its checksums repaired (`None`: not a container).
    pub repair_crcs: fn(&[u8]) -> Option<Vec<u8>>,
    /// The fuzz target's body.
    pub run_fuzz: fn(&[u8]),
}

/// Replays every seed in `dir`: each decodes, needs no CRC repair, and every `cut_step`-th
/// truncation is refused; the truncations and every `flip_step`-th single-bit flip go through
/// the fuzz entry point without a panic. Returns the number of seeds.
pub fn replay(dir: &std::path::Path, h: &Harness, cut_step: usize, flip_step: usize) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!((h.run)(&bytes).is_some(), "a seed must decode");
        assert_eq!((h.repair_crcs)(&bytes).as_deref(), Some(&bytes[..]));
        for len in (0..bytes.len()).step_by(cut_step) {
            assert_eq!((h.run)(&bytes[..len]), None, "cut at {len}");
            (h.run_fuzz)(&bytes[..len]);
        }
        for bit in (0..bytes.len() * 8).step_by(flip_step) {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            (h.run_fuzz)(&b);
        }
        n += 1;
    }
    n
}
