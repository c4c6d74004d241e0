#!/usr/bin/env bash
# The main job on a fresh machine: set-up, build, encode + decode one Kodak image with the default
# model lic-dwt (prints bpp and PSNR), then the Kodak evaluation report of lic-dwt (JSON, BD-rate
# table, RD plot).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The workspace: `lic` (no libtorch, no FFmpeg) and `lic-torch` (what lic hands libtorch work to).
cargo build --release
bash datasets/fetch.sh kodak
lic=target/release/lic
mkdir -p out
echo "== encode + decode kodim01 with the default model (lic-dwt)"
$lic encode datasets/kodak/kodim01.png out/kodim01.lic --force --verify
$lic decode out/kodim01.lic out/kodim01.png --force
target/release/lic-torch decode out/kodim01.lic out/kodim01.torch.png --force
cmp out/kodim01.png out/kodim01.torch.png && echo "lic-torch decode: same pixels as lic decode"
$lic info out/kodim01.lic
echo "== Kodak report"
bash scripts/kodak-report.sh lic-dwt
