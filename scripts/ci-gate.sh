#!/usr/bin/env bash
# The CI gate on the sample student (run by scripts/test.sh after the unit tests): compile it for
# the Jetson Nano, data-free and with calibration data, and let `fkdc verify` check that the
# binary is at most 0.27 of the fp32 weight bytes and that accuracy holds on the validation set.
set -euo pipefail
cd "$(dirname "$0")/.."
FKDC=${FKDC:-.build/debug/fkdc}
OUT=out/ci
rm -rf "$OUT"
mkdir -p "$OUT"
set -x
# data-free (the default): int8 top-1 within 2 points of fp32
$FKDC compile samples/student.ckpt --target jetson-nano --val samples/fundus/val -o "$OUT/data-free" >/dev/null
$FKDC verify "$OUT/data-free/report.json" --max-size-ratio 0.27 --max-file-ratio 0.27 --max-top1-drop 2
# calibrated on 120 images: ≥ 99% agreement, ≤ 0.5 point top-1 drop, no class down more than 2 points
$FKDC compile samples/student.ckpt --target jetson-nano --calib samples/fundus/calib --val samples/fundus/val \
    -o "$OUT/calibrated" >/dev/null
$FKDC verify "$OUT/calibrated/report.json" --max-size-ratio 0.27 --max-file-ratio 0.27 --max-top1-drop 0.5 --max-class-drop 2 \
    --min-agreement 99
