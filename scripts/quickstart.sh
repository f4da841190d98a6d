#!/usr/bin/env bash
# Installs what is missing, builds fkdc, and runs it on the bundled sample student.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release 2>&1 | tail -1
set -x
.build/release/fkdc inspect samples/student.pt
.build/release/fkdc run samples/student.pt --input samples/inputs/batch3.npy --output /tmp/fkdc-student-logits.npy
# the main job: the distillation checkpoint's student compiled for the Jetson Nano, verified on the sample images
.build/release/fkdc compile samples/student.ckpt --target jetson-nano --val samples/fundus/val \
    --teacher samples/student.ckpt --teacher-prefix teacher. --teacher-heads 4 -o out/student-jetson-nano
.build/release/fkdc run out/student-jetson-nano/model.fkdc --input samples/inputs/batch3.npy
# the integrator example links the generated C and prints the same top-1 as fkdc run
make -s -C samples/integrator MODEL=../../out/student-jetson-nano
samples/integrator/classify samples/inputs/x0.npy
