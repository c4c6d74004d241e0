#!/usr/bin/env bash
# The test command: set-up (idempotent), format and lint checks, then every test in release mode
# (release so that torch-sys' C++ part compiles once for build, clippy and tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --perception --python --web   # + the classifier TorchScript (venv, ~3 GB once), the Python wheel, the wasm32 compiler and Chromium
bash datasets/fetch.sh kodak
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --workspace --all-targets -- -D warnings
echo "== cargo doc (the libtorch-free crates' public API, warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --release --no-deps -p lic -p lic-eval -p lic-cli
echo "== cargo test"
cargo test --release --workspace
echo "== Python: the wheel in a clean venv (no torch), then pytest"
.venv-clean/bin/python -c "import sys, numpy as np, lic; d = lic.decode(lic.encode(np.zeros((8, 8, 3), np.uint8))); assert d.shape == (8, 8, 3); assert 'torch' not in sys.modules; print('import lic without torch: ok', lic.__version__)"
.venv-py/bin/python -m pytest -q crates/lic-python/tests
echo "== WebAssembly decoder in headless Chromium"
bash scripts/build-wasm.sh
node web/test/browser-test.mjs
