#!/usr/bin/env bash
# The INT8 ablation on the sample student (README.md's table): each range method and weight
# scheme, with and without bias correction (max and mean |Δp| too), on samples/fundus/calib (120 images) and
# samples/fundus/val (40 images). Prints one Markdown row per configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
FKDC=${FKDC:-.build/release/fkdc}
MODEL=${MODEL:-samples/student.ckpt}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
row() {
    local name="$1"; shift
    "$FKDC" compile "$MODEL" --target jetson-nano --val samples/fundus/val --max-size-ratio 1 -o "$OUT/r" "$@" >/dev/null 2>&1
    python3 - "$name" "$OUT/r/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
a = r["accuracy"]
drop = max((c["fp32_recall"] - c["int8_recall"]) * 100 for c in a["per_class"].values())
low = min((l for l in r["layers"] if l["sqnr_db"] is not None), key=lambda l: l["sqnr_db"])
print(f"| {sys.argv[1]} | {a['fp32_top1']*100:.1f}% | {a['int8_top1']*100:.1f}% | {a['top1_agreement']*100:.1f}% "
      f"| {drop:.1f} | {a['probability']['max_delta']*100:.1f} | {a['probability']['mean_delta']*100:.2f} "
      f"| {a['logit_sqnr_db']:.1f} dB | {low['sqnr_db']:.1f} dB |")
PY
}
echo "| configuration | fp32 top-1 | int8 top-1 | agreement | worst class drop (points) | max \\|Δp\\| (points) | mean \\|Δp\\| | logit SQNR | lowest layer SQNR |"
echo "|---|---|---|---|---|---|---|---|---|"
row "data-free (BN statistics), per-channel (the default)"
row "data-free, bias correction" --bias-correction on
row "data-free, per-tensor weights (naive)" --per-tensor
C="--calib samples/fundus/calib"
row "minmax, per-tensor weights (naive)" $C --per-tensor
row "minmax, per-tensor weights, bias correction" $C --per-tensor --bias-correction on
row "minmax, per-channel" $C
row "minmax, per-channel, bias correction" $C --bias-correction on
row "percentile 99.99, per-channel" $C --calib-method percentile
row "entropy (KL), per-channel" $C --calib-method entropy
row "mse, per-channel" $C --calib-method mse
row "minmax, sequential, per-channel" $C --calib-mode sequential
