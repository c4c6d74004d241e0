#!/usr/bin/env bash
# BD-rate of a lic results file against the measured per-image anchors, restricted to the images
# the file has (e.g. the six images of the lic-overfit bar), on the mean curve and per image.
# Only images with rows at every quality of the file count; the others are named on stderr.
#
#   scripts/subset-bdrate.sh RESULTS.json [ANCHOR ...]   (default anchors: avif x265-intra-444
#                                                         webp jxl jpeg444; or other results files,
#                                                         or published per-image rows such as
#                                                         ../shared/anchors/papers/coolchic5_mse_kodak_per_image.json)
#
# The anchors' per-image rows (anchors/measured/kodak/per_image/NAME.json, or
# ../shared/anchors/... when present) are averaged per parameter over the same images
# (CompressAI's convention), written to a temporary CompressAI file and compared with
# `lic bdrate` (pchip, PSNR-RGB). A results file given as an anchor is restricted the same way.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lic="${LIC:-$root/target/release/lic}"
[ $# -ge 1 ] || { sed -n '2,11p' "$0"; exit 2; }
test_file=$1; shift
anchors=("$@")
[ ${#anchors[@]} -gt 0 ] || anchors=(avif x265-intra-444 webp jxl jpeg444)
per_image=""
for d in "$root/anchors/measured/kodak/per_image" "$root/../shared/anchors/measured/kodak/per_image"; do
  [ -d "$d" ] && { per_image=$d; break; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# subset FILE_OR_ANCHOR OUT [IMAGE]: a CompressAI file of the mean over $images (or over IMAGE
# alone).
subset() {
  python3 - "$1" "$2" "${3:-$images}" "$per_image" <<'PY'
import json, os, sys
src, out, images, per_image = sys.argv[1:5]
images = images.split()
if os.path.isfile(src) and "rows" in json.load(open(src)):
    # Published per-image rows ({"rows": [{image, param, bpp, psnr-rgb}]}, e.g.
    # ../shared/anchors/papers/coolchic5_mse_kodak_per_image.json).
    d = json.load(open(src))
    rows = d["rows"]
    name = d.get("name", src)
elif os.path.isfile(src):
    d = json.load(open(src))
    rows = [dict(r, param=p["quality"]) for p in d["points"] for r in p["per_image"]]
    name = d.get("name", src)
else:
    path = os.path.join(per_image, src + ".json")
    if not os.path.isfile(path):
        sys.exit(f"no per-image anchor {src} ({path})")
    rows = json.load(open(path))
    name = src
by = {}
for r in rows:
    if r["image"] in images:
        by.setdefault(r["param"], []).append(r)
pts = sorted((k, v) for k, v in by.items() if len(v) == len(images))
if len(pts) < 2:
    sys.exit(f"{src}: fewer than 2 parameters with rows for all of {images}")
mean = lambda v, k: sum(r[k] for r in v) / len(v)
res = {"bpp": [mean(v, "bpp") for _, v in pts],
       "psnr-rgb": [mean(v, "psnr-rgb" if "psnr-rgb" in v[0] else "psnr") for _, v in pts],
       "ms-ssim": [mean(v, "ms-ssim") if "ms-ssim" in v[0] else 0.0 for _, v in pts]}
json.dump({"name": f"{name} ({len(images)} images)", "results": res}, open(out, "w"))
PY
}
# The images with a row at every quality of the test file (a partial one, e.g. of a measurement
# still being continued with --resume, would bias the mean curve).
images=$(python3 - "$test_file" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
per_point = [{r["image"] for r in p["per_image"]} for p in d["points"]]
complete = set.intersection(*per_point)
partial = sorted(set.union(*per_point) - complete)
if partial:
    print(f"left out (rows at only some qualities): {' '.join(partial)}", file=sys.stderr)
print(" ".join(sorted(complete)))
PY
)
[ -n "$images" ] || { echo "$test_file: no image has rows at every quality" >&2; exit 1; }
subset "$test_file" "$tmp/test.json"
bd() { "$lic" bdrate "$1" "$2" 2>&1 | sed -n 's/^BD-rate: \([-+0-9.]*\) %.*/\1/p' | head -1; }
for a in "${anchors[@]}"; do
  subset "$a" "$tmp/anchor.json"
  line="$(basename "$a" .json): mean curve $(bd "$tmp/test.json" "$tmp/anchor.json") %; per image"
  for im in $images; do
    subset "$test_file" "$tmp/t1.json" "$im"
    subset "$a" "$tmp/a1.json" "$im"
    line="$line ${im%.png} $(bd "$tmp/t1.json" "$tmp/a1.json")"
  done
  echo "$line"
done
