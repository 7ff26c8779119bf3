#!/usr/bin/env bash
# The main job on a built-in default: installs the dependencies, builds, generates a
# small copper-wire inspection data set, trains a model on its good images and
# predicts the test images (scores, heat maps, results.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh

OUT=${DEMO_DIR:-out/demo}
BACKBONE=${DEMO_BACKBONE:-resnet18}
CLI=./${BUILD_DIR:-build}/patchcore
"$CLI" make-demo-data --output "$OUT/data" --train-images 100

# Pretrained weights come from the cache or a download; offline machines have
# neither, so the demo falls back to seeded random weights *explicitly*, and says so.
WEIGHTS_ARGS=()
if ! "$CLI" fetch-weights --backbone "$BACKBONE" >/dev/null 2>&1; then
  cat <<BANNER
##########################################################################
#  No pretrained $BACKBONE weights could be found or downloaded (offline?). #
#  This demo runs with --weights random:0: a seeded RANDOM backbone.     #
#  Scores are still meaningful for this synthetic data, but for real     #
#  inspection use pretrained weights (see README, "Backbone weights").   #
##########################################################################
BANNER
  WEIGHTS_ARGS=(--weights random:0)
fi

"$CLI" train --data-dir "$OUT/data" --output "$OUT/models" --pattern-name copper_wire \
  --backbone "$BACKBONE" --coreset-ratio 0.02 "${WEIGHTS_ARGS[@]}"
"$CLI" predict --model "$OUT/models/copper_wire" --input "$OUT/data/test" --output "$OUT/predictions" --save-maps
echo
echo "Model:       $OUT/models/copper_wire  (checkpoint.safetensors, config.yaml, norm_stats.txt)"
echo "Predictions: $OUT/predictions/results.json, heat maps in $OUT/predictions/overlays/"
