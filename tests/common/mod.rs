//! Helpers shared by the integration tests.

use lic::io::image::Image;

/// A deterministic test picture: smooth gradients, an edge and a little texture.
#[allow(dead_code)]
pub fn synthetic(w: u32, h: u32, seed: u32) -> Image {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    for y in 0..h {
        for x in 0..w {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let n = (s % 9) as i32 - 4;
            let edge = if x * 3 > w { 60 } else { 0 };
            let r = (x * 200 / w.max(1)) as i32 + n + edge / 2;
            let g = (y * 180 / h.max(1)) as i32 + n;
            let b = 128 + ((x + y) % 16) as i32 * 4 - edge;
            for v in [r, g, b] {
                data.push(v.clamp(0, 255) as u8);
            }
        }
    }
    Image::new(w, h, data)
}

/// The command line to test: `lic` in `lic-cli`'s tests, `lic-torch` (the whole command line)
/// in `lic-torch-cli`'s, and elsewhere the workspace's `lic-torch` beside the test executable's
/// folder (`target/release/deps/..`), which `cargo test --workspace` builds.
#[allow(dead_code)]
pub fn lic_binary() -> std::path::PathBuf {
    if let Some(b) = option_env!("CARGO_BIN_EXE_lic").or(option_env!("CARGO_BIN_EXE_lic-torch")) {
        return b.into();
    }
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target folder")
        .join("lic-torch");
    assert!(
        bin.is_file(),
        "{} not found: run the tests with `cargo test --workspace` (it builds lic-torch)",
        bin.display()
    );
    bin
}

/// Runs the command line ([`lic_binary`]).
#[allow(dead_code)]
pub fn lic(args: &[&str]) -> std::process::Output {
    std::process::Command::new(lic_binary())
        .args(args)
        .output()
        .expect("run lic")
}
