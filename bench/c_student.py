#!/usr/bin/env python3
"""Single-thread latency of the generated C for the sample student (1x3x224x224) beside
onnxruntime's int8 (QDQ, per-channel weights, same calibration images) and fp32, in the same run,
as ratios; the achieved GMAC/s; and the instruction count of one inference of the portable
build under valgrind --tool=callgrind (a reproducible figure to track).

    .venv/bin/python bench/c_student.py [--rounds 3]

Needs a release build (swift build -c release), gcc, onnxruntime in the venv; valgrind optional.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MACS = 299_499_392  # fkdc inspect samples/student.pt
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def images(folder):
    out = []
    for c in sorted(os.listdir(folder)):
        for f in sorted(os.listdir(os.path.join(folder, c))):
            im = np.asarray(Image.open(os.path.join(folder, c, f)).convert("RGB"), np.float32) / 255
            out.append(((im - MEAN) / STD).transpose(2, 0, 1)[None].copy())
    return out


class Reader(CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"input": x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def ort_latency(path, x, runs):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(3):
        s.run(None, {"input": x})
    t = []
    for _ in range(runs):
        a = time.perf_counter()
        s.run(None, {"input": x})
        t.append((time.perf_counter() - a) * 1e3)
    return statistics.median(t), min(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    fkdc = os.path.join(ROOT, ".build/release/fkdc")
    subprocess.run([fkdc, "compile", os.path.join(ROOT, "samples/student.ckpt"), "--target", "x86-64",
                    "--calib", os.path.join(ROOT, "samples/fundus/calib"), "-o", tmp], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exe = os.path.join(tmp, "c_bench")
    subprocess.run(["gcc", "-std=c99", "-O3", "-march=native", "-I", tmp, "-o", exe,
                    os.path.join(ROOT, "bench/c_bench.c"), os.path.join(tmp, "model.c"), "-lm"], check=True)
    x = np.load(os.path.join(ROOT, "samples/inputs/x0.npy"))
    q8 = os.path.join(tmp, "student_int8.onnx")
    quantize_static(os.path.join(ROOT, "samples/student.onnx"), q8, Reader(images(os.path.join(ROOT, "samples/fundus/calib"))),
                    quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8)
    c_ms, i8_ms, f32_ms, mins = [], [], [], []
    for r in range(args.rounds):
        out = subprocess.run([exe, os.path.join(ROOT, "samples/inputs/x0.npy"), str(args.runs)], check=True,
                             capture_output=True, text=True).stdout.split()
        c_ms.append(float(out[0]))
        i8, i8_min = ort_latency(q8, x, args.runs)
        f32, f32_min = ort_latency(os.path.join(ROOT, "samples/student.onnx"), x, args.runs)
        i8_ms.append(i8)
        f32_ms.append(f32)
        mins.append((float(out[1]), i8_min, f32_min))
        print(f"round {r + 1}: generated C {c_ms[-1]:.2f} ms | onnxruntime int8 {i8_ms[-1]:.2f} ms | "
              f"onnxruntime fp32 {f32_ms[-1]:.2f} ms | C / ort int8 {c_ms[-1] / i8_ms[-1]:.2f} | "
              f"C / ort fp32 {c_ms[-1] / f32_ms[-1]:.2f}")
    c = statistics.median(c_ms)
    print(f"median: generated C {c:.2f} ms = {MACS / c / 1e6:.2f} GMAC/s (one thread); "
          f"C / onnxruntime int8 = {c / statistics.median(i8_ms):.2f} (target <= 2), "
          f"C / onnxruntime fp32 = {c / statistics.median(f32_ms):.2f} (stretch < 1)")
    best = [min(m[i] for m in mins) for i in range(3)]
    print(f"fastest runs (less noise on a shared machine): C {best[0]:.2f} ms, onnxruntime int8 {best[1]:.2f} ms, "
          f"fp32 {best[2]:.2f} ms: C / int8 {best[0] / best[1]:.2f}, C / fp32 {best[0] / best[2]:.2f}")
    if shutil.which("valgrind"):
        portable = os.path.join(tmp, "c_bench_O2")
        subprocess.run(["gcc", "-std=c99", "-O2", "-I", tmp, "-o", portable, os.path.join(ROOT, "bench/c_bench.c"),
                        os.path.join(tmp, "model.c"), "-lm"], check=True)
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", portable,
                            os.path.join(ROOT, "samples/inputs/x0.npy"), "1"], capture_output=True, text=True)
        m = re.search(r"Collected : (\d+)", r.stderr) or re.search(r"refs:\s+([\d,]+)", r.stderr)
        if m:
            print(f"instructions for one inference (portable C, gcc -O2, x86-64, callgrind, whole process): "
                  f"{int(m.group(1).replace(',', '')):,}")
    if shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64"):
        # the NEON build for the Jetson Nano, under qemu with bench/qemu_insn_count.c counting
        # executed instructions: two runs minus one run is one inference
        nano = os.path.join(tmp, "nano")
        subprocess.run([fkdc, "compile", os.path.join(ROOT, "samples/student.ckpt"), "--target", "jetson-nano",
                        "--calib", os.path.join(ROOT, "samples/fundus/calib"), "-o", nano], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        plugin = os.path.join(tmp, "insn.so")
        subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", plugin, os.path.join(ROOT, "bench/qemu_insn_count.c")],
                       check=True)
        arm = os.path.join(tmp, "c_bench_arm")
        subprocess.run(["aarch64-linux-gnu-gcc", "-std=c99", "-O2", "-mcpu=cortex-a57", "-static", "-I", nano, "-o", arm,
                        os.path.join(ROOT, "bench/c_bench.c"), os.path.join(nano, "model.c"), "-lm"], check=True)
        counts = []
        for runs in ("1", "2"):
            r = subprocess.run(["qemu-aarch64", "-plugin", plugin, "-d", "plugin", arm,
                                os.path.join(ROOT, "samples/inputs/x0.npy"), runs], capture_output=True, text=True)
            counts.append(int(re.search(r"instructions (\d+)", r.stdout + r.stderr).group(1)))
        print(f"instructions for one inference (NEON build, aarch64-linux-gnu-gcc -O2 -mcpu=cortex-a57, "
              f"qemu-aarch64): {counts[1] - counts[0]:,}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
