#!/usr/bin/env python3
"""Calibration plus validation of the sample student: `fkdc compile` beside onnxruntime's
`quantize_static` (QDQ, per-channel int8 weights, int8 activations) with the same method, then
float32 and int8 inference over the validation images, on the same images in the same run:
by default 200 for calibration and 400 for validation (issue 16's setting), made from
samples/fundus/calib and samples/fundus/val by flips, quarter turns and brightness changes
(labels kept). Reports wall time (ratio; target: fkdc at most 2x onnxruntime's) and accuracy
side by side, and fkdc on 1 thread and on every core.

    .venv/bin/python bench/quantize_student.py [--calib 200] [--val 400] [--methods minmax,entropy]

Needs a release build (swift build -c release) and onnxruntime, onnx (its quantizer imports it) and
pillow in the venv: .venv/bin/pip install onnxruntime onnx pillow numpy.
"""

import os
import re
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from PIL import Image

ort.set_default_logger_severity(3)  # not its warnings about unused initializers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def load(folder):
    xs, ys = [], []
    for ci, c in enumerate(sorted(os.listdir(folder))):
        for f in sorted(os.listdir(os.path.join(folder, c))):
            im = np.asarray(Image.open(os.path.join(folder, c, f)).convert("RGB"), np.float32) / 255
            xs.append(((im - MEAN) / STD).transpose(2, 0, 1)[None])
            ys.append(ci)
    return xs, np.array(ys)


class Reader(CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"input": x} for x in xs])

    def get_next(self):
        return next(self.it, None)


CALIB = None
VAL = None


def variants(src, count):
    """`count` images from the class folders in `src`, the originals first, then each again
    flipped, turned by quarter turns and brightened or darkened, in a new folder of the same
    classes."""
    from PIL import ImageEnhance, ImageOps
    out = tempfile.mkdtemp()
    files = [(c, f) for c in sorted(os.listdir(src)) for f in sorted(os.listdir(os.path.join(src, c)))]
    ops = [lambda im: im, ImageOps.mirror, ImageOps.flip, lambda im: im.rotate(90), lambda im: im.rotate(180),
           lambda im: im.rotate(270), lambda im: ImageEnhance.Brightness(im).enhance(1.15),
           lambda im: ImageEnhance.Brightness(im).enhance(0.85), lambda im: ImageOps.mirror(im.rotate(90)),
           lambda im: ImageOps.flip(im.rotate(90))]
    for c in sorted(os.listdir(src)):
        os.makedirs(os.path.join(out, c))
    for i in range(count):
        c, f = files[i % len(files)]
        op = ops[(i // len(files)) % len(ops)]
        im = op(Image.open(os.path.join(src, c, f)).convert("RGB"))
        im.save(os.path.join(out, c, f"v{i:04d}.png"))
    return out


def ort_run(method):
    start = time.perf_counter()
    calib, _ = load(CALIB)
    val, labels = load(VAL)
    out = os.path.join(tempfile.mkdtemp(), "student_int8.onnx")
    quantize_static(os.path.join(ROOT, "samples/student.onnx"), out, Reader(calib), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy}[method])
    so = ort.SessionOptions()
    f32 = ort.InferenceSession(os.path.join(ROOT, "samples/student.onnx"), so, providers=["CPUExecutionProvider"])
    q8 = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
    fp = np.array([f32.run(None, {"input": x})[0][0].argmax() for x in val])
    qp = np.array([q8.run(None, {"input": x})[0][0].argmax() for x in val])
    elapsed = time.perf_counter() - start
    return elapsed, (fp == labels).mean(), (qp == labels).mean(), (fp == qp).mean()


def fkdc_run(method, threads):
    start = time.perf_counter()
    r = subprocess.run([os.path.join(ROOT, ".build/release/fkdc"), "compile", os.path.join(ROOT, "samples/student.pt"),
                        "--target", "jetson-nano", "--calib", CALIB, "--calib-method", method,
                        "--val", VAL, "--threads", str(threads), "-o", tempfile.mkdtemp()],
                       capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    top = re.search(r"top-1: fp32 ([0-9.]+)%, int8 ([0-9.]+)%", r.stdout)
    agree = re.search(r"agreement: ([0-9.]+)%", r.stdout)
    return elapsed, float(top.group(1)) / 100, float(top.group(2)) / 100, float(agree.group(1)) / 100


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--calib", type=int, default=200)
    ap.add_argument("--val", type=int, default=400)
    ap.add_argument("--methods", default="minmax,entropy")
    a = ap.parse_args()
    global CALIB, VAL
    CALIB = variants(os.path.join(ROOT, "samples/fundus/calib"), a.calib)
    VAL = variants(os.path.join(ROOT, "samples/fundus/val"), a.val)
    cores = os.cpu_count() or 1
    print(f"{a.calib} calibration images + {a.val} validation images, {cores} cores")
    for method in a.methods.split(","):
        f1 = fkdc_run(method, 1)
        f = fkdc_run(method, cores)
        o = ort_run(method)
        print(f"{method}: fkdc {f[0]:.1f} s on {cores} threads, {f1[0]:.1f} s on 1 ({f1[0] / f[0]:.2f}x) "
              f"(fp32 {f[1]:.1%}, int8 {f[2]:.1%}, agreement {f[3]:.1%}) | "
              f"onnxruntime {o[0]:.1f} s (fp32 {o[1]:.1%}, int8 {o[2]:.1%}, agreement {o[3]:.1%}) | "
              f"time ratio fkdc/onnxruntime {f[0] / o[0]:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
