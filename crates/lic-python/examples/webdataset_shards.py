"""Writing and reading WebDataset shards of .lic images.

    python webdataset_shards.py IMAGES_FOLDER shards/    # write shards/lic-000000.tar, ...
    (then, with webdataset installed: wds.WebDataset("shards/lic-{000000..000009}.tar")
     .map_dict(lic=lic.decode) yields decoded arrays under the key "lic")

Each sample of a shard is a tar member `KEY.lic`; the tar is plain (no compression: .lic is
already compressed), so any WebDataset reader streams it. Writing needs only this package.
"""

import io
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

import lic

SAMPLES_PER_SHARD = 1000


def write_shards(images, out_dir, quality=6.0):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tar = None
    for i, path in enumerate(images):
        if i % SAMPLES_PER_SHARD == 0:
            if tar:
                tar.close()
            tar = tarfile.open(out_dir / f"lic-{i // SAMPLES_PER_SHARD:06d}.tar", "w")
        data = lic.encode(np.asarray(Image.open(path).convert("RGB")), quality=quality)
        member = tarfile.TarInfo(f"{Path(path).stem}.lic")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    if tar:
        tar.close()


def read_shard(path):
    """Yields (key, image array) from one shard without webdataset."""
    with tarfile.open(path) as tar:
        for m in tar:
            if m.name.endswith(".lic"):
                yield m.name[:-4], lic.decode(tar.extractfile(m).read())


if __name__ == "__main__":
    images = sorted(p for p in Path(sys.argv[1]).iterdir() if p.suffix.lower() in {".png", ".jpg"})
    write_shards(images, sys.argv[2])
    for shard in sorted(Path(sys.argv[2]).glob("lic-*.tar")):
        for key, img in read_shard(shard):
            print(shard.name, key, img.shape)
