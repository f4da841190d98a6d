#!/usr/bin/env python3
"""`fkdc compile --val` on an ImageFolder of full-size photographs against the PyTorch pipeline on
the same folder: the same fp32 top-1, the same tensors, the same logits.

The folder (out/bench-fullsize/val, made on the first run): the sample generator's fundus images
rendered at camera resolution — 1411 x 1411 (square sensor crop) and 1600 x 1200 (the disc
letterboxed in black, as many fundus cameras write it), JPEG quality 95 — 10 a class, with
the real 1411 x 1411 fundus photograph from scikit-image's wheel added to class 0. The PyTorch
side is torchvision's ImageFolder with the standard eval transform (Resize(256), CenterCrop(224),
ToTensor, Normalize) on PIL images, the fkdc side `fkdc compile samples/student.pt --val DIR
--resize eval` (the samples' preprocessor_config.json says "as they are"; --resize eval asks
for the eval transform instead).

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch torchvision pillow numpy scikit-image
    swift build -c release
    /tmp/tv/bin/python bench/preprocess_val.py [--per-class N]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import skimage
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "samples"))
import make_samples  # noqa: E402  (the sample generator: fundus(), CLASSES)

FKDC = os.path.join(ROOT, ".build/release/fkdc")
OUT = os.path.join(ROOT, "out/bench-fullsize")
VAL = os.path.join(OUT, "val")


def make_folder(per_class):
    if os.path.isdir(VAL) and len(os.listdir(VAL)) == 4:
        return
    rng = np.random.default_rng(11)
    for c, name in enumerate(make_samples.CLASSES):
        d = os.path.join(VAL, f"{c}_{name}")
        os.makedirs(d, exist_ok=True)
        for i in range(per_class):
            wide = i % 2 == 1
            img = (make_samples.fundus(rng, c, size=1200 if wide else 1411) * 255 + 0.5).astype(np.uint8)
            if wide:
                img = np.pad(img, ((0, 0), (200, 200), (0, 0)))
            Image.fromarray(img).save(os.path.join(d, f"{i:03d}.jpg"), quality=95)
    shutil.copy(os.path.join(os.path.dirname(skimage.__file__), "data", "retina.jpg"),
                os.path.join(VAL, "0_" + make_samples.CLASSES[0], "skimage_retina.jpg"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=10)
    args = ap.parse_args()
    make_folder(args.per_class)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    # PyTorch: ImageFolder + the eval transform on PIL images, the student in float32
    t0 = time.time()
    ds = torchvision.datasets.ImageFolder(VAL, transform=T.Compose(
        [T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(mean, std)]))
    student = torchvision.models.mobilenet_v2(num_classes=4)
    student.load_state_dict(torch.load(os.path.join(ROOT, "samples/student.pt"), weights_only=True))
    student.eval()
    xs, logits = [], []
    with torch.no_grad():
        for x, _ in ds:
            xs.append(x.numpy())
            logits.append(student(x[None]).numpy()[0])
    torch_s = time.time() - t0
    labels = np.array([y for _, y in ds.samples])
    logits = np.stack(logits)
    torch_top1 = float((logits.argmax(1) == labels).mean())
    # fkdc: the same folder through compile --val, and through preprocess + run for the tensors
    t0 = time.time()
    out = os.path.join(OUT, "compile")
    r = subprocess.run([FKDC, "compile", "samples/student.pt", "--val", VAL, "--resize", "eval", "-o", out],
                       cwd=ROOT, capture_output=True, text=True)
    fkdc_s = time.time() - t0
    if r.returncode != 0:
        sys.exit(r.stdout + r.stderr)
    acc = json.load(open(os.path.join(out, "report.json")))["accuracy"]
    x_npy, y_npy = os.path.join(OUT, "x.npy"), os.path.join(OUT, "logits.npy")
    subprocess.run([FKDC, "preprocess", VAL, "--resize", "eval", "-o", x_npy], cwd=ROOT, check=True,
                   capture_output=True)
    subprocess.run([FKDC, "run", "samples/student.pt", "--input", x_npy, "--output", y_npy], cwd=ROOT,
                   check=True, capture_output=True)
    fx, fl = np.load(x_npy), np.load(y_npy)
    tensor_diff = float(np.abs(fx - np.stack(xs)).max())
    logit_rel = float((np.abs(fl - logits).max(1) / np.abs(logits).max(1)).max())
    print(f"{len(ds)} full-size images ({', '.join(sorted({f'{Image.open(p).size[0]}x{Image.open(p).size[1]}' for p, _ in ds.samples}))})")
    print(f"PyTorch (torchvision ImageFolder + Resize(256) + CenterCrop(224), float32): top-1 {torch_top1:.4f}"
          f"  [{torch_s:.1f} s]")
    print(f"fkdc compile --val --resize eval:                                  fp32 top-1 {acc['fp32_top1']:.4f}"
          f", int8 top-1 {acc['int8_top1']:.4f}  [{fkdc_s:.1f} s]")
    print(f"fkdc preprocess vs torchvision tensors: worst difference {tensor_diff:.3g}")
    print(f"fkdc run vs torch logits: worst relative difference {logit_rel:.3g}; argmax agreement "
          f"{float((fl.argmax(1) == logits.argmax(1)).mean()):.4f}")
    # the difference it makes: the old default (squeeze the whole photograph to 224 x 224)
    r = subprocess.run([FKDC, "compile", "samples/student.pt", "--val", VAL, "--resize", "model", "-o",
                        os.path.join(OUT, "squeeze")], cwd=ROOT, capture_output=True, text=True)
    if r.returncode == 0:
        sq = json.load(open(os.path.join(OUT, "squeeze", "report.json")))["accuracy"]
        print(f"(for comparison, --resize model, the whole photograph squeezed to 224x224: fp32 top-1 "
              f"{sq['fp32_top1']:.4f})")


main()
