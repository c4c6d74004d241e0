//! Harness of the `decode_mcw` fuzz target, shared with `crates/lic/tests/mcw.rs`.
//!
//! The input is decoded as a `.licv` stream as it is (with `--keep-going` and without), then
//! with its header and frame CRCs repaired and its model id and design hash set to `lic-mcw`'s,
//! so that mutated frame data reaches the decoder (block field, entropy decoding, motion
//! compensation, inverse wavelet). Frames are capped at [`MAX_PIXELS`] so that one input stays
//! fast.
#![allow(dead_code)]
use lic::format::video::{parse_video, VideoHeader};
use lic::format::Limits;
use lic::mcw;
use lic::video::stream::{decode_frames, StreamError};

/// Largest frame decoded.
pub const MAX_PIXELS: u64 = 1 << 14;

fn limits() -> Limits {
    Limits {
        max_pixels: MAX_PIXELS,
        ..mcw::limits()
    }
}

/// Decodes `data` (keeping going past damage or not); `Some(frames)` if it decoded.
pub fn run(data: &[u8], keep_going: bool) -> Option<u32> {
    let (header, frames) = parse_video(data, &limits()).ok()?;
    let mut dec = mcw::VideoDecoder::new(&header).ok()?;
    let mut n = 0u32;
    let r = decode_frames(&header, frames, &mut dec, keep_going, |_, f| {
        assert_eq!((f.width, f.height), (header.width, header.height));
        f.check().expect("decoded planes match the size");
        n += 1;
        Ok::<(), StreamError>(())
    });
    if keep_going {
        // Every frame slot is written, damaged or not.
        if let Ok(report) = &r {
            assert_eq!(n, header.frames);
            assert_eq!(report.decoded as usize + report.damaged.len(), n as usize);
        }
    }
    r.ok().map(|_| n)
}

/// The stream with its model id and design hash set to `lic-mcw`'s and every CRC recomputed, if
/// its header and chunk layout parse.
pub fn repaired(data: &[u8]) -> Option<Vec<u8>> {
    // Header: magic (4), version (2), body length (4), body, CRC (4).
    let body_len = u32::from_le_bytes(data.get(6..10)?.try_into().ok()?) as usize;
    let head_end = 10usize.checked_add(body_len)?;
    let mut v = data.to_vec();
    let crc = crc32fast::hash(v.get(..head_end)?);
    v.get_mut(head_end..head_end + 4)?
        .copy_from_slice(&crc.to_le_bytes());
    let (h, _) = parse_video(&v, &limits()).ok()?;
    let h = VideoHeader {
        model_id: mcw::MODEL_ID.into(),
        weights_hash: mcw::weights_hash(),
        ..h
    };
    let mut out = h.to_bytes().ok()?;
    let mut pos = head_end + 4;
    // Frame chunks: kind, count, lengths, CRC, payload.
    while pos + 2 <= v.len() {
        let start = out.len();
        let n = usize::from(v[pos + 1]);
        let lens_end = pos + 2 + 4 * n;
        let Some(lens) = v.get(pos + 2..lens_end) else {
            break;
        };
        let total: usize = lens
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as usize)
            .fold(0usize, |a, l| a.saturating_add(l));
        let Some(payload) = lens_end
            .checked_add(4)
            .and_then(|p| p.checked_add(total))
            .and_then(|end| v.get(lens_end + 4..end))
        else {
            out.extend_from_slice(&v[pos..]);
            return Some(out);
        };
        out.extend_from_slice(&v[pos..lens_end]);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&out[start..]);
        hasher.update(payload);
        out.extend_from_slice(&hasher.finalize().to_le_bytes());
        out.extend_from_slice(payload);
        pos = lens_end + 4 + total;
    }
    out.extend_from_slice(&v[pos.min(v.len())..]);
    Some(out)
}

/// Decodes `data` as is and repaired, keeping going and not; never panics on any input.
pub fn run_fuzz(data: &[u8]) {
    let _ = run(data, false);
    let _ = run(data, true);
    if let Some(r) = repaired(data) {
        let _ = run(&r, false);
        let _ = run(&r, true);
    }
}
