"""The Python package: round trips of arrays of several shapes and types, bit-exact decoding of
the golden streams, bad input raising typed exceptions, the Pillow plugin."""

import hashlib
import json
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import lic


def gradient(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 64 * 4], -1)
    return np.clip(img + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-12))


def test_golden_streams_decode_to_the_rust_decoders_pixels(golden):
    want = json.loads((golden / "dwt.json").read_text())
    for name, entry in want.items():
        data = (golden / f"{name}.lic").read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["bytes_sha256"]
        img = lic.decode(data)
        assert img.dtype == np.uint8
        assert img.ndim == (2 if entry["gray"] else 3)
        assert hashlib.sha256(img.tobytes()).hexdigest() == entry["decoded_sha256"], name
        assert lic.info(data)["model"] == "lic-dwt"


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 5, 3), (37, 61, 3), (40, 52), (33, 20, 1)])
def test_uint8_round_trips_of_several_shapes(shape):
    rgb = gradient(shape[0], shape[1])
    a = rgb if len(shape) == 3 and shape[2] == 3 else rgb[..., 0].reshape(shape)
    data = lic.encode(a, quality=14)
    out = lic.decode(data)
    gray = len(shape) == 2 or shape[2] == 1
    assert out.shape == ((shape[0], shape[1]) if gray else shape)
    assert out.dtype == np.uint8
    assert psnr(out, a.reshape(out.shape)) > 30
    info = lic.info(data)
    assert (info["width"], info["height"], info["gray"]) == (shape[1], shape[0], gray)
    # Deterministic: the same bytes again.
    assert lic.encode(a, quality=14) == data


def test_other_dtypes_are_converted_like_the_documentation_says():
    a8 = gradient(24, 32)
    ref = lic.encode(a8, quality=10)
    assert lic.encode(a8.astype(np.uint16) * 257, quality=10) == ref
    assert lic.encode(a8.astype(np.float32) / 255.0, quality=10) == ref
    assert lic.encode(a8.astype(np.float64) / 255.0, quality=10) == ref
    # Non-contiguous views are copied.
    wide = gradient(24, 64)
    assert lic.encode(wide[:, ::2], quality=10) == lic.encode(np.ascontiguousarray(wide[:, ::2]), quality=10)
    b = np.zeros((8, 8), bool)
    b[2:5, 3:6] = True
    out = lic.decode(lic.encode(b, quality=16))
    assert psnr(out, b.astype(np.uint8) * 255) > 30


def test_targets_and_models():
    a = gradient(64, 96)
    d = lic.encode(a, bpp=1.0)
    assert abs(len(d) * 8 / (64 * 96) - 1.0) < 0.05
    d = lic.encode(a, psnr=35.0)
    assert abs(psnr(lic.decode(d), a) - 35.0) < 35 * 0.05
    names = {m["name"] for m in lic.models()}
    assert {"dwt", "overfit"} <= names
    small = gradient(16, 16)
    o = lic.encode(small, model="overfit", quality=4, effort="fast", time_limit=1.0)
    assert lic.info(o)["model"] == "lic-overfit"
    assert lic.decode(o).shape == (16, 16, 3)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((2, 2, 2, 3), np.uint8),
        np.zeros(16, np.uint8),
        np.zeros((4, 4, 3), np.int32),
        np.full((4, 4, 3), np.nan, np.float32),
        np.zeros((0, 4, 3), np.uint8),
    ],
)
def test_bad_arrays_raise_value_error(bad):
    with pytest.raises(ValueError):
        lic.encode(bad)


def test_bad_arguments_and_streams_raise_typed_errors():
    a = gradient(8, 8)
    for kwargs in [
        {"quality": 17},
        {"quality": -1},
        {"model": "walloc"},
        {"model": "nope"},
        {"effort": "slow"},
        {"time_limit": 5},
        {"bpp": -1},
        {"bpp": 1, "psnr": 30},
        {"quality": 5, "bpp": 1},
        {"model": "overfit", "effort": "sometimes"},
    ]:
        with pytest.raises(ValueError):
            lic.encode(a, **kwargs)
    with pytest.raises(lic.EncodeError):
        lic.encode(a, psnr=500)
    assert issubclass(lic.EncodeError, lic.LicError) and issubclass(lic.DecodeError, lic.LicError)
    data = lic.encode(gradient(32, 32))
    for broken in [b"", b"not a lic file", data[:10], data[: len(data) // 2], data[:-1]]:
        with pytest.raises(lic.DecodeError):
            lic.decode(broken)
    with pytest.raises(lic.DecodeError):
        lic.info(b"garbage")
    with pytest.raises(TypeError):
        lic.decode("a string")


def test_damaged_streams_never_crash_the_interpreter():
    data = bytearray(lic.encode(gradient(24, 24)))
    rng = random.Random(1)
    outcomes = set()
    for _ in range(300):
        d = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
        try:
            lic.decode(bytes(d))
            outcomes.add("decoded")
        except lic.DecodeError:
            outcomes.add("refused")
    assert "refused" in outcomes


def test_threads_decode_in_parallel_to_the_same_pixels():
    data = lic.encode(gradient(128, 160), quality=8)
    want = lic.decode(data)
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda _: lic.decode(data), range(8)))
    for o in outs:
        assert np.array_equal(o, want)


def test_pillow_plugin(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    lic.register_pillow()
    a = gradient(30, 40)
    im = Image.fromarray(a)
    p = tmp_path / "x.lic"
    im.save(p, quality=9)
    assert lic.info(p.read_bytes())["quality"] == 9.0
    with Image.open(p) as back:
        assert back.format == "LIC" and back.size == (40, 30) and back.mode == "RGB"
        assert np.array_equal(np.asarray(back), lic.decode(p.read_bytes()))
    g = Image.fromarray(a[..., 1])
    g.save(tmp_path / "g.lic")
    with Image.open(tmp_path / "g.lic") as back:
        assert back.mode == "L" and np.asarray(back).shape == (30, 40)
    # Not a .lic file: Pillow's own error, no crash.
    (tmp_path / "bad.lic").write_bytes(b"\x89LIC" + b"\x00" * 40)
    with pytest.raises(Exception):
        Image.open(tmp_path / "bad.lic").load()


def clip420(n, h=40, w=52):
    """A texture panning right by 2 samples per frame, as (Y, U, V) planes."""
    rng = np.random.default_rng(5)
    big = rng.integers(40, 200, (h, w + 2 * n)).astype(np.uint8)
    big = ((big.astype(np.int32) + np.roll(big, 1, 1) + np.roll(big, 1, 0)) // 3).astype(np.uint8)
    ch, cw = (h + 1) // 2, (w + 1) // 2
    return [
        (np.ascontiguousarray(big[:, 2 * k : 2 * k + w]), np.full((ch, cw), 120, np.uint8),
         np.full((ch, cw), 140, np.uint8))
        for k in range(n)
    ]


def test_video_round_trip_and_damage():
    frames = clip420(6)
    data = lic.encode_video(frames, quality=8, gop=4)
    out, report = lic.decode_video(data)
    assert report["model"] == "lic-mcw" and report["decoded"] == 6 and report["damaged"] == []
    assert len(out) == 6 and out[0][0].shape == (40, 52) and out[0][1].shape == (20, 26)
    assert all(psnr(f[0], g[0]) > 30 for f, g in zip(frames, out))
    # Damage in the middle: an error, or every slot with keep_going.
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x10
    with pytest.raises(lic.DecodeError):
        lic.decode_video(bytes(bad))
    slots, report = lic.decode_video(bytes(bad), keep_going=True)
    assert len(slots) == 6 and report["decoded"] + len(report["damaged"]) == 6
    assert report["damaged"]
    with pytest.raises(lic.DecodeError):
        lic.decode_video(b"not a video")
    with pytest.raises(ValueError):
        lic.encode_video([(frames[0][0], frames[0][0], frames[0][2])])
    with pytest.raises(ValueError):
        lic.encode_video(frames, quality=99)
