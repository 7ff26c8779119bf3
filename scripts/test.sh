#!/usr/bin/env bash
# Builds the project and runs the whole test suite (GoogleTest through ctest).
# Tests that need ../shared (real data, weights, reference cases) or the ONNX
# Runtime test folder skip with a message saying what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/build.sh
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1500 -j "${CTEST_JOBS:-1}"
