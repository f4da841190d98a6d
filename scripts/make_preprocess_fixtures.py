#!/usr/bin/env python3
"""Fixtures for PreprocessTests: real photographs (scikit-image's bundled coffee and chelsea)
and a synthetic high-frequency image, PNGs of every colour type (16-bit, palette, gray, alpha)
with PIL's convert("RGB") of each, with what PIL (and torchvision's eval transform on PIL
images) makes of them, as PNG (8-bit results) and one .npy (the normalised float32 tensor).

    .venv/bin/pip install pillow numpy scikit-image
    .venv/bin/python scripts/make_preprocess_fixtures.py

Each case is named MODE_RESIZE[_CROP]: the resize (shorter side N, or HxW) with PIL's filter,
then torchvision's CenterCrop. Deterministic: the same files every run.
"""
import json
import os
import struct
import zlib

import numpy as np
import skimage.data
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests/Fixtures/preprocess")
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def stripes():
    """257 x 173, fine diagonal stripes and a ring pattern: aliasing shows at once."""
    y, x = np.mgrid[0:173, 0:257].astype(np.float64)
    r = (np.sin((x + y) * 1.7) * 0.5 + 0.5) * 255
    g = (np.sin(np.hypot(x - 128, y - 86) * 0.9) * 0.5 + 0.5) * 255
    b = ((x.astype(int) // 3 + y.astype(int) // 2) % 2) * 255.0
    return np.stack([r, g, b], -1).round().astype(np.uint8)


def png(path, a, color_type, depth, palette=None):
    """A PNG written directly (PIL cannot write 16-bit colour): one IDAT, filter 0 rows."""
    h, w = a.shape[:2]
    rows = b"".join(b"\x00" + (a[y].astype(">u2") if depth == 16 else a[y].astype(np.uint8)).tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    out += chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def formats():
    """PNG colour types and depths, each with PIL's convert("RGB") of it (what ImageFolder sees)."""
    rng = np.random.default_rng(7)
    made = {
        "rgb16": (rng.integers(0, 65536, (24, 32, 3)), 2, 16, None),
        "gray16": (rng.integers(0, 600, (24, 32)), 0, 16, None),
        "gray8": (rng.integers(0, 256, (24, 32)), 0, 8, None),
        "palette8": (rng.integers(0, 16, (24, 32)), 3, 8, rng.integers(0, 256, (16, 3))),
        "rgba8": (rng.integers(0, 256, (24, 32, 4)), 6, 8, None),
        "graya16": (rng.integers(0, 65536, (24, 32, 2)), 4, 16, None),
    }
    out = []
    for name, (a, kind, depth, pal) in made.items():
        path = os.path.join(OUT, f"format_{name}.png")
        png(path, a, kind, depth, pal)
        Image.open(path).convert("RGB").save(os.path.join(OUT, f"format_{name}_rgb.png"))
        out.append({"image": f"format_{name}.png", "expected": f"format_{name}_rgb.png"})
    return out


def torchvision_resize(im, n, f):
    """torchvision's Resize(n) on a PIL image: the shorter side to n, the longer truncated."""
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(n * long / short)
    return im.resize((n, new_long) if w <= h else (new_long, n), f)


def center_crop(im, ch, cw):
    """torchvision's CenterCrop on a PIL image (zero padding when the image is smaller)."""
    w, h = im.size
    if cw > w or ch > h:
        pl, pt = (cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0
        canvas = Image.new(im.mode, (max(w, cw), max(h, ch)))
        canvas.paste(im, (pl, pt))
        im, (w, h) = canvas, canvas.size
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return im.crop((left, top, left + cw, top + ch))


def main():
    os.makedirs(OUT, exist_ok=True)
    images = {"coffee": skimage.data.coffee(), "chelsea": skimage.data.chelsea(), "stripes": stripes()}
    cases = []
    for name, a in images.items():
        Image.fromarray(a).save(os.path.join(OUT, f"{name}.png"), optimize=True)
        im = Image.fromarray(a)
        plans = [(f, "128", "112x112") for f in FILTERS] + [("bilinear", "90x150", None), ("bicubic", "300x500", None),
                                                           ("bilinear", "64", "80x80")]
        for f, resize, crop in plans:
            if "x" in resize:
                h, w = map(int, resize.split("x"))
                r = im.resize((w, h), FILTERS[f])
            else:
                r = torchvision_resize(im, int(resize), FILTERS[f])
            if crop:
                ch, cw = map(int, crop.split("x"))
                r = center_crop(r, ch, cw)
            case = f"{name}_{f}_{resize}" + (f"_{crop}" if crop else "")
            r.save(os.path.join(OUT, f"{case}.png"), optimize=True)
            cases.append({"image": f"{name}.png", "expected": f"{case}.png", "filter": f, "resize": resize,
                          "crop": crop})
    # the float tensor torchvision's ToTensor + Normalize give for one case
    r = center_crop(torchvision_resize(Image.fromarray(images["coffee"]), 128, Image.BILINEAR), 112, 112)
    x = ((np.asarray(r).astype(np.float32) / np.float32(255) - MEAN) / STD).transpose(2, 0, 1)[None]
    np.save(os.path.join(OUT, "coffee_imagenet_128_112.npy"), np.ascontiguousarray(x, np.float32))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "formats.json"), "w") as f:
        json.dump(formats(), f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases in {OUT}")


main()
