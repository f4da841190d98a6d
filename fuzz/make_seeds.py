#!/usr/bin/env python3
"""Writes the small seed corpora fuzz/corpus/TARGET/ that scripts/fuzz.sh starts from.

Stdlib only, plus Pillow for the JPEG seeds (skipped without it). The committed fixtures
(Tests/Fixtures, Tests/PassesTests/Golden, samples/golden) are copied in as further seeds.
Run from the repository root: python3 fuzz/make_seeds.py
"""
import collections, io, json, os, pickle, shutil, struct, sys, types, zipfile, zlib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(root, "fuzz", "corpus")


def out(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def floats(n, seed):
    return [((i * 7919 + seed * 104729) % 1000) / 1000.0 - 0.5 for i in range(n)]


def tiny_resnet():
    """A torchvision-shaped BasicBlock ResNet, one block a stage, two channels wide."""
    sd = collections.OrderedDict()
    def conv(name, cout, cin, k):
        sd[name + ".weight"] = ([cout, cin, k, k], floats(cout * cin * k * k, len(sd)))
    def bn(name, c):
        sd[name + ".weight"] = ([c], [1.0] * c)
        sd[name + ".bias"] = ([c], floats(c, len(sd)))
        sd[name + ".running_mean"] = ([c], floats(c, len(sd)))
        sd[name + ".running_var"] = ([c], [1.0] * c)
    conv("conv1", 2, 3, 7); bn("bn1", 2)
    for l in range(1, 5):
        p = "layer%d.0" % l
        conv(p + ".conv1", 2, 2, 3); bn(p + ".bn1", 2)
        conv(p + ".conv2", 2, 2, 3); bn(p + ".bn2", 2)
        if l > 1:
            conv(p + ".downsample.0", 2, 2, 1); bn(p + ".downsample.1", 2)
    sd["fc.weight"] = ([4, 2], floats(8, 99))
    sd["fc.bias"] = ([4], floats(4, 98))
    return sd


# --- a PyTorch zip checkpoint (torch.save layout), written without torch ----------------------

class _Storage:  # stands in for torch.FloatStorage when pickled by name
    pass


def _rebuild_tensor_v2(*a):
    pass


def torch_zip(sd):
    torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
    torch.FloatStorage = _Storage; _Storage.__module__ = "torch"; _Storage.__qualname__ = "FloatStorage"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    _rebuild_tensor_v2.__module__ = "torch._utils"; _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils

    class T:
        def __init__(self, key, shape, n):
            self.key, self.shape, self.n = key, shape, n
        def __reduce__(self):
            strides, acc = [], 1
            for d in reversed(self.shape):
                strides.insert(0, acc); acc *= d
            return (_rebuild_tensor_v2, (("storage", self.key, self.n), 0, tuple(self.shape), tuple(strides),
                                         False, collections.OrderedDict()))

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, tuple) and len(obj) == 3 and obj[0] == "storage":
                return ("storage", _Storage, obj[1], "cpu", obj[2])
            return None

    state, blobs = collections.OrderedDict(), []
    for i, (k, (shape, data)) in enumerate(sd.items()):
        state[k] = T(str(i), shape, len(data)); blobs.append(struct.pack("<%df" % len(data), *data))
    buf = io.BytesIO(); P(buf, protocol=2).dump(state)
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as f:
        f.writestr(zipfile.ZipInfo("archive/data.pkl", (2020, 1, 1, 0, 0, 0)), buf.getvalue())
        for i, b in enumerate(blobs):
            f.writestr(zipfile.ZipInfo("archive/data/%d" % i, (2020, 1, 1, 0, 0, 0)), b)
        f.writestr(zipfile.ZipInfo("archive/version", (2020, 1, 1, 0, 0, 0)), "3\n")
    return z.getvalue()


def safetensors(sd):
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for k, (shape, vals) in sd.items():
        b = struct.pack("<%df" % len(vals), *vals)
        header[k] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def npy(shape, vals, descr="<f4"):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, "".join("%d," % d for d in shape))
    h = h.encode() + b" " * ((64 - (len(h) + 11) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + struct.pack("<%df" % len(vals), *vals)


def png(w, h, color_type=2, depth=8):
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row = bytes((x * 37 + y * 11) % 256 for y in range(1) for x in range(w * ch * depth // 8))
    raw = b"".join(b"\x00" + row for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    if color_type == 3:
        body += chunk(b"PLTE", bytes(range(48)))
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def main():
    shutil.rmtree(corpus, ignore_errors=True)
    sd = tiny_resnet()
    out("pt", "tiny_resnet.pt", torch_zip(sd))
    out("safetensors", "tiny_resnet.safetensors", safetensors(sd))
    out("npy", "x.npy", npy([1, 3, 4, 4], floats(48, 1)))
    out("npy", "labels.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
        + b"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }".ljust(117) + b"\n" + struct.pack("<2q", 0, 3))
    out("image", "rgb.png", png(8, 6))
    out("image", "gray.png", png(5, 5, 0))
    out("image", "palette.png", png(4, 4, 3))
    out("image", "rgba16.png", png(3, 3, 6, 16))
    try:
        from PIL import Image
        im = Image.new("RGB", (16, 12))
        im.putdata([((x * 16) % 256, (y * 20) % 256, 128) for y in range(12) for x in range(16)])
        for name, kw in [("baseline.jpg", {}), ("progressive.jpg", {"progressive": True}),
                         ("gray.jpg", {"mode": "L"})]:
            b = io.BytesIO()
            (im.convert("L") if kw.pop("mode", None) else im).save(b, "JPEG", quality=80, **kw)
            out("image", name, b.getvalue())
    except ImportError:
        print("Pillow not found: no JPEG seeds", file=sys.stderr)
    copies = {
        "pt": ["Tests/Fixtures/hostile/%s" % f for f in ["legacy_format.pt"]],
        "safetensors": ["Tests/Fixtures/hostile/overlapping.safetensors"],
        "onnx": ["Tests/Fixtures/valid/decomposed_layernorm_gelu.onnx", "Tests/Fixtures/valid/external_data.onnx",
                 "Tests/Fixtures/valid/tiny_qdq.onnx",
                 "Tests/Fixtures/hostile/cycle.onnx", "Tests/Fixtures/hostile/unsupported_op.onnx"],
        "fkdc": ["Tests/Fixtures/valid/tiny.fkdc", "Tests/Fixtures/valid/tiny_v1.fkdc"],
        "fkir": ["Tests/Fixtures/valid/tiny_bn.fkir", "Tests/Fixtures/valid/tiny_int8.fkir"],
        "npy": ["samples/golden/student_batch3.npy", "Tests/Fixtures/valid/decomposed_input.npy"],
    }
    gold = os.path.join(root, "Tests/PassesTests/Golden")
    copies["fkir"] += ["Tests/PassesTests/Golden/" + f for f in sorted(os.listdir(gold)) if f.endswith(".fkir")]
    for target, files in copies.items():
        for f in files:
            with open(os.path.join(root, f), "rb") as src:
                out(target, os.path.basename(f), src.read())


main()
