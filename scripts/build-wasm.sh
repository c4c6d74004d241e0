#!/usr/bin/env bash
# Builds the WebAssembly decoder (crates/lic-wasm) into web/lic_wasm.wasm with the compiler that
# scripts/setup.sh --web unpacked, and prints its size. Release profile, no debug info.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tc="$root/.wasm-toolchain/root"
[ -x "$tc/usr/bin/rustc" ] || { echo "build-wasm: run scripts/setup.sh --web first" >&2; exit 1; }
lld=$(ls "$HOME"/.rustup/toolchains/*/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld | head -1)
cd "$root"
LD_LIBRARY_PATH="$tc/usr/lib/x86_64-linux-gnu" RUSTC="$tc/usr/bin/rustc" RUSTC_BOOTSTRAP=1 \
  CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true \
  RUSTFLAGS="-C linker=$lld" \
  cargo build --release -p lic-wasm --lib --target wasm32-unknown-unknown \
  -Zbuild-std=std,panic_abort --target-dir target/wasm
cp target/wasm/wasm32-unknown-unknown/release/lic_wasm.wasm web/lic_wasm.wasm
echo "web/lic_wasm.wasm: $(stat -c %s web/lic_wasm.wasm) bytes ($(gzip -9c web/lic_wasm.wasm | wc -c) gzipped)"
