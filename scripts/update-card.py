#!/usr/bin/env python3
"""Put a model's Kodak RD points and BD-rates into its card (models/NAME.json).

usage: scripts/update-card.py models/NAME.json out/kodak-NAME.json out/bdrate.txt
The eval JSON is what `lic eval` wrote; bdrate.txt is what scripts/kodak-report.sh wrote.
"""
import json
import sys

card_path, eval_path, bd_path = sys.argv[1:4]
card = json.load(open(card_path))
ev = json.load(open(eval_path))
r = ev["results"]
points = [
    {"quality": q, "bpp": b, "psnr_rgb": p, "ms_ssim": m, "encode_s": e, "decode_s": d}
    for q, b, p, m, e, d in zip(
        r.get("quality", [None] * len(r["bpp"])), r["bpp"], r["psnr-rgb"], r["ms-ssim"],
        r["encoding_time"], r["decoding_time"])
]
card["kodak"] = {
    "images": 24,
    "points": points,
    "bd_rate_report": [l.rstrip("\n") for l in open(bd_path) if l.strip()],
    "run": ev.get("run"),
}
with open(card_path, "w") as f:
    json.dump(card, f, indent=2)
    f.write("\n")
print(f"updated {card_path}")
