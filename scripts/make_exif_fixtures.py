#!/usr/bin/env python3
"""Fixtures for PreprocessTests' EXIF orientation case: a 40 x 27 crop of scikit-image's chelsea
stored under each EXIF orientation 1-8 (JPEG APP1, and PNG eXIf for 6), with what PIL's
ImageOps.exif_transpose makes of each (PNG).

    .venv/bin/pip install pillow numpy scikit-image
    .venv/bin/python scripts/make_exif_fixtures.py
"""
import os

import numpy as np
import skimage.data
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests/Fixtures/preprocess/exif")


def main():
    os.makedirs(OUT, exist_ok=True)
    im = Image.fromarray(skimage.data.chelsea()[100:127, 200:240])
    for k in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = k
        for ext in ["jpg"] + (["png"] if k == 6 else []):
            path = os.path.join(OUT, f"orientation{k}.{ext}")
            im.save(path, exif=exif.tobytes(), **({"quality": 95} if ext == "jpg" else {}))
            ImageOps.exif_transpose(Image.open(path).convert("RGB")).save(
                os.path.join(OUT, f"orientation{k}_{ext}_upright.png"))
    print(f"EXIF fixtures in {OUT}")


main()
