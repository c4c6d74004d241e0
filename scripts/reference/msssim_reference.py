#!/usr/bin/env python3
"""Reference MS-SSIM and PSNR values for tests/eval_reference.rs.

Usage (in a throwaway venv outside the repo):
    python3 -m venv /tmp/msssim-venv
    /tmp/msssim-venv/bin/pip install torch==2.11.0 pytorch_msssim numpy pillow
    LIC_REF_DIR=/tmp/lic-ref cargo test --release --no-default-features --test eval_reference \
        -- --ignored dump_msssim_reference_images
    /tmp/msssim-venv/bin/python scripts/reference/msssim_reference.py /tmp/lic-ref

Prints the `MSSSIM_REFERENCE` table (float64 evaluation, which is what the Rust code computes) and,
for information, the float32 value that a typical `pytorch_msssim` call on float32 tensors gives.
"""
import importlib.metadata
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
import pytorch_msssim

NAMES = ["noise12", "blur3", "posterize_odd", "inverted_blue", "heavy_noise_161"]


def load(p):
    a = np.asarray(Image.open(p).convert("RGB"), dtype=np.float64)
    return a


def main():
    d = Path(sys.argv[1])
    ver = importlib.metadata.version("pytorch_msssim")
    print(f"# pytorch_msssim {ver}, torch {torch.__version__}")
    for n in NAMES:
        x = load(d / f"{n}_x.png")
        y = load(d / f"{n}_y.png")
        X = torch.from_numpy(x).permute(2, 0, 1).unsqueeze(0)
        Y = torch.from_numpy(y).permute(2, 0, 1).unsqueeze(0)
        ms64 = pytorch_msssim.ms_ssim(X, Y, data_range=255, size_average=True).item()
        ms32 = pytorch_msssim.ms_ssim(X.float(), Y.float(), data_range=255, size_average=True).item()
        mse = np.mean((x - y) ** 2)
        psnr = float(10 * np.log10(255.0**2 / mse))
        print(f'    ("{n}", {ms64!r}, {psnr!r}), // float32: {ms32!r}, size {x.shape[1]}x{x.shape[0]}')


if __name__ == "__main__":
    main()
