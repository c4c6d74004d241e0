"""A Pillow plugin for .lic files: ``lic.pillow.register()`` (or ``lic.register_pillow()``), then
``Image.open("x.lic")`` and ``im.save("x.lic", quality=6, model="dwt")``."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFile

import lic

_MAGIC = b"\x89LIC"


def _accept(prefix: bytes) -> bool:
    return prefix[:4] == _MAGIC


class LicDecoder(ImageFile.PyDecoder):
    """Decodes a whole .lic stream (the decoder pulls the file itself)."""

    _pulls_fd = True

    def decode(self, buffer):  # type: ignore[override]
        assert self.fd is not None
        self.fd.seek(0)
        try:
            pixels = lic.decode(self.fd.read())
        except lic.DecodeError as e:
            raise OSError(f"cannot decode .lic data: {e}") from e
        self.set_as_raw(np.ascontiguousarray(pixels).tobytes())
        return -1, 0


class LicImageFile(ImageFile.ImageFile):
    format = "LIC"
    format_description = "lic learned image codec"

    def _open(self) -> None:
        head = self.fp.read()
        try:
            header = lic.info(head)
        except lic.DecodeError as e:
            raise SyntaxError(f"not a .lic file: {e}") from e
        if not header["decodable"]:
            raise SyntaxError(f"a {header['model']} stream: the lic-torch binary decodes it")
        self._mode = "L" if header["gray"] else "RGB"
        self._size = (header["width"], header["height"])
        self.info["lic_model"] = header["model"]
        self.info["quality"] = header["quality"]
        tile = (0, 0) + self.size
        make = getattr(ImageFile, "_Tile", None)
        self.tile = [make("lic", tile, 0, None) if make else ("lic", tile, 0, None)]


def _save(im: Image.Image, fp, filename) -> None:
    info = im.encoderinfo
    if im.mode not in ("RGB", "L"):
        im = im.convert("L" if im.mode in ("1", "I", "I;16", "F") else "RGB")
    data = lic.encode(
        np.asarray(im),
        model=info.get("model", "dwt"),
        quality=info.get("quality"),
        bpp=info.get("bpp"),
        psnr=info.get("psnr"),
    )
    fp.write(data)


def register() -> None:
    """Registers the format with Pillow (idempotent)."""
    Image.register_open(LicImageFile.format, LicImageFile, _accept)
    Image.register_decoder("lic", LicDecoder)
    Image.register_save(LicImageFile.format, _save)
    Image.register_extension(LicImageFile.format, ".lic")
    Image.register_mime(LicImageFile.format, "image/x-lic")
