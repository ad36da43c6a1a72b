"""Baseline for BenchmarkEncodeJPEG: the work transformers 4.30's
ViltImageProcessor does for one image (decode, PIL BICUBIC resize, rescale,
normalise, channels-first, pad + pixel mask), with Pillow and numpy only
(transformers is not installed here). Run with Debian's python3:
  /usr/bin/python3 vqa/processor/testdata/bench_pil.py IMAGE [N]
Prints the wall-clock median and the CPU time per image on one thread (the
CPU time is the fair per-core figure on a loaded machine)."""
import statistics
import sys
import time

import numpy as np
from PIL import Image


def process(path):
    img = Image.open(path).convert("RGB")
    arr = np.asarray(img)  # to_numpy_array
    h, w = arr.shape[:2]
    shorter, longer = 384, int(1333 / 800 * 384)
    scale = shorter / min(h, w)
    nh, nw = (shorter, scale * w) if h < w else (scale * h, shorter)
    if max(nh, nw) > longer:
        s = longer / max(nh, nw)
        nh, nw = s * nh, s * nw
    nh, nw = int(nh + 0.5) // 32 * 32, int(nw + 0.5) // 32 * 32
    pil = Image.fromarray(arr)  # to_pil_image
    arr = np.array(pil.resize((nw, nh), Image.BICUBIC))
    arr = (arr * (1 / 255)).astype(np.float32)  # rescale
    arr = (arr - np.float32(0.5)) / np.float32(0.5)  # normalize
    arr = arr.transpose(2, 0, 1)  # channels first
    padded = np.zeros((3, nh, nw), dtype=np.float32)  # pad (single image)
    padded[:, :nh, :nw] = arr
    mask = np.zeros((nh, nw), dtype=np.int64)
    mask[:nh, :nw] = 1
    return padded, mask


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    process(path)
    times, cpu0 = [], time.process_time()
    for _ in range(n):
        t0 = time.perf_counter()
        process(path)
        times.append((time.perf_counter() - t0) * 1e3)
    cpu = (time.process_time() - cpu0) * 1e3 / n
    med = statistics.median(times)
    print(f"PIL+numpy ViltImageProcessor work: wall median {med:.2f} ms/image ({1e3 / med:.1f} images/s), "
          f"CPU {cpu:.2f} ms/image ({1e3 / cpu:.1f} images/s per core), n={n}")


main()
