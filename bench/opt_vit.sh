#!/usr/bin/env bash
# The default pass pipeline on the full ViT-B/16 (85.6M parameters): time per pass (the
# pipeline alone, from --time-passes) and the whole command's wall time and peak memory.
# Make the checkpoint first: .venv/bin/python samples/make_samples.py --full-teacher
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=samples/large/vit_b_16.pt
[ -f "$ckpt" ] || { echo "missing $ckpt (run samples/make_samples.py --full-teacher)" >&2; exit 2; }
[ -x .build/release/fkdc ] || swift build -c release
for i in 1 2 3; do
  /usr/bin/time -f "wall %e s, peak RSS %M KB" .build/release/fkdc opt "$ckpt" --time-passes 2>&1 | grep -E "^total|wall|nodes:"
done
