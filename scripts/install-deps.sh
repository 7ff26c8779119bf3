#!/usr/bin/env bash
# Installs every Debian package the build, tests, benchmarks and demo need.
# Idempotent and non-interactive: safe to run again on a machine that has them.
#   --no-test-deps   only what building the library and the CLI needs (the Dockerfile's build stage):
#                    skips the entries marked test: below and the ONNX Runtime test folder.
set -euo pipefail

WITH_TEST_DEPS=1
for arg in "$@"; do
  case $arg in
    --no-test-deps) WITH_TEST_DEPS=0 ;;
    *) echo "install-deps: unknown option $arg (known: --no-test-deps)" >&2; exit 2 ;;
  esac
done

# One list. "test:" marks what only the tests, benchmarks and the demo use (--no-test-deps skips it).
PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libtorch-dev                 # LibTorch: tensors + CNN backbones
  libopenblas0-openmp          # optimised BLAS for LibTorch's matrix products (Debian's libtorch links the
                               # generic libblas.so.3; this takes over that alternative: ~5x faster scoring)
  libfaiss-dev                 # nearest-neighbour search (FAISS backend)
  libdnnl-dev                  # oneDNN sgemm for the exact search kernel (the library LibTorch already loads)
  libopencv-dev                # image decoding, resizing, blur, template matching
  libyaml-cpp-dev              # config.yaml
  libcli11-dev                 # command line
  nlohmann-json3-dev           # safetensors headers, TF.js model.json, results.json
  libssl-dev                   # SHA-256
  libcurl4-openssl-dev         # weight download
  test:libgtest-dev test:libgmock-dev  # tests
  test:python3-sklearn         # tests: scikit-learn as the reference for the eval metrics
  test:libbenchmark-dev test:python3-pil  # benchmarks (PIL: bench/native_vs_ort.sh reads its test image)
  libonnx-dev protobuf-compiler libprotobuf-dev test:python3-onnx  # ONNX export + checker
  libpugixml-dev               # OpenVINO IR XML
  test:nodejs test:npm         # ONNX Runtime (npm onnxruntime-node) for the export tests
  test:xvfb test:xdotool       # tests: the interactive `train --roi` window, driven in a virtual X server
  test:clang                   # libFuzzer for scripts/fuzz.sh (tests/fuzz)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if [[ $p == test:* ]]; then ((WITH_TEST_DEPS)) || continue; p=${p#test:}; fi
  # node/npm may come from elsewhere (e.g. a newer Node.js); only install Debian's if absent
  if [[ $p == nodejs || $p == npm ]] && command -v "${p/nodejs/node}" >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages already installed"
fi

# ONNX Runtime for the export tests (test-only folder tests/runtime/node_modules).
((WITH_TEST_DEPS)) || exit 0
bash "$(dirname "${BASH_SOURCE[0]}")/install-onnxruntime.sh"
