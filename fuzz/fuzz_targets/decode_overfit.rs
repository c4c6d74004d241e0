//! Decodes arbitrary bytes as a `lic-overfit` stream, pixels included (the decoder is
//! libtorch-free), through `fuzz/overfit.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../overfit.rs"]
mod overfit;

fuzz_target!(|data: &[u8]| {
    overfit::run_fuzz(data);
});
