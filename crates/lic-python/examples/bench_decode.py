"""Times lic.decode in process on a Kodak image (the same streams as the Rust criterion bench
`cargo bench -p lic --bench dwt -- decode`): python examples/bench_decode.py KODIM01.png"""

import statistics
import sys
import time

import numpy as np
from PIL import Image

import lic

img = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
for q in (4.0, 8.0):
    data = lic.encode(img, quality=q)
    lic.decode(data)
    times = []
    for _ in range(30):
        t = time.perf_counter()
        lic.decode(data)
        times.append(time.perf_counter() - t)
    print(f"lic.decode q{q:g}: {len(data) * 8 / img.shape[0] / img.shape[1]:.4f} bpp, "
          f"median {statistics.median(times) * 1e3:.2f} ms (min {min(times) * 1e3:.2f}, 30 runs)")
