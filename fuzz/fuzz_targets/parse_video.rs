//! Parses arbitrary bytes as a `.licv` video stream and reads its frame chunks (see `harness.rs`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::run_video_fuzz(data);
});
