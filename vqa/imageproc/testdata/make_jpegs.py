"""Generates testdata/jpeg/: small JPEGs written by Pillow in several
subsampling modes, each with Pillow's own decode (Image.open(p).convert("RGB"))
saved losslessly as <name>.pil.png. Run with Debian's python3 (Pillow 9.4,
libjpeg-turbo 2.1.5): /usr/bin/python3 make_jpegs.py"""
import numpy as np
from PIL import Image

rng = np.random.RandomState(7)


def picture(w, h):
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 100 * np.sin(x / 5.0 + c) * np.cos(y / 7.0 - c) for c in range(3)], -1)
    img[h // 3 : h // 2, w // 4 : w // 2] = [255, 0, 30]  # a saturated block: chroma edges
    img[(x + y) % 17 == 0] = [0, 0, 255]
    img += rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


cases = {
    "s420_67x45": (picture(67, 45), dict(quality=90, subsampling=2)),
    "s422_67x45": (picture(67, 45), dict(quality=90, subsampling=1)),
    "s444_67x45": (picture(67, 45), dict(quality=90, subsampling=0)),
    "s420_progressive_64x48": (picture(64, 48), dict(quality=75, subsampling=2, progressive=True)),
    "s420_3x3": (picture(3, 3), dict(quality=90, subsampling=2)),
    "s420_1x5": (picture(1, 5), dict(quality=90, subsampling=2)),
    "gray_33x20": (picture(33, 20).convert("L"), dict(quality=90)),
}
for name, (img, opts) in cases.items():
    path = f"jpeg/{name}.jpg"
    img.save(path, "JPEG", **opts)
    Image.open(path).convert("RGB").save(f"jpeg/{name}.pil.png")
