#!/usr/bin/env python3
"""Fixtures for PreprocessTests' EXIF orientation and letterbox cases (Pillow only):

- exif/: a 40 x 27 crop of scikit-image's chelsea stored under each EXIF orientation 1-8 (JPEG
  APP1, and PNG eXIf for 6), with what PIL's ImageOps.exif_transpose makes of each (PNG);
- letterbox/: photographs letterboxed with PIL's resize as ultralytics' LetterBox sizes and
  places them (fit inside, sides rounded half to even, centred, padding 114) and as PaddleOCR's
  text-line rule does (height fixed, width ceil(H * w / h) capped, padded on the right with the
  normalised zero, i.e. 127.5 under mean = std = 0.5), as float32 NCHW .npy.

    .venv/bin/pip install pillow numpy scikit-image
    .venv/bin/python scripts/make_pil_extra_fixtures.py
"""
import json
import math

import os

import numpy as np
import skimage.data
from PIL import Image, ImageOps

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests/Fixtures/preprocess")
OUT = os.path.join(FIXTURES, "exif")
LETTERBOX = os.path.join(FIXTURES, "letterbox")


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
    letterbox()
    print(f"EXIF and letterbox fixtures in {OUT} and {LETTERBOX}")


def letterbox():
    os.makedirs(LETTERBOX, exist_ok=True)
    photos = {"coffee": skimage.data.coffee()[60:260, 100:420], "text": skimage.data.text()}
    cases = []
    for name, a in photos.items():
        im = Image.fromarray(a).convert("RGB")
        im.save(os.path.join(LETTERBOX, f"{name}.png"), optimize=True)
        w, h = im.size
        for mode, (H, W), pad, mean, std in [("fit", (96, 128), 114.0, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
                                              ("fit", (101, 77), 114.0, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
                                              ("height", (48, 320), 127.5, [0.5] * 3, [0.5] * 3),
                                              ("height", (32, 100), 127.5, [0.5] * 3, [0.5] * 3)]:
            if mode == "fit":
                r = min(H / h, W / w)
                nw, nh = int(round(w * r)), int(round(h * r))
                left, top = int(round((W - nw) / 2 - 0.1)), int(round((H - nh) / 2 - 0.1))
            else:
                nw, nh = min(W, int(math.ceil(H * (w / float(h))))), H
                left, top = 0, 0
            canvas = np.full((H, W, 3), pad, np.float32)
            canvas[top:top + nh, left:left + nw] = np.asarray(im.resize((nw, nh), Image.BILINEAR), np.float32)
            x = ((canvas / np.float32(255) - np.array(mean, np.float32)) / np.array(std, np.float32))
            out = f"{name}_{mode}_{H}x{W}.npy"
            np.save(os.path.join(LETTERBOX, out), np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32))
            cases.append({"image": f"{name}.png", "expected": out, "resize": mode, "pad": pad, "mean": mean,
                          "std": std})
    with open(os.path.join(LETTERBOX, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


main()
