#!/usr/bin/env python3
"""Learn lic-dwt's `--tune machine` step weights against an ImageNet classifier.

Run inside the perception venv (scripts/setup.sh --perception), from the repository root:

  cargo build --release -p lic --example dwt_tune
  .perception/venv/bin/python scripts/perception/tune_dwt.py --train ../shared/datasets/train \
      --every 4 --quality 8 --log /tmp/tune.jsonl

Only training crops are used (never the evaluation images). The classifier sees what
`lic eval --task classify` shows it: the centre 224x224 of a 256x256 image, (x - 127) / 128.

Objective at one operating quality: J = mean KL(softmax(source) || softmax(decoded)) + lambda * bpp,
with lambda the default tuning's slope -dKL/dbpp there (so J compares designs at equal rate).
Coordinate search over the log2 step weights, grouped: luma low band, luma per level (finest
first) for HL/LH and for HH, chroma low band, chroma per level; each coordinate tries +-step,
keeps what lowers J, and the step halves after a sweep without a gain.
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402

SLOTS = 17  # 1 + 2 * MAX_LEVELS (crates/lic/src/dwt/tune.rs)
LEVELS = 5  # a 256x256 image has 5 levels
SIDE, CROP = 256, 224


class Coder:
    def __init__(self, exe, files, out):
        self.out = out
        self.n = len(files)
        self.p = subprocess.Popen([exe, out] + files, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        ready = self.p.stdout.readline().split()
        assert ready == ["ready", str(self.n)], ready

    def run(self, quality, weights, filt=1, kappa=0.12):
        line = " ".join(str(v) for v in [quality, filt, kappa] + list(weights))
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        sizes = [int(v) for v in self.p.stdout.readline().split()]
        assert len(sizes) == self.n
        with open(self.out, "rb") as f:
            data = f.read()
        return sizes, data


def batch_tensor(data, n):
    x = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(n, SIDE, SIDE, 3)
    o = (SIDE - CROP) // 2
    x = x[:, o:o + CROP, o:o + CROP, :].permute(0, 3, 1, 2).to(torch.float32)
    return (x - 127.0) / 128.0


def log_probs(model, data, n, chunk=50):
    x = batch_tensor(data, n)
    out = []
    with torch.no_grad():
        for i in range(0, n, chunk):
            out.append(torch.log_softmax(model(x[i:i + chunk]).double(), dim=1))
    return torch.cat(out)


def expand(theta):
    """Grouped log2 parameters -> 34 weights (luma slots, chroma slots)."""
    luma = [0.0] * SLOTS
    chroma = [0.0] * SLOTS
    luma[0] = theta["yll"]
    chroma[0] = theta["cll"]
    for lev in range(1, 9):
        d = min(lev, LEVELS)
        luma[2 * (lev - 1) + 1] = theta[f"y{d}"]
        luma[2 * (lev - 1) + 2] = theta[f"y{d}"] + theta[f"yhh{d}"]
        chroma[2 * (lev - 1) + 1] = theta[f"c{d}"]
        chroma[2 * (lev - 1) + 2] = theta[f"c{d}"]
    return [round(2 ** v * 16) / 16 for v in luma + chroma]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="/work/shared/datasets/train")
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--quality", type=float, default=8.0)
    ap.add_argument("--classifier", default=".perception/efficientnet-lite0.ts")
    ap.add_argument("--exe", default="target/release/examples/dwt_tune")
    ap.add_argument("--log", default="/tmp/tune_dwt.jsonl")
    ap.add_argument("--filter", type=int, default=1)
    ap.add_argument("--kappa", type=float, default=0.12)
    ap.add_argument("--step", type=float, default=0.5)
    ap.add_argument("--min-step", type=float, default=0.125)
    ap.add_argument("--budget", type=float, default=1800, help="seconds")
    ap.add_argument("--eval", help="JSON theta to evaluate only (no search)")
    ap.add_argument("--qualities", help="with --eval: comma-separated qualities")
    args = ap.parse_args()
    torch.set_num_threads(2)

    files = sorted(glob.glob(os.path.join(args.train, "*.png")))[args.offset::args.every]
    n = len(files)
    model = torch.jit.load(args.classifier).eval()
    coder = Coder(args.exe, files, "/tmp/tune_dwt.rgb")
    log = open(args.log, "a")
    keys = [f"y{d}" for d in range(1, LEVELS + 1)] + ["yll"] + \
        [f"c{d}" for d in range(1, LEVELS + 1)] + ["cll"] + [f"yhh{d}" for d in range(1, LEVELS + 1)]
    zero = {k: 0.0 for k in keys}
    cache = {}

    def measure(theta, q, filt=args.filter, kappa=args.kappa):
        w = expand(theta)
        key = (q, filt, kappa, tuple(w))
        if key in cache:
            return cache[key]
        t = time.time()
        sizes, data = coder.run(q, w, filt, kappa)
        lp = log_probs(model, data, n)
        kl = (ref.exp() * (ref - lp)).sum(1).clamp(min=0)
        agree = (lp.argmax(1) == ref.argmax(1)).double().mean().item()
        bpp = sum(sizes) * 8 / (n * SIDE * SIDE)
        r = {"q": q, "filter": filt, "kappa": kappa, "bpp": bpp, "kl": kl.mean().item(),
             "agree": agree, "theta": theta, "secs": round(time.time() - t, 1)}
        log.write(json.dumps(r) + "\n")
        log.flush()
        cache[key] = r
        return r

    # Reference: the classifier on the source pixels.
    with open("/tmp/tune_dwt.rgb.src", "rb") as f:
        ref = log_probs(model, f.read(), n)

    if args.eval:
        theta = dict(zero)
        theta.update(json.loads(args.eval))
        for q in [float(v) for v in args.qualities.split(",")]:
            r = measure(theta, q)
            print(f"q {q}: bpp {r['bpp']:.4f} KL {r['kl']:.4f} agree {r['agree']:.3f}", flush=True)
        return

    q = args.quality
    lo, hi = measure(zero, q - 0.5), measure(zero, q + 0.5)
    lam = (lo["kl"] - hi["kl"]) / (hi["bpp"] - lo["bpp"])
    base = measure(zero, q)
    print(f"{n} images, q {q}: bpp {base['bpp']:.4f} KL {base['kl']:.4f} agree "
          f"{base['agree']:.3f}; lambda {lam:.4f} KL/bpp", flush=True)

    def cost(r):
        return r["kl"] + lam * r["bpp"]

    theta, best = dict(zero), cost(base)
    step, t0 = args.step, time.time()
    while step >= args.min_step and time.time() - t0 < args.budget:
        improved = False
        for k in keys:
            for sgn in (1, -1):
                cand = dict(theta)
                cand[k] = theta[k] + sgn * step
                r = measure(cand, q)
                c = cost(r)
                if c < best - 1e-5:
                    theta, best, improved = cand, c, True
                    print(f"  {k} {cand[k]:+.3f}: J {c:.4f} (bpp {r['bpp']:.4f} KL {r['kl']:.4f} "
                          f"agree {r['agree']:.3f}) [{time.time() - t0:.0f} s]", flush=True)
                    break
            if time.time() - t0 > args.budget:
                break
        if not improved:
            step /= 2
            print(f"step {step}", flush=True)
    print("theta", json.dumps(theta))
    print("weights", expand(theta))


if __name__ == "__main__":
    main()
