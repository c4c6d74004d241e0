#!/usr/bin/env bash
# The test command: set-up (idempotent), format and lint checks, then every test in release mode
# (release so that torch-sys' C++ part compiles once for build, clippy and tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --perception   # + the classifier TorchScript for tests/perception.rs (venv, ~3 GB once)
bash datasets/fetch.sh kodak
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --workspace --all-targets -- -D warnings
echo "== cargo doc (the libtorch-free crates' public API, warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --release --no-deps -p lic -p lic-eval -p lic-cli
echo "== cargo test"
cargo test --release --workspace
