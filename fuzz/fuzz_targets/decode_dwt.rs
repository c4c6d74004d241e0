//! Decodes arbitrary bytes as a `lic-dwt` stream, pixels included (the decoder is
//! libtorch-free), through `fuzz/dwt.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../dwt.rs"]
mod dwt;

fuzz_target!(|data: &[u8]| {
    dwt::run_fuzz(data);
});
