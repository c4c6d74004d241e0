#!/usr/bin/env bash
# Unpack a trimmed libtorch 2.11.0 (the one tch 0.24 expects) from PyPI wheels into .libtorch/.
# Idempotent: returns at once when .libtorch/torch/build-version already says 2.11.0.
# Layout mirrors site-packages, so the wheel's own RPATH ($ORIGIN/../../nvidia/cu13/lib)
# finds libcudart/libcupti, which libtorch_cpu.so needs even on CPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.libtorch"
want=2.11.0
if [ -f "$dest/torch/build-version" ] && grep -q "^$want" "$dest/torch/build-version" \
   && [ -f "$dest/nvidia/cu13/lib/libcudart.so.13" ] && [ -f "$dest/nvidia/cu13/lib/libcupti.so.13" ]; then
  echo "libtorch $want already in $dest"
  exit 0
fi
step() { echo "[setup-libtorch] $*"; }
fail() { echo "[setup-libtorch] FAILED at step: $1" >&2; exit 1; }
py=$(command -v python3 || true)
[ -n "$py" ] || fail "python3 (with pip) is needed to download the torch wheel"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step "downloading torch==$want and the CUDA runtime/CUPTI wheels (~520 MB)"
"$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
  --python-version 3.11 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_25_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  "torch==$want" "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-cupti==13.0.85" \
  || fail "pip download (is PyPI reachable?)"
rm -rf "$dest.partial" && mkdir -p "$dest.partial"
step "unpacking headers and CPU libraries"
whl=$(ls "$tmp"/torch-*.whl) || fail "torch wheel missing after download"
(cd "$dest.partial" && unzip -q -o "$whl" 'torch/include/*' 'torch/lib/*' 'torch/version.py' \
   -x 'torch/lib/libtorch_cuda*' 'torch/lib/libc10_cuda*' 'torch/lib/libtorch_python.so') || fail "unzip torch wheel"
for w in "$tmp"/nvidia_cuda_runtime-*.whl "$tmp"/nvidia_cuda_cupti-*.whl; do
  (cd "$dest.partial" && unzip -q -o "$w" 'nvidia/cu13/lib/*') || fail "unzip $(basename "$w")"
done
echo "$want" > "$dest.partial/torch/build-version"
rm -rf "$dest" && mv "$dest.partial" "$dest"
step "done: $(du -sh "$dest" | cut -f1) in $dest"
