#!/usr/bin/env bash
# Installs ONNX Runtime for the export tests: the npm package onnxruntime-node (which
# bundles the ONNX Runtime CPU shared library) and @qvac/onnx (for the official ONNX Runtime
# C/C++ headers it ships, to compile examples/export_client) into tests/runtime/node_modules,
# from tests/runtime/package-lock.json. Test-only: nothing here is linked into the project.
#
# The package's postinstall step would also fetch CUDA provider binaries from NuGet;
# the tests only use the CPU provider, so that step is skipped
# (ONNXRUNTIME_NODE_INSTALL=skip), which also keeps the install working where only
# the npm registry is reachable.
#
# Idempotent: does nothing when the pinned version is already installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runtime="$root/tests/runtime"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-onnxruntime: node and npm are required (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi

# Every pinned package at its pinned version, or nothing to do.
pinned_and_installed() {
  node -e "
    const deps = require('$runtime/package.json').dependencies;
    for (const [name, version] of Object.entries(deps)) {
      let installed = '';
      try { installed = require('$runtime/node_modules/' + name + '/package.json').version; } catch (e) {}
      if (installed !== version) process.exit(1);
    }"
}
if pinned_and_installed; then
  echo "install-onnxruntime: onnxruntime-node and the ONNX Runtime headers already installed in $runtime/node_modules"
  exit 0
fi

cd "$runtime"
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
node -e "const ort = require('onnxruntime-node'); console.log('install-onnxruntime: ONNX Runtime (onnxruntime-node) ' + ort.env.versions.node + ' ready in $runtime/node_modules')"
