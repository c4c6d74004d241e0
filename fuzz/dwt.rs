//! Harness of the `decode_dwt` fuzz target, shared with `tests/dwt_fuzz.rs`.
//!
//! The input is decoded as it is, then with its CRCs repaired and its model id and design hash
//! set to `lic-dwt`'s, so that mutated parameter blobs and coefficient substreams reach the
//! decoder (entropy decoding, dequantization, inverse wavelet and colour transforms). Images are
//! capped at [`MAX_PIXELS`] so that one input stays fast.
#![allow(dead_code)]
use lic::dwt;
use lic::format::{Container, Limits};

#[path = "harness.rs"]
mod container;
pub use container::repair_crcs;

/// Largest image decoded.
pub const MAX_PIXELS: u64 = 1 << 14;

/// Decodes `data`; `Some(pixels)` if it decoded to an image.
pub fn run(data: &[u8]) -> Option<usize> {
    dwt::decode(data, MAX_PIXELS).ok().map(|d| check(&d))
}

/// The decoded image's pixel count, after checking its buffer size.
fn check(d: &dwt::Decoded) -> usize {
    let px = d.width as usize * d.height as usize;
    assert_eq!(d.data.len(), px * if d.gray { 1 } else { 3 });
    px
}

/// Decodes `data` as is and repaired; never panics on any input.
pub fn run_fuzz(data: &[u8]) {
    let _ = run(data);
    if let Some(c) = repaired(data) {
        if let Ok(d) = dwt::decode_container(&c, MAX_PIXELS) {
            check(&d);
        }
    }
}

/// The container with valid CRCs, `lic-dwt`'s model id and design hash, if its layout parses.
pub fn repaired(data: &[u8]) -> Option<Container> {
    let fixed = repair_crcs(data)?;
    let mut c = Container::parse_with_limits(&fixed, &Limits::default()).ok()?;
    c.header.model_id = dwt::MODEL_ID.to_string();
    c.header.weights_hash = dwt::weights_hash();
    Some(c)
}
