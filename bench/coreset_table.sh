#!/usr/bin/env bash
# Coreset selection on real features: the pruned greedy vs the full-scan greedy patchcore
# shipped before (same process, same projection, same selection checked) vs a PyTorch
# torch.mv loop (bench/coreset_torch_mv.py on the same projection).
#
#   bash bench/coreset_table.sh                  # both cases below
#   CASES=magnetic bash bench/coreset_table.sh   # only the magnetic tile case
#   THREADS=1 REF_STEPS=300 bash bench/coreset_table.sh
#
# Cases: "magnetic": 209 magnetic tile images (../shared/data), MobileNet v1 0.75 real weights,
# ratio 0.1 (163,856 rows); "wrn1000": 1000 generated copper-wire images, wide_resnet50_2 with
# random weights, ratio 0.01 (784,000 rows). The full scan costs the same at every step, so it
# is timed on its first REF_STEPS steps; the pruned greedy runs the whole selection.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
SHARED="${SHARED:-$ROOT/../shared}"
WORK="${WORK:-/tmp/patchcore-bench/coreset}"
CASES="${CASES:-magnetic wrn1000}"
THREADS="${THREADS:-2}"
REF_STEPS="${REF_STEPS:-300}"
mkdir -p "$WORK"
[[ -x "$BUILD/bench/coreset_real_bench" ]] || { echo "build first: ninja -C $BUILD bench/coreset_real_bench" >&2; exit 1; }
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "installing python3-torch (Debian) for the PyTorch reference" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch >&2
fi

run_case() {
  local name=$1 ratio=$2; shift 2
  local npy="$WORK/$name.npy"
  local source=("$@")
  [[ -s "$npy" ]] && source=(--npy "$npy")  # features extracted once, reused
  echo "== $name (ratio $ratio, $THREADS threads)"
  "$BUILD/bench/coreset_real_bench" "${source[@]}" --ratio "$ratio" --threads "$THREADS" \
      --reference-steps "$REF_STEPS" --save-npy "$npy.tmp" | tee "$WORK/$name.txt"
  mv "$npy.tmp" "$npy"
  /usr/bin/python3 "$ROOT/bench/coreset_torch_mv.py" "$npy" --ratio "$ratio" --steps "$REF_STEPS" \
      --threads "$THREADS" | tee "$WORK/$name.torch.json"
  local ours torch
  ours=$(sed -n 's/^pruned greedy *: *[0-9.]* s *\([0-9.]*\) ms\/step.*/\1/p' "$WORK/$name.txt")
  torch=$(sed -n 's/.*"ms_per_step": \([0-9.]*\).*/\1/p' "$WORK/$name.torch.json")
  awk -v o="$ours" -v t="$torch" 'BEGIN { printf "speed-up over the PyTorch torch.mv loop: %.2fx (%.3f vs %.3f ms/step)\n", t / o, o, t }'
}

for c in $CASES; do
  case $c in
    magnetic)
      [[ -d "$SHARED/data/magnetic_tile" ]] || { echo "skipped magnetic: $SHARED/data/magnetic_tile absent"; continue; }
      run_case magnetic 0.1 --data-dir "$SHARED/data/magnetic_tile/train/good" --images 209 \
          --backbone mobilenet_v1_0.75 --weights "$SHARED/weights/mobilenet_v1_0.75_224_tfjs" ;;
    wrn1000)
      [[ -d "$WORK/demo1000" ]] || "$BUILD/patchcore" make-demo-data --output "$WORK/demo1000" --train-images 1000 --size 256
      run_case wrn1000 0.01 --data-dir "$WORK/demo1000/train/good" --backbone wide_resnet50_2 --weights random:0 ;;
    *) echo "unknown case $c" >&2; exit 1 ;;
  esac
done
