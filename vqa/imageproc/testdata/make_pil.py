"""Generates testdata/pil/: small JPEGs written by Pillow in several
subsampling modes and 16-bit PNGs, each with Pillow's own decode
(Image.open(p).convert("RGB")) saved losslessly as <name>.pil.png. Run in
testdata/ with Debian's python3 (Pillow 9.4, libjpeg-turbo 2.1.5):
/usr/bin/python3 make_pil.py"""
import struct
import zlib

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
    path = f"pil/{name}.jpg"
    img.save(path, "JPEG", **opts)
    Image.open(path).convert("RGB").save(f"pil/{name}.pil.png")


def png16(path, color_type, rows):
    """Writes a 16-bit PNG by hand (Pillow cannot write 16-bit RGB)."""
    h, w = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + b"".join(struct.pack(">" + "H" * len(px), *px) for px in row) for row in rows)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    Image.open(path).convert("RGB").save(path[:-4] + ".pil.png")


# 16-bit RGB: Pillow keeps the high byte; 16-bit gray (mode I): it clips to 255.
png16("pil/rgb16_4x2.png", 2, [[(0, 100, 255), (256, 1000, 65535), (40000, 513, 65535), (1, 2, 3)],
                                [(255, 256, 511), (65280, 65279, 7), (9, 99, 999), (12345, 23456, 34567)]])
png16("pil/gray16_6x1.png", 0, [[(0,), (100,), (255,), (256,), (1000,), (65535,)]])
