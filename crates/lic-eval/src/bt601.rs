//! Full-range BT.601 (JFIF) RGB ↔ YCbCr 4:4:4 per pixel, and one-frame 8-bit 4:4:4 Y4M files in
//! it: the still-image x265 anchor's own colour conversion (`eval::conventional`). Pure Rust:
//! builds without the `engine` feature.

use std::path::Path;

use anyhow::{anyhow, Context, Result};

use crate::io::image::Image;

/// Full-range BT.601 (JFIF) RGB → YCbCr, rounded (half to even, like numpy) and clamped to 8 bits.
pub fn rgb_to_ycbcr(p: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (p[0] as f64, p[1] as f64, p[2] as f64);
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    [y, cb, cr].map(|v| v.round_ties_even().clamp(0.0, 255.0) as u8)
}

/// Full-range BT.601 (JFIF) YCbCr → RGB, rounded (half to even) and clamped to 8 bits.
pub fn ycbcr_to_rgb(p: [u8; 3]) -> [u8; 3] {
    let (y, cb, cr) = (p[0] as f64, p[1] as f64 - 128.0, p[2] as f64 - 128.0);
    let r = y + 1.402 * cr;
    let g = y - 0.344_136 * cb - 0.714_136 * cr;
    let b = y + 1.772 * cb;
    [r, g, b].map(|v| v.round_ties_even().clamp(0.0, 255.0) as u8)
}

/// Writes `img` as a one-frame 4:4:4 Y4M file in full-range BT.601 YCbCr (planar).
pub fn write_y4m_444(img: &Image, path: &Path) -> Result<()> {
    let n = img.pixels() as usize;
    let header = format!(
        "YUV4MPEG2 W{} H{} F25:1 Ip C444\nFRAME\n",
        img.width, img.height
    );
    let mut bytes = Vec::with_capacity(header.len() + 3 * n);
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(header.len() + 3 * n, 0);
    let (_, planes) = bytes.split_at_mut(header.len());
    let (yp, rest) = planes.split_at_mut(n);
    let (cbp, crp) = rest.split_at_mut(n);
    for (i, px) in img.data.chunks_exact(3).enumerate() {
        let [y, cb, cr] = rgb_to_ycbcr([px[0], px[1], px[2]]);
        yp[i] = y;
        cbp[i] = cb;
        crp[i] = cr;
    }
    std::fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// Reads the first frame of an 8-bit 4:4:4 Y4M file and converts it to RGB (full-range BT.601).
pub fn read_y4m_444(path: &Path) -> Result<Image> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let bad = |why: &str| anyhow!("{}: not an 8-bit 4:4:4 Y4M file ({why})", path.display());
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header"))?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| bad("header is not text"))?;
    let mut tokens = header.split_ascii_whitespace();
    if tokens.next() != Some("YUV4MPEG2") {
        return Err(bad("no YUV4MPEG2 signature"));
    }
    let (mut w, mut h, mut c444) = (0u32, 0u32, false);
    for t in tokens {
        match t.split_at(1) {
            ("W", v) => w = v.parse().map_err(|_| bad("bad width"))?,
            ("H", v) => h = v.parse().map_err(|_| bad("bad height"))?,
            ("C", v) => c444 = v == "444",
            _ => {}
        }
    }
    if !c444 {
        return Err(bad("colour space is not C444"));
    }
    let rest = &bytes[nl + 1..];
    if !rest.starts_with(b"FRAME") {
        return Err(bad("no FRAME"));
    }
    let fnl = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("truncated FRAME line"))?;
    let data = &rest[fnl + 1..];
    let n = w as usize * h as usize;
    if w == 0 || h == 0 || data.len() < 3 * n {
        return Err(bad("truncated frame"));
    }
    let mut rgb = Vec::with_capacity(3 * n);
    for i in 0..n {
        rgb.extend_from_slice(&ycbcr_to_rgb([data[i], data[n + i], data[2 * n + i]]));
    }
    Ok(Image::new(w, h, rgb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ycbcr_round_trip_and_y4m() {
        let mut max_err = 0;
        for r in (0..=255).step_by(5) {
            for g in (0..=255).step_by(7) {
                for b in (0..=255).step_by(11) {
                    let back = ycbcr_to_rgb(rgb_to_ycbcr([r as u8, g as u8, b as u8]));
                    for (x, y) in back.iter().zip([r, g, b]) {
                        max_err = max_err.max((*x as i32 - y).abs());
                    }
                }
            }
        }
        assert!(max_err <= 2, "8-bit YCbCr round trip error {max_err}");
        let img = Image::new(3, 2, (0..18).map(|v| (v * 14) as u8).collect());
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.y4m");
        write_y4m_444(&img, &p).unwrap();
        let back = read_y4m_444(&p).unwrap();
        assert_eq!((back.width, back.height), (3, 2));
        assert!(back
            .data
            .iter()
            .zip(&img.data)
            .all(|(a, b)| (*a as i32 - *b as i32).abs() <= 2));
    }
}
