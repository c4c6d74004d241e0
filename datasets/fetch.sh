#!/usr/bin/env bash
# Fetch the evaluation sets into datasets/<name>/ (git-ignored) and verify their sha256 sums.
#
#   datasets/fetch.sh [kodak|clic|all]      (default: kodak)
#
# Sources, in order:
#   1. $LIC_DATASETS/<name>/         a local mirror (any folder laid out like this one)
#   2. ../shared/datasets/<name>/   beside the project root (developers' machines and CI)
#   3. the canonical download URL below (needs internet)
# Files from a mirror are hard-linked or copied, then checked against the sums kept here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
want=${1:-kodak}

KODAK_URL=https://r0k.us/graphics/kodak/kodak           # kodimNN.png, 24 files
CLIC_URL=https://data.vision.ee.ethz.ch/cvl/clic/professional_valid_2020.zip   # 41 PNG, 134,862,753 bytes

mirror_for() {
  local name=$1
  if [ -n "${LIC_DATASETS:-}" ] && [ -d "$LIC_DATASETS/$name" ]; then echo "$LIC_DATASETS/$name"; return; fi
  if [ -d "$root/../shared/datasets/$name" ]; then (cd "$root/../shared/datasets/$name" && pwd); return; fi
  echo ""
}

link_from() {   # link_from SRC_DIR DEST_DIR SUMS_FILE
  local src=$1 dest=$2 sums=$3
  mkdir -p "$dest"
  while read -r _ f; do
    [ -f "$src/$f" ] || { echo "fetch: $src/$f missing in mirror" >&2; return 1; }
    [ -e "$dest/$f" ] || ln "$src/$f" "$dest/$f" 2>/dev/null || cp "$src/$f" "$dest/$f"
  done < "$sums"
}

verify() {  # verify DIR SUMS_FILE
  (cd "$1" && sha256sum --quiet -c "$2") || { echo "fetch: checksum mismatch in $1" >&2; return 1; }
}

fetch_kodak() {
  local dest=$here/kodak src
  src=$(mirror_for kodak)
  if [ -n "$src" ]; then
    link_from "$src" "$dest" "$here/kodak.sha256"
  else
    command -v curl >/dev/null || { echo "fetch: curl needed to download Kodak" >&2; return 1; }
    mkdir -p "$dest"
    for i in $(seq -w 1 24); do
      if [ ! -f "$dest/kodim$i.png" ]; then
        curl -fsSL -o "$dest/kodim$i.png.part" "$KODAK_URL/kodim$i.png" || { echo "fetch: download of kodim$i.png failed" >&2; return 1; }
        mv -f "$dest/kodim$i.png.part" "$dest/kodim$i.png"
      fi
    done
  fi
  verify "$dest" "$here/kodak.sha256"
  echo "kodak: 24 images in $dest"
}

fetch_clic() {
  local dest=$here/clic src
  src=$(mirror_for clic)
  if [ -n "$src" ]; then
    # The shared mirror holds only a partial, sanity-size set (see clic-partial.sha256).
    link_from "$src" "$dest" "$here/clic-partial.sha256"
    verify "$dest" "$here/clic-partial.sha256"
    echo "clic: $(ls "$dest" | wc -l) images in $dest (partial mirror: not the full CLIC 2020 professional validation set)"
  else
    command -v curl >/dev/null && command -v unzip >/dev/null || { echo "fetch: curl and unzip needed" >&2; return 1; }
    mkdir -p "$dest"
    local zip=$dest/professional_valid_2020.zip
    [ -f "$zip" ] || { curl -fsSL -o "$zip.part" "$CLIC_URL" && mv "$zip.part" "$zip"; }
    [ "$(stat -c %s "$zip")" = 134862753 ] || { echo "fetch: $zip has an unexpected size" >&2; return 1; }
    unzip -q -o -j "$zip" '*.png' -d "$dest"
    # Files that are also in the partial mirror are checked against its sums.
    (cd "$dest" && grep -F -f <(ls) "$here/clic-partial.sha256" | sha256sum --quiet -c -) || { echo "fetch: checksum mismatch" >&2; return 1; }
    echo "clic: $(ls "$dest"/*.png | wc -l) images in $dest"
  fi
}

case $want in
  kodak) fetch_kodak ;;
  clic) fetch_clic ;;
  all) fetch_kodak; fetch_clic ;;
  *) echo "usage: datasets/fetch.sh [kodak|clic|all]" >&2; exit 2 ;;
esac
