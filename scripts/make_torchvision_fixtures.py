#!/usr/bin/env python3
"""Fixtures for PreprocessTests' torchvision cases: real photographs from scikit-image's wheel (a
1411 x 1411 fundus JPEG, a 427 x 640 JPEG, a small fundus crop) through torchvision's transforms
on float32 tensors (what `--pipeline tensor` reproduces), through Hugging Face image processors
(`--pipeline hf`, their preprocessor_config.json written beside), and the sample student's logits
(torch, float32) on the standard eval transform of each through torchvision on tensors and on
PIL images (`--pipeline pil`), for the end-to-end check.

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch torchvision transformers pillow numpy scikit-image
    /tmp/tv/bin/python scripts/make_torchvision_fixtures.py

The tensor pipeline is v2.ToImage, ToDtype(float32, scale=True), Resize(antialias=True),
CenterCrop, Normalize(ImageNet); the PIL one ImageFolder's loader (PIL convert("RGB")), Resize,
CenterCrop, ToTensor, Normalize. Outputs are float32 NCHW .npy; tensor.json lists the cases and
logits.json the student's logits. Deterministic for a given torch version (written into
tensor.json).
"""
import json
import os
import shutil

import numpy as np
import skimage
import torch
import torchvision
from PIL import Image
from torchvision.transforms import InterpolationMode as IM
from torchvision.transforms import v2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/Fixtures/preprocess/torchvision")
DATA = os.path.join(os.path.dirname(skimage.__file__), "data")
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
MODES = {"bilinear": IM.BILINEAR, "bicubic": IM.BICUBIC, "nearest": IM.NEAREST, "nearest-exact": IM.NEAREST_EXACT}


def load(name):
    return Image.open(os.path.join(OUT, name)).convert("RGB")


def size_arg(s):
    return [int(v) for v in s.split("x")] if "x" in s else int(s)


def tensor_pipeline(im, filt, resize, crop):
    steps = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
             v2.Resize(size_arg(resize), interpolation=MODES[filt], antialias=True)]
    if crop:
        steps.append(v2.CenterCrop(size_arg(crop)))
    return v2.Compose(steps + [v2.Normalize(MEAN, STD)])(im)[None].contiguous().numpy()


def pil_pipeline(im, filt, resize, crop):
    steps = [v2.Resize(size_arg(resize), interpolation=MODES[filt])]
    if crop:
        steps.append(v2.CenterCrop(size_arg(crop)))
    t = torchvision.transforms.Compose(steps)(im)
    return torchvision.transforms.Compose([torchvision.transforms.ToTensor(),
                                           torchvision.transforms.Normalize(MEAN, STD)])(t)[None].numpy()


def main():
    os.makedirs(OUT, exist_ok=True)
    # the photographs as shipped (JPEGs decode to the same pixels through libjpeg as through PIL),
    # the grayscale fundus crop as the RGB PNG ImageFolder's loader makes of it
    shutil.copy(os.path.join(DATA, "retina.jpg"), os.path.join(OUT, "retina.jpg"))
    shutil.copy(os.path.join(DATA, "rocket.jpg"), os.path.join(OUT, "rocket.jpg"))
    Image.open(os.path.join(DATA, "microaneurysms.png")).convert("RGB").save(os.path.join(OUT, "microaneurysms.png"))
    plans = [
        ("retina.jpg", "bilinear", "256", "224"),   # the standard eval transform, 1411 -> 256: 5.5x down
        ("retina.jpg", "bicubic", "72", "64"),      # 20x down
        ("retina.jpg", "nearest", "72", "64"),
        ("retina.jpg", "nearest-exact", "72", "64"),
        ("rocket.jpg", "bilinear", "72", "64"),
        ("rocket.jpg", "bicubic", "50x90", None),   # aspect changed
        ("microaneurysms.png", "bilinear", "150", "140"),  # upscaling
        ("microaneurysms.png", "bicubic", "130x170", None),
        ("microaneurysms.png", "nearest", "131", "131"),
        ("microaneurysms.png", "bilinear", "64", "80"),   # crop larger than the image: zero padding
    ]
    cases = []
    for image, filt, resize, crop in plans:
        x = tensor_pipeline(load(image), filt, resize, crop)
        name = f"tensor_{image.split('.')[0]}_{filt}_{resize}" + (f"_{crop}" if crop else "") + ".npy"
        np.save(os.path.join(OUT, name), x.astype(np.float32))
        cases.append({"image": image, "expected": name, "filter": filt, "resize": resize, "crop": crop})
    student = torchvision.models.mobilenet_v2(num_classes=4)
    student.load_state_dict(torch.load(os.path.join(ROOT, "samples/student.pt"), weights_only=True))
    student.eval()
    logits = []
    with torch.no_grad():
        for image in ["retina.jpg", "rocket.jpg", "microaneurysms.png"]:
            for pipeline, f in [("tensor", tensor_pipeline), ("pil", pil_pipeline)]:
                x = f(load(image), "bilinear", "256", "224")
                y = student(torch.from_numpy(np.ascontiguousarray(x))).numpy()[0]
                logits.append({"image": image, "pipeline": pipeline, "resize": "256", "crop": "224",
                               "logits": [float(v) for v in y]})
    hf = []
    # the PIL backend (transformers 5: *ImageProcessorPil; the default backend resizes uint8 tensors
    # with torch, which lands within 1–2 grey levels of PIL, not on it)
    from transformers import MobileNetV2ImageProcessorPil as MobileNetV2ImageProcessor
    from transformers import ViTImageProcessorPil as ViTImageProcessor
    processors = [
        ("mobilenet_v2", MobileNetV2ImageProcessor()),  # shortest edge 256, crop 224, mean/std 0.5
        ("vit", ViTImageProcessor()),  # 224 x 224
        ("bicubic_pad", MobileNetV2ImageProcessor(resample=3, size={"shortest_edge": 61},
                                                  crop_size={"height": 64, "width": 70})),
    ]
    for name, proc in processors:
        config = f"hf_{name}.json"
        with open(os.path.join(OUT, config), "w") as f:
            f.write(proc.to_json_string())
        for image in ["retina.jpg", "rocket.jpg", "microaneurysms.png"]:
            x = proc(images=load(image), return_tensors="np")["pixel_values"].astype(np.float32)
            out = f"hf_{name}_{image.split('.')[0]}.npy"
            np.save(os.path.join(OUT, out), x)
            hf.append({"config": config, "image": image, "expected": out})
    with open(os.path.join(OUT, "hf.json"), "w") as f:
        json.dump(hf, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "tensor.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "logits.json"), "w") as f:
        json.dump(logits, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} tensor cases, {len(hf)} Hugging Face cases, {len(logits)} logit sets in {OUT}")


main()
