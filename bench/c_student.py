#!/usr/bin/env python3
"""Latency of the generated C for the sample student (1x3x224x224), on 1 and 2 threads
(`model_run`, and `model_run_parallel` with samples/integrator/fk_pool.h), beside onnxruntime
in the same run, rounds interleaved, as ratios; the achieved GMAC/s; the C's bytes on 2 threads
against 1; and instruction counts (valgrind's callgrind on x86-64, qemu-aarch64 for the NEON
build).

The onnxruntime int8 model is its fastest CPU configuration, the one its documentation
recommends: the ONNX export pre-processed by `quant_pre_process` (batch norm folded into the
convolutions), then `quantize_static` with QDQ, per-channel int8 weights and uint8 activations,
calibrated on the same images. fp32 is the same pre-processed model unquantized. Each session
runs with intra_op_num_threads 1 or 2 and every graph optimization.

    .venv/bin/python bench/c_student.py [--rounds 5] [--neon-only]

Needs a release build (swift build -c release), gcc, onnxruntime and onnx in the venv; valgrind optional.
"""
import argparse
import bisect
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
from onnxruntime.quantization.shape_inference import quant_pre_process
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


def ort_latency(path, x, runs, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(3):
        s.run(None, {"input": x})
    t = []
    for _ in range(runs):
        a = time.perf_counter()
        s.run(None, {"input": x})
        t.append((time.perf_counter() - a) * 1e3)
    return statistics.median(t), min(t)


def neon_counts(fkdc, tmp):
    """The NEON build for the Jetson Nano under qemu, bench/qemu_insn_count.c counting executed
    instructions: two runs minus one run is one inference; per function with nm."""
    nano = os.path.join(tmp, "nano")
    subprocess.run([fkdc, "compile", os.path.join(ROOT, "samples/student.ckpt"), "--target", "jetson-nano",
                    "--calib", os.path.join(ROOT, "samples/fundus/calib"), "-o", nano], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    plugin = os.path.join(tmp, "insn.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", plugin, os.path.join(ROOT, "bench/qemu_insn_count.c")],
                   check=True)
    arm = os.path.join(tmp, "c_bench_arm")
    subprocess.run(["aarch64-linux-gnu-gcc", "-std=c99", "-O2", "-mcpu=cortex-a57", "-static", "-pthread", "-I", nano,
                    "-I", os.path.join(ROOT, "samples/integrator"), "-o", arm,
                    os.path.join(ROOT, "bench/c_bench.c"), os.path.join(nano, "model.c"), "-lm"], check=True)
    counts, profiles = [], []
    for runs in ("1", "2"):
        prof = os.path.join(tmp, f"blocks{runs}.txt")
        r = subprocess.run(["qemu-aarch64", "-plugin", plugin, "-d", "plugin", arm,
                            os.path.join(ROOT, "samples/inputs/x0.npy"), runs], capture_output=True, text=True,
                           env={**os.environ, "FK_INSN_PROFILE": prof})
        counts.append(int(re.search(r"instructions (\d+)", r.stdout + r.stderr).group(1)))
        profiles.append(prof)
    print(f"instructions for one inference (NEON build, aarch64-linux-gnu-gcc -O2 -mcpu=cortex-a57, "
          f"qemu-aarch64): {counts[1] - counts[0]:,}")
    if shutil.which("aarch64-linux-gnu-nm"):
        # per function (kernels are not inlined into the steps): two runs less one
        syms = []
        for line in subprocess.run(["aarch64-linux-gnu-nm", "-n", arm], capture_output=True,
                                   text=True).stdout.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "tTwW":
                syms.append((int(f[0], 16), f[2].split(".")[0]))
        starts = [a for a, _ in syms]

        def per_function(path):
            out = {}
            for line in open(path):
                addr, n, runs = line.split()
                i = bisect.bisect_right(starts, int(addr, 16)) - 1
                name = syms[i][1] if i >= 0 else "?"
                out[name] = out.get(name, 0) + int(n) * int(runs)
            return out

        one, two = per_function(profiles[0]), per_function(profiles[1])
        rows = sorted(((two[k] - one.get(k, 0), k) for k in two), reverse=True)
        print("  per function: " + ", ".join(f"{k} {v / 1e6:.2f} M" for v, k in rows if v >= 100_000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--neon-only", action="store_true", help="only the NEON instruction counts (no timing)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    fkdc = os.path.join(ROOT, ".build/release/fkdc")
    if args.neon_only:
        neon_counts(fkdc, tmp)
        shutil.rmtree(tmp)
        return
    subprocess.run([fkdc, "compile", os.path.join(ROOT, "samples/student.ckpt"), "--target", "x86-64",
                    "--calib", os.path.join(ROOT, "samples/fundus/calib"), "-o", tmp], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exe = os.path.join(tmp, "c_bench")
    subprocess.run(["gcc", "-std=c99", "-O3", "-march=native", "-pthread", "-I", tmp,
                    "-I", os.path.join(ROOT, "samples/integrator"), "-o", exe,
                    os.path.join(ROOT, "bench/c_bench.c"), os.path.join(tmp, "model.c"), "-lm"], check=True)
    x0 = os.path.join(ROOT, "samples/inputs/x0.npy")
    x = np.load(x0)
    f32 = os.path.join(tmp, "student_pre.onnx")
    quant_pre_process(os.path.join(ROOT, "samples/student.onnx"), f32, skip_symbolic_shape=True)
    q8 = os.path.join(tmp, "student_u8.onnx")
    quantize_static(f32, q8, Reader(images(os.path.join(ROOT, "samples/fundus/calib"))),
                    quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8)
    bn = sum(n.op_type == "BatchNormalization" for n in __import__("onnx").load(f32).graph.node)
    print(f"onnxruntime model: quant_pre_process ({bn} BatchNormalization nodes left), QDQ, per-channel int8 "
          f"weights, uint8 activations")
    rows = {k: [] for k in ("c1", "c2", "i1", "i2", "f1", "f2")}
    mins = {k: [] for k in rows}
    for r in range(args.rounds):
        for t in (1, 2):
            raw = os.path.join(tmp, f"logits{t}.raw")
            out = subprocess.run([exe, x0, str(args.runs), str(t), raw], check=True, capture_output=True,
                                 text=True).stdout.split()
            rows[f"c{t}"].append(float(out[0]))
            mins[f"c{t}"].append(float(out[1]))
            for k, path in (("i", q8), ("f", f32)):
                med, fastest = ort_latency(path, x, args.runs, t)
                rows[f"{k}{t}"].append(med)
                mins[f"{k}{t}"].append(fastest)
        same = open(os.path.join(tmp, "logits1.raw"), "rb").read() == open(os.path.join(tmp, "logits2.raw"), "rb").read()
        print(f"round {r + 1}: " + " | ".join(f"{k} {v[-1]:.2f} ms" for k, v in rows.items())
              + f" | C logits on 2 threads {'==' if same else '!='} 1 thread")
    med = {k: statistics.median(v) for k, v in rows.items()}
    best = {k: min(v) for k, v in mins.items()}
    print("(c = generated C, i = onnxruntime int8 u8/s8 QDQ, f = onnxruntime fp32; 1, 2 = threads)")
    for name, d in (("median", med), ("fastest", best)):
        print(f"{name}: C {d['c1']:.2f} / {d['c2']:.2f} ms ({MACS / d['c1'] / 1e6:.2f} GMAC/s on one thread), "
              f"onnxruntime int8 {d['i1']:.2f} / {d['i2']:.2f} ms, fp32 {d['f1']:.2f} / {d['f2']:.2f} ms (1 / 2 threads)")
        print(f"  C / onnxruntime int8: {d['c1'] / d['i1']:.2f} (1 thread, target <= 1.0), {d['c2'] / d['i2']:.2f} "
              f"(2 threads); C / fp32: {d['c1'] / d['f1']:.2f}, {d['c2'] / d['f2']:.2f}; "
              f"C 1 thread / 2 threads: {d['c1'] / d['c2']:.2f} (target >= 1.7); "
              f"onnxruntime int8: {d['i1'] / d['i2']:.2f}")
    if shutil.which("valgrind"):
        portable = os.path.join(tmp, "c_bench_O2")
        subprocess.run(["gcc", "-std=c99", "-O2", "-pthread", "-I", tmp, "-I", os.path.join(ROOT, "samples/integrator"),
                        "-o", portable, os.path.join(ROOT, "bench/c_bench.c"),
                        os.path.join(tmp, "model.c"), "-lm"], check=True)
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", portable,
                            os.path.join(ROOT, "samples/inputs/x0.npy"), "1"], capture_output=True, text=True)
        m = re.search(r"Collected : (\d+)", r.stderr) or re.search(r"refs:\s+([\d,]+)", r.stderr)
        if m:
            print(f"instructions for one inference (portable C, gcc -O2, x86-64, callgrind, whole process): "
                  f"{int(m.group(1).replace(',', '')):,}")
    if shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64"):
        neon_counts(fkdc, tmp)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
