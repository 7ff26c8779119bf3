#!/usr/bin/env bash
# Installs every Debian package the build, tests, benchmarks and demo need.
# Idempotent and non-interactive: safe to run again on a machine that has them.
set -euo pipefail

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
  libgtest-dev libgmock-dev    # tests
  libbenchmark-dev             # benchmarks
  libonnx-dev protobuf-compiler libprotobuf-dev python3-onnx  # ONNX export + checker
  libpugixml-dev               # OpenVINO IR XML
  nodejs npm                   # ONNX Runtime (npm onnxruntime-node) for the export tests
  xvfb xdotool                 # tests: the interactive `train --roi` window, driven in a virtual X server
)

missing=()
for p in "${PACKAGES[@]}"; do
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
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
fi

# ONNX Runtime for the export tests (test-only folder tests/runtime/node_modules).
bash "$(dirname "${BASH_SOURCE[0]}")/install-onnxruntime.sh"
