#!/usr/bin/env python3
"""Writes the hand-made hostile fixtures of Tests/Fixtures/hostile/ that are binary (ONNX,
pickle, safetensors, images), one per class of failure the readers must turn into an error.
Stdlib only. Run from the repository root: python3 scripts/make_hostile_fixtures.py
Each file is documented where it is written; Tests/DriverTests/HostileTests.swift replays them.
"""
import io, json, os, struct, zipfile, zlib

here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "Fixtures", "hostile")

# --- a minimal protobuf writer, enough for ONNX ModelProto ----------------------------------


def varint(v):
    v &= (1 << 64) - 1
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def key(field, wire):
    return varint(field << 3 | wire)


def f_int(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


def attr_int(name, v):
    return f_bytes(1, name) + f_int(3, v) + f_int(20, 2)


def attr_ints(name, vs):
    return f_bytes(1, name) + b"".join(f_int(8, v) for v in vs) + f_int(20, 7)


def attr_str(name, s):
    return f_bytes(1, name) + f_bytes(4, s) + f_int(20, 3)


def attr_tensor(name, t):
    return f_bytes(1, name) + f_bytes(5, t) + f_int(20, 4)


def tensor(name, dims, floats=None, int64s=None, dtype=1):
    b = b"".join(f_int(1, d) for d in dims) + f_int(2, dtype) + f_bytes(8, name)
    if floats is not None:
        b += f_bytes(9, struct.pack("<%df" % len(floats), *floats))
    if int64s is not None:
        b += f_bytes(9, struct.pack("<%dq" % len(int64s), *int64s))
    return b


def node(op, ins, outs, attrs=(), name=None):
    b = b"".join(f_bytes(1, i) for i in ins) + b"".join(f_bytes(2, o) for o in outs)
    b += f_bytes(3, name or op) + f_bytes(4, op)
    return b + b"".join(f_bytes(5, a) for a in attrs)


def value_info(name, dims, elem=1):
    shape = b"".join(f_bytes(1, f_int(1, d) if d is not None else f_bytes(2, "N")) for d in dims)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, f_int(1, elem) + f_bytes(2, shape)))


def model(nodes, inputs, outputs, inits=(), opset=13, extra_graph=b""):
    g = b"".join(f_bytes(1, n) for n in nodes) + f_bytes(2, "g") + b"".join(f_bytes(5, t) for t in inits)
    g += b"".join(f_bytes(11, v) for v in inputs) + b"".join(f_bytes(12, v) for v in outputs) + extra_graph
    return f_int(1, 8) + f_bytes(8, f_bytes(1, "") + f_int(2, opset)) + f_bytes(7, g)


def write(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


X = value_info("x", [1, 4, 8, 8])
Y = value_info("y", [1, 4, 8, 8])


def onnx():
    # Arity: ops with fewer inputs or outputs than the spec requires.
    write("onnx_concat_no_inputs.onnx", model([node("Concat", [], ["y"], [attr_int("axis", 1)])], [X], [Y]))
    write("onnx_matmul_one_input.onnx", model([node("MatMul", ["x"], ["y"])], [X], [Y]))
    write("onnx_softmax_no_input.onnx", model([node("Softmax", [], ["y"])], [X], [Y]))
    write("onnx_relu_no_output.onnx", model([node("Relu", ["x"], [])], [X], [Y]))
    # the layer-norm pattern's ReduceMean with no input
    write("onnx_reducemean_no_input.onnx", model([node("ReduceMean", [], ["m"]), node("Sub", ["x", "m"], ["y"])],
                                                  [X], [Y]))
    # Gemm whose B is rank 1
    write("onnx_gemm_rank1_b.onnx", model([node("Gemm", ["x2", "b"], ["y"])], [value_info("x2", [1, 4])], [Y],
                                          [tensor("b", [4], floats=[1.0] * 4)]))
    # auto_pad SAME_UPPER with stride 0, and with a strides list of the wrong length
    w = tensor("w", [4, 4, 3, 3], floats=[0.1] * 144)
    write("onnx_same_stride0.onnx", model([node("Conv", ["x", "w"], ["y"], [attr_str("auto_pad", "SAME_UPPER"),
                                                                          attr_ints("strides", [0, 0])])], [X], [Y], [w]))
    write("onnx_same_strides_len.onnx", model([node("Conv", ["x", "w"], ["y"], [attr_str("auto_pad", "SAME_UPPER"),
                                                                              attr_ints("strides", [1])])], [X], [Y], [w]))
    # Range with a NaN limit and with an infinite limit (float inputs)
    for nm, lim in [("nan", float("nan")), ("inf", float("inf"))]:
        write("onnx_range_%s.onnx" % nm, model(
            [node("Range", ["s", "l", "d"], ["r"]), node("Add", ["x", "r"], ["y"])], [X], [Y],
            [tensor("s", [], floats=[0.0]), tensor("l", [], floats=[lim]), tensor("d", [], floats=[1.0])]))
    # Split sizes that overflow when summed
    write("onnx_split_overflow.onnx", model(
        [node("Split", ["x", "sp"], ["a", "b"], [attr_int("axis", 1)]), node("Add", ["a", "b"], ["y"])], [X], [Y],
        [tensor("sp", [2], int64s=[2**62, 2**62], dtype=7)]))
    # Concat of two constants whose shapes disagree
    write("onnx_concat_const_mismatch.onnx", model(
        [node("Concat", ["c1", "c2"], ["c"], [attr_int("axis", 0)]), node("Add", ["x", "c"], ["y"])], [X], [Y],
        [tensor("c1", [2, 3], floats=[1.0] * 6), tensor("c2", [2, 2], floats=[1.0] * 4)]))
    # Expand of a constant to 2^40 elements (allocation before validation)
    write("onnx_expand_huge.onnx", model(
        [node("Expand", ["c", "sh"], ["e"]), node("Add", ["x", "e"], ["y"])], [X], [Y],
        [tensor("c", [1], floats=[1.0]), tensor("sh", [4], int64s=[1024, 1024, 1024, 1024], dtype=7)]))
    # Shape arithmetic in ONNX: a conv with a pad near Int64.max, a slice step near Int64.max
    write("onnx_conv_huge_pad.onnx", model([node("Conv", ["x", "w"], ["y"], [attr_ints("pads", [2**62] * 4)])],
                                           [X], [Y], [w]))
    write("../valid/onnx_slice_huge_step.onnx", model(
        [node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], [X], [Y],
        [tensor("st", [1], int64s=[-2**63 + 1], dtype=7), tensor("en", [1], int64s=[2**63 - 1], dtype=7),
         tensor("ax", [1], int64s=[1], dtype=7), tensor("sp", [1], int64s=[2**63 - 1], dtype=7)]))
    # Recursion: a TypeProto nested 30,000 deep (sequence of sequence of …) in a graph input
    t = f_bytes(1, f_int(1, 1))
    for _ in range(30_000):
        t = f_bytes(4, f_bytes(1, t))
    deep = f_bytes(11, f_bytes(1, "deep") + f_bytes(2, t))
    write("onnx_deep_typeproto.onnx", model([node("Relu", ["x"], ["y"])], [X], [Y], extra_graph=deep))
    # Recursion: an attribute holding a graph holding a node holding an attribute … 20,000 deep
    a = b""
    for _ in range(20_000):
        a = f_bytes(1, "g") + f_bytes(6, f_bytes(1, node("If", [], ["o"], [a] if a else []))) + f_int(20, 5)
    write("onnx_deep_subgraph.onnx", model([node("If", ["c"], ["y"], [a])], [X], [Y]))
    # Scale: a chain of 20,000 Relu nodes (must import and compile in seconds)
    chain = [node("Relu", ["x" if i == 0 else "h%d" % (i - 1)], ["h%d" % i if i < 19_999 else "y"], name="r%d" % i)
             for i in range(20_000)]
    write("../valid/onnx_chain_20000.onnx", model(chain, [X], [Y]))
    # a fixed batch of one (for fkdc run on an 8-image batch)
    write("../valid/onnx_static_batch1.onnx", model([node("Relu", ["x"], ["y"])], [X], [Y]))


onnx()
