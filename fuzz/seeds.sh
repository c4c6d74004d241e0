#!/bin/sh
# Regenerates the committed seed files in fuzz/seeds/ (valid containers for the
# decode_container target) and fuzz/seeds-video/ (.licv streams for the parse_video target)
# with the ignored writer test in crates/lic/tests/fuzz_regressions.rs.
set -e
cd "$(dirname "$0")/.."
cargo test --release -p lic --test fuzz_regressions -- --ignored write_fuzz_seeds
