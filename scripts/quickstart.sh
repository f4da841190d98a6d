#!/usr/bin/env bash
# Installs what is missing, builds fkdc, and runs it on the bundled sample student.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release 2>&1 | tail -1
set -x
.build/release/fkdc inspect samples/student.pt
.build/release/fkdc run samples/student.pt --input samples/inputs/batch3.npy --output /tmp/fkdc-student-logits.npy
