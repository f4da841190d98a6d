#!/usr/bin/env python3
"""Writes the hand-made hostile fixtures of Tests/Fixtures/hostile/ that are binary (ONNX,
pickle, safetensors, images), one per class of failure the readers must turn into an error.
Stdlib only. Run from the repository root: python3 scripts/make_hostile_fixtures.py
Each file is documented where it is written; Tests/DriverTests/HostileTests.swift replays them.
"""
import io, json, os, struct, sys, zipfile, zlib

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
    # open spatial dimensions (OCR and detection heads): [N, 4, H, W] named, and [-1, 4, -1, -1] as
    # some exporters write them (dim_value -1, no name); conv 3x3, ReLU, global pool, flatten, gemm
    def open_dims(name, dims):
        shape = b"".join(f_bytes(1, f_bytes(2, d) if isinstance(d, str) else f_int(1, d)) for d in dims)
        return f_bytes(1, name) + f_bytes(2, f_bytes(1, f_int(1, 1) + f_bytes(2, shape)))
    cnn = [node("Conv", ["x", "cw", "cb"], ["c"], [attr_ints("pads", [1, 1, 1, 1])]), node("Relu", ["c"], ["r"]),
           node("GlobalAveragePool", ["r"], ["p"]), node("Flatten", ["p"], ["f"]),
           node("Gemm", ["f", "gw", "gb"], ["y"], [attr_int("transB", 1)])]
    weights = [tensor("cw", [4, 4, 3, 3], floats=[((i * 37) % 17 - 8) / 20 for i in range(144)]),
               tensor("cb", [4], floats=[0.1, -0.1, 0.05, 0.0]),
               tensor("gw", [3, 4], floats=[((i * 11) % 7 - 3) / 4 for i in range(12)]),
               tensor("gb", [3], floats=[0.0, 0.1, -0.1])]
    for name, dims, out in [("onnx_dynamic_hw.onnx", ["N", 4, "H", "W"], ["N", 3]),
                            ("onnx_dynamic_minus1.onnx", [-1, 4, -1, -1], [-1, 3])]:
        write("../valid/" + name, model(cnn, [open_dims("x", dims)], [open_dims("y", out)], weights))


if __name__ == "__main__":
    onnx()


# --- PyTorch checkpoints ----------------------------------------------------------------------


def torch_zip(pkl, blobs=()):
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as f:
        f.writestr(zipfile.ZipInfo("archive/data.pkl", (2020, 1, 1, 0, 0, 0)), pkl)
        for name, b in blobs:
            f.writestr(zipfile.ZipInfo("archive/data/" + name, (2020, 1, 1, 0, 0, 0)), b)
        f.writestr(zipfile.ZipInfo("archive/version", (2020, 1, 1, 0, 0, 0)), "3\n")
    return z.getvalue()


def rebuild(storage_key, numel, offset, size, stride):
    """Pickle ops for torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, {})."""
    def ints(vs):
        return b"(" + b"".join(b"\x8a\x08" + struct.pack("<q", v) for v in vs) + b"t"
    pid = b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX" + struct.pack("<I", len(storage_key)) + storage_key.encode()
    pid += b"X\x03\x00\x00\x00cpu\x8a\x08" + struct.pack("<q", numel) + b"tQ"
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"\x8a\x08" + struct.pack("<q", offset) + ints(size)
            + ints(stride) + b"\x89}tR")


def state_dict(entries):
    """An OrderedDict-free plain dict {name: tensor} pickle (protocol 2)."""
    body = b"".join(b"X" + struct.pack("<I", len(k)) + k.encode() + v for k, v in entries)
    return b"\x80\x02}(" + body + b"u."


def pytorch():
    # a list appended to itself, and a dict holding itself (exclusivity violation before the fix)
    write("pickle_self_append.pt", torch_zip(b"\x80\x02]2a."))
    write("pickle_self_setitem.pt", torch_zip(b"\x80\x02}q\x00K\x01h\x00s."))
    four = struct.pack("<4f", 1, 2, 3, 4)
    # a stride-0 view whose element count is 2^62 (allocation of 2^64 bytes before the fix)
    write("storage_stride0_huge.pt", torch_zip(
        state_dict([("fc.weight", rebuild("0", 4, 0, [2**31, 2**31], [0, 0]))]), [("0", four)]))
    # a zero-element view at a storage offset near Int64.max
    write("storage_empty_huge_offset.pt", torch_zip(
        state_dict([("fc.weight", rebuild("0", 4, 2**62, [0, 4], [4, 1]))]), [("0", four)]))
    # a view with fewer strides than dimensions
    write("storage_short_stride.pt", torch_zip(
        state_dict([("fc.weight", rebuild("0", 4, 0, [2, 2], [1]))]), [("0", four)]))


if __name__ == "__main__":
    pytorch()


# --- .fkdc: a well-formed container around a hostile GRAPH or QUANT section --------------------


def fkdc():
    good = open(os.path.join(here, "..", "valid", "tiny.fkdc"), "rb").read()
    n, table = struct.unpack_from("<I", good, 28)[0], struct.unpack_from("<Q", good, 32)[0]
    entries = {struct.unpack_from("<I", good, table + 24 * i)[0]: table + 24 * i for i in range(n)}

    def section(kind):
        """A section's bytes, inflated when the file stores it deflated (flag 1: u64 length, zlib)."""
        e = entries[kind]
        flags, off, ln = struct.unpack_from("<IQQ", good, e + 4)
        body = good[off:off + ln]
        return zlib.decompress(body[8:]) if flags == 1 else body

    def replaced(kind, body, stored=False):
        """The file with section `kind` moved to a new 64-aligned tail holding `body` (deflated
        again when it was, unless `stored` gives the stored bytes), CRC redone."""
        if not stored and struct.unpack_from("<I", good, entries[kind] + 4)[0] == 1:
            body = struct.pack("<Q", len(body)) + zlib.compress(body, 9)
        b = bytearray(good)
        b += b"\0" * ((64 - len(b) % 64) % 64)
        struct.pack_into("<QQ", b, entries[kind] + 8, len(b), len(body))
        b += body
        struct.pack_into("<Q", b, 16, len(b))
        b[24:28] = b"\0\0\0\0"
        b[24:28] = struct.pack("<I", zlib.crc32(bytes(b)) & 0xFFFFFFFF)
        return bytes(b)

    # the TENSORS section's entry count set to 2^32 - 1
    tensors = bytearray(section(3))
    struct.pack_into("<I", tensors, 0, 0xFFFFFFFF)
    write("count_overflow.fkdc", replaced(3, bytes(tensors)))
    graph = section(2)
    # deflated GRAPH whose declared length lies: 100 bytes more than its stream gives, and 1 TiB
    z = zlib.compress(graph, 9)
    write("fkdc_graph_inflate_short.fkdc", replaced(2, struct.pack("<Q", len(graph) + 100) + z, stored=True))
    write("fkdc_graph_bomb.fkdc", replaced(2, struct.pack("<Q", 1 << 40) + z, stored=True))
    # shape arithmetic inside GRAPH: the first conv's pads near Int64.max
    write("fkdc_graph_huge_pad.fkdc", replaced(2, graph.replace(b"pad=[1,1,1,1]", b"pad=[9223372036854775807,1,1,1]", 1)))
    # QUANT: the first per-channel entry (8 scales) cut down to 2, so fewer scales than channels
    quant = bytearray(section(4))
    pos, count = 4, struct.unpack_from("<I", quant, 0)[0]
    for _ in range(count):
        ln = struct.unpack_from("<I", quant, pos)[0]
        name_end = pos + 4 + ln
        axis, k, flags = struct.unpack_from("<iII", quant, name_end)
        body = name_end + 12
        size = 4 * k * (2 if flags == 1 else 1)
        if k == 8:
            scales = quant[body:body + 8]
            zps = quant[body + 32:body + 40] if flags == 1 else b""
            new = quant[:name_end] + struct.pack("<iII", axis, 2, flags) + scales + zps + quant[body + size:]
            write("fkdc_quant_few_scales.fkdc", replaced(4, bytes(new)))
            break
        pos = body + size


if __name__ == "__main__":
    fkdc()


# --- images ------------------------------------------------------------------------------------


def images():
    try:
        from PIL import Image
    except ImportError:
        print("Pillow not found: the JPEG fixtures are not rewritten", file=sys.stderr)
        return
    # a progressive 2048×2048 grey JPEG whose last scan is repeated 5,000 times: each scan is a
    # few bytes but a full pass over the image (minutes of decoding before libjpeg's scan limit)
    b = io.BytesIO()
    Image.new("L", (2048, 2048), 128).save(b, "JPEG", progressive=True, quality=90)
    data = b.getvalue()
    pos, scans = 2, []
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        if marker == 0xD9:
            break
        ln = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        end = pos + 2 + ln
        if marker == 0xDA:  # SOS: entropy-coded data follows up to the next non-RST marker
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
            scans.append((pos, end))
        pos = end
    last = data[scans[-1][0]:scans[-1][1]]
    write("jpeg_many_scans.jpg", data[:scans[-1][1]] + last * 5000 + b"\xff\xd9")
    # a CMYK JPEG (refused with a message, not decoded as RGB)
    b = io.BytesIO()
    Image.new("CMYK", (8, 8), (0, 128, 255, 0)).save(b, "JPEG")
    write("jpeg_cmyk.jpg", b.getvalue())
    # a PNG whose header claims 65535×65535 pixels (refused before anything is allocated)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 65535, 65535, 16, 6, 0, 0, 0))
    write("png_huge_dims.png", png + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    images()


# --- .npy --------------------------------------------------------------------------------------


def npys():
    def npy(header, data=b""):
        h = header.encode()
        h = h + b" " * ((64 - (len(h) + 11) % 64) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data
    # a shape whose element count overflows Int64, and a zero-element shape with huge dims
    write("npy_shape_overflow.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }"))
    write("npy_zero_huge_dims.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9223372036854775807, 9223372036854775807), }"))
    # a version 2 header whose length runs past the end of the file
    write("npy_header_past_end.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{'descr'")


if __name__ == "__main__":
    npys()
