# Shared by the ONNX Runtime benchmarks (sourced, not run): the input image and the timing call.
# Needs ROOT (the repository) set by the sourcing script.

ORT_RUNNER="$ROOT/tests/runtime/run_onnx.js"
[[ -d "$ROOT/tests/runtime/node_modules/onnxruntime-node" ]] ||
  { echo "onnxruntime-node missing: run scripts/install-onnxruntime.sh" >&2; exit 1; }

# ort_input FILE: a deterministic pseudo-random normalised image [1,3,224,224] float32.
ort_input() {
  node -e '
const n = 3 * 224 * 224, a = new Float32Array(n); let s = 12345;
for (let i = 0; i < n; ++i) { s = (s * 1103515245 + 12345) % 2147483648; a[i] = (s / 2147483648) * 4 - 2; }
require("fs").writeFileSync(process.argv[1], Buffer.from(a.buffer));' "$1"
}

# ort_ms MODEL INPUT REPEAT THREADS SCRATCH: the median latency (ms) of REPEAT runs after one warm-up
# (tests/runtime/run_onnx.js: intraOpNumThreads = THREADS, graph optimisation 'all').
ort_ms() {
  local spec="$5/spec.json" out="$5/ort-out"
  cat >"$spec" <<SPEC
{"model": "$1", "inputs": [{"name": "input", "file": "$2", "type": "float32", "dims": [1, 3, 224, 224]}],
 "output_dir": "$out", "repeat": $3, "threads": $4}
SPEC
  node "$ORT_RUNNER" "$spec" >&2
  node -e 'const r = require(process.argv[1]); console.log(r.latency_ms.median.toFixed(2))' "$out/outputs.json"
}
