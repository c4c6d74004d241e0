#!/usr/bin/env bash
# The only place that installs anything. Idempotent: seconds when everything is present.
# Usage: scripts/setup.sh                 (system packages + libtorch)
#        scripts/setup.sh --perception    (also the machine-perception classifier: a Python venv
#                                          with torch, ~3 GB once; scripts/setup-perception.sh)
#        scripts/setup.sh --python        (also the Python wheel and its test venvs;
#                                          scripts/setup-python.sh)
#        scripts/setup.sh --web           (also the wasm32 compiler, Chromium and playwright-core
#                                          for the WebAssembly decoder; scripts/setup-web.sh)
# Options combine: scripts/setup.sh --perception --python --web
# On failure it names the step and the cause and exits nonzero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
perception=""
python=""
web=""
for a in "$@"; do
  case "$a" in
    --perception) perception=1 ;;
    --python) python=1 ;;
    --web) web=1 ;;
    *) echo "usage: $0 [--perception] [--python] [--web]" >&2; exit 2 ;;
  esac
done
step() { echo "[setup] $*"; }
fail() { echo "[setup] FAILED at step: $1" >&2; exit 1; }

# 1. Debian packages: build deps (bindgen, FFmpeg dev) and the encoders `lic eval --codec` calls.
pkgs=(pkg-config clang libclang-dev unzip python3-venv
      libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev
      ffmpeg webp libavif-bin libjxl-tools libjpeg-turbo-progs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq || fail "apt-get update"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]}"
else
  step "Debian packages present"
fi

# 2. Rust toolchain components used by the test command.
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || { step "rustup component add $c"; rustup component add "$c" || fail "rustup component add $c"; }
  done
fi
command -v cargo >/dev/null 2>&1 || fail "cargo not found (install Rust with rustup first)"

# 3. libtorch 2.11.0 (trimmed PyPI wheel) into .libtorch/, found via .cargo/config.toml + build.rs rpath.
bash "$root/scripts/setup-libtorch.sh" || fail "libtorch (scripts/setup-libtorch.sh)"

# 4. Optional: EfficientNet-Lite0 TorchScript for `lic eval --task classify` and its tests.
if [ -n "$perception" ]; then
  bash "$root/scripts/setup-perception.sh" || fail "perception classifier (scripts/setup-perception.sh)"
fi
# 5. Optional: the Python package (wheel built with maturin, test venvs).
if [ -n "$python" ]; then
  bash "$root/scripts/setup-python.sh" || fail "Python package (scripts/setup-python.sh)"
fi
# 6. Optional: the WebAssembly decoder's compiler and its browser test.
if [ -n "$web" ]; then
  bash "$root/scripts/setup-web.sh" || fail "WebAssembly and browser test (scripts/setup-web.sh)"
fi
step "ok"
