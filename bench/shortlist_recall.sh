#!/usr/bin/env bash
# How closely --search shortlist reproduces exact search on real features, per setting: trains on
# the shared magnetic tiles with the real MobileNet v1 0.75 weights (576 channels) and reads the
# agreement training measures on its held-out good images (recall@1, largest patch / image score
# errors; pipeline/search_agreement.h) from config.yaml. Not a timing benchmark.
#
#   bash bench/shortlist_recall.sh
#   SETTINGS="16:8 32:8" IMAGES=100 RATIO=0.05 bash bench/shortlist_recall.sh
#
# SETTINGS: DIMS:SIZE pairs (--shortlist-dims, --shortlist-size). IMAGES training images spread over
# train/good, --holdout-fraction 0.15 (the default) of them held out. Results: Markdown table on
# stdout and in $WORK/results.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PATCHCORE="${PATCHCORE:-$ROOT/build/patchcore}"
SHARED="${SHARED:-$ROOT/../shared}"
WORK="${WORK:-/tmp/patchcore-bench/shortlist-recall}"
SETTINGS="${SETTINGS:-8:8 16:8 32:4 32:8 32:16 64:8 96:8 128:8}"
IMAGES="${IMAGES:-100}"
RATIO="${RATIO:-0.05}"

tiles="$SHARED/data/magnetic_tile/train/good"
weights="$SHARED/weights/mobilenet_v1_0.75_224_tfjs"
[[ -d "$tiles" && -d "$weights" ]] || { echo "skipped: $tiles or $weights is absent" >&2; exit 0; }
[[ -x "$PATCHCORE" ]] || { echo "no patchcore binary at $PATCHCORE (set PATCHCORE=...)" >&2; exit 1; }

rm -rf "$WORK"; mkdir -p "$WORK/train"
mapfile -t all < <(find "$tiles" -maxdepth 1 -type f | sort)
step=$(( ${#all[@]} / IMAGES )); (( step >= 1 )) || step=1
for ((i = 0, n = 0; i < ${#all[@]} && n < IMAGES; i += step, ++n)); do ln -s "${all[$i]}" "$WORK/train/"; done

yaml_value() { sed -n "s/^ *$1: *//p" "$2" | head -1; }
number() { awk -v x="$(yaml_value "$1" "$2")" 'BEGIN{printf (x == 0 ? "0" : x < 0.001 ? "%.1e" : "%.4f"), x}'; }
{
  echo "| dims | rows re-ranked | recall@1 | largest patch-score error | largest image-score error | meets the bars | measured on |"
  echo "|---|---|---|---|---|---|---|"
} >"$WORK/results.md"
for setting in $SETTINGS; do
  dims=${setting%:*} size=${setting#*:}
  echo "== --shortlist-dims $dims --shortlist-size $size $(date +%T)" >&2
  "$PATCHCORE" train --data-dir "$WORK/train" --output "$WORK/out" --pattern-name "d$dims-k$size" \
    --backbone mobilenet_v1_0.75 --weights "$weights" --coreset-ratio "$RATIO" --search shortlist \
    --shortlist-dims "$dims" --shortlist-size "$size" --quiet >"$WORK/train-$dims-$size.log" 2>&1
  y="$WORK/out/d$dims-k$size/config.yaml"
  echo "| $dims | $size | $(number recall_at_1 "$y") | $(number max_patch_score_error "$y") |" \
       "$(number max_image_score_error "$y") | $(yaml_value meets_bars "$y") | $(yaml_value recall_measured_on "$y") |" \
    >>"$WORK/results.md"
done
echo "(mobilenet_v1_0.75, $IMAGES magnetic tiles, --coreset-ratio $RATIO: $(sed -n 's/^ *memory bank *\([0-9]*\) rows.*/\1/p' \
  "$WORK/train-$dims-$size.log") bank rows of 576 channels)" >>"$WORK/results.md"
cat "$WORK/results.md"
