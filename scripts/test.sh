#!/usr/bin/env bash
# Builds the project and runs the whole test suite (GoogleTest through ctest).
# Tests that need ../shared (real data, weights, reference cases) or the ONNX
# Runtime test folder skip with a message saying what is missing.
#   scripts/test.sh              the Release build in ./build
#   scripts/test.sh --sanitize   (or SANITIZE=1) everything built with AddressSanitizer +
#                                UndefinedBehaviorSanitizer in ./build-asan, the same suite under it
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then SANITIZE=1; fi
if [ "${SANITIZE:-0}" = 1 ]; then
  BUILD_DIR=${BUILD_DIR:-build-asan}
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPATCHCORE_SANITIZE=ON \
        -DPATCHCORE_BUILD_BENCH=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
  # Leaks are checked too (less what system libraries keep: tests/sanitizer/lsan.supp); halt on
  # the first report of either sanitizer.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
else
  BUILD_DIR=${BUILD_DIR:-build}
  BUILD_DIR="$BUILD_DIR" bash scripts/build.sh
fi
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1500 -j "${CTEST_JOBS:-1}"
