#!/usr/bin/env bash
# Per-image latency (batch 1) of the exported ONNX model in ONNX Runtime (CPU, f32 and f16 files)
# against native `patchcore predict`, measured in the same run, plus the .onnx file sizes.
#
#   bash bench/export_latency.sh
#   BACKBONES="resnet18" BANKS="1000" bash bench/export_latency.sh
#
# For each backbone (resnet18, wide_resnet50_2; layer2+layer3; 224x224; random:0 weights) and target
# memory-bank size (1k, 10k rows) it trains on $IMAGES generated images (784 patches per image at
# 224x224) with --coreset-ratio = bank / (IMAGES*784), then:
#  * native: wall time of `patchcore predict --batch-size 1 --threads $THREADS` on 1 image and on
#    1+$EXTRA images (fastest of $REPS runs each); per image = (t_many - t_one) / $EXTRA, so model
#    loading and process start cancel out. What remains per image: PNG decode, resize/normalise,
#    backbone, scoring, anomaly map, and writing the overlay PNG the CLI always writes.
#  * ONNX Runtime (onnxruntime-node, tests/runtime/run_onnx.js): session with intraOpNumThreads =
#    $THREADS, graph optimisation 'all', one warm-up run, then the median of $ORT_REPEAT timed runs on
#    an already-normalised [1,3,224,224] float32 input (no decode / pre-processing).
#  * f16: `patchcore export --model M --fp16 --format onnx` rewrites M/b.onnx; the f32 file is copied
#    first.
# Results: Markdown table on stdout and in $WORK/results.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PATCHCORE="${PATCHCORE:-$ROOT/build/patchcore}"
WORK="${WORK:-/tmp/patchcore-bench/export}"
BACKBONES="${BACKBONES:-resnet18 wide_resnet50_2}"
BANKS="${BANKS:-1000 10000}"
IMAGES="${IMAGES:-40}"
THREADS="${THREADS:-2}"
REPS="${REPS:-3}"
EXTRA="${EXTRA:-20}"
ORT_REPEAT="${ORT_REPEAT:-20}"

[[ -x "$PATCHCORE" ]] || { echo "no patchcore binary at $PATCHCORE (set PATCHCORE=...)" >&2; exit 1; }
source "$ROOT/bench/ort_lib.sh"

mkdir -p "$WORK"
data="$WORK/data"
if [[ ! -d "$data/train/good" || $(ls "$data/train/good" | wc -l) -ne $IMAGES ]]; then
  rm -rf "$data"
  "$PATCHCORE" make-demo-data --output "$data" --train-images "$IMAGES" --size 256 >&2
fi
# 1 image and 1+EXTRA images (test images first, then training images) for predict.
rm -rf "$WORK/one" "$WORK/many"; mkdir -p "$WORK/one" "$WORK/many"
mapfile -t pool < <(find "$data/test" "$data/train/good" -name '*.png' | sort)
cp "${pool[0]}" "$WORK/one/img000.png"
for ((i = 0; i <= EXTRA; ++i)); do cp "${pool[$i]}" "$WORK/many/$(printf 'img%03d.png' "$i")"; done

ort_input "$WORK/input.bin"

# Fastest wall time (seconds) of $REPS runs of a command.
fastest() {
  local best="" t0 t1 dt
  for ((r = 0; r < REPS; ++r)); do
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>"$WORK/last.err" || { echo "failed: $* ($(cat "$WORK/last.err"))" >&2; exit 1; }
    t1=$EPOCHREALTIME
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}')
    if [[ -z "$best" ]] || awk -v a="$dt" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$dt; fi
  done
  echo "$best"
}

echo "| backbone | bank rows | ONNX f32 | ONNX f16 (ratio) | native predict ms/img | ORT f32 ms | ORT f16 ms | ORT f32 / native | ORT f16 / native |" >"$WORK/results.md"
echo "|---|---|---|---|---|---|---|---|---|" >>"$WORK/results.md"
for backbone in $BACKBONES; do
  for bank in $BANKS; do
    ratio=$(awk -v b="$bank" -v n="$IMAGES" 'BEGIN{printf "%.6f", (b + 0.5) / (n * 784)}')
    model="$WORK/models-$backbone-$bank"
    echo "== $backbone bank $bank: train (ratio $ratio) $(date +%T)" >&2
    rm -rf "$model"
    "$PATCHCORE" train --data-dir "$data/train/good" --output "$model" --pattern-name b --backbone "$backbone" \
      --layers layer2 layer3 --image-size 224 224 --coreset-ratio "$ratio" --weights random:0 \
      --threads "$THREADS" --quiet >"$WORK/train-$backbone-$bank.log" 2>&1
    rows=$(sed -n 's/^ *memory bank *\([0-9]*\) rows.*/\1/p' "$WORK/train-$backbone-$bank.log")
    m="$model/b"
    cp "$m/b.onnx" "$m/b.f32.onnx"
    "$PATCHCORE" export --model "$m" --fp16 --format onnx >&2
    cp "$m/b.onnx" "$m/b.f16.onnx"
    [[ ! -e "$m/b.onnx.data" ]] || echo "warning: external data file present" >&2
    s32=$(stat -c %s "$m/b.f32.onnx"); s16=$(stat -c %s "$m/b.f16.onnx")

    echo "== $backbone bank $rows: native predict $(date +%T)" >&2
    pred=(--model "$m" --batch-size 1 --threads "$THREADS" --output "$WORK/pred")
    t1=$(fastest "$PATCHCORE" predict "${pred[@]}" --input "$WORK/one")
    tn=$(fastest "$PATCHCORE" predict "${pred[@]}" --input "$WORK/many")
    native=$(awk -v a="$t1" -v b="$tn" -v e="$EXTRA" 'BEGIN{printf "%.2f", (b - a) / e * 1000}')
    echo "   1 image ${t1}s, $((EXTRA + 1)) images ${tn}s -> ${native} ms/image" >&2

    echo "== $backbone bank $rows: ONNX Runtime $(date +%T)" >&2
    o32=$(ort_ms "$m/b.f32.onnx" "$WORK/input.bin" "$ORT_REPEAT" "$THREADS" "$WORK")
    o16=$(ort_ms "$m/b.f16.onnx" "$WORK/input.bin" "$ORT_REPEAT" "$THREADS" "$WORK")
    echo "   f32 ${o32} ms, f16 ${o16} ms" >&2
    awk -v bb="$backbone" -v r="$rows" -v s32="$s32" -v s16="$s16" -v n="$native" -v a="$o32" -v b="$o16" 'BEGIN{
      printf "| %s | %d | %.1f MB | %.1f MB (%.2f) | %.1f | %.1f | %.1f | %.2f | %.2f |\n",
        bb, r, s32/1e6, s16/1e6, s16/s32, n, a, b, a/n, b/n }' >>"$WORK/results.md"
  done
done
cat "$WORK/results.md"
