#!/usr/bin/env bash
# Set-up of the Python package (called by scripts/setup.sh --python). Idempotent: seconds when
# the wheel is up to date.
#
# 1. .venv-py/ (git-ignored): the build and test venv: maturin, numpy, Pillow, pytest, Ray Data.
# 2. The wheel: maturin builds target/wheels/lic-*-cp39-abi3-manylinux2014_x86_64.whl from
#    crates/lic-python (PyO3 + numpy on the pure-Rust core; no libtorch in it), linking with zig
#    (PyPI's ziglang) against glibc 2.17 so that the one abi3 wheel installs on any manylinux2014
#    system, without Docker; it is installed into .venv-py.
# 3. .venv-clean/: a venv with nothing but the wheel and its one dependency (numpy), to check
#    that `import lic` works without torch.
# On failure it names the step and exits nonzero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
step() { echo "[setup-python] $*"; }
fail() { echo "[setup-python] FAILED at step: $1" >&2; exit 1; }
venv="$root/.venv-py"
clean="$root/.venv-clean"
pkgs=(maturin==1.16.0 ziglang numpy pillow pytest "ray[data]")

if [ ! -x "$venv/bin/python" ]; then
  step "python3 -m venv .venv-py"
  python3 -m venv "$venv" || fail "venv (Debian: apt-get install python3-venv)"
fi
if ! "$venv/bin/python" -c "import maturin, ziglang, numpy, PIL, pytest, ray.data" 2>/dev/null; then
  step "pip install ${pkgs[*]}"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null || fail "pip upgrade"
  "$venv/bin/pip" install -q "${pkgs[@]}" || fail "pip install ${pkgs[*]}"
fi

step "maturin build (crates/lic-python)"
cd "$root"
rm -f target/wheels/lic-*.whl
PATH="$venv/bin:$PATH" "$venv/bin/maturin" build --release --quiet --zig \
  --compatibility manylinux2014 -m crates/lic-python/Cargo.toml -o target/wheels \
  || fail "maturin build --zig"
wheel=$(ls target/wheels/lic-*.whl)
"$venv/bin/pip" install -q --force-reinstall --no-deps "$wheel" || fail "pip install $wheel"

if [ ! -x "$clean/bin/python" ]; then
  step "python3 -m venv .venv-clean"
  python3 -m venv "$clean" || fail "clean venv"
fi
"$clean/bin/pip" install -q --force-reinstall "$wheel" || fail "pip install $wheel into .venv-clean"
step "ok ($wheel)"
