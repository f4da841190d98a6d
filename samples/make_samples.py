#!/usr/bin/env python3
"""Make fkdc's bundled samples: a synthetic 4-class fundus-like image set, a
MobileNetV2 student and a small VisionTransformer teacher trained on it briefly,
the checkpoints in every format fkdc reads, sample inputs and torch's logits as
golden outputs, and the hostile-input fixtures the tests replay.

    python3 -m venv .venv && .venv/bin/pip install torch torchvision safetensors onnx onnxruntime onnxscript numpy pillow
    .venv/bin/python samples/make_samples.py            # the committed samples
    .venv/bin/python samples/make_samples.py --full-teacher   # + samples/large/vit_b_16.pt (343 MB, ignored)

Everything is seeded: the same torch version gives the same files.
"""
import argparse
import io
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["normal", "diabetic_retinopathy", "glaucoma", "cataract"]
SIZE = 224
CALIB_PER_CLASS = 30  # 120 calibration images
# The student trains on 900 images for 12 epochs and then has its batch-norm statistics
# recomputed over the training set in one pass (so eval-mode statistics match the data the
# weights were fitted to): 100% on the validation set with wide margins (the smallest gap
# between the top two probabilities is 0.69), so int8 agreement measures quantization, not
# coin flips. The teacher keeps its recipe (600 images, 16 epochs).
STUDENT_TRAIN_PER_CLASS = 225
STUDENT_EPOCHS = 12
TEACHER_TRAIN_PER_CLASS = 150
TEACHER_EPOCHS = 16
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


# ---------------------------------------------------------------- images
def fundus(rng, label, size=SIZE):
    """One synthetic fundus photograph, float32 HWC in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    cx, cy = 0.5 + rng.uniform(-0.03, 0.03), 0.5 + rng.uniform(-0.03, 0.03)
    r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    radius = 0.46 + rng.uniform(-0.02, 0.02)
    inside = (r < radius).astype(np.float32)
    tint = np.array([0.78, 0.33, 0.13]) * rng.uniform(0.85, 1.15, 3)
    shade = np.clip(1.0 - (r / radius) ** 2 * 0.55, 0, 1)
    img = inside[..., None] * shade[..., None] * tint[None, None, :]
    # optic disc, to one side; glaucoma enlarges the cup inside it
    side = rng.choice([-1.0, 1.0])
    dx, dy = cx + side * rng.uniform(0.17, 0.22), cy + rng.uniform(-0.04, 0.04)
    rd = np.sqrt((xx - dx) ** 2 + (yy - dy) ** 2)
    disc_r = rng.uniform(0.065, 0.085)
    cup_ratio = rng.uniform(0.65, 0.85) if label == 2 else rng.uniform(0.25, 0.45)
    disc = np.clip(1.0 - rd / disc_r, 0, 1) ** 0.5
    cup = (rd < disc_r * cup_ratio).astype(np.float32)
    img += disc[..., None] * np.array([0.35, 0.35, 0.2]) + cup[..., None] * np.array([0.25, 0.3, 0.25])
    # vessels: dark arcs leaving the disc
    for k in range(rng.integers(4, 7)):
        ang = rng.uniform(0, 2 * math.pi)
        bend = rng.uniform(-2.0, 2.0)
        t = np.linspace(0, rng.uniform(0.25, 0.45), 200)
        px = dx + t * np.cos(ang + bend * t)
        py = dy + t * np.sin(ang + bend * t)
        width = rng.uniform(0.004, 0.008)
        for x0, y0 in zip(px[::4], py[::4]):
            m = ((xx - x0) ** 2 + (yy - y0) ** 2) < width ** 2
            img[m] *= 0.55
    # diabetic retinopathy: microaneurysms and hard exudates
    if label == 1:
        for _ in range(rng.integers(12, 30)):
            a, d = rng.uniform(0, 2 * math.pi), rng.uniform(0.05, 0.38)
            x0, y0 = cx + d * math.cos(a), cy + d * math.sin(a)
            rr = rng.uniform(0.005, 0.014)
            m = ((xx - x0) ** 2 + (yy - y0) ** 2) < rr ** 2
            if rng.uniform() < 0.6:
                img[m] = np.array([0.35, 0.02, 0.02])
            else:
                img[m] = np.array([0.95, 0.85, 0.35])
    img = np.clip(img * rng.uniform(0.85, 1.15), 0, 1)
    # cataract: a milky haze and blur over everything
    if label == 3:
        t = torch.from_numpy(img.transpose(2, 0, 1).copy())[None].float()
        k = 15
        g = torch.exp(-((torch.arange(k) - k // 2) ** 2) / (2 * 3.5 ** 2))
        g = (g / g.sum()).float()
        t = F.conv2d(F.pad(t, (k // 2,) * 4, mode="replicate"), g.view(1, 1, 1, k).repeat(3, 1, 1, 1), groups=3)
        t = F.conv2d(t, g.view(1, 1, k, 1).repeat(3, 1, 1, 1), groups=3)
        img = t[0].numpy().transpose(1, 2, 0)
        img = img * 0.7 + inside[..., None] * rng.uniform(0.2, 0.3)
    img += rng.normal(0, 0.015, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def dataset(seed, per_class):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(per_class):
        for c in range(len(CLASSES)):
            xs.append(fundus(rng, c))
            ys.append(c)
    return np.stack(xs), np.array(ys, dtype=np.int64)


def normalise(hwc):
    """torchvision's eval transform on an image already at SIZE: to NCHW, mean/std."""
    return ((hwc - MEAN) / STD).transpose(0, 3, 1, 2).astype(np.float32).copy()


def save_png(path, hwc):
    from PIL import Image
    Image.fromarray((np.clip(hwc, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path, optimize=True)


def write_images():
    """The PNG validation and calibration sets (independent seeds, so they do not depend on training)."""
    xval, yval = dataset(2, 10)
    xcal, ycal = dataset(3, CALIB_PER_CLASS)
    import shutil
    for split in ("val", "calib"):
        shutil.rmtree(os.path.join(HERE, "fundus", split), ignore_errors=True)
    # folders named so that sorted order (ImageFolder's) is the models' class order
    folders = [f"{i}_{c}" for i, c in enumerate(CLASSES)]
    for split, xs, ys in (("val", xval, yval), ("calib", xcal, ycal)):
        for c in folders:
            os.makedirs(os.path.join(HERE, "fundus", split, c), exist_ok=True)
        for i, (im, c) in enumerate(zip(xs, ys)):
            save_png(os.path.join(HERE, "fundus", split, folders[c], f"{i:03d}.png"), im)

    return xval, yval


# ---------------------------------------------------------------- models
def student_model():
    return torchvision.models.mobilenet_v2(num_classes=len(CLASSES))


def teacher_model():
    return torchvision.models.VisionTransformer(
        image_size=SIZE, patch_size=32, num_layers=2, num_heads=4,
        hidden_dim=128, mlp_dim=256, num_classes=len(CLASSES))


def train(model, x, y, epochs, lr, batch=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            xb = xt[idx]
            if torch.rand(1, generator=g).item() < 0.5:
                xb = xb.flip(3)
            out = model(xb)
            loss = F.cross_entropy(out, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yt[idx]).sum().item()
            total += len(idx)
        print(f"  epoch {ep + 1}/{epochs}: loss {loss_sum / total:.3f} train acc {correct / total:.3f}", flush=True)
    model.eval()


def recalibrate_bn(model, x, batch=50):
    """Batch-norm running statistics recomputed as plain averages over `x` (train-mode forward
    passes, no gradient), replacing the momentum estimates left by training."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        xt = torch.from_numpy(x)
        for i in range(0, len(xt), batch):
            model(xt[i:i + batch])
    model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(torch.from_numpy(x)).argmax(1).numpy() == y).mean()


# ---------------------------------------------------------------- hostile fixtures
def write_hostile(out, small_pt_bytes, small_sd):
    """Each file is a malformed or malicious input; the tests expect exit code 2."""
    os.makedirs(out, exist_ok=True)

    def put(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    put("truncated_zip.pt", small_pt_bytes[: len(small_pt_bytes) // 2])

    # a deflated data.pkl whose stream is corrupted
    zin = zipfile.ZipFile(io.BytesIO(small_pt_bytes))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            method = zipfile.ZIP_DEFLATED if info.filename.endswith("data.pkl") else zipfile.ZIP_STORED
            zout.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=method)
    deflated = bytearray(buf.getvalue())
    i = deflated.find(b"data.pkl") + len(b"data.pkl")  # first local header's name end; data follows
    for k in range(i + 10, i + 30):
        deflated[k] ^= 0x5A
    put("corrupt_deflate.pt", bytes(deflated))

    # a stored tensor entry whose bytes no longer match the CRC in the directory
    bad = bytearray(small_pt_bytes)
    name = next(n for n in zin.namelist() if "/data/" in n)
    info = zin.getinfo(name)
    name_len, extra_len = struct.unpack("<HH", bad[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    bad[start] ^= 0xFF
    put("wrong_crc.pt", bytes(bad))

    def zip_with_pickle(pkl, extra=None):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
            for k, v in [("archive/data.pkl", pkl), ("archive/byteorder", b"little")] + list((extra or {}).items()):
                z.writestr(zipfile.ZipInfo(k, date_time=(1980, 1, 1, 0, 0, 0)), v)
        return b.getvalue()

    # pickle that would call posix.system("echo pwned") if executed
    evil = b"\x80\x02cposix\nsystem\nX\x0a\x00\x00\x00echo pwnedq\x00\x85R."
    put("pickle_posix_system.pt", zip_with_pickle(evil))
    # BINUNICODE claiming 4 GiB - 1 bytes
    put("pickle_huge_binunicode.pt", zip_with_pickle(b"\x80\x02X\xff\xff\xff\xff" + b"abc" + b"."))
    # 100000 nested lists
    put("pickle_deep_nesting.pt", zip_with_pickle(b"\x80\x02" + b"]" * 100000 + b"a" * 99999 + b"."))
    # legacy (pre-1.6) torch.save stream
    put("legacy_format.pt", b"\x80\x02\x8a\x0alZ\xfc\x9cF\xf9 j\xa8P\x19." + b"\x00" * 16)

    # state dicts with a missing key and with a wrong shape
    sd = dict(small_sd)
    del sd["features.3.conv.1.0.weight"]
    b = io.BytesIO(); torch.save(sd, b); put("missing_key.pt", b.getvalue())
    sd = dict(small_sd)
    sd["classifier.1.weight"] = torch.zeros(4, 7)
    b = io.BytesIO(); torch.save(sd, b); put("wrong_shape.pt", b.getvalue())

    # safetensors: overlapping offsets, and a header larger than the limit
    import json
    hdr = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
           "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
    h = json.dumps(hdr).encode()
    put("overlapping.safetensors", struct.pack("<Q", len(h)) + h + b"\x00" * 24)
    put("oversized_header.safetensors", struct.pack("<Q", 200 * 1024 * 1024) + b"{" + b" " * 64)

    # not hostile: the same checkpoint with every entry deflated and ZIP64 records forced,
    # which the reader must accept (and map to the same tensors)
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", allowZip64=True) as zout:
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            with zout.open(zi, "w", force_zip64=True) as f:
                f.write(zin.read(info.filename))
    put("../valid/deflated_zip64.pt", b.getvalue())


# ---------------------------------------------------------------- ONNX
def export_onnx(model, path):
    """The TorchScript exporter at opset 17 with a dynamic batch. TrainingMode.PRESERVE on a model
    in eval mode keeps BatchNormalization nodes (EVAL would fold them into the convolutions),
    so the ONNX student has the same parameters as the checkpoint."""
    torch.onnx.export(model.eval(), (torch.zeros(1, 3, SIZE, SIZE),), path, dynamo=False, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def onnx_goldens(names):
    """onnxruntime's outputs for each ONNX sample on each input (fixtures for the ONNX frontend)."""
    import onnxruntime as ort
    for name in names:
        sess = ort.InferenceSession(os.path.join(HERE, f"{name}.onnx"), providers=["CPUExecutionProvider"])
        for x in ["x0", "x1", "x2", "x3", "batch3"]:
            inp = np.load(os.path.join(HERE, "inputs", f"{x}.npy"))
            np.save(os.path.join(HERE, "golden", f"{name}_onnx_{x}.npy"), sess.run(None, {"input": inp})[0])


def write_onnx_fixtures(out):
    """Malformed ONNX models (each must be refused with exit code 2) and one valid model with
    external data."""
    import onnx
    from onnx import TensorProto, helper
    os.makedirs(out, exist_ok=True)

    def model(nodes, inits, inputs=None, outputs=None):
        g = helper.make_graph(nodes, "fixture",
                              inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              outputs or [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="fkdc-fixtures")
        m.ir_version = 8
        return m

    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], [1.0, 0.5, -0.5, 2.0])
    conv = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), helper.make_node("Relu", ["c"], ["y"], name="relu")]
    good = model(conv, [w])
    data = good.SerializeToString()
    with open(os.path.join(out, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    cyc = model([helper.make_node("Relu", ["b"], ["a"], name="r1"), helper.make_node("Add", ["x", "a"], ["b"], name="add"),
                 helper.make_node("Relu", ["b"], ["y"], name="r2")], [])
    onnx.save(cyc, os.path.join(out, "cycle.onnx"))
    bad = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], [0.0] * 4)
    bad.raw_data = b"\x00" * 12
    del bad.float_data[:]
    onnx.save(model(conv, [bad]), os.path.join(out, "raw_data_length.onnx"))
    for name, loc in [("external_parent.onnx", "../secret.bin"), ("external_absolute.onnx", "/etc/passwd")]:
        ext = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], [0.0] * 4)
        del ext.float_data[:]
        ext.data_location = TensorProto.EXTERNAL
        for k, v in [("location", loc), ("offset", "0"), ("length", "16")]:
            e = ext.external_data.add(); e.key = k; e.value = v
        onnx.save(model(conv, [ext]), os.path.join(out, name))
    lstm = model([helper.make_node("NonMaxSuppression", ["x", "x"], ["y"], name="nms")], [])
    onnx.save(lstm, os.path.join(out, "unsupported_op.onnx"))
    undefined = model([helper.make_node("Relu", ["nowhere"], ["y"], name="relu")], [])
    onnx.save(undefined, os.path.join(out, "undefined_input.onnx"))
    # valid: the same model with its weights in a file beside it
    valid = os.path.join(os.path.dirname(out), "valid")
    os.makedirs(valid, exist_ok=True)
    ext = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], [0.0] * 4)
    del ext.float_data[:]
    ext.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "external_weights.bin"), ("offset", "8"), ("length", "16")]:
        e = ext.external_data.add(); e.key = k; e.value = v
    with open(os.path.join(valid, "external_weights.bin"), "wb") as f:
        f.write(b"\xff" * 8 + struct.pack("<4f", 1.0, 0.5, -0.5, 2.0))
    onnx.save(model(conv, [ext]), os.path.join(valid, "external_data.onnx"))

    # valid: layer norm and GELU decomposed as exporters before opset 17 write them, with
    # onnxruntime's output on a fixed input
    D = 8
    c = lambda n, v: helper.make_node("Constant", [], [n], value=helper.make_tensor(n, TensorProto.FLOAT, [], [v]))
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1], name="mean"),
        helper.make_node("Sub", ["x", "mean"], ["d"], name="sub"), c("two", 2.0),
        helper.make_node("Pow", ["d", "two"], ["sq"], name="pow"),
        helper.make_node("ReduceMean", ["sq"], ["var"], axes=[-1], name="var"), c("eps", 1e-5),
        helper.make_node("Add", ["var", "eps"], ["ve"], name="add_eps"),
        helper.make_node("Sqrt", ["ve"], ["std"], name="sqrt"),
        helper.make_node("Div", ["d", "std"], ["norm"], name="div"),
        helper.make_node("Mul", ["norm", "gamma"], ["scaled"], name="mul_gamma"),
        helper.make_node("Add", ["scaled", "beta"], ["ln"], name="add_beta"), c("sqrt2", 1.4142135381698608),
        helper.make_node("Div", ["ln", "sqrt2"], ["g0"], name="gelu_div"),
        helper.make_node("Erf", ["g0"], ["g1"], name="gelu_erf"), c("one", 1.0),
        helper.make_node("Add", ["g1", "one"], ["g2"], name="gelu_add"),
        helper.make_node("Mul", ["ln", "g2"], ["g3"], name="gelu_mul"), c("half", 0.5),
        helper.make_node("Mul", ["g3", "half"], ["y"], name="gelu_half"),
    ]
    rng = np.random.default_rng(11)
    inits = [helper.make_tensor("gamma", TensorProto.FLOAT, [D], rng.uniform(0.5, 1.5, D).tolist()),
             helper.make_tensor("beta", TensorProto.FLOAT, [D], rng.uniform(-0.5, 0.5, D).tolist())]
    g = helper.make_graph(nodes, "decomposed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, D])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="fkdc-fixtures")
    m.ir_version = 7
    path = os.path.join(valid, "decomposed_layernorm_gelu.onnx")
    onnx.save(m, path)
    import onnxruntime as ort
    x = rng.normal(0, 2, (2, 3, D)).astype(np.float32)
    np.save(os.path.join(valid, "decomposed_input.npy"), x)
    np.save(os.path.join(valid, "decomposed_output.npy"), ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0])


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full-teacher", action="store_true", help="also write samples/large/vit_b_16.pt (343 MB)")
    ap.add_argument("--student-only", action="store_true", help="retrain only the student (keep the committed "
                    "teacher_vit.pt and images) and rewrite its files, ONNX export and golden outputs")
    ap.add_argument("--student-weights", help="with --student-only: use this state dict instead of training "
                    "(a student trained earlier by this recipe)")
    ap.add_argument("--fixtures-only", action="store_true", help="only rewrite Tests/Fixtures (no training)")
    ap.add_argument("--onnx-only", action="store_true", help="only re-export the ONNX samples from the committed .pt files "
                    "and write onnxruntime's outputs as fixtures (no training)")
    ap.add_argument("--large-only", action="store_true", help="only write samples/large/ (no training)")
    ap.add_argument("--images-only", action="store_true", help="only rewrite samples/fundus (no training)")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    if args.fixtures_only:
        torch.manual_seed(0)
        tiny = torchvision.models.mobilenet_v2(width_mult=0.1, num_classes=4).state_dict()
        b = io.BytesIO(); torch.save(tiny, b)
        write_hostile(os.path.join(os.path.dirname(HERE), "Tests", "Fixtures", "hostile"), b.getvalue(), tiny)
        write_onnx_fixtures(os.path.join(os.path.dirname(HERE), "Tests", "Fixtures", "hostile"))
        return
    if args.large_only:
        write_large(np.load(os.path.join(HERE, "inputs", "x0.npy")))
        return
    if args.onnx_only:
        student = student_model(); student.load_state_dict(torch.load(os.path.join(HERE, "student.pt")))
        teacher = teacher_model(); teacher.load_state_dict(torch.load(os.path.join(HERE, "teacher_vit.pt")))
        export_onnx(student, os.path.join(HERE, "student.onnx"))
        export_onnx(teacher, os.path.join(HERE, "teacher_vit.onnx"))
        onnx_goldens(["student", "teacher_vit"])
        return
    print("images ...", flush=True)
    if args.images_only:
        write_images()
        return
    xtr, ytr = dataset(1, STUDENT_TRAIN_PER_CLASS)
    if args.student_only:
        xval, yval = dataset(2, 10)
        teacher = teacher_model(); teacher.load_state_dict(torch.load(os.path.join(HERE, "teacher_vit.pt")))
        teacher.eval()
    else:
        xval, yval = write_images()
    print("student (MobileNetV2) ...", flush=True)
    student = student_model()
    if args.student_weights:
        student.load_state_dict(torch.load(args.student_weights))
    else:
        train(student, normalise(xtr), ytr, STUDENT_EPOCHS, 2e-3, seed=1)
        recalibrate_bn(student, normalise(xtr))
    student.eval()
    print(f"  val acc {accuracy(student, normalise(xval), yval):.3f}")
    if not args.student_only:
        print("teacher (VisionTransformer, small) ...", flush=True)
        teacher = teacher_model()
        n = TEACHER_TRAIN_PER_CLASS * len(CLASSES)  # the first images of the same training set
        train(teacher, normalise(xtr[:n]), ytr[:n], TEACHER_EPOCHS, 1e-3, seed=2)
    print(f"  teacher val acc {accuracy(teacher, normalise(xval), yval):.3f}")

    sd = student.state_dict()
    torch.save(sd, os.path.join(HERE, "student.pt"))
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(HERE, "student.safetensors"))
    # a Lightning-style distillation checkpoint holding student and teacher
    both = {f"student.{k}": v for k, v in sd.items()}
    both.update({f"teacher.{k}": v for k, v in teacher.state_dict().items()})
    ckpt = {
        "epoch": STUDENT_EPOCHS, "global_step": STUDENT_EPOCHS * 29, "pytorch-lightning_version": "2.4.0",
        "state_dict": both,
        "optimizer_states": [], "lr_schedulers": [],
        "hyper_parameters": {"alpha": 0.5, "temperature": 4.0, "args": argparse.Namespace(arch="mobilenet_v2")},
    }
    torch.save(ckpt, os.path.join(HERE, "student.ckpt"))
    export_onnx(student, os.path.join(HERE, "student.onnx"))
    if not args.student_only:
        torch.save(teacher.state_dict(), os.path.join(HERE, "teacher_vit.pt"))
        export_onnx(teacher, os.path.join(HERE, "teacher_vit.onnx"))

    print("inputs and golden logits ...", flush=True)
    os.makedirs(os.path.join(HERE, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "golden"), exist_ok=True)
    xin = normalise(xval)
    picks = {"x0": xin[0:1], "x1": xin[1:2], "x2": xin[2:3], "x3": xin[3:4], "batch3": xin[4:7]}
    with torch.no_grad():
        for name, x in picks.items():
            np.save(os.path.join(HERE, "inputs", f"{name}.npy"), x)
            np.save(os.path.join(HERE, "golden", f"student_{name}.npy"), student(torch.from_numpy(x)).numpy())
            np.save(os.path.join(HERE, "golden", f"teacher_{name}.npy"), teacher(torch.from_numpy(x)).numpy())
    if args.student_only:
        onnx_goldens(["student", "teacher_vit"])
        print("done")
        return
    with torch.no_grad():
        # a narrow MobileNetV2 (width 0.5, 7 classes) and a ResNet-18 at 64x64 for builder tests
        torch.manual_seed(5)
        narrow = torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=7).eval()
        for m in narrow.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5); m.running_var.uniform_(0.5, 2.0)
        torch.save(narrow.state_dict(), os.path.join(HERE, "mobilenet_v2_w050.pt"))
        np.save(os.path.join(HERE, "golden", "mobilenet_v2_w050_x0.npy"), narrow(torch.from_numpy(picks["x0"])).numpy())
        # a ResNet with one BasicBlock per stage, stored as float16 (a ResNet-18 would be 45 MB)
        small = torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=3).eval()
        for m in small.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5); m.running_var.uniform_(0.5, 2.0)
        small_sd = {k: (v.half() if v.is_floating_point() else v) for k, v in small.state_dict().items()}
        small.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in small_sd.items()})
        torch.save(small_sd, os.path.join(HERE, "resnet10_c3_f16.pt"))
        np.save(os.path.join(HERE, "golden", "resnet10_c3_f16_x0.npy"), small(torch.from_numpy(picks["x0"])).numpy())

    torch.manual_seed(0)
    tiny = torchvision.models.mobilenet_v2(width_mult=0.1, num_classes=4).state_dict()
    b = io.BytesIO(); torch.save(tiny, b)
    write_hostile(os.path.join(os.path.dirname(HERE), "Tests", "Fixtures", "hostile"), b.getvalue(), tiny)
    write_onnx_fixtures(os.path.join(os.path.dirname(HERE), "Tests", "Fixtures", "hostile"))
    onnx_goldens(["student", "teacher_vit"])

    if args.full_teacher:
        write_large(picks["x0"])
    print("done")


def write_large(x0):
    """Full-size models for benchmarks and the tests that run when present (ignored by git)."""
    os.makedirs(os.path.join(HERE, "large"), exist_ok=True)
    torch.manual_seed(7)
    vit = torchvision.models.vit_b_16(num_classes=len(CLASSES)).eval()
    nn.init.normal_(vit.heads.head.weight, std=0.02)  # torchvision zero-initialises the head
    torch.save(vit.state_dict(), os.path.join(HERE, "large", "vit_b_16.pt"))
    x = torch.from_numpy(x0)
    with torch.no_grad():
        np.save(os.path.join(HERE, "large", "vit_b_16_x0.npy"), vit(x).numpy())
    export_onnx(vit, os.path.join(HERE, "large", "vit_b_16.onnx"))
    import onnxruntime as ort
    sess = ort.InferenceSession(os.path.join(HERE, "large", "vit_b_16.onnx"), providers=["CPUExecutionProvider"])
    np.save(os.path.join(HERE, "large", "vit_b_16_onnx_x0.npy"), sess.run(None, {"input": x0})[0])
    torch.manual_seed(8)
    r50 = torchvision.models.resnet50(num_classes=4).eval()
    torch.save(r50.state_dict(), os.path.join(HERE, "large", "resnet50.pt"))
    with torch.no_grad():
        np.save(os.path.join(HERE, "large", "resnet50_x0.npy"), r50(x).numpy())
    print("wrote samples/large/vit_b_16.pt and resnet50.pt")


if __name__ == "__main__":
    main()
