#!/usr/bin/env bash
# Native prediction (patchcore::Model, no file I/O; bench/predict_bench.cpp) against
# ONNX Runtime on the exported model of the same trained models, one command, 2 threads
# each: resnet18 (random weights), 224x224, memory banks of 1000 and 10000 rows.
#
#   bash bench/native_vs_ort.sh        # needs scripts/build.sh and scripts/install-deps.sh first
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD_DIR:-build}"
BENCH="$ROOT/$BUILD/bench/predict_bench"
CLI="$ROOT/$BUILD/patchcore"
WORK="${TMPDIR:-/tmp}/patchcore-predict-bench"
REPEAT="${REPEAT:-50}"

"$BENCH" --benchmark_min_time=2 --benchmark_format=json --benchmark_out="$WORK.native.json" >/dev/null
for rows in 1000 10000; do
  model="$WORK/models/bank$rows"
  "$CLI" export --model "$model" --format onnx >/dev/null
  /usr/bin/python3 -c "import numpy as np; np.random.default_rng(0).standard_normal((1,3,224,224)).astype('<f4').tofile('$WORK/x.bin')"
  cat >"$WORK/spec-$rows.json" <<JSON
{"model": "$model/bank$rows.onnx", "output_dir": "$WORK/ort-$rows", "repeat": $REPEAT, "threads": 2,
 "inputs": [{"name": "input", "file": "$WORK/x.bin", "type": "float32", "dims": [1, 3, 224, 224]}]}
JSON
  mkdir -p "$WORK/ort-$rows"
  node "$ROOT/tests/runtime/run_onnx.js" "$WORK/spec-$rows.json" >/dev/null
done

/usr/bin/python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
native = {b["name"]: b["real_time"] for b in json.load(open(work + ".native.json"))["benchmarks"]}
print("| bank rows | native predict ms | ORT f32 ms (median) | ORT / native | native head share |")
print("|---|---|---|---|---|")
for rows in (1000, 10000):
    out = json.load(open(f"{work}/ort-{rows}/outputs.json"))
    ort = out["latency_ms"]["median"]
    nat = native[f"BM_Predict/{rows}/real_time"]
    head = 1 - native["BM_BackboneOnly/real_time"] / nat
    print(f"| {rows} | {nat:.1f} | {ort:.1f} | {ort / nat:.2f} | {head:.0%} |")
PY
