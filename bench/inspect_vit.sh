#!/usr/bin/env bash
# `fkdc inspect` of the full ViT-B/16 checkpoint (343 MB): wall time and peak memory against
# the file size. Make the checkpoint first: .venv/bin/python samples/make_samples.py --full-teacher
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=samples/large/vit_b_16.pt
[ -f "$ckpt" ] || { echo "missing $ckpt (run samples/make_samples.py --full-teacher)" >&2; exit 2; }
[ -x .build/release/fkdc ] || swift build -c release
size=$(stat -c %s "$ckpt")
for i in 1 2 3 4 5; do
  /usr/bin/time -f "%e %M" .build/release/fkdc inspect "$ckpt" 2>>/tmp/fkdc-inspect-bench.$$ >/dev/null
done
sort -n /tmp/fkdc-inspect-bench.$$ | awk -v size="$size" '
  { t[NR] = $1; m[NR] = $2 }
  END {
    med = t[int((NR + 1) / 2)]; peak = 0; for (i = 1; i <= NR; i++) if (m[i] > peak) peak = m[i];
    printf "inspect %s: median %.2f s over %d runs (target < 2 s); peak RSS %.1f MB = %.2fx the %.1f MB file (target < 1.3x)\n",
      "vit_b_16.pt", med, NR, peak / 1024, peak * 1024 / size, size / 1048576 }'
rm -f /tmp/fkdc-inspect-bench.$$
