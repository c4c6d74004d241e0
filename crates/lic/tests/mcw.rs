//! `lic-mcw`, the motion-compensated wavelet video family: round trips, determinism across
//! thread counts, the golden stream (`tests/golden/mcw.json`), the damaged-stream policy and
//! hostile input through the fuzz harness (`fuzz/mcw.rs`). Libtorch- and FFmpeg-free.
#[path = "../../../fuzz/mcw.rs"]
mod harness;

use std::path::{Path, PathBuf};

use lic::format::video::{parse_video, stream_bytes, FrameKind, VideoColour, MAX_FRAMES};
use lic::mcw::{self, VideoDecoder, VideoEncoder, VideoOptions};
use lic::video::colour::{chroma_size, yuv_psnr, Yuv420};
use lic::video::stream::{decode_frames, StreamError};
use sha2::{Digest, Sha256};

/// A synthetic clip: a texture panning by (2, 1) samples per frame and a bright square moving
/// the other way; integer arithmetic only, so it is the same everywhere.
fn clip(w: u32, h: u32, frames: u32) -> Vec<Yuv420> {
    let (cw, ch) = chroma_size(w, h);
    (0..frames)
        .map(|t| {
            let tex = |x: i64, y: i64| -> u8 {
                let (x, y) = (x + 2 * i64::from(t), y + i64::from(t));
                (((x * x + 3 * y * y) / 7 + (x * y) / 5).rem_euclid(160) + 40) as u8
            };
            let sq = |x: i64, y: i64| {
                let (sx, sy) = (30 - 3 * i64::from(t), 10 + i64::from(t));
                (sx..sx + 12).contains(&x) && (sy..sy + 12).contains(&y)
            };
            let mut y = Vec::new();
            for yy in 0..i64::from(h) {
                for xx in 0..i64::from(w) {
                    y.push(if sq(xx, yy) { 235 } else { tex(xx, yy) });
                }
            }
            let mut u = Vec::new();
            let mut v = Vec::new();
            for yy in 0..i64::from(ch) {
                for xx in 0..i64::from(cw) {
                    let s = sq(2 * xx, 2 * yy);
                    u.push(if s {
                        90
                    } else {
                        110 + (tex(2 * xx, 2 * yy) / 8)
                    });
                    v.push(if s {
                        170
                    } else {
                        140 - (tex(2 * xx, 2 * yy) / 10)
                    });
                }
            }
            Yuv420::new(w, h, y, u, v).unwrap()
        })
        .collect()
}

fn encode(frames: &[Yuv420], q: f32, gop: u32) -> (Vec<u8>, Vec<Yuv420>) {
    let mut o = VideoOptions::new(q);
    o.gop = gop;
    let e = mcw::encode_stream(
        frames.iter().cloned().map(Ok::<_, mcw::McwError>),
        o,
        (25, 1),
        VideoColour::default(),
        true,
        |_| {},
    )
    .unwrap();
    (e.bytes, e.reconstructions)
}

fn decode_all(bytes: &[u8]) -> Vec<Yuv420> {
    let mut out = Vec::new();
    mcw::decode_stream(bytes, false, |_, f| {
        out.push(f.clone());
        Ok::<(), StreamError>(())
    })
    .unwrap();
    out
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn frames_hash(frames: &[Yuv420]) -> String {
    let parts: Vec<&[u8]> = frames
        .iter()
        .flat_map(|f| [f.y.as_slice(), f.u.as_slice(), f.v.as_slice()])
        .collect();
    sha256_hex(&parts)
}

/// Byte ranges of each frame chunk in a stream (the header, then each chunk's coded length).
fn chunk_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let (h, frames) = parse_video(bytes, &mcw::limits()).unwrap();
    let mut pos = h.to_bytes().unwrap().len();
    frames
        .map(|c| {
            let start = pos;
            pos += c.unwrap().coded_len();
            start..pos
        })
        .collect()
}

#[test]
fn round_trip_matches_the_encoder_and_inter_frames_are_cheaper() {
    // Odd sizes: partial blocks and quadtree units at the edges, chroma of ceil(w/2).
    let src = clip(61, 45, 6);
    let (bytes, rec) = encode(&src, 8.0, 4);
    let dec = decode_all(&bytes);
    assert_eq!(
        dec, rec,
        "the decoder must reproduce the encoder's reconstruction"
    );
    for (s, d) in src.iter().zip(&dec) {
        let p = yuv_psnr(s, d).unwrap();
        assert!(p.yuv > 30.0, "YUV-PSNR {}", p.yuv);
    }
    let ranges = chunk_ranges(&bytes);
    let (_, frames) = parse_video(&bytes, &mcw::limits()).unwrap();
    let kinds: Vec<FrameKind> = frames.map(|c| c.unwrap().kind).collect();
    assert_eq!(
        kinds,
        [0, 1, 2, 3, 4, 5].map(|i| if i % 4 == 0 {
            FrameKind::Intra
        } else {
            FrameKind::Inter
        })
    );
    let intra = ranges[0].len();
    for r in &ranges[1..4] {
        assert!(
            r.len() * 2 < intra,
            "inter {} vs intra {intra} bytes",
            r.len()
        );
    }
}

#[test]
fn motion_compensation_beats_intra_coding_of_the_same_clip() {
    let src = clip(64, 48, 5);
    let (inter, _) = encode(&src, 6.0, 32);
    let (intra, _) = encode(&src, 6.0, 1);
    assert!(
        inter.len() * 2 < intra.len(),
        "{} bytes with motion, {} all-intra",
        inter.len(),
        intra.len()
    );
}

#[test]
fn thread_count_does_not_change_the_frames() {
    let src = clip(80, 64, 4);
    let (bytes, rec) = encode(&src, 7.0, 32);
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let dec = pool.install(|| decode_all(&bytes));
        assert_eq!(frames_hash(&dec), frames_hash(&rec), "{threads} threads");
    }
}

fn golden_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/golden")
}

/// The golden case: (file stem, width, height, frames, quality, intra period).
const GOLDEN: (&str, u32, u32, u32, f32, u32) = ("mcw-synthetic-48x40-q6", 48, 40, 6, 6.0, 4);

const REGENERATE: &str = "if the lic-mcw bitstream changed on purpose, regenerate with \
     `cargo test --release -p lic --test mcw -- --ignored write_mcw`";

/// The stored stream decodes to the stored frames, and the encoder makes the stored bytes.
#[test]
fn golden_stream() {
    let (stem, w, h, n, q, gop) = GOLDEN;
    let text =
        std::fs::read_to_string(golden_dir().join("mcw.json")).expect("tests/golden/mcw.json");
    let index: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want = &index[stem];
    let bytes = std::fs::read(golden_dir().join(format!("{stem}.licv"))).unwrap();
    assert_eq!(
        sha256_hex(&[&bytes]),
        want["bytes_sha256"].as_str().unwrap(),
        "{stem}.licv does not match mcw.json; {REGENERATE}"
    );
    assert_eq!(
        frames_hash(&decode_all(&bytes)),
        want["decoded_sha256"].as_str().unwrap(),
        "{stem}: the decoder's frames changed; {REGENERATE}"
    );
    let (again, _) = encode(&clip(w, h, n), q, gop);
    assert!(
        again == bytes,
        "{stem}: the encoder's bytes changed; {REGENERATE}"
    );
}

/// Regenerates `tests/golden/mcw*.licv` and `tests/golden/mcw.json` (by hand, after a deliberate
/// change of the bitstream), and the fuzz seeds `fuzz/seeds-mcw/`.
#[test]
#[ignore]
fn write_mcw_golden() {
    let (stem, w, h, n, q, gop) = GOLDEN;
    let (bytes, rec) = encode(&clip(w, h, n), q, gop);
    std::fs::write(golden_dir().join(format!("{stem}.licv")), &bytes).unwrap();
    let index = serde_json::json!({
        stem: {
            "bytes": bytes.len(),
            "bytes_sha256": sha256_hex(&[&bytes]),
            "decoded_sha256": frames_hash(&rec),
            "quality": q,
            "gop": gop,
            "format_version": lic::format::video::VIDEO_FORMAT_VERSION,
        }
    });
    std::fs::write(
        golden_dir().join("mcw.json"),
        serde_json::to_string_pretty(&index).unwrap() + "\n",
    )
    .unwrap();
    let seeds = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fuzz/seeds-mcw");
    std::fs::create_dir_all(&seeds).unwrap();
    for (name, w, h, n, q, gop) in [
        ("pan-32x24-q6-g4", 32, 24, 5, 6.0, 4),
        ("odd-21x13-q9-g2", 21, 13, 3, 9.0, 2),
    ] {
        let (b, _) = encode(&clip(w, h, n), q, gop);
        std::fs::write(seeds.join(name), b).unwrap();
    }
}

/// Decodes with `keep_going`, returning the slots written and the report.
fn keep_going(bytes: &[u8]) -> (Vec<Yuv420>, lic::video::stream::DecodeReport) {
    let mut out = Vec::new();
    let (_, r) = mcw::decode_stream(bytes, true, |i, f| {
        assert_eq!(i as usize, out.len(), "slots in order");
        out.push(f.clone());
        Ok::<(), StreamError>(())
    })
    .unwrap();
    (out, r)
}

/// The damaged-stream cases of issue #34, on an 8-frame clip at intra period 4.
#[test]
fn damaged_streams_write_every_frame_slot_and_count_honestly() {
    let src = clip(48, 40, 8);
    let (bytes, rec) = encode(&src, 6.0, 4);
    let ranges = chunk_ranges(&bytes);
    assert_eq!(ranges.len(), 8);

    // Frame 0 damaged: frames 1–3 lose their reference; 4–7 decode from the next intra frame.
    let mut bad = bytes.clone();
    let at = ranges[0].end - 3;
    bad[at] ^= 0x55;
    assert!(mcw::decode_stream(&bad, false, |_, _| Ok::<(), StreamError>(())).is_err());
    let (slots, r) = keep_going(&bad);
    assert_eq!(slots.len(), 8);
    assert_eq!(r.decoded, 4);
    assert_eq!(
        r.damaged.iter().map(|d| d.0).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(slots[4..], rec[4..]);
    assert!(
        slots[..4].iter().all(|f| f.y.iter().all(|&v| v == 128)),
        "mid-grey before the first good frame"
    );

    // Cut inside frame 5: 5 decoded, 3 replaced by the last good frame.
    let cut = &bytes[..ranges[5].start + 7];
    assert!(matches!(
        mcw::decode_stream(cut, false, |_, _| Ok::<(), StreamError>(())),
        Err(StreamError::Frame(e)) if e.index == 5
    ));
    let (slots, r) = keep_going(cut);
    assert_eq!(slots.len(), 8);
    assert_eq!(r.decoded, 5);
    assert_eq!(r.damaged.len(), 3);
    assert_eq!(slots[5..], [rec[4].clone(), rec[4].clone(), rec[4].clone()]);

    // Trailing bytes: an error, or reported with keep_going.
    let mut long = bytes.clone();
    long.extend_from_slice(b"junk");
    assert!(matches!(
        mcw::decode_stream(&long, false, |_, _| Ok::<(), StreamError>(())),
        Err(StreamError::Trailing(4))
    ));
    let (slots, r) = keep_going(&long);
    assert_eq!((slots.len(), r.decoded, r.trailing), (8, 8, 4));

    // A header claiming 2^20 frames (CRC repaired) is refused before any frame is decoded.
    let (mut h, _) = parse_video(&bytes, &mcw::limits()).unwrap();
    h.frames = MAX_FRAMES;
    let mut huge = h.to_bytes().unwrap();
    huge.extend_from_slice(&bytes[ranges[0].start..]);
    let mut calls = 0;
    assert!(mcw::decode_stream(&huge, true, |_, _| {
        calls += 1;
        Ok::<(), StreamError>(())
    })
    .is_err());
    assert_eq!(calls, 0);
}

#[test]
fn oversized_and_foreign_headers_are_refused_before_work() {
    let src = clip(32, 24, 2);
    let (bytes, _) = encode(&src, 6.0, 4);
    let (h, _) = parse_video(&bytes, &mcw::limits()).unwrap();
    let mut big = h.clone();
    big.width = 8192;
    big.height = 8192;
    assert!(VideoDecoder::new(&big).is_err());
    let mut other = h.clone();
    other.model_id = "lic-video".into();
    assert!(VideoDecoder::new(&other).is_err());
    let mut rgb = h;
    rgb.colour.chroma = 1;
    assert!(VideoDecoder::new(&rgb).is_err());
    assert!(VideoEncoder::new(0, 10, VideoOptions::new(6.0)).is_err());
    assert!(VideoEncoder::new(16, 16, VideoOptions::new(99.0)).is_err());
}

/// Truncations and bit flips (with CRCs repaired, so that the frame data is what is damaged)
/// never panic, and with keep_going every slot is still written (checked in the harness).
#[test]
fn hostile_streams_never_panic() {
    let src = clip(32, 24, 5);
    let (bytes, _) = encode(&src, 6.0, 4);
    for cut in (0..bytes.len()).step_by(7) {
        harness::run_fuzz(&bytes[..cut]);
    }
    let mut s = 12345u32;
    for _ in 0..300 {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let mut b = bytes.clone();
        let at = s as usize % b.len();
        b[at] ^= 1 << (s >> 29);
        harness::run_fuzz(&b);
    }
    // Every committed fuzz seed decodes through the harness.
    let seeds = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("fuzz/seeds-mcw");
    let mut n = 0;
    for e in std::fs::read_dir(seeds).expect("fuzz/seeds-mcw") {
        let b = std::fs::read(e.unwrap().path()).unwrap();
        assert!(harness::run(&b, false).is_some());
        n += 1;
    }
    assert!(n >= 2);
}

/// The per-frame decoder and the stream layer agree (what `decode_frames` hands out).
#[test]
fn frame_decoder_and_stream_layer_agree() {
    let src = clip(40, 32, 3);
    let (bytes, rec) = encode(&src, 5.0, 32);
    let (h, frames) = parse_video(&bytes, &mcw::limits()).unwrap();
    let mut dec = VideoDecoder::new(&h).unwrap();
    let mut out = Vec::new();
    decode_frames(&h, frames, &mut dec, false, |_, f: &Yuv420| {
        out.push(f.clone());
        Ok::<(), StreamError>(())
    })
    .unwrap();
    assert_eq!(out, rec);
    let mut e = VideoEncoder::new(40, 32, VideoOptions::new(5.0)).unwrap();
    let chunks: Vec<_> = src
        .iter()
        .map(|f| e.encode_frame(f).unwrap().chunk)
        .collect();
    let header = e.header(3, (25, 1), VideoColour::default());
    assert_eq!(stream_bytes(&header, &chunks).unwrap(), bytes);
}
