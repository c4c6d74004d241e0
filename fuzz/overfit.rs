//! Harness of the `decode_overfit` fuzz target, shared with `tests/overfit_fuzz.rs`.
//!
//! The input is decoded as it is, then with its CRCs and weights hash repaired, so that
//! mutated weights, parameter blobs and latent substreams reach the integer decoder. Images are
//! capped at [`MAX_PIXELS`] so that one input stays fast.
#![allow(dead_code)]
use lic::format::{Container, Limits};
use lic::overfit::{self, stream::weights_hash};

/// Largest image decoded.
pub const MAX_PIXELS: u64 = 1 << 14;

/// Decodes `data`; `Some(pixels)` if it decoded to an image.
pub fn run(data: &[u8]) -> Option<usize> {
    overfit::decode(data, MAX_PIXELS)
        .ok()
        .map(|d| d.rgb.len() / 3)
}

/// Decodes `data` as is and repaired; never panics on any input.
pub fn run_fuzz(data: &[u8]) {
    let _ = run(data);
    if let Some(c) = repaired(data) {
        if let Ok(d) = overfit::decode_container(&c, MAX_PIXELS) {
            assert_eq!(d.rgb.len(), 3 * d.width as usize * d.height as usize);
        }
    }
}

/// The container with valid CRCs and weights hash, if its layout parses at all.
pub fn repaired(data: &[u8]) -> Option<Container> {
    let fixed = repair_crcs(data)?;
    let mut c = Container::parse_with_limits(&fixed, &Limits::default()).ok()?;
    if let Some(w) = c.substreams.first() {
        c.header.weights_hash = weights_hash(w);
    }
    Some(c)
}

/// `data` with its header and substream CRCs recomputed (`None` if the layout is unreadable).
pub fn repair_crcs(data: &[u8]) -> Option<Vec<u8>> {
    let mut b = data.to_vec();
    let rd32 = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let l = usize::from(*b.get(9)?);
    let params = rd32(&b, 46 + l)? as usize;
    let count_at = 50usize.checked_add(l)?.checked_add(params)?;
    let n = rd32(&b, count_at)? as usize;
    if n > 1 << 12 {
        return None;
    }
    let table = count_at + 4;
    let crc_at = table.checked_add(8 * n)?;
    let mut pos = crc_at + 4;
    for i in 0..n {
        let len = rd32(&b, table + 8 * i)? as usize;
        let payload = b.get(pos..pos.checked_add(len)?)?;
        let crc = crc32fast::hash(payload);
        b[table + 8 * i + 4..table + 8 * i + 8].copy_from_slice(&crc.to_le_bytes());
        pos += len;
    }
    let crc = crc32fast::hash(b.get(..crc_at)?);
    b.get_mut(crc_at..crc_at + 4)?
        .copy_from_slice(&crc.to_le_bytes());
    Some(b)
}
