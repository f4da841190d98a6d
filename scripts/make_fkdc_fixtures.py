#!/usr/bin/env python3
"""Writes the .fkdc test fixtures (standard library only).

1. Tests/Fixtures/valid/tiny_bn.fkir: a small float graph with batch norms (conv, depthwise,
   1x1 conv, residual add, pooling, classifier), deterministic weights.
2. Tests/Fixtures/valid/tiny.fkdc: `fkdc compile` of it (data-free), made with the built fkdc, and
   tiny_qdq.onnx, the same compile's `--emit onnx-qdq`.
3. Tests/Fixtures/hostile/*.fkdc: that file damaged one way each; the checksum is recomputed
   where the damage is structural, so the reader's structural checks (not only the CRC) are hit.
   Damage inside the deflated sections is made by make_hostile_fixtures.py (run it after this).

Usage: swift build -c release && python3 scripts/make_fkdc_fixtures.py   (FKDC=path picks another build)
"""
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALID = os.path.join(ROOT, "Tests", "Fixtures", "valid")
HOSTILE = os.path.join(ROOT, "Tests", "Fixtures", "hostile")


def tiny_graph():
    rnd = random.Random(5)

    def dense(n, lo=-0.5, hi=0.5):
        return "dense<[" + ", ".join(repr(round(rnd.uniform(lo, hi), 4)) for _ in range(n)) + "]>"

    def bn(prefix, c):
        return [
            f"  const %{prefix}.weight : f32[{c}] = {dense(c, 0.5, 1.5)}",
            f"  const %{prefix}.bias : f32[{c}] = {dense(c, -0.2, 0.2)}",
            f"  const %{prefix}.running_mean : f32[{c}] = {dense(c, -0.3, 0.3)}",
            f"  const %{prefix}.running_var : f32[{c}] = {dense(c, 0.5, 2.0)}",
        ]

    lines = ["graph @tiny_bn {", "  input %input : f32[1,3,8,8]",
             f"  const %c1.weight : f32[8,3,3,3] = {dense(8 * 27)}"] + bn("b1", 8) + [
        f"  const %dw.weight : f32[8,1,3,3] = {dense(72)}"] + bn("b2", 8) + [
        f"  const %pw.weight : f32[8,8,1,1] = {dense(64)}"] + bn("b3", 8) + [
        f"  const %fc.weight : f32[3,8] = {dense(24)}",
        f"  const %fc.bias : f32[3] = {dense(3)}",
        '  %c1 : f32[1,8,4,4] = conv2d(%input, %c1.weight) {stride=[2,2], pad=[1,1,1,1], dilation=[1,1], groups=1} @"c1"',
        '  %b1 : f32[1,8,4,4] = batch_norm(%c1, %b1.weight, %b1.bias, %b1.running_mean, %b1.running_var) {epsilon=1e-05} @"b1"',
        '  %r1 : f32[1,8,4,4] = clip(%b1) {min=0.0, max=6.0} @"r1"',
        '  %dw : f32[1,8,4,4] = conv2d(%r1, %dw.weight) {stride=[1,1], pad=[1,1,1,1], dilation=[1,1], groups=8} @"dw"',
        '  %b2 : f32[1,8,4,4] = batch_norm(%dw, %b2.weight, %b2.bias, %b2.running_mean, %b2.running_var) {epsilon=1e-05} @"b2"',
        '  %r2 : f32[1,8,4,4] = clip(%b2) {min=0.0, max=6.0} @"r2"',
        '  %pw : f32[1,8,4,4] = conv2d(%r2, %pw.weight) {stride=[1,1], pad=[0,0,0,0], dilation=[1,1], groups=1} @"pw"',
        '  %b3 : f32[1,8,4,4] = batch_norm(%pw, %b3.weight, %b3.bias, %b3.running_mean, %b3.running_var) {epsilon=1e-05} @"b3"',
        '  %sum : f32[1,8,4,4] = add(%b3, %r1) @"sum"',
        '  %pool : f32[1,8,1,1] = global_avg_pool(%sum) @"pool"',
        '  %flat : f32[1,8] = flatten(%pool) {axis=1} @"flat"',
        '  %fc : f32[1,3] = gemm(%flat, %fc.weight, %fc.bias) @"fc"',
        "  output %fc",
        "}",
    ]
    return "\n".join(lines) + "\n"


def u32(b, off):
    return struct.unpack_from("<I", b, off)[0]


def sections(b):
    n, table = u32(b, 28), struct.unpack_from("<Q", b, 32)[0]
    return {struct.unpack_from("<I", b, table + 24 * i)[0]: (table + 24 * i,) + struct.unpack_from("<QQ", b, table + 24 * i + 8)
            for i in range(n)}


def recrc(b):
    b = bytearray(b)
    b[24:28] = b"\0\0\0\0"
    b[24:28] = struct.pack("<I", zlib.crc32(bytes(b)) & 0xFFFFFFFF)
    return bytes(b)


def main():
    fkdc = os.environ.get("FKDC") or os.path.join(ROOT, ".build", "release", "fkdc")
    if not os.path.exists(fkdc):
        sys.exit("build fkdc first: swift build -c release")
    os.makedirs(VALID, exist_ok=True)
    os.makedirs(HOSTILE, exist_ok=True)
    src = os.path.join(VALID, "tiny_bn.fkir")
    with open(src, "w") as f:
        f.write(tiny_graph())
    out = tempfile.mkdtemp()
    try:
        subprocess.run([fkdc, "compile", src, "--target", "generic-c", "--max-size-ratio", "100", "--emit", "onnx-qdq",
                        "-o", out], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(out, "model.fkdc"), os.path.join(VALID, "tiny.fkdc"))
        # the same model as a QDQ ONNX (a fuzzing seed for the reader's QuantizeLinear/DequantizeLinear)
        shutil.copy(os.path.join(out, "model_qdq.onnx"), os.path.join(VALID, "tiny_qdq.onnx"))
    finally:
        shutil.rmtree(out)
    good = open(os.path.join(VALID, "tiny.fkdc"), "rb").read()
    sec = sections(good)

    def put(name, data):
        with open(os.path.join(HOSTILE, name), "wb") as f:
            f.write(data)

    put("truncated.fkdc", good[: len(good) // 2])
    put("bad_magic.fkdc", recrc(b"FKDX" + good[4:]))
    put("future_version.fkdc", recrc(good[:8] + struct.pack("<H", 3) + good[10:]))
    # the DATA section's offset moved past the end of the file
    entry = bytearray(good)
    struct.pack_into("<Q", entry, sec[6][0] + 8, len(good) + 64 * 1024)
    put("offset_past_end.fkdc", recrc(bytes(entry)))
    # (damage inside a deflated section, count_overflow.fkdc among it: make_hostile_fixtures.py)
    # one byte of the checksum flipped
    flipped = bytearray(good)
    flipped[25] ^= 0x40
    put("flipped_checksum.fkdc", bytes(flipped))


if __name__ == "__main__":
    main()
