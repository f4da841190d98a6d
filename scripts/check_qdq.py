#!/usr/bin/env python3
"""Checks `fkdc compile --emit onnx-qdq` with onnxruntime: loads DIR/model_qdq.onnx, runs it on
the images of a folder (preprocessed by `fkdc preprocess` as the model's .fkdc says), and
compares its top-1 and logits with fkdc's exact int8 evaluator (`fkdc run DIR/model.fkdc`) and
with the float32 model when given.

    .venv/bin/python scripts/check_qdq.py DIR samples/fundus/val [--fkdc .build/debug/fkdc]

Prints the agreement and logit differences; exits 1 when top-1 agreement is below --min (99 %).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("images")
    ap.add_argument("--fkdc", default=os.path.join(ROOT, ".build/debug/fkdc"))
    ap.add_argument("--min", type=float, default=99.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        x, y = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        subprocess.run([a.fkdc, "preprocess", a.images, "-o", x, "--model", os.path.join(a.dir, "model.fkdc")],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([a.fkdc, "run", os.path.join(a.dir, "model.fkdc"), "--input", x, "--output", y],
                       check=True, stdout=subprocess.DEVNULL)
        xs, fk = np.load(x), np.load(y)
    worst = 100.0
    # ORT_ENABLE_ALL: onnxruntime's int8 kernels (QLinearConv, …), what a user runs; ORT_DISABLE_ALL:
    # the QDQ graph computed in float between the quantizers (fkdc's fake-quant mode)
    for label, level in [("int8 kernels", ort.GraphOptimizationLevel.ORT_ENABLE_ALL),
                         ("Q/DQ in float", ort.GraphOptimizationLevel.ORT_DISABLE_ALL)]:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = level
        s = ort.InferenceSession(os.path.join(a.dir, "model_qdq.onnx"), opts, providers=["CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        out = np.concatenate([s.run(None, {name: xs[i:i + 1]})[0] for i in range(len(xs))])
        agree = float((out.argmax(1) == fk.argmax(1)).mean() * 100)
        scale = float(np.abs(fk).max())
        diff = float(np.abs(out - fk).max())
        print(f"{len(xs)} images, onnxruntime {ort.__version__} ({label}) on model_qdq.onnx vs fkdc's int8 evaluator: "
              f"top-1 agreement {agree:.2f} %, max |Δlogit| {diff:.4f} (largest logit {scale:.2f}: "
              f"{diff / max(scale, 1e-12) * 100:.2f} %)")
        worst = min(worst, agree)
    sys.exit(0 if worst >= a.min else 1)


if __name__ == "__main__":
    main()
