#!/usr/bin/env python3
"""Reference BD-rate / BD-PSNR values for tests/eval_reference.rs, from the PyPI package
`bjontegaard` (1.3.0).

Usage (in a throwaway venv outside the repo):
    python3 -m venv /tmp/msssim-venv && /tmp/msssim-venv/bin/pip install bjontegaard numpy
    /tmp/msssim-venv/bin/python scripts/reference/bdrate_reference.py

Prints the `BD_REFERENCE` table. Curves are the shipped anchors in `anchors/`.
"""
import json
import math
from pathlib import Path

import bjontegaard as bd

ROOT = Path(__file__).resolve().parents[2] / "anchors"

# (test, anchor) pairs, relative to anchors/.
PAIRS = [
    ("measured/kodak/avif.json", "kodak/vtm.json"),
    ("measured/kodak/webp.json", "kodak/vtm.json"),
    ("measured/kodak/x265-intra-444.json", "measured/kodak/jpeg420.json"),
    ("measured/kodak/webp.json", "measured/kodak/avif.json"),
    ("kodak/vtm.json", "kodak/bpg_444_x265_ycbcr.json"),
]


def curve(rel, metric):
    r = json.loads((ROOT / rel).read_text())["results"]
    rate = r["bpp"]
    if metric == "psnr":
        q = r.get("psnr-rgb", r.get("psnr"))
    else:
        ms = r.get("ms-ssim", r.get("ms-ssim-rgb"))
        q = [-10 * math.log10(1 - m) for m in ms]
    return rate, q


def main():
    print(f"# bjontegaard {getattr(bd, '__version__', '?')}")
    for test, anchor in PAIRS:
        for metric in ("psnr", "ms-ssim-db"):
            ra, qa = curve(anchor, metric)
            rt, qt = curve(test, metric)
            for method in ("pchip", "cubic"):
                kw = dict(method=method, require_matching_points=False, min_overlap=0)
                rate = float(bd.bd_rate(ra, qa, rt, qt, **kw))
                q = float(bd.bd_psnr(ra, qa, rt, qt, **kw))
                print(f'    ("{test}", "{anchor}", "{metric}", "{method}", {rate!r}, {q!r}),')


if __name__ == "__main__":
    main()
