#!/usr/bin/env python3
"""Calibration plus validation of the sample student: `fkdc compile` beside onnxruntime's
`quantize_static` (QDQ, per-channel int8 weights, int8 activations) with the same method, on the
same 200 images (160 for calibration: samples/fundus/calib plus 40 more made by
samples/make_samples.py's generator with another seed; samples/fundus/val's 40 for validation),
in the same run. Reports wall time (ratio; target: fkdc at most half of onnxruntime's) and accuracy
side by side.

    .venv/bin/python bench/quantize_student.py

Needs a release build (swift build -c release) and onnxruntime in the venv.
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


def make_calib():
    """samples/fundus/calib plus 40 new images (seed 4), in one folder."""
    import shutil
    import sys
    sys.path.insert(0, os.path.join(ROOT, "samples"))
    import make_samples
    d = tempfile.mkdtemp()
    shutil.copytree(os.path.join(ROOT, "samples/fundus/calib"), os.path.join(d, "calib"))
    xs, ys = make_samples.dataset(4, 10)
    folders = sorted(os.listdir(os.path.join(d, "calib")))
    for i, (im, c) in enumerate(zip(xs, ys)):
        make_samples.save_png(os.path.join(d, "calib", folders[c], f"extra_{i:03d}.png"), im)
    return os.path.join(d, "calib")


def ort_run(method):
    start = time.perf_counter()
    calib, _ = load(CALIB)
    val, labels = load(os.path.join(ROOT, "samples/fundus/val"))
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


def fkdc_run(method):
    start = time.perf_counter()
    r = subprocess.run([os.path.join(ROOT, ".build/release/fkdc"), "compile", os.path.join(ROOT, "samples/student.pt"),
                        "--target", "jetson-nano", "--calib", CALIB, "--calib-method", method,
                        "--val", os.path.join(ROOT, "samples/fundus/val"), "-o", tempfile.mkdtemp()],
                       capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    top = re.search(r"top-1: fp32 ([0-9.]+)%, int8 ([0-9.]+)%", r.stdout)
    agree = re.search(r"agreement: ([0-9.]+)%", r.stdout)
    return elapsed, float(top.group(1)) / 100, float(top.group(2)) / 100, float(agree.group(1)) / 100


def main():
    global CALIB
    CALIB = make_calib()
    n = sum(len(files) for _, _, files in os.walk(CALIB))
    print(f"{n} calibration images + 40 validation images")
    for method in ["minmax", "entropy"]:
        f = fkdc_run(method)
        o = ort_run(method)
        print(f"{method}: fkdc {f[0]:.1f} s (fp32 {f[1]:.1%}, int8 {f[2]:.1%}, agreement {f[3]:.1%}) | "
              f"onnxruntime {o[0]:.1f} s (fp32 {o[1]:.1%}, int8 {o[2]:.1%}, agreement {o[3]:.1%}) | "
              f"time ratio fkdc/onnxruntime {f[0] / o[0]:.2f} (target <= 0.5)")


if __name__ == "__main__":
    main()
