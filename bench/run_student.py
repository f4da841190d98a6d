#!/usr/bin/env python3
"""fkdc run (float32, one thread, default pass pipeline) beside onnxruntime float32 (one
thread, its default graph optimisations) on the sample student at 1x3x224x224, in the same
run, as a ratio of median latencies.

    .venv/bin/python bench/run_student.py [--runs 30]

Needs a release build (swift build -c release) and onnxruntime in the venv.
"""
import argparse
import os
import re
import subprocess
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fkdc_median(runs, coretype, optimize):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    out = subprocess.run(
        [os.path.join(ROOT, ".build/release/fkdc"), "run", os.path.join(ROOT, "samples/student.pt"),
         "--input", os.path.join(ROOT, "samples/inputs/x0.npy"), "--repeat", str(runs)]
        + (["--optimize"] if optimize else []),
        capture_output=True, text=True, check=True, env=env)
    m = re.search(r"median ([0-9.]+) ms", out.stderr)
    return float(m.group(1))


def ort_median(runs):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(os.path.join(ROOT, "samples/student.onnx"), so, providers=["CPUExecutionProvider"])
    x = np.load(os.path.join(ROOT, "samples/inputs/x0.npy"))
    s.run(None, {"input": x})
    t = []
    for _ in range(runs):
        a = time.perf_counter()
        s.run(None, {"input": x})
        t.append((time.perf_counter() - a) * 1000)
    return float(np.median(t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3, help="alternate the two this many times")
    ap.add_argument("--no-optimize", action="store_true", help="run the graph as imported (batch norms unfolded)")
    ap.add_argument("--coretype", help="OPENBLAS_CORETYPE for fkdc only (e.g. SkylakeX: Debian's OpenBLAS 0.3.21 "
                    "falls back to its SSE3 'Prescott' kernels on CPUs newer than it knows)")
    args = ap.parse_args()
    rows = []
    for r in range(args.rounds):
        f = fkdc_median(args.runs, args.coretype, not args.no_optimize)
        o = ort_median(args.runs)
        rows.append((f, o))
        print(f"round {r + 1}: fkdc {f:.2f} ms, onnxruntime {o:.2f} ms, ratio {f / o:.2f}")
    f = float(np.median([a for a, _ in rows]))
    o = float(np.median([b for _, b in rows]))
    print(f"median: fkdc {f:.2f} ms, onnxruntime {o:.2f} ms, fkdc/onnxruntime = {f / o:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
