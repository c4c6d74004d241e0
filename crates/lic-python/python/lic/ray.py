"""Dataset transcoding on Ray: ``python -m lic.ray INPUT OUTPUT [options]``.

Every image under INPUT (a folder, searched recursively, or a manifest file with one path per
line) is coded into OUTPUT with its relative path and the extension ``.lic``, by Ray Data tasks
that call this package (no torch). Outputs are written atomically (a temporary file renamed into
place), so an output that exists is complete: a run that crashes or is killed is resumed by
running the same command again, which skips what exists and codes the rest; no item is coded
twice. One JSON line per item (path, output, status, bytes, bpp, psnr, seconds, error) is
appended to ``OUTPUT/lic-ray.jsonl`` (``--log``), and the throughput is printed at the end.

Local:  python -m lic.ray photos/ out/ --num-cpus 2
Cluster: python -m lic.ray /shared/photos /shared/out --address auto --workers 64
(on a Ray cluster whose nodes see INPUT and OUTPUT at the same paths, with this wheel installed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp"}


def list_items(source: Path) -> List[Tuple[str, str]]:
    """(input path, output path relative to OUTPUT) for every item, sorted."""
    if source.is_dir():
        files = sorted(
            p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        return [(str(p), str(p.relative_to(source).with_suffix(".lic"))) for p in files]
    base = source.parent
    items = []
    for line in source.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        rel = Path(*[part for part in Path(line).parts if part not in ("/", "..", ".")])
        items.append((str(base / line), str(rel.with_suffix(".lic"))))
    return items


def write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lic-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def code_one(src: str, out: str, settings: Dict[str, Any]) -> Dict[str, Any]:
    """Codes one image into ``out``; the record of what happened (never raises)."""
    import numpy as np
    from PIL import Image

    import lic

    rec: Dict[str, Any] = {"path": src, "output": out}
    start = time.perf_counter()
    try:
        with Image.open(src) as im:
            im = im.convert("L" if im.mode in ("1", "L", "I;16", "I", "F") else "RGB")
            pixels = np.asarray(im)
        data = lic.encode(pixels, **settings)
        write_atomic(Path(out), data)
        decoded = lic.decode(data)
        ref = pixels.astype(np.float64)
        mse = float(np.mean((decoded.astype(np.float64) - ref) ** 2))
        rec.update(
            status="ok",
            bytes=len(data),
            bpp=len(data) * 8.0 / (pixels.shape[0] * pixels.shape[1]),
            psnr=10.0 * np.log10(255.0**2 / max(mse, 1e-12)),
            seconds=time.perf_counter() - start,
        )
    except (lic.LicError, ValueError, OSError) as e:
        rec.update(status="error", error=f"{type(e).__name__}: {e}", retryable=isinstance(e, OSError))
    return rec


def _code_batch(batch: Dict[str, Any], settings: Dict[str, Any]) -> Dict[str, Any]:
    records = [code_one(s, o, settings) for s, o in zip(batch["path"], batch["output"])]
    return {"record": [json.dumps(r) for r in records]}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m lic.ray",
        description="Transcode a folder or manifest of images into .lic files on Ray "
        "(resumable: run the same command again after a crash).",
    )
    ap.add_argument("input", type=Path, help="folder of images or manifest file")
    ap.add_argument("output", type=Path, help="output folder")
    ap.add_argument("--model", default="dwt", help="dwt (default) or overfit")
    ap.add_argument("--quality", type=float, help="the model's quality (default: its default)")
    ap.add_argument("--bpp", type=float, help="target bits per pixel instead of a quality")
    ap.add_argument("--psnr", type=float, help="target PSNR (dB) instead of a quality")
    ap.add_argument("--effort", default="default", choices=["fast", "default", "slow"])
    ap.add_argument("--time-limit", type=float, help="lic-overfit: seconds per image")
    ap.add_argument("--workers", type=int, default=None, help="parallel coding tasks (default: the CPUs)")
    ap.add_argument("--batch-size", type=int, default=4, help="images per Ray task")
    ap.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray instance")
    ap.add_argument("--address", default=None, help="a Ray cluster's address ('auto': the running one)")
    ap.add_argument("--log", type=Path, default=None, help="JSON lines file (default OUTPUT/lic-ray.jsonl)")
    args = ap.parse_args(argv)

    import ray

    if args.quality is not None and (args.bpp is not None or args.psnr is not None):
        ap.error("give --quality or a --bpp/--psnr target, not both")
    settings: Dict[str, Any] = {"model": args.model, "effort": args.effort}
    for key in ("quality", "bpp", "psnr", "time_limit"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    items = list_items(args.input)
    args.output.mkdir(parents=True, exist_ok=True)
    log_path = args.log or args.output / "lic-ray.jsonl"
    todo = []
    skipped = 0
    with open(log_path, "a") as log:
        for src, rel in items:
            out = args.output / rel
            if out.exists():
                skipped += 1
                log.write(json.dumps({"path": src, "output": str(out), "status": "skipped"}) + "\n")
            else:
                todo.append({"path": src, "output": str(out)})
    print(f"lic.ray: {len(items)} items, {skipped} already done, {len(todo)} to code", file=sys.stderr)
    if not todo:
        return 0

    init: Dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    if args.address:
        init["address"] = args.address
    if args.num_cpus:
        init["num_cpus"] = args.num_cpus
    ray.init(**init)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    workers = args.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    ds = ray.data.from_items(todo, override_num_blocks=max(1, len(todo) // args.batch_size))
    ds = ds.map_batches(
        _code_batch,
        fn_kwargs={"settings": settings},
        batch_size=args.batch_size,
        concurrency=workers,
        num_cpus=1,
    )
    start = time.perf_counter()
    done = failed = pixels_bits = 0
    pixels = 0.0
    with open(log_path, "a") as log:
        for row in ds.iter_rows():
            rec = json.loads(row["record"])
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if rec["status"] == "ok":
                done += 1
                pixels += rec["bytes"] * 8.0 / rec["bpp"]
            else:
                failed += 1
                print(f"lic.ray: {rec['path']}: {rec['error']}", file=sys.stderr)
    elapsed = time.perf_counter() - start
    summary = {
        "items": done + failed,
        "coded": done,
        "failed": failed,
        "workers": workers,
        "seconds": elapsed,
        "images_per_second": done / elapsed if elapsed > 0 else None,
        "megapixels_per_second": pixels / 1e6 / elapsed if elapsed > 0 else None,
    }
    print(json.dumps({"summary": summary}))
    ray.shutdown()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
