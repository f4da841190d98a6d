#!/usr/bin/env python3
"""Scale benchmark of the hostile-input contract: every reader and pass stays near-linear.

Writes, into an ignored folder (.build-bench/), an ONNX chain of 20,000 Relu nodes, a chain of
10,000 Conv+Relu pairs, a chain of 5,000 Conv+BatchNormalization+Relu triples, a safetensors
file of 60,000 tensors and one of 60,000 top-level groups; then times `fkdc compile` (chains, with
a calibration batch) and `fkdc inspect` (safetensors) with the release build, one run each.
Goal: each under 10 s. Run from the repository root after `swift build -c release`:

    python3 bench/hostile_scale.py
"""
import json, os, struct, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import make_hostile_fixtures as fx  # noqa: E402  (the protobuf writer)

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, ".build-bench")
fkdc = os.environ.get("FKDC", os.path.join(root, ".build", "release", "fkdc"))
os.makedirs(out, exist_ok=True)


def chain(kind, n):
    nodes, inits, prev = [], [], "x"
    for i in range(n):
        nxt = "y" if i == n - 1 else "h%d" % i
        if kind == "relu":
            nodes.append(fx.node("Relu", [prev], [nxt], name="r%d" % i))
        else:
            w = "w%d" % i
            inits.append(fx.tensor(w, [4, 4, 1, 1], floats=[0.25 if a == b else 0.0 for a in range(4) for b in range(4)]))
            c = "c%d" % i
            nodes.append(fx.node("Conv", [prev, w], [c], name=c))
            if kind == "conv_bn_relu":
                p = "bn%d" % i
                for s, v in [("s", 1.0), ("b", 0.0), ("m", 0.0), ("v", 1.0)]:
                    inits.append(fx.tensor(p + s, [4], floats=[v] * 4))
                nodes.append(fx.node("BatchNormalization", [c, p + "s", p + "b", p + "m", p + "v"], [p], name=p))
                c = p
            nodes.append(fx.node("Relu", [c], [nxt], name="r%d" % i))
        prev = nxt
    return fx.model(nodes, [fx.X], [fx.Y], inits)


def npy(shape):
    n = 1
    for d in shape:
        n *= d
    h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join("%d," % d for d in shape)
    h = h + " " * (117 - len(h)) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<%df" % n, *([0.5] * n))


def safetensors(name):
    header, off = {}, 0
    for i in range(60000):
        header[name % i] = {"dtype": "F32", "shape": [1], "data_offsets": [off, off + 4]}
        off += 4
    b = json.dumps(header).encode()
    return struct.pack("<Q", len(b)) + b + b"\0" * off


def timed(args):
    t = time.time()
    r = subprocess.run([fkdc] + args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.time() - t, r.returncode, r.stderr.strip().splitlines()[-1:] or [""]


def main():
    if not os.path.exists(fkdc):
        sys.exit("build first: swift build -c release")
    files = {"calib.npy": npy([1, 4, 8, 8])}
    files["relu_20000.onnx"] = chain("relu", 20000)
    files["conv_relu_10000.onnx"] = chain("conv_relu", 10000)
    files["conv_bn_relu_5000.onnx"] = chain("conv_bn_relu", 5000)
    files["tensors_60000.safetensors"] = safetensors("t%d.weight")
    files["groups_60000.safetensors"] = safetensors("g%d.w")
    for k, v in files.items():
        with open(os.path.join(out, k), "wb") as f:
            f.write(v)
    calib = os.path.join(out, "calib.npy")
    for k in files:
        p = os.path.join(out, k)
        if k.endswith(".onnx"):
            s, rc, err = timed(["compile", p, "--calib", calib, "--max-size-ratio", "1e9", "-o", os.path.join(out, k + ".out")])
            what = "compile"
        elif k.endswith(".safetensors"):
            s, rc, err = timed(["inspect", p])
            what = "inspect"
        else:
            continue
        print("%-8s %-28s %6.2f s  exit %d  %s" % (what, k, s, rc, err[0][:100]))


if __name__ == "__main__":
    main()
