#!/usr/bin/env bash
# `fkdc inspect` of the full ViT-B/16 (343 MB) as a PyTorch checkpoint and as its ONNX export:
# wall time and peak memory against the file size (targets: < 2 s, < 1.3x the file).
# Make the files first: .venv/bin/python samples/make_samples.py --large-only
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .build/release/fkdc ] || swift build -c release
for f in samples/large/vit_b_16.pt samples/large/vit_b_16.onnx; do
  [ -f "$f" ] || { echo "missing $f (run samples/make_samples.py --large-only)" >&2; exit 2; }
  size=$(stat -c %s "$f")
  log=$(mktemp)
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -a -o "$log" .build/release/fkdc inspect "$f" >/dev/null
  done
  sort -n "$log" | awk -v size="$size" -v name="$(basename "$f")" '
    { t[NR] = $1; m[NR] = $2 }
    END {
      med = t[int((NR + 1) / 2)]; peak = 0; for (i = 1; i <= NR; i++) if (m[i] > peak) peak = m[i];
      printf "inspect %s: median %.2f s over %d runs (target < 2 s); peak RSS %.1f MB = %.2fx the %.1f MB file (target < 1.3x)\n",
        name, med, NR, peak / 1024, peak * 1024 / size, size / 1048576 }'
  rm -f "$log"
done
