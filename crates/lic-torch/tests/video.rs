//! Video mode: `.licv` round trips with the shipped video model, the temporal prior's effect,
//! damaged streams (`--keep-going`), thread-count determinism and the CLI's error handling.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::Path;

use lic::format::video::{parse_video, FrameKind};
use lic_torch::video::codec::{video_limits, VideoEncoder};
use lic_torch::video::colour::{ColourInfo, RgbF32};
use lic_torch::video::io::{Chroma, VideoFrame, VideoInfo, VideoReader, VideoWriter};
use lic_torch::video::model::{VideoModel, DEFAULT_VIDEO_MODEL};
use lic_torch::video::stream::{decode_video, encode_video, VideoStreamError};

use common::{lic, synthetic};

#[path = "../../../fuzz/harness.rs"]
mod harness;

fn model() -> VideoModel {
    tch::set_num_threads(1);
    let p = VideoModel::find(DEFAULT_VIDEO_MODEL).expect("shipped video model");
    VideoModel::load(&p, tch::Device::Cpu).expect("load video model")
}

/// `n` frames of a synthetic picture panning right by `dx` pixels per frame, planar RGB.
fn pan(w: u32, h: u32, n: u32, dx: u32) -> Vec<RgbF32> {
    let big = synthetic(w + dx * n, h, 9);
    (0..n)
        .map(|k| {
            let mut data = vec![0f32; 3 * (w * h) as usize];
            for y in 0..h {
                for x in 0..w {
                    let src = ((y * big.width + x + dx * k) * 3) as usize;
                    for c in 0..3 {
                        data[c * (w * h) as usize + (y * w + x) as usize] =
                            f32::from(big.data[src + c]) / 255.0;
                    }
                }
            }
            RgbF32 {
                width: w,
                height: h,
                data,
            }
        })
        .collect()
}

/// Writes frames as a 4:2:0 `.y4m` (or `.mkv`) through the project's writer.
fn write_clip(path: &Path, frames: &[RgbF32]) {
    let info = VideoInfo {
        width: frames[0].width,
        height: frames[0].height,
        fps_num: 25,
        fps_den: 1,
        colour: ColourInfo::default(),
        chroma: Chroma::Yuv420,
        frames_hint: None,
    };
    let mut w = VideoWriter::create(path, &info).unwrap();
    for f in frames {
        w.write(&VideoFrame::from_rgb_f32(f, Chroma::Yuv420, &info.colour))
            .unwrap();
    }
    w.finish().unwrap();
}

fn read_all(path: &Path) -> Vec<VideoFrame> {
    let mut r = VideoReader::open(path, 4096, 1 << 24).unwrap();
    let mut v = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        v.push(f);
    }
    v
}

/// Encodes frames with the library (gop, quality) and returns the stream bytes, the per-frame
/// chunk sizes and the encoder's reconstructions.
fn encode_frames(
    m: &VideoModel,
    frames: &[RgbF32],
    q: f64,
    gop: u32,
) -> (Vec<u8>, Vec<usize>, Vec<Vec<f32>>) {
    let (w, h) = (frames[0].width, frames[0].height);
    let mut enc = VideoEncoder::new(m, q, gop, w, h).unwrap();
    let mut chunks = Vec::new();
    let mut recon = Vec::new();
    for f in frames {
        let e = enc.encode_frame(&f.data).unwrap();
        chunks.push(e.chunk);
        recon.push(e.reconstruction);
    }
    let header = enc.header(frames.len() as u32, (25, 1), Default::default());
    let bytes = lic::format::video::stream_bytes(&header, &chunks).unwrap();
    (bytes, chunks.iter().map(|c| c.coded_len()).collect(), recon)
}

#[test]
fn round_trip_equals_the_encoders_reconstruction_for_odd_sizes() {
    let m = model();
    for (w, h, gop) in [(64, 48, 3), (45, 29, 2), (70, 33, 32)] {
        let frames = pan(w, h, 5, 2);
        let (bytes, sizes, recon) = encode_frames(&m, &frames, 3.0, gop);
        let (header, reader) = parse_video(&bytes, &video_limits()).unwrap();
        let kinds: Vec<FrameKind> = reader.map(|c| c.unwrap().kind).collect();
        for (k, kind) in kinds.iter().enumerate() {
            let want = if (k as u32).is_multiple_of(gop) {
                FrameKind::Intra
            } else {
                FrameKind::Inter
            };
            assert_eq!(*kind, want, "frame {k} of gop {gop}");
        }
        assert_eq!(header.frames, 5);
        assert_eq!(sizes.len(), 5);
        let mut got = Vec::new();
        let report = decode_video(&bytes, &m, false, |i, f| {
            assert_eq!(i as usize, got.len());
            got.push(f.data.clone());
            Ok::<(), VideoStreamError>(())
        })
        .unwrap();
        assert_eq!(report.decoded, 5);
        assert!(report.damaged.is_empty());
        assert_eq!(
            got, recon,
            "{w}x{h}: decoder output differs from the encoder's"
        );
    }
}

#[test]
fn the_temporal_prior_makes_inter_frames_cheaper() {
    let m = model();
    // A still scene and a slow pan: the inter frames must cost less than the same frames coded
    // all-intra (the hyperprior alone).
    for dx in [0, 1] {
        let frames = pan(128, 96, 6, dx);
        let (_, inter_sizes, _) = encode_frames(&m, &frames, 4.0, 32);
        let (_, intra_sizes, _) = encode_frames(&m, &frames, 4.0, 1);
        let inter: usize = inter_sizes[1..].iter().sum();
        let intra: usize = intra_sizes[1..].iter().sum();
        eprintln!("pan {dx}: inter frames {inter} bytes, all-intra {intra} bytes");
        // An untrained prior (its output starts at zero) gives a ratio of exactly 1.
        let bound = if dx == 0 { 0.9 } else { 0.97 };
        assert!(
            (inter as f64) < bound * intra as f64,
            "pan {dx}: inter frames {inter} bytes vs all-intra {intra}"
        );
        assert_eq!(
            inter_sizes[0], intra_sizes[0],
            "the first frame is intra in both"
        );
    }
}

#[test]
fn damaged_frames_are_named_and_keep_going_recovers_at_the_next_intra_frame() {
    let m = model();
    let frames = pan(64, 64, 8, 1);
    let (bytes, sizes, recon) = encode_frames(&m, &frames, 2.0, 4);
    let header_len = bytes.len() - sizes.iter().sum::<usize>();
    // Flip the last byte of frame 2 (an inter frame).
    let at = header_len + sizes[..3].iter().sum::<usize>() - 1;
    let mut bad = bytes.clone();
    bad[at] ^= 0x10;
    let mut got = Vec::new();
    let err = decode_video(&bad, &m, false, |_, f| {
        got.push(f.data.clone());
        Ok::<(), VideoStreamError>(())
    })
    .unwrap_err();
    assert!(err.to_string().starts_with("frame 2:"), "{err}");
    assert_eq!(
        got,
        recon[..2].to_vec(),
        "frames before the damage were handed out"
    );

    let mut got = Vec::new();
    let report = decode_video(&bad, &m, true, |i, f| {
        got.push((i, f.data.clone()));
        Ok::<(), VideoStreamError>(())
    })
    .unwrap();
    let damaged: Vec<u32> = report.damaged.iter().map(|d| d.0).collect();
    // Frame 2 is damaged, frame 3 depends on it; frame 4 is intra again.
    assert_eq!(damaged, vec![2, 3]);
    assert_eq!(report.decoded, 6);
    assert_eq!(got.len(), 8);
    assert_eq!(got[2].1, recon[1], "a lost frame repeats the last good one");
    assert_eq!(got[3].1, recon[1]);
    for k in [0, 1, 4, 5, 6, 7] {
        assert_eq!(got[k].1, recon[k], "frame {k}");
    }

    // Truncated inside frame 6: frames 0..5 decode, then an error naming frame 6.
    let cut = &bytes[..header_len + sizes[..6].iter().sum::<usize>() + 3];
    let mut n = 0;
    let err = decode_video(cut, &m, false, |_, _| {
        n += 1;
        Ok::<(), VideoStreamError>(())
    })
    .unwrap_err();
    assert_eq!(n, 6);
    assert!(err.to_string().starts_with("frame 6: truncated"), "{err}");
}

#[test]
fn every_frame_slot_is_written_and_damage_is_counted_honestly() {
    // The cases a new user hit with an 8-frame clip at intra period 4 (issue #34).
    let m = model();
    let frames = pan(48, 32, 8, 1);
    let (bytes, sizes, recon) = encode_frames(&m, &frames, 2.0, 4);
    let header_len = bytes.len() - sizes.iter().sum::<usize>();
    let run = |b: &[u8]| {
        let mut got = Vec::new();
        let r = decode_video(b, &m, true, |i, f| {
            got.push((i, f.data.clone()));
            Ok::<(), VideoStreamError>(())
        });
        (r, got)
    };
    // Frame 0 damaged: frames 0-3 (3 depend on 0) are mid-grey, 4-7 decode; all 8 written.
    let mut bad = bytes.clone();
    bad[header_len + sizes[0] - 1] ^= 0x10;
    let (r, got) = run(&bad);
    let r = r.unwrap();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    assert_eq!(r.decoded, 4);
    assert_eq!(
        r.damaged.iter().map(|d| d.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert!(got[..4].iter().all(|g| g.1.iter().all(|&v| v == 0.5)));
    for k in 4..8 {
        assert_eq!(got[k].1, recon[k], "frame {k}");
    }
    // Cut inside frame 5: 5 decoded, 3 replaced (by frame 4), 8 written.
    let cut = &bytes[..header_len + sizes[..5].iter().sum::<usize>() + 7];
    let (r, got) = run(cut);
    let r = r.unwrap();
    assert_eq!((r.decoded, r.damaged.len(), got.len()), (5, 3, 8));
    assert!(got[5..].iter().all(|g| g.1 == recon[4]));
    // Without --keep-going a truncated stream is an error.
    assert!(decode_video(cut, &m, false, |_, _| Ok::<(), VideoStreamError>(())).is_err());
    // Trailing bytes: every frame decodes, and the report says so (the CLI exits 1).
    let mut long = bytes.clone();
    long.extend_from_slice(&[0; 5]);
    let (r, got) = run(&long);
    let r = r.unwrap();
    assert_eq!((r.decoded, r.trailing, got.len()), (8, 5, 8));
    // A header whose frame count the file cannot hold (CRC repaired): refused, nothing decoded.
    let body_len = u32::from_le_bytes(bytes[6..10].try_into().unwrap()) as usize;
    let mut huge = bytes.clone();
    huge[10 + body_len - 4..10 + body_len].copy_from_slice(&(1u32 << 20).to_le_bytes());
    let crc = crc32fast::hash(&huge[..10 + body_len]);
    huge[10 + body_len..14 + body_len].copy_from_slice(&crc.to_le_bytes());
    let (r, got) = run(&huge);
    let err = r.unwrap_err().to_string();
    assert!(
        err.contains("1048576 frames") && err.contains("at most"),
        "{err}"
    );
    assert!(got.is_empty());
}

#[test]
fn cli_round_trip_threads_and_errors() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("clip.y4m");
    let frames = pan(96, 64, 6, 2);
    write_clip(&src, &frames);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let licv = d.path().join("a.licv");
    let out = lic(&[
        "--threads",
        "3",
        "video",
        "encode",
        &s(&src),
        &s(&licv),
        "-q",
        "3",
        "--gop",
        "4",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 frames 96x64 @ 25/1 fps"));
    // The same stream decodes to the same frames with 1 and 2 threads, as .y4m and .mkv.
    let mut decoded = Vec::new();
    for (t, ext) in [("1", "y4m"), ("2", "mkv")] {
        let o = d.path().join(format!("t{t}.{ext}"));
        let r = lic(&["--threads", t, "video", "decode", &s(&licv), &s(&o)]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        decoded.push(read_all(&o));
    }
    assert_eq!(decoded[0].len(), 6);
    assert_eq!(
        decoded[0], decoded[1],
        "thread count or container changed the frames"
    );
    let VideoFrame::Yuv420(f) = &decoded[0][5] else {
        panic!("4:2:0 source must decode to 4:2:0");
    };
    assert_eq!((f.width, f.height), (96, 64));

    // An existing output is not overwritten; --force does.
    let again = lic(&["video", "decode", &s(&licv), &s(&d.path().join("t1.y4m"))]);
    assert_eq!(again.status.code(), Some(1));
    // A text file is not a video, a .lic image is not a .licv stream: exit 1, no output.
    let txt = d.path().join("notes.y4m");
    std::fs::write(&txt, "not a video").unwrap();
    let o = d.path().join("x.licv");
    let r = lic(&["video", "encode", &s(&txt), &s(&o)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(!o.exists());
    let img = d.path().join("img.png");
    lic::io::image::save(&synthetic(32, 32, 1), &img).unwrap();
    let lic_file = d.path().join("img.lic");
    assert!(
        lic(&["encode", &s(&img), &s(&lic_file), "-m", "lic-walloc"])
            .status
            .success()
    );
    let o = d.path().join("img.mkv");
    let r = lic(&["video", "decode", &s(&lic_file), &s(&o)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("bad magic"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(!o.exists());
    // A damaged stream: exit 1 naming the frame, no output; --keep-going writes all 6 frames.
    let mut bytes = std::fs::read(&licv).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    let bad = d.path().join("bad.licv");
    std::fs::write(&bad, &bytes).unwrap();
    let o = d.path().join("bad.mkv");
    let r = lic(&["video", "decode", &s(&bad), &s(&o)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("frame 5"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(!o.exists());
    let r = lic(&["video", "decode", &s(&bad), &s(&o), "--keep-going"]);
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(read_all(&o).len(), 6);
    // The library route reads the same file, --frames style limits included.
    let mut reader = VideoReader::open(&src, 4096, 1 << 24).unwrap();
    let e = encode_video(&model(), &mut reader, 3.0, 4, Some(5), true, |_| {}).unwrap();
    assert_eq!(e.frame_bytes.len(), 5);
    assert_eq!(e.reconstructions.len(), 5);
    assert_eq!(e.header.frames, 5);
}

fn sha256_hex(frames: &[Vec<f32>]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in frames {
        // The 8-bit output a writer produces (the float frames clamped and rounded).
        for v in f {
            h.update([(v.clamp(0.0, 1.0) * 255.0).round() as u8]);
        }
    }
    h.finalize().iter().map(|x| format!("{x:02x}")).collect()
}

fn golden_path(ext: &str) -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join(format!("tests/golden/video-pan-48x40-q3.{ext}"))
}

/// A golden `.licv` stream (48x40, 5 frames, intra period 3: intra, inter, inter, intra, inter)
/// must keep decoding to the same frames: it guards the stream format and the video model.
#[test]
fn golden_stream_decodes_to_known_frames() {
    let m = model();
    let bytes = std::fs::read(golden_path("licv")).expect("golden stream");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden_path("json")).unwrap()).unwrap();
    assert_eq!(
        want["format_version"].as_u64().unwrap(),
        u64::from(lic::format::video::VIDEO_FORMAT_VERSION),
        "the .licv version moved: regenerate the golden stream"
    );
    let mut frames = Vec::new();
    decode_video(&bytes, &m, false, |_, f| {
        frames.push(f.data.clone());
        Ok::<(), VideoStreamError>(())
    })
    .unwrap();
    assert_eq!(frames.len(), 5);
    assert_eq!(
        sha256_hex(&frames),
        want["decoded_rgb_sha256"].as_str().unwrap()
    );
}

/// Payload mutations whose CRCs were recomputed get past the container and reach the entropy
/// decoder and the networks (what `parse_video` fuzzing cannot reach without libtorch). Every one
/// must end in frames or an error, never a panic; with `--keep-going` every frame is accounted
/// for, decoded or listed as damaged.
#[test]
fn mutated_payloads_with_repaired_crcs_never_panic() {
    let m = model();
    let golden = std::fs::read(golden_path("licv")).expect("golden stream");
    let (header, _) = parse_video(&golden, &video_limits()).unwrap();
    let start = header.to_bytes().unwrap().len();
    let mut rng = lic_torch::train::rng::Rng::new(0x2545_f491_4f6c_dd1d);
    let (mut failed, mut damaged) = (0, 0);
    for round in 0..40 {
        let mut b = golden.clone();
        for _ in 0..1 + round % 3 {
            let pos = start + rng.below((golden.len() - start) as u64) as usize;
            b[pos] ^= 1 << rng.below(8);
        }
        let b = harness::repair_video_crcs(&b).unwrap();
        if decode_video(&b, &m, false, |_, _| Ok::<(), VideoStreamError>(())).is_err() {
            failed += 1;
        }
        let mut handed = 0u32;
        let report = decode_video(&b, &m, true, |_, _| {
            handed += 1;
            Ok::<(), VideoStreamError>(())
        })
        .expect("--keep-going decodes what it can");
        assert_eq!(
            report.decoded as usize + report.damaged.len(),
            header.frames as usize,
            "round {round}: {:?}",
            report.damaged
        );
        assert!(handed >= report.decoded);
        damaged += usize::from(!report.damaged.is_empty());
    }
    // The mutations did reach the decoder's error paths.
    assert!(
        failed > 0 && damaged > 0,
        "failed {failed}, damaged {damaged}"
    );
}

/// Regenerates the golden stream (by hand, after a deliberate format or model change:
/// `cargo test --release --test video -- --ignored write_golden_stream`).
#[test]
#[ignore]
fn write_golden_stream() {
    let m = model();
    let (bytes, _, recon) = encode_frames(&m, &pan(48, 40, 5, 1), 3.0, 3);
    std::fs::write(golden_path("licv"), &bytes).unwrap();
    let json = serde_json::json!({
        "decoded_rgb_sha256": sha256_hex(&recon),
        "bytes": bytes.len(),
        "model": m.id,
        "weights_hash": m.hash_hex(),
        "format_version": lic::format::video::VIDEO_FORMAT_VERSION,
    });
    std::fs::write(
        golden_path("json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
}

/// `lic video train` resumes exactly: 4 steps in one go equal 2 steps, a checkpoint, and 2 more.
#[test]
fn video_training_resumes_exactly() {
    use lic_torch::train::data::Dataset;
    use lic_torch::train::video::{run, SequenceSource, VideoTrainOptions, VideoTrainer};
    use lic_torch::zoo::temporal::TemporalConfig;
    tch::set_num_threads(1);
    let d = tempfile::tempdir().unwrap();
    let stills = d.path().join("stills");
    std::fs::create_dir(&stills).unwrap();
    for s in 0..2 {
        lic::io::image::save(&synthetic(256, 256, s), &stills.join(format!("{s}.png"))).unwrap();
    }
    let base = lic_torch::codec::CodecModel::find("lic-walloc").unwrap();
    let mut o = VideoTrainOptions::new(
        base,
        TemporalConfig {
            latent: 16,
            hidden: 8,
            refs: 2,
        },
    );
    o.stills = vec![stills.clone()];
    o.synthetic = 1.0;
    o.frames = 3;
    o.batch = 2;
    o.crop = 64;
    o.steps = 4;
    o.warmup = 1;
    o.log_every = 1;
    o.checkpoint_every = 2;
    let data = SequenceSource {
        clips: None,
        stills: Some(Dataset::load(&[stills], 256).unwrap()),
    };
    let weights = |t: &VideoTrainer| -> Vec<Vec<f32>> {
        lic_torch::nn::weights::named_vars(&t.vs, "")
            .iter()
            .map(|(_, v)| Vec::<f32>::try_from(v.flatten(0, -1)).unwrap())
            .collect()
    };
    let mut a = VideoTrainer::new(o.clone(), tch::Device::Cpu).unwrap();
    a.calibrate(&data);
    let a = run(a, &data, &d.path().join("a"), None, |_| {}).unwrap();

    let mut o2 = o.clone();
    o2.steps = 2;
    let mut b = VideoTrainer::new(o2, tch::Device::Cpu).unwrap();
    b.calibrate(&data);
    let b = run(b, &data, &d.path().join("b"), None, |_| {}).unwrap();
    assert_eq!(b.progress.step, 2);
    let mut c =
        VideoTrainer::resume(&d.path().join("b/checkpoint.safetensors"), tch::Device::Cpu).unwrap();
    c.opts.steps = 4;
    let c = run(c, &data, &d.path().join("b"), None, |_| {}).unwrap();
    assert_eq!(c.progress.step, 4);
    assert_eq!(weights(&a), weights(&c), "resumed training differs");
    assert_ne!(weights(&a), weights(&b), "training changed nothing");
}

/// `lic video` with the default family, lic-mcw: a round trip through FFmpeg files, the learned
/// model by `-m`, a bad quality (exit 2), and a damaged stream with `--keep-going` (every frame
/// written, exit 1).
#[test]
fn mcw_is_the_default_and_keeps_every_frame_slot() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("clip.y4m");
    write_clip(&src, &pan(96, 64, 8, 3));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let licv = d.path().join("m.licv");
    let out = lic(&["video", "encode", &s(&src), &s(&licv), "--gop", "4"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("lic-mcw quality 8"));
    let bytes = std::fs::read(&licv).unwrap();
    let (h, _) = parse_video(&bytes, &lic::mcw::limits()).unwrap();
    assert_eq!(h.model_id, "lic-mcw");
    let y4m = d.path().join("m.y4m");
    let r = lic(&["video", "decode", &s(&licv), &s(&y4m)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let frames = read_all(&y4m);
    assert_eq!(frames.len(), 8);
    // The library's decoder gives the same frames as the CLI.
    let mut lib = Vec::new();
    lic::mcw::decode_stream(&bytes, false, |_, f| {
        lib.push(VideoFrame::Yuv420(f.clone()));
        Ok::<(), lic::video::stream::StreamError>(())
    })
    .unwrap();
    assert_eq!(frames, lib);

    let r = lic(&[
        "video",
        "encode",
        &s(&src),
        &s(&d.path().join("x.licv")),
        "-q",
        "30",
    ]);
    assert_eq!(
        r.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let r = lic(&[
        "video",
        "encode",
        &s(&src),
        &s(&d.path().join("l.licv")),
        "-m",
        "lic-video",
        "--frames",
        "2",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

    // Damage inside frame 1 (the CRC fails): frames 1-3 are replaced, 4-7 decode.
    let mut bad = bytes.clone();
    let h_len = h.to_bytes().unwrap().len();
    let first = parse_video(&bytes, &lic::mcw::limits())
        .unwrap()
        .1
        .next()
        .unwrap()
        .unwrap()
        .coded_len();
    bad[h_len + first + 12] ^= 0x40;
    let badp = d.path().join("bad.licv");
    std::fs::write(&badp, &bad).unwrap();
    let o = d.path().join("bad.y4m");
    let r = lic(&["video", "decode", &s(&badp), &s(&o)]);
    assert_eq!(r.status.code(), Some(1));
    let r = lic(&[
        "video",
        "decode",
        &s(&badp),
        &s(&o),
        "--keep-going",
        "--force",
    ]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("3 of 8 frames damaged"), "{err}");
    let got = read_all(&o);
    assert_eq!(got.len(), 8);
    assert_eq!(got[0], frames[0]);
    assert_eq!(got[1], frames[0], "a lost frame repeats the last good one");
    assert_eq!(got[4..], frames[4..]);
}
