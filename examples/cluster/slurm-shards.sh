#!/usr/bin/env bash
# Sharded training as a Slurm job array, with the merge as a dependent job (docs/scaling.md):
#
#   jid=$(sbatch --parsable --array=0-2 slurm-shards.sh)          # 3 shards
#   sbatch --dependency=afterok:$jid slurm-shards.sh merge 3       # then the merge
#
# DATA (good images), MODELS (output), PATTERN and TRAIN_OPTIONS (the model settings, e.g.
# "--backbone resnet18 --coreset-ratio 0.01") come from the environment (sbatch passes it on);
# both folders must be on storage every node sees. Each step runs the project's Docker image
# (PATCHCORE_IMAGE, default patchcore-trainer) with DATA and MODELS mounted; set PATCHCORE_BIN to
# an installed `patchcore` to run it directly instead.
#SBATCH --job-name=patchcore
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --output=patchcore-%A_%a.log
set -euo pipefail
: "${DATA:?set DATA to the folder of good images}" "${MODELS:?set MODELS to the output folder}"
PATTERN=${PATTERN:-crimp}
threads=${SLURM_CPUS_PER_TASK:-0}

# patchcore ARGS..., with the data at $data and the output at $models as the command sees them.
if [[ -n ${PATCHCORE_BIN:-} ]]; then
  data=$DATA models=$MODELS
  patchcore() { "$PATCHCORE_BIN" "$@"; }
else
  data=/workspace/data models=/workspace/output
  patchcore() {
    docker run --rm --user "$(id -u):$(id -g)" -v "$DATA:$data:ro" -v "$MODELS:$models" \
      "${PATCHCORE_IMAGE:-patchcore-trainer}" "$@"
  }
fi

if [[ ${1:-} == merge ]]; then
  count=${2:?usage: slurm-shards.sh merge SHARD_COUNT}
  parts=()
  for ((i = 0; i < count; i++)); do parts+=("$models/$PATTERN.shard-$i-of-$count"); done
  patchcore merge "${parts[@]}" --data-dir "$data" --output "$models" --pattern-name "$PATTERN" \
    --threads "$threads" --quiet
else
  : "${SLURM_ARRAY_TASK_ID:?submit as an array job: sbatch --array=0-(N-1) slurm-shards.sh}"
  count=${SLURM_ARRAY_TASK_COUNT:?submit as an array job: sbatch --array=0-(N-1) slurm-shards.sh}
  patchcore train --data-dir "$data" --output "$models" --pattern-name "$PATTERN" \
    --shard "$SLURM_ARRAY_TASK_ID/$count" --threads "$threads" --quiet ${TRAIN_OPTIONS:-}
fi
