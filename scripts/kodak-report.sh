#!/usr/bin/env bash
# Kodak evaluation of a model (default: the default model lic-dwt) through real files, BD-rate
# against the anchors, RD plot.
#   scripts/kodak-report.sh [MODEL] [OUTDIR]      e.g. scripts/kodak-report.sh lic-elic-small out/elic
# Writes OUTDIR/kodak-MODEL.json, OUTDIR/bdrate.txt and OUTDIR/rd.png.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-lic-dwt}
out=${2:-out}
lic=target/release/lic
mkdir -p "$out"
[ -d datasets/kodak ] || bash datasets/fetch.sh kodak
$lic eval --dataset datasets/kodak --model "$model" --points 6 -o "$out/kodak-$model.json" --force
anchors=(anchors/kodak/vtm.json anchors/measured/kodak/avif.json anchors/measured/kodak/webp.json anchors/measured/kodak/jpeg420.json)
{
  echo "BD-rate of $model on Kodak (PSNR-RGB, pchip); negative = fewer bits than the anchor"
  for a in "${anchors[@]}"; do
    $lic bdrate "$out/kodak-$model.json" "$a" 2>&1 | sed "s|^|$(basename "$a" .json): |"
  done
} | tee "$out/bdrate.txt"
$lic plot "$out/kodak-$model.json" "${anchors[@]}" -o "$out/rd.png" --force --title "Kodak (24 images)"
echo "wrote $out/kodak-$model.json, $out/bdrate.txt, $out/rd.png"
