#!/usr/bin/env bash
# Native prediction (patchcore::Model::predict of one image, no file I/O; bench/predict_bench.cpp)
# against ONNX Runtime on the exported .onnx of the same trained models, 2 threads each,
# 224x224, random weights. Native and ORT runs alternate, ROUNDS times, and the table
# shows the median of each side, so that both see the same machine load.
#
#   bash bench/native_vs_ort.sh                                   # resnet18 + wide_resnet50_2, 1k/10k/100k rows
#   NETS=resnet18 BANKS="1000 10000" ROUNDS=3 bash bench/native_vs_ort.sh
#
# The models are trained on first use into $WORK/models (the 100k-row banks take minutes;
# delete $WORK to retrain). Needs scripts/build.sh and scripts/install-deps.sh first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD_DIR:-build}"
BENCH="$ROOT/$BUILD/bench/predict_bench"
CLI="$ROOT/$BUILD/patchcore"
WORK="${TMPDIR:-/tmp}/patchcore-predict-bench"
NETS="${NETS:-resnet18 wide_resnet50_2}"
BANKS="${BANKS:-1000 10000 100000}"
ROUNDS="${ROUNDS:-3}"
OUT="$WORK/native-vs-ort"
rm -rf "$OUT" && mkdir -p "$OUT"

net_index() { case "$1" in resnet18) echo 0 ;; wide_resnet50_2) echo 1 ;; *) echo "unknown net $1" >&2; exit 2 ;; esac; }
ort_repeat() { case "$1" in 100000) echo 5 ;; 10000) echo 15 ;; *) echo 30 ;; esac; }

for net in $NETS; do
  for rows in $BANKS; do
    name="$net-bank$rows"
    # First run trains the model if needed (not timed), then export it for ORT.
    "$BENCH" --benchmark_filter="BM_Predict/net:$(net_index "$net")/bank:$rows/" --benchmark_min_time=0.01 >/dev/null
    "$CLI" export --model "$WORK/models/$name" --format onnx >/dev/null
    cat >"$OUT/spec-$name.json" <<JSON
{"model": "$WORK/models/$name/$name.onnx", "output_dir": "$OUT/ort-$name", "repeat": $(ort_repeat "$rows"), "threads": 2,
 "inputs": [{"name": "input", "file": "$OUT/x.bin", "type": "float32", "dims": [1, 3, 224, 224]}]}
JSON
  done
done

# ORT's input: the image native prediction scores (predict_bench's test image), resized and
# ImageNet-normalised like the model's pre-processing (PIL's bilinear resize, not OpenCV's: the
# pixels differ slightly, the content is the same). The native search skips most of the bank
# for patches close to it, so both sides must see the same kind of image.
/usr/bin/python3 - "$WORK/data-40/test/scratch/000.png" "$OUT/x.bin" <<'PY'
import sys
import numpy as np
from PIL import Image
rgb = np.asarray(Image.open(sys.argv[1]).convert("RGB").resize((224, 224), Image.BILINEAR), dtype=np.float32) / 255
x = (rgb - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
x.transpose(2, 0, 1)[None].astype("<f4").tofile(sys.argv[2])
PY

for round in $(seq "$ROUNDS"); do
  for net in $NETS; do
    for rows in $BANKS; do
      name="$net-bank$rows"
      "$BENCH" --benchmark_filter="BM_Predict/net:$(net_index "$net")/bank:$rows/" --benchmark_min_time=1 \
        --benchmark_format=json --benchmark_out="$OUT/native-$name-$round.json" >/dev/null
      node "$ROOT/tests/runtime/run_onnx.js" "$OUT/spec-$name.json" >/dev/null
      cp "$OUT/ort-$name/outputs.json" "$OUT/ort-$name-$round.json"
    done
  done
done

/usr/bin/python3 - "$OUT" "$ROUNDS" "$NETS" "$BANKS" <<'PY'
import json, statistics, sys
out, rounds, nets, banks = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
print("| backbone | bank rows | native predict ms | ORT f32 ms | ORT / native |")
print("|---|---|---|---|---|")
for net in nets:
    for rows in banks:
        name = f"{net}-bank{rows}"
        native = [json.load(open(f"{out}/native-{name}-{r}.json"))["benchmarks"][0]["real_time"] for r in range(1, rounds + 1)]
        ort = [json.load(open(f"{out}/ort-{name}-{r}.json"))["latency_ms"]["median"] for r in range(1, rounds + 1)]
        n, o = statistics.median(native), statistics.median(ort)
        print(f"| {net} | {rows} | {n:.1f} | {o:.1f} | {o / n:.2f} |")
PY
