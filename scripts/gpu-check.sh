#!/usr/bin/env bash
# The generated CUDA on a real GPU (the tests never need one): the sample student in both
# precisions, checked as the tests check the host emulation, and timed with CUDA events.
#
#   scripts/gpu-check.sh prepare [DIR]   here: compiles the student for jetson-nano (fp16) and
#                                        jetson-orin-nano (int8 dp4a), the expected logits (int8:
#                                        fkdc run on the .fkdc; float32: fkdc run on the checkpoint)
#                                        and the sources into DIR (out/gpu-check), self-contained
#   scripts/gpu-check.sh run [DIR]       on the GPU machine: nvcc for its architecture (a data-centre
#                                        GPU is sm_80/sm_90), both precisions on the four sample
#                                        inputs: int8 equal to the evaluator bit for bit, fp16 top-1
#                                        equal to float32 and within the header's tolerance; then
#                                        bench/cuda_time.cu: whole network and per launch
#   scripts/gpu-check.sh emulate [DIR]   the run step on the CPU through fk_cuda_host.h (c++)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
dir=${2:-out/gpu-check}
models="jetson-nano jetson-orin-nano"

case "$mode" in
prepare)
    # the newest build of fkdc
    fkdc=$(ls -t .build/release/fkdc .build/debug/fkdc 2>/dev/null | head -1)
    [ -n "$fkdc" ] || { echo "build fkdc first (swift build -c release)"; exit 2; }
    rm -rf "$dir"
    mkdir -p "$dir/src" "$dir/expected"
    cp samples/integrator/classify_cuda.cu samples/integrator/read_npy.h bench/cuda_time.cu \
        Sources/CUDAKernels/fk_cuda_host.h samples/inputs/x[0-3].npy "$dir/src/"
    for t in $models; do
        "$fkdc" compile samples/student.ckpt --target "$t" --calib samples/fundus/calib -o "$dir/build-$t" >/dev/null 2>&1
        mkdir -p "$dir/$t"
        cp "$dir/build-$t/model_cuda.cu" "$dir/build-$t/model_cuda.h" "$dir/$t/"
    done
    for i in 0 1 2 3; do
        "$fkdc" run "$dir/build-jetson-orin-nano/model.fkdc" --input "samples/inputs/x$i.npy" \
            --output "$dir/expected/int8_x$i.npy" >/dev/null
        "$fkdc" run samples/student.ckpt --input "samples/inputs/x$i.npy" --output "$dir/expected/fp32_x$i.npy" >/dev/null
    done
    rm -rf "$dir"/build-*
    du -sh "$dir"
    ;;
run | emulate)
    [ -d "$dir/src" ] || { echo "$dir: run 'scripts/gpu-check.sh prepare' first"; exit 2; }
    runs=200
    if [ "$mode" = run ]; then
        nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader
        nvcc --version | tail -1
        arch=sm_$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
        build() { # out, extra flags, sources...
            local out=$1 flags=$2
            shift 2
            nvcc -std=c++14 -O3 -arch="$arch" $flags -o "$out" "$@" 2>/dev/null ||
                nvcc -std=c++17 -O3 -arch="$arch" $flags -o "$out" "$@"
        }
    else
        runs=1
        build() {
            local out=$1 flags=$2
            shift 2
            c++ -std=c++14 -O2 -DFK_CUDA_HOST_EMULATION $flags -o "$out" -x c++ "$@"
        }
    fi
    status=0
    for t in $models; do
        m="$dir/$t"
        build "$m/classify" "-I$m -I$dir/src" "$dir/src/classify_cuda.cu" "$m/model_cuda.cu"
        "$m/classify" "$dir"/src/x[0-3].npy > "$m/logits.txt"
        python3 - "$m" "$dir/expected" <<'PY' || status=1
import re, struct, sys
m, expected = sys.argv[1], sys.argv[2]
header = open(m + "/model_cuda.h").read()
precision = re.search(r'_CUDA_PRECISION "(\w+)"', header).group(1)
tolerance = float(re.search(r"_CUDA_FP16_TOLERANCE ([0-9.e-]+)", header).group(1))
def npy(path):
    b = open(path, "rb").read()
    n = b[8] | b[9] << 8
    return list(struct.unpack("<%df" % ((len(b) - 10 - n) // 4), b[10 + n:]))
got = [[float(v) for v in ln.split()[1:]] for ln in open(m + "/logits.txt") if ln.startswith("  logits")]
ok, worst = True, 0.0
for i, g in enumerate(got):
    want = npy(f"{expected}/{'int8' if precision == 'int8' else 'fp32'}_x{i}.npy")
    if precision == "int8":
        same = [struct.pack("<f", a) for a in g] == [struct.pack("<f", a) for a in want]
        ok &= same
        print(f"  x{i}: int8 {'equal to the evaluator' if same else 'DIFFERS: %s vs %s' % (g, want)}")
    else:
        err = max(abs(a - b) for a, b in zip(g, want)) / max(abs(b) for b in want)
        top = g.index(max(g)) == want.index(max(want))
        worst = max(worst, err)
        ok &= top and err <= tolerance
        print(f"  x{i}: fp16 top-1 {'equal' if top else 'DIFFERS'}, relative logit error {err:.4f}")
if len(got) != 4:
    ok = False
print(f"{m}: {precision}: {'ok' if ok else 'FAILED'}" + (f" (worst {worst:.4f}, tolerance {tolerance})" if precision == "fp16" else ""))
sys.exit(0 if ok else 1)
PY
        build "$m/cuda_time" "-DFK_CUDA_PROFILE -I$m -I$dir/src" "$dir/src/cuda_time.cu" "$m/model_cuda.cu"
        "$m/cuda_time" "$dir/src/x0.npy" "$runs"
    done
    exit $status
    ;;
*)
    sed -n '2,17p' "$0"
    exit 2
    ;;
esac
