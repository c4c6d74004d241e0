"""The Ray driver: a run on a local cluster (2 CPUs) that is killed midway and resumed codes
every image exactly once, and every output decodes to the pixels the package itself gives."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import lic

N = 16


def make_images(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:384, 0:512]
    for i in range(N):
        img = np.stack([(x + 7 * i) % 256, (y * 2 + i) % 256, (x ^ y) % 256], -1)
        img = np.clip(img + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"im{i:02d}.png")


def records(log):
    if not log.exists():
        return []
    return [json.loads(l) for l in log.read_text().splitlines() if l.strip()]


def run(args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "lic.ray", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **kw,
    )


def stop_ray():
    subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "stop", "--force"], capture_output=True)


def test_a_killed_run_resumes_without_coding_anything_twice(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_images(src)
    log = out / "lic-ray.jsonl"
    args = [str(src), str(out), "--num-cpus", "2", "--batch-size", "1", "--quality", "8"]
    p = run(args)
    deadline = time.time() + 240
    while time.time() < deadline:
        if sum(r["status"] == "ok" for r in records(log)) >= 3 or p.poll() is not None:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the run ended before it could be killed: " + p.stderr.read().decode()
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    stop_ray()
    first = records(log)
    done_first = {r["path"] for r in first if r["status"] == "ok"}
    assert 3 <= len(done_first) < N
    # No half-written output: every .lic present decodes.
    for f in out.rglob("*.lic"):
        lic.decode(f.read_bytes())
    q = run(args)
    stdout, stderr = q.communicate(timeout=300)
    stop_ray()
    assert q.returncode == 0, stderr.decode()
    summary = json.loads(stdout.decode().strip().splitlines()[-1])["summary"]
    assert summary["failed"] == 0 and summary["images_per_second"] > 0
    recs = records(log)
    coded = [r["path"] for r in recs if r["status"] == "ok"]
    assert len(coded) == len(set(coded)), "an item was coded twice"
    skipped = {r["path"] for r in recs[len(first):] if r["status"] == "skipped"}
    # The second run skipped at least what the first one logged, and coded the rest.
    assert done_first <= skipped
    assert set(coded) | skipped == {str(src / f"im{i:02d}.png") for i in range(N)}
    for i in range(N):
        data = (out / f"im{i:02d}.lic").read_bytes()
        pixels = np.asarray(Image.open(src / f"im{i:02d}.png"))
        assert np.array_equal(lic.decode(data), lic.decode(lic.encode(pixels, quality=8)))
