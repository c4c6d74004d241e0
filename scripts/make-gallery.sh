#!/usr/bin/env bash
# Makes the comparison page's gallery (web/gallery/, git-ignored) from Kodak: for each image, lic-dwt
# at three qualities, lic-overfit (fast effort) at one, and AVIF (avifenc -s 6) and JPEG
# (cjpeg 4:2:0) at the quality whose file is closest in size to each lic-dwt file. PSNR-RGB by
# ffmpeg's psnr filter on the decoded PNGs.
#   scripts/make-gallery.sh [IMAGES...]     (default: kodim23 and kodim19 of datasets/kodak)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lic=target/release/lic
out=web/gallery
mkdir -p "$out"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(datasets/kodak/kodim23.png datasets/kodak/kodim19.png)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
psnr() { ffmpeg -hide_banner -nostats -i "$1" -i "$2" -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr" -f null - 2>&1 \
  | sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' | tail -1; }
size() { stat -c %s "$1"; }
entries=()
add() { # image codec file png
  local b; b=$(size "$out/$3")
  local px; px=$(python3 -c "from struct import unpack; f=open('$4','rb'); f.read(16); w,h=unpack('>II', f.read(8)); print(w*h)")
  entries+=("{\"image\":\"$1\",\"codec\":\"$2\",\"file\":\"$3\",\"bytes\":$b,\"bpp\":$(python3 -c "print($b*8/$px)"),\"psnr\":$(psnr "$4" "$5")}")
}
closest() { # target_bytes, then candidate files: the one closest in size
  local t=$1; shift; local best="" bd=""
  for f in "$@"; do local d=$(( $(size "$f") - t )); d=${d#-}; if [ -z "$bd" ] || [ "$d" -lt "$bd" ]; then best=$f; bd=$d; fi; done
  echo "$best"
}
for img in "${images[@]}"; do
  name=$(basename "$img" .png)
  for q in 3 6 9; do
    f="$name-dwt-q$q.lic"
    $lic encode "$img" "$out/$f" --quality $q --force >/dev/null
    $lic decode "$out/$f" "$tmp/d.png" --force >/dev/null
    add "$name" "lic-dwt q$q" "$f" "$img" "$tmp/d.png"
    t=$(size "$out/$f")
    for a in $(seq 20 4 60); do avifenc -s 6 -j 2 --min $a --max $a "$img" "$tmp/a$a.avif" >/dev/null 2>&1; done
    best=$(closest "$t" "$tmp"/a*.avif); cp "$best" "$out/$name-avif-q$q.avif"
    avifdec "$best" "$tmp/ad.png" >/dev/null 2>&1
    add "$name" "AVIF ≈ lic-dwt q$q" "$name-avif-q$q.avif" "$img" "$tmp/ad.png"
    for j in $(seq 5 5 95); do cjpeg -quality $j -outfile "$tmp/j$j.jpg" "$img" 2>/dev/null || \
      ffmpeg -v error -y -i "$img" -q:v $(( (100 - j) / 3 + 1 )) "$tmp/j$j.jpg"; done
    best=$(closest "$t" "$tmp"/j*.jpg); cp "$best" "$out/$name-jpeg-q$q.jpg"
    ffmpeg -v error -y -i "$best" "$tmp/jd.png"
    add "$name" "JPEG ≈ lic-dwt q$q" "$name-jpeg-q$q.jpg" "$img" "$tmp/jd.png"
    rm -f "$tmp"/a*.avif "$tmp"/j*.jpg
  done
  f="$name-overfit-q4.lic"
  $lic encode "$img" "$out/$f" -m overfit --quality 4 --effort fast --force >/dev/null
  $lic decode "$out/$f" "$tmp/o.png" --force >/dev/null
  add "$name" "lic-overfit q4 (fast)" "$f" "$img" "$tmp/o.png"
done
{
  echo '{"note":"Kodak images: lic-dwt at three qualities, AVIF (speed 6) and JPEG at the sizes closest to each, lic-overfit at quality 4 (fast effort). PSNR-RGB of the decoded images.","entries":['
  (IFS=,; echo "${entries[*]}")
  echo ']}'
} > "$out/index.json"
echo "wrote $out/index.json (${#entries[@]} entries)"
