//! Video I/O (FFmpeg): reading y4m / mp4 / mkv, exact round trips through FFV1 and Y4M, colour
//! tags, errors on bad files, atomic output, and the x264/x265 anchors. Fixtures are made by the
//! `ffmpeg` command line in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use lic_torch::eval::video::{measure, read_yuv420_frames, run_anchor, Anchor};
use lic_torch::video::colour::ColourInfo;
use lic_torch::video::io::{
    packet_sizes, Chroma, VideoError, VideoFrame, VideoInfo, VideoReader, VideoWriter,
};

const MAX_SIDE: u32 = 4096;
const MAX_PIXELS: u64 = 1 << 24;

/// Runs `ffmpeg -hide_banner -loglevel error -y <args>`; panics with its stderr on failure.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg binary is needed for these tests (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `testsrc2` (moving, colourful) of the given size, 10 fps.
fn lavfi(w: u32, h: u32) -> String {
    format!("testsrc2=size={w}x{h}:rate=10")
}

/// A 6-frame 176x144 4:2:0 Y4M.
fn y4m_fixture(dir: &Path) -> PathBuf {
    let p = dir.join("src.y4m");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &lavfi(176, 144),
        "-frames:v",
        "6",
        "-pix_fmt",
        "yuv420p",
        s(&p),
    ]);
    p
}

fn read_all(path: &Path) -> (VideoInfo, Vec<VideoFrame>) {
    let mut r = VideoReader::open(path, MAX_SIDE, MAX_PIXELS).unwrap();
    let info = r.info().clone();
    let mut frames = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        frames.push(f);
    }
    assert_eq!(r.next_frame().unwrap(), None, "stays at the end");
    (info, frames)
}

/// Every frame through the float RGB the model sees and back, written to `out`.
fn write_via_rgb(info: &VideoInfo, frames: &[VideoFrame], out: &Path) {
    let mut w = VideoWriter::create(out, info).unwrap();
    for f in frames {
        let rgb = f.to_rgb_f32(&info.colour);
        w.write(&VideoFrame::from_rgb_f32(&rgb, info.chroma, &info.colour))
            .unwrap();
    }
    assert_eq!(w.finish().unwrap(), frames.len() as u64);
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn reads_y4m_mp4_and_rgb_mkv() {
    let d = tempfile::tempdir().unwrap();
    let y4m = y4m_fixture(d.path());
    // H.264 with B-frames: the last frames only come out when the decoder is drained.
    let mp4 = d.path().join("x264.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &lavfi(176, 144),
        "-frames:v",
        "7",
        "-c:v",
        "libx264",
        "-bf",
        "3",
        "-pix_fmt",
        "yuv420p",
        s(&mp4),
    ]);
    let rgb = d.path().join("rgb.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &lavfi(64, 48),
        "-frames:v",
        "5",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "bgr0",
        s(&rgb),
    ]);
    let full = d.path().join("full.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &lavfi(32, 16),
        "-frames:v",
        "3",
        "-c:v",
        "mjpeg",
        "-pix_fmt",
        "yuvj420p",
        s(&full),
    ]);

    let (info, frames) = read_all(&y4m);
    assert_eq!((info.width, info.height), (176, 144));
    assert_eq!((info.fps_num, info.fps_den), (10, 1));
    assert_eq!(info.chroma, Chroma::Yuv420);
    assert_eq!(frames.len(), 6);
    assert!(frames
        .iter()
        .all(|f| matches!(f, VideoFrame::Yuv420(y) if y.u.len() == 88 * 72)));
    assert_ne!(frames[0], frames[5], "testsrc2 moves");

    let (info, frames) = read_all(&mp4);
    assert_eq!(
        (info.width, info.height, info.fps_num, info.fps_den),
        (176, 144, 10, 1)
    );
    assert_eq!(info.frames_hint, Some(7));
    assert_eq!(
        frames.len(),
        7,
        "frames lost at the end (decoder not drained?)"
    );

    let (info, frames) = read_all(&rgb);
    assert_eq!(info.chroma, Chroma::Rgb);
    assert_eq!((info.width, info.height), (64, 48));
    assert_eq!(frames.len(), 5);
    assert!(matches!(&frames[0], VideoFrame::Rgb(i) if i.data.len() == 64 * 48 * 3));

    let (info, frames) = read_all(&full);
    assert_eq!(info.chroma, Chroma::Yuv420);
    assert!(info.colour.is_full_range(), "yuvj420p implies full range");
    assert_eq!(frames.len(), 3);

    // packet sizes: one per frame, summing to the payload.
    let h264 = d.path().join("x.h264");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &lavfi(176, 144),
        "-frames:v",
        "5",
        "-c:v",
        "libx264",
        "-bf",
        "0",
        "-f",
        "h264",
        s(&h264),
    ]);
    let sizes = packet_sizes(&h264).unwrap();
    assert_eq!(sizes.len(), 5);
    let total: usize = sizes.iter().sum();
    assert_eq!(total as u64, std::fs::metadata(&h264).unwrap().len());
    assert!(sizes[0] > sizes[1], "the intra frame is the largest");
}

#[test]
fn lossless_round_trips_through_mkv_and_y4m() {
    let d = tempfile::tempdir().unwrap();
    // Odd size, full range, BT.709 tags, left chroma siting: all must survive.
    // (testsrc2 rounds odd sizes down to even; testsrc draws RGB at any size.)
    let src = d.path().join("odd.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=175x143:rate=30000/1001",
        "-frames:v",
        "4",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "yuv420p",
        "-color_range",
        "pc",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-chroma_sample_location",
        "left",
        s(&src),
    ]);
    let y4m = y4m_fixture(d.path());
    for source in [&src, &y4m] {
        let (info, frames) = read_all(source);
        assert_eq!(info.chroma, Chroma::Yuv420);
        for ext in ["mkv", "y4m"] {
            let out = d.path().join(format!("out.{ext}"));
            write_via_rgb(&info, &frames, &out);
            let (back_info, back) = read_all(&out);
            assert_eq!(back.len(), frames.len(), "{source:?} → {ext}");
            assert!(back == frames, "{source:?} → {ext}: planes differ");
            assert_eq!(
                (
                    back_info.width,
                    back_info.height,
                    back_info.fps_num,
                    back_info.fps_den
                ),
                (info.width, info.height, info.fps_num, info.fps_den)
            );
            assert_eq!(back_info.colour.range, info.colour.range, "{ext}");
            assert_eq!(back_info.chroma, Chroma::Yuv420);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&out).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o644);
            }
            if ext == "mkv" {
                assert_eq!(back_info.colour, info.colour, "Matroska keeps every tag");
            }
        }
    }
    let (info, frames) = read_all(&src);
    assert_eq!((info.width, info.height), (175, 143), "odd size kept");
    assert_eq!((info.fps_num, info.fps_den), (30000, 1001));
    assert!(matches!(&frames[0], VideoFrame::Yuv420(f) if f.u.len() == 88 * 72));
    assert_eq!(
        info.colour,
        ColourInfo {
            matrix: ColourInfo::MATRIX_BT709,
            range: ColourInfo::RANGE_FULL,
            primaries: 1,
            transfer: 1,
            chroma_location: ColourInfo::CHROMA_LOC_LEFT,
        },
        "tags read from the fixture"
    );
    assert!(dir_entries(d.path())
        .iter()
        .all(|n| !n.starts_with(".lic-tmp")));
}

#[test]
fn rgb_sources_round_trip_through_bgr0() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("rgb.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=63x35:rate=10",
        "-frames:v",
        "3",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "bgr0",
        s(&src),
    ]);
    let (info, frames) = read_all(&src);
    assert_eq!(info.chroma, Chroma::Rgb);
    assert_eq!((info.width, info.height, frames.len()), (63, 35, 3));
    let out = d.path().join("back.MKV");
    write_via_rgb(&info, &frames, &out);
    let (back_info, back) = read_all(&out);
    assert_eq!(back_info.chroma, Chroma::Rgb);
    assert!(back == frames, "bgr0 FFV1 is not bit-exact");
    // Y4M stores RGB as BT.601 4:4:4: close, not exact.
    let out = d.path().join("back.y4m");
    write_via_rgb(&info, &frames, &out);
    let (y_info, back) = read_all(&out);
    assert_eq!(y_info.chroma, Chroma::Rgb, "yuv444p is read as RGB");
    assert_eq!(back.len(), frames.len());
    for (a, b) in frames.iter().zip(&back) {
        let (VideoFrame::Rgb(a), VideoFrame::Rgb(b)) = (a, b) else {
            panic!("RGB frames expected")
        };
        let max = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (*x as i32 - *y as i32).abs())
            .max()
            .unwrap();
        assert!(max <= 3, "4:4:4 round trip error {max}");
    }
}

#[test]
fn bad_inputs_are_errors_and_unfinished_output_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let text = d.path().join("notes.mkv");
    std::fs::write(&text, "this is not a video\n".repeat(50)).unwrap();
    assert!(VideoReader::open(&text, MAX_SIDE, MAX_PIXELS).is_err());
    assert!(packet_sizes(&text).is_err());

    let missing = d.path().join("missing.y4m");
    let e = VideoReader::open(&missing, MAX_SIDE, MAX_PIXELS)
        .err()
        .unwrap();
    assert!(e.to_string().contains("missing.y4m"), "{e}");

    // An mp4 cut in half has no index (moov at the end).
    let mp4 = d.path().join("cut.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &lavfi(176, 144),
        "-frames:v",
        "10",
        "-c:v",
        "libx264",
        s(&mp4),
    ]);
    let bytes = std::fs::read(&mp4).unwrap();
    std::fs::write(&mp4, &bytes[..bytes.len() / 2]).unwrap();
    assert!(VideoReader::open(&mp4, MAX_SIDE, MAX_PIXELS).is_err());

    // A Matroska file cut mid-stream: whatever FFmpeg makes of it, no panic, and never more
    // frames than were written.
    let y4m = y4m_fixture(d.path());
    let (info, frames) = read_all(&y4m);
    let mkv = d.path().join("cut.mkv");
    write_via_rgb(&info, &frames, &mkv);
    let bytes = std::fs::read(&mkv).unwrap();
    std::fs::write(&mkv, &bytes[..bytes.len() * 2 / 3]).unwrap();
    if let Ok(mut r) = VideoReader::open(&mkv, MAX_SIDE, MAX_PIXELS) {
        let mut n = 0;
        while let Ok(Some(_)) = r.next_frame() {
            n += 1;
        }
        assert!(n < frames.len(), "{n} frames from a truncated file");
    }

    // Size limits are checked before decoding.
    assert!(matches!(
        VideoReader::open(&y4m, 100, MAX_PIXELS),
        Err(VideoError::TooLarge { width: 176, .. })
    ));
    assert!(matches!(
        VideoReader::open(&y4m, MAX_SIDE, 176 * 144 - 1),
        Err(VideoError::TooLarge { .. })
    ));

    // Writer: bad extension, mismatched frames, nonexistent directory, drop without finish.
    let out_dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        VideoWriter::create(&out_dir.path().join("x.mp4"), &info),
        Err(VideoError::UnsupportedOutput(_))
    ));
    assert!(VideoWriter::create(&out_dir.path().join("no/such/dir.mkv"), &info).is_err());
    for ext in ["mkv", "y4m"] {
        let out = out_dir.path().join(format!("partial.{ext}"));
        let mut w = VideoWriter::create(&out, &info).unwrap();
        w.write(&frames[0]).unwrap();
        let wrong = VideoFrame::Yuv420(lic_torch::video::Yuv420::filled(8, 8, 0, 0, 0));
        assert!(matches!(
            w.write(&wrong),
            Err(VideoError::FrameMismatch { .. })
        ));
        let rgb = VideoFrame::from_rgb_f32(
            &frames[0].to_rgb_f32(&info.colour),
            Chroma::Rgb,
            &info.colour,
        );
        assert!(w.write(&rgb).is_err(), "RGB frame into a 4:2:0 writer");
        assert!(!out.exists(), "output visible before finish");
        drop(w);
        assert!(!out.exists());
    }
    assert!(
        dir_entries(out_dir.path()).is_empty(),
        "{:?}",
        dir_entries(out_dir.path())
    );
}

#[test]
fn anchors_give_finite_points() {
    let d = tempfile::tempdir().unwrap();
    let y4m = y4m_fixture(d.path());
    let (info, src) = read_yuv420_frames(&y4m, None).unwrap();
    assert_eq!(src.len(), 6);
    for anchor in Anchor::ALL {
        if let Err(e) = anchor.check_available() {
            println!("skipping {}: {e}", anchor.name());
            continue;
        }
        let mut last_bpp = f64::INFINITY;
        for crf in [20.0, 35.0] {
            let p = run_anchor(anchor, &y4m, crf, 4, 6, d.path()).unwrap();
            assert_eq!(p.frame_bits.len(), 6, "{anchor:?}");
            assert_eq!(p.frame_yuv_psnr.len(), 6);
            assert!(p.bpp > 0.0 && p.bpp.is_finite());
            for v in [p.yuv_psnr, p.y_psnr, p.u_psnr, p.v_psnr, p.rgb_psnr] {
                assert!(
                    v.is_finite() && v > 20.0 && v < 100.0,
                    "{anchor:?} crf {crf}: {v}"
                );
            }
            // Intra period 4: frames 0 and 4 are intra, larger than their neighbours.
            assert!(p.frame_bits[0] > p.frame_bits[1] && p.frame_bits[4] > p.frame_bits[3]);
            assert_eq!(p.quality, crf);
            assert!(p.bpp < last_bpp, "higher CRF, fewer bits");
            last_bpp = p.bpp;
            let bits: u64 = p.frame_bits.iter().sum();
            assert!((p.bpp - bits as f64 / (176.0 * 144.0 * 6.0)).abs() < 1e-12);
            // Recomputing from the written bitstream gives the same numbers.
            let stream = d.path().join(format!(
                "{}_crf{}.{}",
                anchor.name(),
                crf as u32,
                anchor.extension()
            ));
            let (_, dec) = read_yuv420_frames(&stream, None).unwrap();
            let again = measure(&src, &dec, &info.colour, p.frame_bits.clone()).unwrap();
            assert_eq!(again.yuv_psnr, p.yuv_psnr);
        }
    }
}
