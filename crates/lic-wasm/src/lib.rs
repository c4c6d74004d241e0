//! lic's libtorch-free decoders (`lic-dwt`, `lic-overfit`) for WebAssembly, with plain
//! `extern "C"` exports and no binding generator: `web/lic.js` copies the `.lic` bytes into the
//! module's memory, calls [`lic_decode`], and reads the result back.
//!
//! One decode at a time (a module instance lives in one Web Worker): the result of the last call
//! is kept until the next one or [`lic_release`]. The decoder is the native one, so the pixels
//! are bit-identical to `lic decode` (integer symbol path, fixed-order `f32` arithmetic with no
//! fused multiply-add); the browser test checks the golden streams' hashes.

use std::cell::RefCell;

/// The last decode: RGBA pixels or an error message.
#[derive(Default)]
struct State {
    width: u32,
    height: u32,
    gray: bool,
    rgba: Vec<u8>,
    error: String,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Allocates `len` bytes for the caller to fill (the input of [`lic_decode`]).
#[no_mangle]
pub extern "C" fn lic_alloc(len: usize) -> *mut u8 {
    let mut v = vec![0u8; len];
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p
}

/// Frees a buffer of [`lic_alloc`].
///
/// # Safety
/// `ptr` and `len` must come from one call of [`lic_alloc`], freed once.
#[no_mangle]
pub unsafe extern "C" fn lic_free(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        drop(Vec::from_raw_parts(ptr, len, len));
    }
}

/// Decodes the `len` bytes at `ptr`: 0 on success (the pixels are at [`lic_rgba_ptr`]), 1 on
/// error (the message is at [`lic_error_ptr`]). Images above `max_pixels` (0: the decoders'
/// own cap, 2^26) are refused before any work.
///
/// # Safety
/// `ptr` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn lic_decode(ptr: *const u8, len: usize, max_pixels: u32) -> u32 {
    let bytes = std::slice::from_raw_parts(ptr, len);
    let mut limits = lic::format::Limits::default();
    if max_pixels > 0 {
        limits.max_pixels = u64::from(max_pixels);
    }
    let result = decode(bytes, &limits);
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        *s = State::default();
        match result {
            Ok(img) => {
                s.width = img.width;
                s.height = img.height;
                s.gray = img.gray;
                s.rgba = img
                    .data
                    .chunks_exact(3)
                    .flat_map(|p| [p[0], p[1], p[2], 255])
                    .collect();
                0
            }
            Err(e) => {
                s.error = e;
                1
            }
        }
    })
}

/// The decoder proper, for native tests too.
pub fn decode(bytes: &[u8], limits: &lic::format::Limits) -> Result<lic::io::image::Image, String> {
    if bytes.starts_with(&lic::format::video::VIDEO_MAGIC) {
        return Err("a .licv video stream: the browser decoder reads .lic images".into());
    }
    lic::decode(bytes, limits).map_err(|e| e.to_string())
}

/// Width of the last decoded image.
#[no_mangle]
pub extern "C" fn lic_width() -> u32 {
    STATE.with(|s| s.borrow().width)
}

/// Height of the last decoded image.
#[no_mangle]
pub extern "C" fn lic_height() -> u32 {
    STATE.with(|s| s.borrow().height)
}

/// 1 if the last decoded image is gray (R = G = B).
#[no_mangle]
pub extern "C" fn lic_gray() -> u32 {
    STATE.with(|s| u32::from(s.borrow().gray))
}

/// The last image's RGBA pixels (`4 × width × height` bytes).
#[no_mangle]
pub extern "C" fn lic_rgba_ptr() -> *const u8 {
    STATE.with(|s| s.borrow().rgba.as_ptr())
}

/// The last error message (UTF-8).
#[no_mangle]
pub extern "C" fn lic_error_ptr() -> *const u8 {
    STATE.with(|s| s.borrow().error.as_ptr())
}

/// Its length in bytes.
#[no_mangle]
pub extern "C" fn lic_error_len() -> usize {
    STATE.with(|s| s.borrow().error.len())
}

/// Frees the last result.
#[no_mangle]
pub extern "C" fn lic_release() {
    STATE.with(|s| *s.borrow_mut() = State::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_through_the_c_interface_and_reports_errors() {
        let data: Vec<u8> = (0..20 * 12)
            .flat_map(|i| [(i * 3 % 256) as u8, 90, 200])
            .collect();
        let img = lic::io::image::Image::new(20, 12, data);
        let f = lic::registry::default_family();
        let enc = f
            .encode(&img, &Default::default(), &mut |_| {
                lic::family::Control::Continue
            })
            .unwrap();
        let p = lic_alloc(enc.bytes.len());
        unsafe {
            std::ptr::copy_nonoverlapping(enc.bytes.as_ptr(), p, enc.bytes.len());
            assert_eq!(lic_decode(p, enc.bytes.len(), 0), 0);
            assert_eq!((lic_width(), lic_height(), lic_gray()), (20, 12, 0));
            let rgba = std::slice::from_raw_parts(lic_rgba_ptr(), 20 * 12 * 4);
            let rgb: Vec<u8> = rgba
                .chunks_exact(4)
                .flat_map(|q| [q[0], q[1], q[2]])
                .collect();
            assert_eq!(rgb, enc.reconstruction.data);
            // Truncated: an error message, no pixels.
            assert_eq!(lic_decode(p, enc.bytes.len() / 2, 0), 1);
            let msg = std::slice::from_raw_parts(lic_error_ptr(), lic_error_len());
            assert!(std::str::from_utf8(msg).unwrap().contains("truncated"));
            // Over the caller's pixel cap.
            assert_eq!(lic_decode(p, enc.bytes.len(), 100), 1);
            lic_free(p, enc.bytes.len());
        }
        lic_release();
        assert_eq!(lic_width(), 0);
    }
}
