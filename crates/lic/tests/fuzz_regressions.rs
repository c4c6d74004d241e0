//! Replays of `decode_container` fuzz inputs, plus the writer of the committed seed corpus.
//!
//! Every crash the fuzzer finds gets a named test here that runs the input through the same
//! harness (`fuzz/harness.rs`).
#[path = "../../../fuzz/harness.rs"]
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

/// Writes `fuzz/seeds/*.lic` and `fuzz/seeds-video/*.licv`; run by `fuzz/seeds.sh`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fuzz/seeds");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, flags, seed, chunks) in seeds() {
        let bytes = harness::make_container(flags, seed, &chunks);
        std::fs::write(dir.join(format!("{name}.lic")), bytes).unwrap();
    }
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fuzz/seeds-video");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in video_seeds() {
        std::fs::write(dir.join(format!("{name}.licv")), bytes).unwrap();
    }
}

/// `.licv` seed streams: (name, bytes, frames, frames with a bad CRC).
fn video_streams() -> Vec<(&'static str, Vec<u8>, usize, usize)> {
    use lic::format::video::{stream_bytes, FrameChunk, FrameKind, VideoColour, VideoHeader};
    let header = |frames: u32| VideoHeader {
        model_id: "lic-video".into(),
        weights_hash: [3; 16],
        width: 48,
        height: 40,
        fps_num: 25,
        fps_den: 1,
        colour: VideoColour {
            chroma: 0,
            matrix: 1,
            range: 1,
            primaries: 1,
            transfer: 1,
            chroma_location: 1,
        },
        quality: 3.0,
        gop: 3,
        frames,
    };
    let chunk = |kind, seed: u8, lens: &[usize]| FrameChunk {
        kind,
        substreams: lens
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..n)
                    .map(|j| (j as u8).wrapping_mul(31) ^ seed ^ i as u8)
                    .collect()
            })
            .collect(),
    };
    let gop = vec![
        chunk(FrameKind::Intra, 1, &[12, 80]),
        chunk(FrameKind::Inter, 2, &[8, 40]),
        chunk(FrameKind::Inter, 3, &[0, 33]),
        chunk(FrameKind::Intra, 4, &[12, 70]),
    ];
    let plain = stream_bytes(&header(4), &gop).unwrap();
    // The same stream with frame 1's CRC broken: the reader skips it and goes on.
    let mut damaged = plain.clone();
    let frame1 = header(4).to_bytes().unwrap().len() + gop[0].coded_len();
    damaged[frame1 + 2 + 4 * 2] ^= 0x40;
    let single = stream_bytes(&header(1), &[chunk(FrameKind::Intra, 9, &[1])]).unwrap();
    let golden = std::fs::read(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/golden/video-pan-48x40-q3.licv"),
    )
    .expect("golden .licv");
    vec![
        ("gop4", plain, 4, 0),
        ("gop4_bad_crc", damaged, 4, 1),
        ("single", single, 1, 0),
        ("golden_pan", golden, 5, 0),
    ]
}

fn video_seeds() -> Vec<(&'static str, Vec<u8>)> {
    video_streams()
        .into_iter()
        .map(|(n, b, _, _)| (n, b))
        .collect()
}

#[test]
fn video_seeds_parse_through_the_harness() {
    for (name, bytes, frames, bad) in video_streams() {
        assert_eq!(
            harness::run_video(&bytes),
            Some((frames - bad, bad)),
            "{name}"
        );
        // Repairing the CRCs mends the damaged seed and changes nothing in the others.
        let fixed = harness::repair_video_crcs(&bytes).unwrap();
        assert_eq!(harness::run_video(&fixed), Some((frames, 0)), "{name}");
        if bad == 0 {
            assert_eq!(fixed, bytes, "{name}");
        }
        // Every truncation is handled without panicking; one inside the header is rejected.
        for len in 0..bytes.len() {
            harness::run_video_fuzz(&bytes[..len]);
        }
        assert_eq!(harness::run_video(&bytes[..20]), None, "{name}");
        for bit in (0..bytes.len() * 8).step_by(5) {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            harness::run_video_fuzz(&b);
        }
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
