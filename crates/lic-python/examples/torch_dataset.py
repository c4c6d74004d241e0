"""Decoding .lic files inside a PyTorch Dataset, with DataLoader workers.

    python torch_dataset.py FOLDER_OF_LIC_FILES

lic needs no torch; this example does (pip install torch). Each worker process decodes its own
files: lic.decode releases the GIL and gives the same pixels on every machine, so a training
run reads exactly the images the evaluation measured.
"""

import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

import lic


class LicFolder(Dataset):
    def __init__(self, root, size=256):
        self.files = sorted(Path(root).rglob("*.lic"))
        self.size = size

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        img = lic.decode(self.files[i].read_bytes())  # H×W×3 uint8 (H×W for gray)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        t = torch.from_numpy(img).permute(2, 0, 1).float() / 255.0
        return t[:, : self.size, : self.size]


if __name__ == "__main__":
    loader = DataLoader(LicFolder(sys.argv[1]), batch_size=4, num_workers=2)
    for batch in loader:
        print(tuple(batch.shape), float(batch.mean()))
