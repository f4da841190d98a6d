#!/usr/bin/env bash
# The corpus at its published sizes (scripts/make_corpus.py --full → out/corpus-full: torchvision's
# constructors, 224×224, random weights with measured batch-norm statistics): each compiled for
# jetson-orin-nano (C and CUDA), calibrated and validated on its two inputs, then compiled again
# without data. Prints one Markdown row per model: parameters, int8 / float32 ops, weight and
# file ratios, agreement and logit SQNR (calibrated; data-free), compile seconds.
#     /work/torchenv/bin/python scripts/make_corpus.py --full && bench/corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FKDC=${FKDC:-.build/release/fkdc}
DIR=${DIR:-out/corpus-full}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "| model | fp32 weight MB | int8 nodes | float32 ops | weight ratio | file ratio | C / CUDA | agreement, SQNR (calibrated) | SQNR (data-free) | compile s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for onnx in "$DIR"/*.onnx; do
    name=$(basename "$onnx" .onnx)
    x="$DIR/${name}_x.npy"
    start=$(date +%s.%N)
    "$FKDC" compile "$onnx" --target jetson-orin-nano --calib "$x" --val "$x" -o "$OUT/$name" >"$OUT/$name.log" 2>&1 || true
    end=$(date +%s.%N)
    "$FKDC" compile "$onnx" --target jetson-orin-nano --val "$x" -o "$OUT/$name-df" >"$OUT/$name-df.log" 2>&1 || true
    python3 - "$name" "$OUT/$name/report.json" "$OUT/$name-df/report.json" "$start" "$end" <<'PY'
import json, sys
name, path, df, start, end = sys.argv[1:]
try:
    r = json.load(open(path))
except OSError:
    print(f"| {name} | compile failed (see its log) |")
    sys.exit()
s, a = r["size"], r["accuracy"]
ops = r.get("float32_ops") or []
int8 = sum(1 for l in r["layers"] if l.get("precision") == "int8")
try:
    d = json.load(open(df))["accuracy"]["logit_sqnr_db"]
    dfs = f"{d:.1f} dB"
except (OSError, KeyError, TypeError):
    dfs = "failed"
c = "yes" if (r.get("c") or {}).get("emitted") else "no"
cuda = "yes" if (r.get("cuda") or {}).get("emitted") else "no"
print(f"| {name} | {s['fp32_weight_bytes'] / 1e6:.1f} | {int8} | {len(ops)} | {s['ratio']:.3f} | {s['file_ratio']:.3f} "
      f"| {c} / {cuda} | {a['top1_agreement'] * 100:.0f}%, {a['logit_sqnr_db']:.1f} dB | {dfs} | {float(end) - float(start):.0f} |")
PY
done
