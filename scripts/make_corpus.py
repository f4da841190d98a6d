#!/usr/bin/env python3
"""Make fkdc's corpus of third-party architectures: torchvision's own classes (MobileNetV3
small/large, EfficientNet-B0, ResNet-50's bottleneck, RegNetY, ShuffleNetV2, SqueezeNet,
DenseNet-121, MnasNet, ConvNeXt-tiny) exported to ONNX by torch's TorchScript exporter at opset
13 with a dynamic batch, as a user exports a model for onnxruntime.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch torchvision onnx onnxruntime numpy
    /tmp/torchenv/bin/python scripts/make_corpus.py            # Tests/Fixtures/corpus (committed)
    /tmp/torchenv/bin/python scripts/make_corpus.py --full     # out/corpus-full (the real widths, 224², ignored)

The committed corpus keeps each architecture's structure and every op its exporter writes, at
reduced widths and depths and a 64×64 input (each file 30–400 KB, random weights): the op set
is what the tests check. `--full` exports the real configurations (torchvision's constructors
as published, 4 classes) for `bench/corpus.sh`. Batch-norm affine parameters are randomised
and their running statistics measured on inputs of the test distribution, as training leaves
them (a fresh model's are 0 and 1, which would hide a wrong fold and give data-free calibration
nothing true to read). Beside each model: `NAME_x.npy` (two
inputs, seeded) and `NAME_ort.npy`, onnxruntime's logits for them. Seeded: the same torch
version writes the same files.
"""
import argparse
import os
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torchvision.models as tvm
from torchvision.models import convnext, densenet, efficientnet, mnasnet, mobilenetv3, regnet, resnet, shufflenetv2, squeezenet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = 4


def small_resnet50():
    """ResNet-50's stem and torchvision's Bottleneck (with its strided downsample), one block a
    stage, narrow."""
    m = resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], num_classes=CLASSES, width_per_group=64)
    # rebuild the stages narrow: 4, 8, 16, 32 planes (× 4 out)
    m.inplanes, m.dilation, m.base_width, m.groups = 8, 1, 64, 1
    m.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
    m.bn1 = nn.BatchNorm2d(8)
    m.layer1 = m._make_layer(resnet.Bottleneck, 4, 2)
    m.layer2 = m._make_layer(resnet.Bottleneck, 8, 1, stride=2)
    m.layer3 = m._make_layer(resnet.Bottleneck, 16, 1, stride=2)
    m.layer4 = m._make_layer(resnet.Bottleneck, 32, 1, stride=2)
    m.fc = nn.Linear(128, CLASSES)
    return m


def small_squeezenet():
    """SqueezeNet 1.1's layout (max pools with ceil_mode, Fire modules: squeeze, two expands
    concatenated) at a quarter of the widths; the classifier a 1×1 convolution."""
    Fire = squeezenet.Fire
    m = squeezenet.SqueezeNet(version="1_1", num_classes=CLASSES)
    m.features = nn.Sequential(
        nn.Conv2d(3, 16, 3, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(16, 4, 16, 16), Fire(32, 4, 16, 16), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(32, 8, 32, 32), Fire(64, 8, 32, 32), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(64, 12, 48, 48), Fire(96, 16, 64, 64))
    conv = nn.Conv2d(128, CLASSES, 1)
    m.classifier = nn.Sequential(nn.Dropout(0.5), conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
    return m


def small_mnasnet():
    """MnasNet 0.25 with its 1280-wide head conv narrowed to 64 (the rest as published)."""
    m = mnasnet.MNASNet(0.25, num_classes=CLASSES)
    m.layers[14] = nn.Conv2d(m.layers[14].in_channels, 64, 1, bias=False)
    m.layers[15] = nn.BatchNorm2d(64)
    m.classifier[1] = nn.Linear(64, CLASSES)
    return m


def small_models():
    v3s = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.125)
    v3l = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_large", width_mult=0.125)
    eb0, eb0_last = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.125, depth_mult=0.3)
    C = convnext.CNBlockConfig
    return {
        "mobilenet_v3_small": lambda: mobilenetv3.MobileNetV3(v3s[0], v3s[1] // 8, num_classes=CLASSES),
        "mobilenet_v3_large": lambda: mobilenetv3.MobileNetV3(v3l[0], v3l[1] // 8, num_classes=CLASSES),
        "efficientnet_b0": lambda: efficientnet.EfficientNet(eb0, 0.2, last_channel=eb0_last, num_classes=CLASSES),
        "resnet50": small_resnet50,
        "regnet_y": lambda: regnet.RegNet(
            regnet.BlockParams.from_init_params(depth=5, w_0=16, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25),
            num_classes=CLASSES),
        "shufflenet_v2": lambda: shufflenetv2.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=CLASSES),
        "squeezenet": small_squeezenet,
        "densenet121": lambda: densenet.DenseNet(8, (2, 3, 2, 2), 16, num_classes=CLASSES),
        "mnasnet": small_mnasnet,
        "convnext_tiny": lambda: convnext.ConvNeXt([C(8, 16, 1), C(16, 32, 1), C(32, 64, 1), C(64, None, 1)],
                                                   num_classes=CLASSES),
    }


def full_models():
    return {
        "mobilenet_v3_small": partial(tvm.mobilenet_v3_small, num_classes=CLASSES),
        "mobilenet_v3_large": partial(tvm.mobilenet_v3_large, num_classes=CLASSES),
        "efficientnet_b0": partial(tvm.efficientnet_b0, num_classes=CLASSES),
        "resnet50": partial(tvm.resnet50, num_classes=CLASSES),
        "regnet_y": partial(tvm.regnet_y_400mf, num_classes=CLASSES),
        "shufflenet_v2": partial(tvm.shufflenet_v2_x1_0, num_classes=CLASSES),
        "squeezenet": partial(tvm.squeezenet1_1, num_classes=CLASSES),
        "densenet121": partial(tvm.densenet121, num_classes=CLASSES),
        "mnasnet": partial(tvm.mnasnet1_0, num_classes=CLASSES),
        "convnext_tiny": partial(tvm.convnext_tiny, num_classes=CLASSES),
    }


def randomise(model, gen, size):
    """Batch-norm affine parameters drawn away from 0 and 1; layer-scale γ of ConvNeXt (1e-6 at
    init, which would silence every block) drawn near 0.5; then the batch-norm running
    statistics measured on 64 inputs of the test distribution (train mode, cumulative average),
    as training leaves them: what data-free calibration reads."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.weight.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
                mod.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                mod.momentum = None
                mod.reset_running_stats()
            if isinstance(mod, convnext.CNBlock):
                mod.layer_scale.copy_(torch.rand(mod.layer_scale.shape, generator=gen) * 0.5 + 0.25)
        model.train()
        for _ in range(4):
            model(torch.rand(16, 3, size, size, generator=gen) * 2 - 1)
    return model.eval()


def export(name, model, size, out):
    import onnxruntime as ort
    path = os.path.join(out, f"{name}.onnx")
    torch.onnx.export(model.eval(), (torch.zeros(1, 3, size, size),), path, dynamo=False, opset_version=13,
                      do_constant_folding=True, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    gen = torch.Generator().manual_seed(7)
    x = (torch.rand(2, 3, size, size, generator=gen) * 2 - 1).numpy().astype(np.float32)
    np.save(os.path.join(out, f"{name}_x.npy"), x)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": x})[0]
    np.save(os.path.join(out, f"{name}_ort.npy"), y)
    with torch.no_grad():
        t = model(torch.from_numpy(x)).numpy()
    params = sum(p.numel() for p in model.parameters())
    print(f"{name:20s} {params:>10,d} params {os.path.getsize(path):>11,d} bytes  |torch-ort| {np.abs(t - y).max():.2e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="the real configurations at 224×224 into out/corpus-full")
    ap.add_argument("--only", help="comma-separated names")
    args = ap.parse_args()
    out = os.path.join(ROOT, "out", "corpus-full") if args.full else os.path.join(ROOT, "Tests", "Fixtures", "corpus")
    os.makedirs(out, exist_ok=True)
    models = full_models() if args.full else small_models()
    for i, (name, make) in enumerate(models.items()):
        if args.only and name not in args.only.split(","):
            continue
        torch.manual_seed(100 + i)
        size = 224 if args.full else 64
        m = randomise(make(), torch.Generator().manual_seed(200 + i), size)
        export(name, m, size, out)


if __name__ == "__main__":
    main()
