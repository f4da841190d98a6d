#!/usr/bin/env bash
# Installs what is missing, checks formatting, builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift format lint --strict -r Sources Tests Package.swift
swift build --build-tests
swift test
# the CI gate: the sample student compiled for jetson-nano must shrink to ≤ 0.27 and keep its accuracy
scripts/ci-gate.sh
