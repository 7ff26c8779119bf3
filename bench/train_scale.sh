#!/usr/bin/env bash
# Training at scale under a memory cap (`patchcore train --max-memory`): wall time per phase,
# peak RSS, the feature file's size on disk, the coverage radius and whether the memory bank is
# the one the all-in-RAM run of the same images selected. logs/N-CAP.rss: RSS (MiB) every second.
#
#   bash bench/train_scale.sh                               # 1000 images under three caps, 3000 under 8G
#   RUNS="10000:8G" bash bench/train_scale.sh               # the 10,000-image goal (about 1.5 h on 2 cores, 48 GB of disk)
#   RUNS="1000:- 1000:3G" bash bench/train_scale.sh         # N:CAP pairs ("-": the default cap)
#
# Settings: wide_resnet50_2 with random weights (random:0), layer2+layer3, 224x224, coreset ratio
# $RATIO (0.001), batch 32, $THREADS threads; generated copper-wire images
# (`patchcore make-demo-data --size 256`). Peak RSS from /usr/bin/time -v; the feature file is
# unlinked at creation, so its size is sampled every second from /proc/PID/fd.
# Results: a Markdown table on stdout and in $WORK/results.md; logs in $WORK/logs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PATCHCORE="${PATCHCORE:-$ROOT/build/patchcore}"
WORK="${WORK:-/tmp/patchcore-bench/scale}"
RUNS="${RUNS:-1000:- 1000:3G 1000:1.8G 3000:8G}"
THREADS="${THREADS:-2}"
RATIO="${RATIO:-0.001}"

[[ -x "$PATCHCORE" ]] || { echo "no patchcore binary at $PATCHCORE (set PATCHCORE=...)" >&2; exit 1; }
mkdir -p "$WORK/logs"

# Largest size of the process's "patch-features" file while it runs; its RSS every second
# (seconds since start, MiB) into $3.
sample_feature_file() {
  local pid=$1 out=$2 series=$3 largest=0 size f start=$SECONDS
  : >"$series"
  while kill -0 "$pid" 2>/dev/null; do
    echo "$((SECONDS - start)) $(awk '/^VmRSS/ {print int($2 / 1024)}' /proc/"$pid"/status 2>/dev/null)" >>"$series"
    for f in /proc/"$pid"/fd/*; do
      if [[ "$(readlink "$f" 2>/dev/null)" == *patch-features* ]]; then
        size=$(stat -L -c %s "$f" 2>/dev/null || echo 0)
        (( size > largest )) && largest=$size
      fi
    done
    echo "$largest" >"$out"
    sleep 1
  done
}

# The memory bank of a checkpoint (safetensors: 8-byte header size, JSON header, data) as a hash.
bank_hash() {
  /usr/bin/python3 - "$1" <<'PY'
import hashlib, json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    start, end = header["memory_bank"]["data_offsets"]
    f.seek(8 + n + start)
    print(hashlib.sha256(f.read(end - start)).hexdigest()[:16])
PY
}

yaml() { grep -E "^ *$2:" "$1" | head -1 | sed -E 's/^[^:]*: *//'; }
gib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1073741824 }'; }

table="| N | cap | features | projection | bank rows | peak RSS (GiB) | estimated peak (GiB) | feature file (GiB) | features s | coreset s | scoring s | total s | coverage radius | bank = all-in-RAM run |"
table+=$'\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'
declare -A reference_bank
for run in $RUNS; do
  N=${run%%:*} CAP=${run#*:}
  data="$WORK/data-$N"
  if [[ ! -d "$data/train/good" || $(ls "$data/train/good" | wc -l) -ne $N ]]; then
    rm -rf "$data"
    "$PATCHCORE" make-demo-data --output "$data" --train-images "$N" --size 256 >&2
  fi
  name="$N-${CAP//[^0-9A-Za-z.]/}"
  model="$WORK/model-$name"
  rm -rf "$model"
  cap_args=()
  [[ "$CAP" != "-" ]] && cap_args=(--max-memory "$CAP")
  echo "== N=$N cap $CAP ($(date +%T))" >&2
  /usr/bin/time -v -o "$WORK/logs/$name.time" \
    "$PATCHCORE" train --data-dir "$data/train/good" --output "$model" --pattern-name m \
    --backbone wide_resnet50_2 --layers layer2 layer3 --image-size 224 224 --coreset-ratio "$RATIO" \
    --batch-size 32 --weights random:0 --threads "$THREADS" --quiet "${cap_args[@]}" \
    >"$WORK/logs/$name.out" 2>"$WORK/logs/$name.err" &
  pid=$!
  sleep 0.5
  # /usr/bin/time forks the trainer: sample the child.
  child=$(pgrep -P "$pid" | head -1 || true)
  sample_feature_file "${child:-$pid}" "$WORK/logs/$name.file" "$WORK/logs/$name.rss" &
  sampler=$!
  status=0
  wait "$pid" || status=$?
  wait "$sampler" 2>/dev/null || true
  grep "memory plan" "$WORK/logs/$name.err" >&2 || true
  if [[ $status -ne 0 ]]; then
    echo "   failed ($status): $(tail -1 "$WORK/logs/$name.err")" >&2
    table+=$'\n'"| $N | $CAP | failed: $(tail -1 "$WORK/logs/$name.err") |"
    continue
  fi
  cfg="$model/m/config.yaml"
  rss_kb=$(grep "Maximum resident set size" "$WORK/logs/$name.time" | awk '{print $NF}')
  hash=$(bank_hash "$model/m/checkpoint.safetensors")
  same="-"
  if [[ "$CAP" == "-" ]]; then reference_bank[$N]=$hash
  elif [[ -n "${reference_bank[$N]:-}" ]]; then [[ "$hash" == "${reference_bank[$N]}" ]] && same=yes || same=no
  fi
  table+=$'\n'"| $N | $CAP | $(yaml "$cfg" features) | $(yaml "$cfg" projection) | $(yaml "$cfg" memory_bank_rows) | $(gib $((rss_kb * 1024))) | $(gib "$(yaml "$cfg" estimated_peak_bytes)") | $(gib "$(cat "$WORK/logs/$name.file" 2>/dev/null || echo 0)") | $(printf %.0f "$(yaml "$cfg" feature_extraction)") | $(printf %.1f "$(yaml "$cfg" coreset)") | $(printf %.0f "$(yaml "$cfg" scoring_training_images)") | $(grep "Elapsed (wall" "$WORK/logs/$name.time" | awk '{print $NF}') | $(printf %.4f "$(yaml "$cfg" coverage_radius)") | $same |"
  echo "$table" | tail -1 >&2
done
echo "$table" | tee "$WORK/results.md"
