"""lic: a learned image codec whose files decode to the same pixels everywhere.

This package is the pure-Rust core of lic (the ``lic-dwt`` and ``lic-overfit`` families): no
torch, no GPU, no model download. ::

    import numpy as np, lic
    data = lic.encode(array, quality=6)          # H×W×3 or H×W uint8 (other dtypes: see encode)
    img = lic.decode(data)                       # numpy uint8, H×W×3 (H×W for gray)
    lic.info(data)                               # {'model': 'lic-dwt', 'width': ..., ...}

Pillow: ``lic.register_pillow()`` once, then ``Image.open("x.lic")`` and
``im.save("x.lic", quality=6)``. Datasets at scale: ``python -m lic.ray --help``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _lic
from ._lic import DecodeError, EncodeError, LicError

__version__: str = _lic.__version__

__all__ = [
    "encode",
    "decode",
    "info",
    "models",
    "encode_video",
    "decode_video",
    "register_pillow",
    "LicError",
    "EncodeError",
    "DecodeError",
    "__version__",
]


def _as_uint8(array: Any) -> np.ndarray:
    """The image as a C-contiguous uint8 array (H×W, H×W×1 or H×W×3).

    uint8 is taken as it is; bool as 0/255; uint16 is rounded to 8 bits (x / 257); float arrays
    must hold values in [0, 1] (they are clipped and rounded, x · 255). Anything else (signed
    integers, 4 channels, other shapes) is a ValueError.
    """
    a = np.asarray(array)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3)):
        raise ValueError(
            f"expected an H×W, H×W×1 or H×W×3 image array, got shape {a.shape}"
            + (" (drop the alpha channel first)" if a.ndim == 3 and a.shape[2] == 4 else "")
        )
    if a.dtype == np.uint8:
        out = a
    elif a.dtype == np.bool_:
        out = a.astype(np.uint8) * 255
    elif a.dtype == np.uint16:
        out = ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise ValueError("the float image holds NaN or infinite values")
        out = np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        raise ValueError(
            f"unsupported dtype {a.dtype}: use uint8, uint16, bool or float in [0, 1]"
        )
    return np.ascontiguousarray(out)


def encode(
    array: Any,
    model: str = "dwt",
    quality: Optional[float] = None,
    bpp: Optional[float] = None,
    psnr: Optional[float] = None,
    effort: str = "default",
    time_limit: Optional[float] = None,
) -> bytes:
    """Encodes an image into .lic bytes.

    array: H×W (gray), H×W×1 or H×W×3 (RGB); uint8, uint16, bool or float in [0, 1].
    model: "dwt" (lic-dwt, the default, fast) or "overfit" (lic-overfit: fitted per image,
        seconds to minutes, better rate-distortion).
    quality: the model's scale, higher is better (dwt 0–16, default 6; overfit 0–10, default 4).
    bpp / psnr: a target instead of a quality (a search of up to ten encodes).
    effort, time_limit: lic-overfit's fitting effort in iterations ("fast" 1,800, "default"
        10,000, "slow" 24,000: the same bytes on any machine) and an optional cap (s).

    The GIL is released while coding. Raises ValueError for bad arguments and EncodeError when
    the image cannot be coded (too large, an unreachable target).
    """
    return _lic.encode(_as_uint8(array), model, quality, bpp, psnr, effort, time_limit)


def decode(data: bytes) -> np.ndarray:
    """Decodes .lic bytes: a uint8 array H×W×3, or H×W for a gray image.

    Bit-exact: the same pixels on every machine. Raises DecodeError for data that is not a
    valid stream of a family this package decodes (libtorch models need the lic-torch binary).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() takes bytes, not {type(data).__name__}")
    return _lic.decode(bytes(data))


def info(data: bytes) -> Dict[str, Any]:
    """The header of .lic bytes: model, width, height, gray, quality, format_version, bytes,
    decodable (whether this package decodes it). Raises DecodeError for data that is not .lic."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"info() takes bytes, not {type(data).__name__}")
    return _lic.info(bytes(data))


def encode_video(
    frames: Any,
    quality: Optional[float] = None,
    gop: int = 32,
    fps: Tuple[int, int] = (25, 1),
) -> bytes:
    """Encodes 8-bit YCbCr 4:2:0 frames into .licv bytes with lic-mcw (the motion-compensated
    wavelet video codec).

    frames: an iterable of (Y, U, V) planes: Y is H×W, U and V are ceil(H/2)×ceil(W/2), all
        uint8 (or convertible like encode()'s arrays), every frame the same size.
    quality: 0–16, higher is better (default 8); gop: the intra period; fps: (numerator,
        denominator) for the header.

    The GIL is released while coding. Raises ValueError for bad arguments or plane shapes and
    EncodeError when the frames cannot be coded.
    """
    planes = [tuple(_as_uint8(p) for p in f) for f in frames]
    if any(len(f) != 3 for f in planes):
        raise ValueError("each frame must be a (Y, U, V) tuple of planes")
    return _lic.encode_video(planes, quality, int(gop), (int(fps[0]), int(fps[1])))


def decode_video(
    data: bytes, keep_going: bool = False
) -> Tuple[List[Tuple[np.ndarray, np.ndarray, np.ndarray]], Dict[str, Any]]:
    """Decodes lic-mcw .licv bytes: a list of (Y, U, V) uint8 planes per frame, and a report
    (model, width, height, fps, frames, decoded, damaged: [(index, reason)], trailing).

    Bit-exact. Without keep_going the first damaged frame raises DecodeError; with it, every
    frame slot is returned (a lost frame repeats the last good one, mid-grey before the first)
    and the damage is listed in the report.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode_video() takes bytes, not {type(data).__name__}")
    return _lic.decode_video(bytes(data), bool(keep_going))


def models() -> List[Dict[str, Any]]:
    """The families this package codes: id, name, description, quality_range, default_quality."""
    return _lic.models()


def register_pillow() -> None:
    """Registers the .lic format with Pillow (``Image.open``, ``Image.save``)."""
    from . import pillow

    pillow.register()
