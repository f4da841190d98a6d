#!/usr/bin/env python3
"""Builds fkdc's generated CUDA for the Jetson GPUs on a machine without one.

    scripts/cuda-check.py [--arch sm_53,sm_62,sm_72,sm_87] MODEL_DIR|model_cuda.cu ...

For every file and architecture: the grep-level check (only the CUDA names of fk_cuda.cuh's
`@allow` lines, none of its `@forbid` C++17 spellings), NVRTC (the device code as C++14 for
compute_XX; any warning fails, except NVRTC's notice that pre-sm_75 targets are deprecated),
then ptxas -v for sm_XX with --warn-on-spills --warning-as-error: zero spill bytes and static
shared memory within 48 KB per kernel (the depthwise kernels' dynamic shared memory is bounded
by the emitter), and the PTX holds the instruction its precision is for (int8: dp4a from sm_61;
fp16: fma.rn.f16x2). Prints registers, spills and shared memory per architecture.

The toolchain is PyPI's CUDA 12.9 wheels (CUDA 13 no longer targets sm_53):
    pip install "nvidia-cuda-nvrtc-cu12==12.9.*" "nvidia-cuda-nvcc-cu12==12.9.*" "nvidia-cuda-runtime-cu12==12.9.*"
found in FKDC_CUDA_WHEELS (their site-packages/nvidia folder), the repository's .venv, or this
Python's site-packages. Exit 0: all pass; 1: a check failed; 2: no toolchain (or bad usage).
"""
import ctypes
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "Sources/CUDAKernels/fk_cuda.cuh")
DEPRECATED = "Architectures prior to '<compute/sm>_75' are deprecated"


def toolchain():
    places = [os.environ.get("FKDC_CUDA_WHEELS", "")]
    places += glob.glob(os.path.join(ROOT, ".venv/lib/python3*/site-packages/nvidia"))
    places += [os.path.join(p, "nvidia") for p in sys.path if p]
    for base in places:
        nvrtc = glob.glob(os.path.join(base, "cuda_nvrtc/lib/libnvrtc.so*"))
        ptxas = os.path.join(base, "cuda_nvcc/bin/ptxas")
        include = os.path.join(base, "cuda_runtime/include")
        if base and nvrtc and os.access(ptxas, os.X_OK) and os.path.exists(os.path.join(include, "cuda_fp16.h")):
            return sorted(nvrtc)[0], ptxas, include
    return None


def lists():
    text = open(KERNELS, encoding="utf-8").read()
    allowed = {n for line in re.findall(r"^ \* @allow (.*)$", text, re.M) for n in line.split()}
    forbidden = re.findall(r"^ \* @forbid (.*)$", text, re.M)
    return allowed, forbidden


def grep_check(src, allowed, forbidden):
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', src)  # string literals (node names) are not code
    bad = sorted({w for w in re.findall(r"\b(__\w+|cuda\w+)\b", code) if w not in allowed})
    return bad + [f"C++17 '{f}'" for f in forbidden if f in src]


def nvrtc_compile(lib, src, name, arch, include):
    prog = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), name.encode(), 0, None, None) != 0:
        return None, "nvrtcCreateProgram failed"
    opts = [f"--gpu-architecture=compute_{arch[3:]}", "--std=c++14", f"-I{include}"]
    arr = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
    rc = lib.nvrtcCompileProgram(prog, len(opts), arr)
    n = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
    log = ctypes.create_string_buffer(n.value)
    lib.nvrtcGetProgramLog(prog, log)
    text = log.value.decode(errors="replace")
    kept = [ln for ln in text.splitlines() if ln.strip() and DEPRECATED not in ln]
    ptx = None
    if rc == 0:
        lib.nvrtcGetPTXSize(prog, ctypes.byref(n))
        buf = ctypes.create_string_buffer(n.value)
        lib.nvrtcGetPTX(prog, buf)
        ptx = buf.value
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return ptx, "\n".join(kept)


def ptxas_check(ptxas, ptx, arch):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "m.ptx")
        open(p, "wb").write(ptx)
        r = subprocess.run(
            [ptxas, f"-arch={arch}", "-v", "--warn-on-spills", "--warning-as-error", p, "-o", os.path.join(d, "m.cubin")],
            capture_output=True, text=True)
    out = r.stdout + r.stderr
    kernels = {}
    current = None
    for line in out.splitlines():
        m = re.search(r"Compiling entry function '(\S+)'", line)
        if m:
            current = m.group(1)
            kernels[current] = {"regs": 0, "spill": 0, "smem": 0}
        if current is None:
            continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            kernels[current]["spill"] = int(m.group(1)) + int(m.group(2))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            kernels[current]["regs"] = int(m.group(1))
        m = re.search(r"(\d+) bytes smem", line)
        if m:
            kernels[current]["smem"] = int(m.group(1))
    return r.returncode, out, kernels


def main():
    args = sys.argv[1:]
    archs = ["sm_53", "sm_62", "sm_72", "sm_87"]
    if args[:1] == ["--arch"] and len(args) > 1:
        archs = args[1].split(",")
        args = args[2:]
    files = []
    for a in args:
        files += [os.path.join(a, "model_cuda.cu")] if os.path.isdir(a) else [a]
    if not files or not all(os.path.isfile(f) for f in files):
        sys.exit(f"usage: {sys.argv[0]} [--arch sm_53,...] MODEL_DIR|model_cuda.cu ... (missing: "
                 f"{', '.join(f for f in files if not os.path.isfile(f)) or 'no file'})") if files else sys.exit(2)
    tc = toolchain()
    if tc is None:
        print("cuda-check: no CUDA toolchain (pip install nvidia-cuda-nvrtc-cu12==12.9.* nvidia-cuda-nvcc-cu12==12.9.* "
              "nvidia-cuda-runtime-cu12==12.9.* into .venv, or set FKDC_CUDA_WHEELS)")
        sys.exit(2)
    lib = ctypes.CDLL(tc[0])
    allowed, forbidden = lists()
    failed = False
    for f in files:
        src = open(f, encoding="utf-8").read()
        header = os.path.join(os.path.dirname(f), "model_cuda.h")
        text = src + (open(header, encoding="utf-8").read() if os.path.exists(header) else "")
        bad = grep_check(text, allowed, forbidden)
        if bad:
            print(f"{f}: names what CUDA 10.2 / C++14 lacks: {', '.join(bad)}")
            failed = True
        for arch in archs:
            ptx, log = nvrtc_compile(lib, src, os.path.basename(f), arch, tc[2])
            if ptx is None or log:
                print(f"{f} {arch}: NVRTC {'failed' if ptx is None else 'warned'}:\n{log}")
                failed = True
                continue
            rc, out, kernels = ptxas_check(tc[1], ptx, arch)
            spills = sum(k["spill"] for k in kernels.values())
            smem = max((k["smem"] for k in kernels.values()), default=0)
            regs = max((k["regs"] for k in kernels.values()), default=0)
            # the instructions each precision exists for: dp4a where the chip has it, half2 fma on all
            want = ("dp4a" if int(arch[3:]) >= 61 else None) if "fk_cu_dot4" in src else "fma.rn.f16x2"
            missing = want is not None and want.encode() not in ptx
            if missing:
                print(f"{f} {arch}: the PTX has no {want}")
            ok = rc == 0 and spills == 0 and smem <= 48 * 1024 and kernels and not missing
            print(f"{f} {arch}: {'ok' if ok else 'FAILED'}: {len(kernels)} kernels, at most {regs} registers, "
                  f"{spills} spill bytes, at most {smem} bytes static shared memory")
            if not ok:
                print(out)
                failed = True
    sys.exit(1 if failed else 0)


main()
