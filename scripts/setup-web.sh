#!/usr/bin/env bash
# Set-up of the WebAssembly decoder and its browser test (called by scripts/setup.sh --web).
# Idempotent: seconds when everything is present.
#
# 1. A wasm32 compiler: the rustup toolchain here has no wasm32 standard library and cannot
#    download one, so Debian's rustc-web (with its standard library sources, built with
#    -Zbuild-std by scripts/build-wasm.sh) is unpacked into .wasm-toolchain/ (git-ignored), not
#    installed system-wide (../shared/notes/wasm.md). Linking uses rustup's rust-lld.
# 2. Debian's chromium for the headless browser test.
# 3. playwright-core from npm (web/test/package.json, exact versions in its lock file) into
#    web/test/node_modules; it drives the system Chromium (`playwright install` is never run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
step() { echo "[setup-web] $*"; }
fail() { echo "[setup-web] FAILED at step: $1" >&2; exit 1; }
tc="$root/.wasm-toolchain"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

if [ ! -x "$tc/root/usr/bin/rustc" ] || [ ! -d "$tc/root/usr/lib/rustlib/src/rust/library" ]; then
  step "Debian rustc-web into .wasm-toolchain/"
  rm -rf "$tc"; mkdir -p "$tc/debs"
  ver=$(apt-cache show rustc-web 2>/dev/null | awk '/^Version:/ {print $2; exit}')
  if [ -z "$ver" ]; then $sudo apt-get update -qq || fail "apt-get update"; ver=$(apt-cache show rustc-web | awk '/^Version:/ {print $2; exit}'); fi
  [ -n "$ver" ] || fail "no rustc-web package in Debian's archive"
  base=${ver%%+*}; short=${base%.*}
  llvm=$(apt-cache show "rustc-web=$ver" "libstd-rust-web-$short=$ver" 2>/dev/null | grep -o 'libllvm[0-9]*' | sort -u | head -1)
  (cd "$tc/debs" && apt-get download "rustc-web=$ver" "libstd-rust-web-$short=$ver" \
     "libstd-rust-web-dev=$ver" "rust-web-src=$ver" ${llvm:+"$llvm"} >/dev/null 2>&1) \
    || fail "apt-get download rustc-web $ver"
  for d in "$tc"/debs/*.deb; do dpkg -x "$d" "$tc/root"; done
  rm -rf "$tc/debs"
fi
LD_LIBRARY_PATH="$tc/root/usr/lib/x86_64-linux-gnu" "$tc/root/usr/bin/rustc" --version >/dev/null \
  || fail "the unpacked rustc does not run"
lld=$(ls "$HOME"/.rustup/toolchains/*/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld 2>/dev/null | head -1)
[ -n "$lld" ] || fail "rust-lld not found in the rustup toolchain"

missing=()
for p in chromium nodejs npm; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs from other sources (nodesource) provides npm itself.
if [ ${#missing[@]} -gt 0 ] && command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq || fail "apt-get update"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]}"
fi

if [ ! -d "$root/web/test/node_modules/playwright-core" ]; then
  step "npm ci (playwright-core)"
  (cd "$root/web/test" && npm ci --silent --no-audit --no-fund) || fail "npm ci in web/test"
fi
step "ok"
