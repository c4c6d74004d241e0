#!/usr/bin/env bash
# Encode/decode throughput on Kodak with 2 threads, in one run: the WaLLoC-style model, the main
# model and avifenc (libaom -s 6, 4:4:4), one mid-rate point each, through real files.
#   scripts/throughput.sh [OUTDIR] [LIMIT]
# Writes OUTDIR/throughput-*.json and prints Mpx/s (mean pixels / mean seconds per image).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
limit=${2:-24}
lic=target/release/lic
mkdir -p "$out"
[ -d datasets/kodak ] || bash datasets/fetch.sh kodak
$lic --threads 2 eval --dataset datasets/kodak --model lic-walloc --quality 3 --limit "$limit" -o "$out/throughput-walloc.json" --force
$lic --threads 2 eval --dataset datasets/kodak --model lic-elic-small --quality 3 --limit "$limit" -o "$out/throughput-elic.json" --force
$lic --threads 2 eval --dataset datasets/kodak --codec avif --quality 28 --limit "$limit" -o "$out/throughput-avif.json" --force
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print(f"{'codec':<16}{'bpp':>7}{'PSNR':>8}{'enc s':>8}{'enc Mpx/s':>11}{'dec s':>8}{'dec Mpx/s':>11}")
for name in ["walloc", "elic", "avif"]:
    d = json.load(open(f"{out}/throughput-{name}.json"))
    r = d["results"]
    mpx = 768 * 512 / 1e6  # every Kodak image has 393,216 pixels
    enc, dec = r["encoding_time"][0], r["decoding_time"][0]
    print(f"{d['name']:<16}{r['bpp'][0]:>7.3f}{r['psnr-rgb'][0]:>8.2f}{enc:>8.3f}{mpx/enc:>11.2f}{dec:>8.3f}{mpx/dec:>11.2f}")
PY
