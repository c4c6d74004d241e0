//! Parses arbitrary bytes as a `.lic` container and decodes its substreams (see `harness.rs`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::run_fuzz(data);
});
