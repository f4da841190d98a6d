#!/usr/bin/env bash
# Issue 18's ablation (README.md's table): nearest against learned rounding (--rounding adaround)
# for each range method, on the sample student (samples/fundus/calib 120 images, val 40) and on
# the trained text-line classifier from PyPI (out/pypi/textline_cls, made by
# scripts/make_pypi_models.py: 256 calibration lines, 400 validation lines). Prints one Markdown
# row per compile with its wall time (release build, one BLAS thread as compile uses).
#   bench/rounding_ablation.sh [student|textline]...   ITERATIONS=1000 (adaround steps per layer)
set -euo pipefail
cd "$(dirname "$0")/.."
FKDC=${FKDC:-.build/release/fkdc}
ITERATIONS=${ITERATIONS:-1000}
METHODS=${METHODS:-"minmax percentile mse entropy"}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
row() {
    local model="$1" method="$2" rounding="$3"; shift 3
    local t0 t1
    t0=$(date +%s.%N)
    "$FKDC" compile "$@" --calib-method "$method" --rounding "$rounding" --adaround-iterations "$ITERATIONS" \
        --max-size-ratio 1 -o "$OUT/r" >/dev/null 2>&1
    t1=$(date +%s.%N)
    python3 - "$model" "$method" "$rounding" "$OUT/r/report.json" "$t0" "$t1" <<'PY'
import json, sys
model, method, rounding, path, t0, t1 = sys.argv[1:]
r = json.load(open(path))
a = r["accuracy"]
low = min((l for l in r["layers"] if l["sqnr_db"] is not None), key=lambda l: l["sqnr_db"])
top1 = "—" if a.get("int8_top1") is None else f"{a['int8_top1']*100:.2f}%"
print(f"| {model} | {method} | {rounding} | {a['top1_agreement']*100:.2f}% | {top1} "
      f"| {a['probability']['max_delta']*100:.2f} | {a['logit_sqnr_db']:.2f} dB | {low['sqnr_db']:.1f} dB "
      f"| {float(t1) - float(t0):.0f} s |")
PY
}
echo "| model | ranges | rounding | agreement | int8 top-1 | max \|Δp\| (points) | logit SQNR | lowest layer SQNR | wall time |"
echo "|---|---|---|---|---|---|---|---|---|"
[ $# -gt 0 ] || set -- student textline
for m in "$@"; do
    for method in $METHODS; do
        for rounding in nearest adaround; do
            case $m in
            student)
                row "sample student" "$method" "$rounding" samples/student.ckpt --target jetson-nano \
                    --calib samples/fundus/calib --val samples/fundus/val ;;
            textline)
                P=out/pypi/textline_cls
                row "text-line MobileNetV3" "$method" "$rounding" $P/model.onnx --input-shape 1x3x48x192 \
                    --calib $P/calib.npy --val $P/val.npy --val-labels $P/val_labels.npy ;;
            esac
        done
    done
done
