//! Decodes arbitrary bytes as a `lic-mcw` video stream (frames included; the decoder is
//! libtorch-free), through `fuzz/mcw.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../mcw.rs"]
mod mcw;

fuzz_target!(|data: &[u8]| {
    mcw::run_fuzz(data);
});
