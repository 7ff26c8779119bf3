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

# ort_run MODEL INPUT REPEAT THREADS SCRATCH [NODE_TIMES=false]: runs the model (one warm-up, then
# REPEAT timed runs; tests/runtime/run_onnx.js: intraOpNumThreads = THREADS, optimisation 'all');
# the report is SCRATCH/ort-out/outputs.json.
ort_run() {
  local spec="$5/spec.json"
  rm -rf "$5/ort-out"
  cat >"$spec" <<SPEC
{"model": "$1", "inputs": [{"name": "input", "file": "$2", "type": "float32", "dims": [1, 3, 224, 224]}],
 "output_dir": "$5/ort-out", "repeat": $3, "threads": $4, "node_times": ${6:-false}}
SPEC
  node "$ORT_RUNNER" "$spec" >&2
}

# ort_ms MODEL INPUT REPEAT THREADS SCRATCH: the median latency (ms) of REPEAT runs.
ort_ms() {
  ort_run "$@"
  node -e 'const r = require(process.argv[1]); console.log(r.latency_ms.median.toFixed(2))' "$5/ort-out/outputs.json"
}

# ort_nodes_ms MODEL INPUT REPEAT THREADS SCRATCH REGEX: the mean kernel time per run (ms) of the
# nodes whose name matches REGEX, from ORT's profiler.
ort_nodes_ms() {
  ort_run "$1" "$2" "$3" "$4" "$5" true
  node -e 'const r = require(process.argv[1]), re = new RegExp(process.argv[2]); let t = 0;
    for (const [n, ms] of Object.entries(r.node_ms)) if (re.test(n)) t += ms;
    console.log(t.toFixed(2))' "$5/ort-out/outputs.json" "$6"
}
