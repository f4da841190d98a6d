#!/usr/bin/env bash
# Makes docs/report.png, README's picture of report.html: the sample student compiled for
# jetson-nano with the sample calibration and validation images and the sample teacher, the page
# rendered by headless Chromium (Debian's `chromium`) at 1000 px wide, as HTMLReportTests does.
#
#   scripts/report-screenshot.sh     # FKDC=path, else .build/debug/fkdc, else .build/release/fkdc
set -euo pipefail
cd "$(dirname "$0")/.."
fkdc=${FKDC:-.build/debug/fkdc}
[ -x "$fkdc" ] || fkdc=.build/release/fkdc
[ -x "$fkdc" ] || { echo "build fkdc first (swift build)" >&2; exit 1; }
chromium=$(command -v chromium || command -v chromium-browser) || { echo "install chromium" >&2; exit 1; }
out=out/report-sample
"$fkdc" compile samples/student.ckpt --target jetson-nano --calib samples/fundus/calib --val samples/fundus/val \
    --teacher samples/teacher_vit.pt --teacher-heads 4 --min-agreement 99 --max-prob-delta 5 -o "$out" >/dev/null
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$profile" \
    --window-size=1000,3150 --screenshot="$PWD/docs/report.png" "file://$PWD/$out/report.html" 2>/dev/null
echo "wrote docs/report.png from $out/report.html"
