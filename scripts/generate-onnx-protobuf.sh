#!/usr/bin/env bash
# Regenerates Sources/CONNX (protobuf-c code for onnx.proto) with Debian's protoc-c.
#   scripts/generate-onnx-protobuf.sh [path/to/onnx.proto]
# Default: the onnx.proto of the onnx package in .venv (pip install onnx).
set -euo pipefail
cd "$(dirname "$0")/.."
proto=${1:-$(ls .venv/lib/python3*/site-packages/onnx/onnx.proto | head -1)}
command -v protoc-c >/dev/null || { echo "install protobuf-c-compiler" >&2; exit 2; }
work=$(mktemp -d)
cp "$proto" "$work/onnx.proto"
(cd "$work" && protoc-c --c_out=. onnx.proto)
cp "$proto" Sources/CONNX/onnx.proto
cp "$work/onnx.pb-c.c" Sources/CONNX/onnx.pb-c.c
sed 's|#include "onnx.pb-c.h"|#include "include/onnx.pb-c.h"|' "$work/onnx.pb-c.c" > Sources/CONNX/onnx.pb-c.c
cp "$work/onnx.pb-c.h" Sources/CONNX/include/onnx.pb-c.h
rm -rf "$work"
echo "regenerated Sources/CONNX from $proto ($(protoc-c --version | head -1))"
