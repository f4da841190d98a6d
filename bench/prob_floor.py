#!/usr/bin/env python3
"""How far int8 *weights alone* move a model's probabilities: the floor under any int8 model.

Runs an ONNX model in onnxruntime (float32) on an NCHW float32 `.npy` batch, then again with
every Conv/Gemm weight rounded the way fkdc rounds it (symmetric per output channel, scale
max|w_c| / 127, nearest) while every activation stays float32, and reports the largest and
mean |p_q - p_fp32| of any class (points), the logit SQNR, and the layers whose rounding alone
moves the probabilities most. With `--fp16`, the same with float16 weights, as a measure of
how sensitive the model is to any perturbation of its weights.

    .build/release/fkdc preprocess samples/fundus/val --model samples/student.ckpt -o /tmp/val.npy
    .venv/bin/python bench/prob_floor.py samples/student.onnx /tmp/val.npy --fp16

Figures go in README (the floor under the probability figures, beside the gates); run by hand,
never by the tests.
"""
import argparse

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def softmax(l):
    e = np.exp(l - l.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def fkdc_int8(w):
    """fkdc's weight rule (QuantMath.quantizeWeights): per channel, max|w|/127, nearest, ±127."""
    flat = w.reshape(w.shape[0], -1)
    s = np.abs(flat).max(1) / 127
    s[s == 0] = 1
    s = s.reshape((-1,) + (1,) * (w.ndim - 1))
    q = np.clip(np.sign(w) * np.floor(np.abs(w) / s + 0.5), -127, 127)  # half away from zero
    return (q * s).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("inputs", help="float32 NCHW .npy (fkdc preprocess)")
    ap.add_argument("--fp16", action="store_true", help="also float16 weights")
    ap.add_argument("--top", type=int, default=8, help="layers to list")
    a = ap.parse_args()

    m = onnx.load(a.model)
    x = np.load(a.inputs).astype(np.float32)
    inits = {i.name: i for i in m.graph.initializer}
    names = [n.input[1] for n in m.graph.node if n.op_type in ("Conv", "Gemm") and n.input[1] in inits]
    orig = {n: numpy_helper.to_array(inits[n]).copy() for n in names}

    def run(weights):
        for n in names:
            inits[n].CopyFrom(numpy_helper.from_array(weights.get(n, orig[n]).astype(np.float32), n))
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        return np.concatenate([s.run(None, {name: x[i : i + 1]})[0] for i in range(len(x))])

    ref = run({})
    pref = softmax(ref)

    def figures(l):
        d = np.abs(softmax(l) - pref)
        sqnr = 10 * np.log10((ref**2).sum() / max(((ref - l) ** 2).sum(), 1e-30))
        return d.max() * 100, d.mean() * 100, sqnr, int(d.max(1).argmax())

    print(f"{a.model}: {len(names)} weight tensors, {len(x)} samples")
    print("| weights | max |Δp| (points) | mean |Δp| | logit SQNR | worst sample |")
    print("|---|---|---|---|---|")
    q = {n: fkdc_int8(orig[n]) for n in names}
    mx, mean, sq, worst = figures(run(q))
    print(f"| int8 per channel, nearest (fkdc) | {mx:.2f} | {mean:.3f} | {sq:.1f} dB | {worst} |")
    if a.fp16:
        h = {n: orig[n].astype(np.float16).astype(np.float32) for n in names}
        mx, mean, sq, worst = figures(run(h))
        print(f"| float16 | {mx:.2f} | {mean:.3f} | {sq:.1f} dB | {worst} |")
    alone = []
    for n in names:
        mx, _, sq, _ = figures(run({n: q[n]}))
        alone.append((mx, sq, n))
    print(f"\nlayers whose int8 weights alone move p most (of {len(names)}):")
    for mx, sq, n in sorted(alone, reverse=True)[: a.top]:
        print(f"  {n:40s} {str(orig[n].shape):20s} max |Δp| {mx:.2f} points, logit SQNR {sq:.1f} dB")


if __name__ == "__main__":
    main()
