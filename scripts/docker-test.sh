#!/usr/bin/env bash
# The Docker image, tested for real: starts a private Docker daemon, creates the base image if it is
# missing (debootstrap, since no registry can be reached here), builds the image, trains through
# docker/docker_run_with_data.sh in mount and copy mode on generated demo data (--weights random:0),
# checks the model folders (files, owner), predicts through the image, checks the script's errors,
# trains with --roi through the X11 forwarding of the script (a virtual display, Xvfb, whose window
# xdotool drives), and stops the daemon it started. Needs root (dockerd). From scratch ~20 min on 2 idle cores (~30 min
# under load), nearly all of it the image build; with Docker's cache (same PATCHCORE_DOCKER_ROOT) and
# unchanged sources, minutes.
#
#   bash scripts/docker-test.sh [--if-enabled]
#     --if-enabled   (ctest docker_image) skip, exit 77, unless PATCHCORE_DOCKER_TEST=1
#   PATCHCORE_DOCKER_ROOT  daemon socket, data root, base rootfs (default /tmp/pc-docker; keeps the cache)
#   BASE_IMAGE             the Dockerfile's base image (default debian:bookworm-slim)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --if-enabled && ${PATCHCORE_DOCKER_TEST:-} != 1 ]]; then
  echo "docker_image: skipped; set PATCHCORE_DOCKER_TEST=1 to build the Docker image and test it (~20-30 min, root needed)"
  exit 77
fi
t0=$(date +%s)
step() { echo; echo "== [$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "docker-test: FAIL: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || fail "needs root: it starts its own dockerd (run: sudo bash scripts/docker-test.sh)"

ROOT=${PATCHCORE_DOCKER_ROOT:-/tmp/pc-docker}
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
IMAGE=patchcore-trainer:test
export DOCKER_HOST=unix://$ROOT/docker.sock
export DOCKER_BUILDKIT=0   # the classic builder: Debian's docker.io has no buildx plugin
mkdir -p "$ROOT"

step "packages: docker.io, debootstrap"
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q --no-install-recommends docker.io debootstrap
fi

step "Docker daemon on $DOCKER_HOST"
started_daemon=0 work=""
cleanup() {
  [[ -n $work ]] && rm -rf "$work"
  if ((started_daemon)) && [[ -f $ROOT/dockerd.pid ]]; then
    local pid; pid=$(cat "$ROOT/dockerd.pid")
    echo "docker-test: stopping dockerd (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    # dockerd leaves its default network namespace mounted under the exec root
    kill -0 "$pid" 2>/dev/null || umount "$ROOT/exec/netns/default" 2>/dev/null || true
  fi
}
trap cleanup EXIT
if docker info >/dev/null 2>&1; then
  echo "a daemon already answers there: using it (and leaving it running)"
else
  dockerd --storage-driver vfs -H "$DOCKER_HOST" --data-root "$ROOT/root" --exec-root "$ROOT/exec" \
    --pidfile "$ROOT/dockerd.pid" --bridge=none --iptables=false --ip-masq=false >"$ROOT/dockerd.log" 2>&1 &
  started_daemon=1
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 "$ROOT/dockerd.log"; fail "dockerd did not start (log: $ROOT/dockerd.log)"; }
fi

step "base image $BASE_IMAGE"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "present"
else
  # No registry here: make it from Debian's mirror (a normal machine's docker build pulls it instead).
  rootfs=$ROOT/rootfs-bookworm
  [[ -x $rootfs/usr/bin/apt-get ]] || { rm -rf "$rootfs"; debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian; }
  tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE"
fi

step "docker build -t $IMAGE ."
b0=$(date +%s)
docker build --network host --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" .
build_s=$(( $(date +%s) - b0 ))
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "image build: ${build_s}s; runtime image: $((size / 1000000)) MB"
if docker run --rm --entrypoint sh "$IMAGE" -c 'command -v gcc g++ cc c++ cmake ninja' | grep .; then
  fail "the runtime image holds build tools (above)"
fi

# Output owned by the invoking user; as root, a separate uid shows the files are not simply root's.
uid=$(id -u) gid=$(id -g)
((uid == 0)) && uid=4321 gid=4321
export HOST_UID=$uid HOST_GID=$gid
work=$(mktemp -d "${TMPDIR:-/tmp}/patchcore-docker.XXXXXX")
chmod 755 "$work"; mkdir -p "$work/cache"; chown "$uid:$gid" "$work" "$work/cache"
runsh=(bash docker/docker_run_with_data.sh)
train_opts=(--backbone resnet18 --weights random:0 --image-size 64 64 --coreset-ratio 0.1 --batch-size 8)

step "demo data through the image (make-demo-data subcommand)"
docker run --rm --user "$uid:$gid" -v "$work:/w" "$IMAGE" make-demo-data --output /w/data --train-images 12
[[ -d $work/data ]] || fail "make-demo-data wrote nothing"

check_model() {  # OUTPUT_DIR PATTERN
  local dir=$1/$2 f
  for f in "$2.xml" "$2.bin" "$2.onnx" checkpoint.safetensors config.yaml norm_stats.txt; do
    [[ -s $dir/$f ]] || fail "model folder $dir lacks $f"
  done
  if find "$1" ! -user "$uid" | grep .; then fail "files above in $1 are not owned by uid $uid"; fi
  if find "$1" -maxdepth 1 -name '.*partial*' | grep .; then fail "a partial folder was left in $1"; fi
  echo "$dir: all files present, owner uid $uid"
}

step "docker_run_with_data.sh, mount mode"
mkdir -p "$work/out-mount" && chown "$uid:$gid" "$work/out-mount"
"${runsh[@]}" "$work/data" "$work/out-mount" --image "$IMAGE" --cache "$work/cache" -- --pattern-name wire "${train_opts[@]}" \
  | tee "$work/mount.log"
grep -q "Model folder: $work/out-mount/wire" "$work/mount.log" || fail "the script did not say where the model folder is"
check_model "$work/out-mount" wire

step "docker_run_with_data.sh, copy mode"
mkdir -p "$work/out-copy" && chown "$uid:$gid" "$work/out-copy"
"${runsh[@]}" "$work/data" "$work/out-copy" --copy --image "$IMAGE" --cache "$work/cache" --pattern-name wire "${train_opts[@]}"
check_model "$work/out-copy" wire
cmp "$work/out-mount/wire/norm_stats.txt" "$work/out-copy/wire/norm_stats.txt" \
  || fail "copy mode trained on different data than mount mode (norm_stats.txt differ)"

step "predict through the image"
docker run --rm --user "$uid:$gid" -v "$work/data:/workspace/data:ro" -v "$work/out-mount:/workspace/output" "$IMAGE" \
  predict --model /workspace/output/wire --input /workspace/data/test --output /workspace/output/pred
n_test=$(find "$work/data/test" -type f -name '*.png' | wc -l)
python3 - "$work/out-mount/pred/results.json" "$n_test" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
assert len(r) == int(sys.argv[2]) > 0, f"{len(r)} results for {sys.argv[2]} test images"
assert all(math.isfinite(e["score"]) for e in r), r
print(f"results.json: {len(r)} images, {sum(e['anomalous'] for e in r)} anomalous")
PY
check_model "$work/out-mount" wire

step "errors"
set +e
"${runsh[@]}" "$work/no-such-data" "$work/out-err" --image "$IMAGE" -- --pattern-name x 2>"$work/err.txt"; rc=$?
set -e
cat "$work/err.txt"
((rc != 0)) || fail "a missing data folder was accepted"
grep -q "data folder '$work/no-such-data' does not exist" "$work/err.txt" || fail "no clear error for a missing data folder"
# The script's exit code is training's: compare with the same bad option straight through the image.
set +e
docker run --rm --user "$uid:$gid" -v "$work/data:/workspace/data:ro" -v "$work/out-mount:/workspace/output" "$IMAGE" \
  --pattern-name bad --coreset-ratio 7 "${train_opts[@]:0:4}" >/dev/null 2>&1; direct=$?
"${runsh[@]}" "$work/data" "$work/out-mount" --image "$IMAGE" -- --pattern-name bad --coreset-ratio 7 "${train_opts[@]:0:4}"; via=$?
env -u DISPLAY bash docker/docker_run_with_data.sh "$work/data" "$work/out-mount" --image "$IMAGE" -- --pattern-name r --roi 2>"$work/roi.txt"; roi_rc=$?
set -e
((direct != 0 && via == direct)) || fail "exit code: script $via, training $direct (expected equal, non-zero)"
cat "$work/roi.txt"
((roi_rc != 0)) && grep -q -- "--roi-rect" "$work/roi.txt" || fail "--roi without a display: no advice to use --roi-rect"

step "docker_run_with_data.sh --roi: X11 forwarded to a virtual display (Xvfb), driven with xdotool"
command -v Xvfb >/dev/null && command -v xdotool >/dev/null \
  || fail "Xvfb and xdotool are needed for the --roi window (Debian xvfb, xdotool; scripts/install-deps.sh installs them)"
display=$((200 + $$ % 300))
Xvfb ":$display" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 & xvfb_pid=$!
for _ in $(seq 100); do [[ -e /tmp/.X11-unix/X$display ]] && break; sleep 0.1; done
mkdir -p "$work/out-roi" && chown "$uid:$gid" "$work/out-roi"
DISPLAY=":$display" "${runsh[@]}" "$work/data" "$work/out-roi" --image "$IMAGE" --cache "$work/cache" \
  -- --pattern-name roi "${train_opts[@]}" --roi >"$work/roi-x11.log" 2>&1 & run_pid=$!
# Drag the rectangle x=60 y=50 w=150 h=110 (image pixels; the window shows a 44-pixel hint band above
# the image, src/data/roi.h kRoiHintBand), then ENTER, as a person would.
wid=$(DISPLAY=":$display" timeout 180 xdotool search --sync --onlyvisible --name 'patchcore --roi' | head -1) || true
if [[ -z $wid ]]; then
  kill "$run_pid" "$xvfb_pid" 2>/dev/null || true; cat "$work/roi-x11.log"
  fail "no --roi window appeared on the forwarded display"
fi
(
  export DISPLAY=":$display"
  sleep 0.5
  xdotool mousemove --window "$wid" 60 94; sleep 0.2; xdotool mousedown 1; sleep 0.2
  for s in 1 2 3 4 5 6; do xdotool mousemove --window "$wid" $((60 + 150 * s / 6)) $((94 + 110 * s / 6)); sleep 0.1; done
  xdotool mouseup 1; sleep 0.3
  xdotool windowfocus --sync "$wid"; sleep 0.1; xdotool key Return
)
set +e
timeout 600 tail --pid="$run_pid" -f /dev/null; wait "$run_pid"; roi_x11_rc=$?
set -e
kill "$xvfb_pid" 2>/dev/null || true
cat "$work/roi-x11.log"
((roi_x11_rc == 0)) || fail "training with --roi through the forwarded display failed (exit $roi_x11_rc)"
check_model "$work/out-roi" roi
python3 - "$work/out-roi/roi/roi/roi.json" <<'PY'
import json, sys
rect = json.load(open(sys.argv[1]))["rect"]
assert rect == [60, 50, 150, 110], f"roi.json rect {rect}, dragged [60, 50, 150, 110]"
print(f"roi.json: rect {rect} as dragged in the forwarded window")
PY

step "sharded training through the image: examples/cluster/slurm-shards.sh as 3 array tasks, then its merge"
mkdir -p "$work/out-slurm"
for task in 0 1 2 merge; do
  args=(); [[ $task == merge ]] && args=(merge 3)
  DATA="$work/data" MODELS="$work/out-slurm" PATTERN=wire PATCHCORE_IMAGE="$IMAGE" TRAIN_OPTIONS="${train_opts[*]}" \
    SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_COUNT=3 bash examples/cluster/slurm-shards.sh "${args[@]}"
done
for f in wire.xml wire.onnx norm_stats.txt; do [[ -s $work/out-slurm/wire/$f ]] || fail "the Slurm example's merge wrote no $f"; done

step "sharded training through the image: the pods of examples/cluster/kubernetes-*.yaml, their args as Kubernetes passes them"
mkdir -p "$work/out-k8s"
k8s_args() {  # FILE [INDEX]: the container's args, one per line, $(JOB_COMPLETION_INDEX) expanded
  python3 - "$1" "${2:-}" <<'PY'
import sys, yaml
args = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]["args"]
print("\n".join(a.replace("$(JOB_COMPLETION_INDEX)", sys.argv[2]) for a in args))
PY
}
pod() {  # ARGS...: one pod of the examples, data at /data, models at /models
  docker run --rm -v "$work/data:/data:ro" -v "$work/out-k8s:/models" "$IMAGE" "$@"
}
for i in 0 1 2; do
  mapfile -t args < <(k8s_args examples/cluster/kubernetes-shards.yaml "$i")
  pod "${args[@]}" "${train_opts[@]}"
done
mapfile -t args < <(k8s_args examples/cluster/kubernetes-merge.yaml)
pod "${args[@]}"
for f in crimp.xml crimp.onnx norm_stats.txt; do [[ -s $work/out-k8s/crimp/$f ]] || fail "the Kubernetes example's merge wrote no $f"; done

step "OK: image build ${build_s}s, runtime image $((size / 1000000)) MB, total $(( $(date +%s) - t0 ))s"
