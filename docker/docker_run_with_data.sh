#!/usr/bin/env bash
# Trains a patchcore model in the Docker image and leaves the model folder on the host.
#
#   docker/docker_run_with_data.sh DATA_DIR OUTPUT_DIR [--copy] [--image NAME] [--cache DIR] [--] [train options]
#
#   DATA_DIR     folder with the good images (DATA_DIR/, DATA_DIR/good/ or DATA_DIR/train/good/)
#   OUTPUT_DIR   where OUTPUT_DIR/PATTERN/ is written (created if missing)
#   --copy       copy the data into the container (docker cp) instead of mounting it read-only
#   --image      image name (default $PATCHCORE_IMAGE, else patchcore-trainer)
#   --cache      weights cache on the host, mounted as /cache (default $PATCHCORE_HOME, else
#                ~/.cache/patchcore): imported or downloaded backbone weights are reused
#   train options: passed to `patchcore train` unchanged (--pattern-name is required there)
#
# The container runs as HOST_UID:HOST_GID (default: you, `id -u`:`id -g`), so the model folder belongs to
# you, not root. `--roi` (draw the ROI in a window) forwards X11 (DISPLAY, /tmp/.X11-unix, XAUTHORITY)
# when a display exists; without one use --roi-rect X Y W H. The exit code is training's.
set -euo pipefail
me=$(basename "$0")
die() { echo "$me: $*" >&2; exit 2; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ ${1:-} == -h || ${1:-} == --help ]] && usage
(($# >= 2)) || usage
data=$1 output=$2; shift 2
copy=0 image=${PATCHCORE_IMAGE:-patchcore-trainer} cache=${PATCHCORE_HOME:-${HOME:-/root}/.cache/patchcore}
while (($#)); do
  case $1 in
    --copy) copy=1; shift ;;
    --image) (($# >= 2)) || die "--image needs a name"; image=$2; shift 2 ;;
    --cache) (($# >= 2)) || die "--cache needs a folder"; cache=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;  # the first train option
  esac
done
train_args=("$@")

# -- the folders ---------------------------------------------------------------------------------------
[[ -e $data ]] || die "data folder '$data' does not exist (give the folder with your good images: DATA_DIR/, DATA_DIR/good/ or DATA_DIR/train/good/)"
[[ -d $data ]] || die "data folder '$data' is not a folder (give the folder that holds the images, not an image)"
[[ -r $data && -x $data ]] || die "data folder '$data' is not readable by you"
if [[ -e $output && ! -d $output ]]; then die "output folder '$output' exists and is not a folder"; fi
mkdir -p "$output" || die "cannot create output folder '$output'"
uid=${HOST_UID:-$(id -u)} gid=${HOST_GID:-$(id -g)}
if [[ $uid == "$(id -u)" && ! -w $output ]]; then die "output folder '$output' is not writable by you"; fi
mkdir -p "$cache" 2>/dev/null || die "cannot create the weights cache folder '$cache' (use --cache DIR)"
data=$(cd "$data" && pwd) output=$(cd "$output" && pwd) cache=$(cd "$cache" && pwd)

pattern=""
for ((i = 0; i < ${#train_args[@]}; i++)); do
  case ${train_args[i]} in
    --pattern-name) pattern=${train_args[i + 1]:-} ;;
    --pattern-name=*) pattern=${train_args[i]#*=} ;;
    --data-dir*|--output*) die "do not pass ${train_args[i]}: the script sets the container's data and output folders from DATA_DIR and OUTPUT_DIR" ;;
  esac
done

# -- Docker ---------------------------------------------------------------------------------------------
command -v docker >/dev/null || die "docker is not installed (Debian: apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is it running? DOCKER_HOST=${DOCKER_HOST:-unset}; are you in the docker group?)"
docker image inspect "$image" >/dev/null 2>&1 || die "image '$image' not found: build it with 'docker build -t $image .' in the patchcore-cpp folder (or pass --image NAME)"

run_opts=(--user "$uid:$gid" -v "$output:/workspace/output" -v "$cache:/cache")
[[ -t 0 && -t 1 ]] && run_opts+=(-it)

# --roi opens a window: forward X11 when there is a display, else say what to use instead.
for a in "${train_args[@]}"; do
  [[ $a == --roi ]] || continue
  if [[ -z ${DISPLAY:-} ]]; then
    die "--roi draws the ROI in a window, but there is no display (DISPLAY is unset). Run where a display is, or give the rectangle directly: --roi-rect X Y W H (pixels of the first training image, or of --roi-image FILE)"
  fi
  run_opts+=(-e "DISPLAY=$DISPLAY" --network host)  # host network: also for DISPLAY=host:N (ssh -X)
  [[ -d /tmp/.X11-unix ]] && run_opts+=(-v /tmp/.X11-unix:/tmp/.X11-unix:ro)
  xauth_file=${XAUTHORITY:-${HOME:-/root}/.Xauthority}
  [[ -r $xauth_file ]] && run_opts+=(-v "$xauth_file:/tmp/.patchcore.xauth:ro" -e XAUTHORITY=/tmp/.patchcore.xauth)
done

# -- run ------------------------------------------------------------------------------------------------
rc=0
if ((copy)); then
  cid=$(docker create "${run_opts[@]}" "$image" "${train_args[@]}")
  trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
  # A tar stream whose files belong to the container's user, so it can read them whatever their mode
  # (docker cp -a would look the numeric user up in the image's passwd and fail).
  tar -C "$data" --numeric-owner --owner="$uid" --group="$gid" -cf - . | docker cp - "$cid:/workspace/data" \
    || die "copying '$data' into the container failed"
  start_opts=(-a); [[ -t 0 && -t 1 ]] && start_opts+=(-i)
  docker start "${start_opts[@]}" "$cid" || true
  rc=$(docker inspect -f '{{.State.ExitCode}}' "$cid")
else
  docker run --rm "${run_opts[@]}" -v "$data:/workspace/data:ro" "$image" "${train_args[@]}" || rc=$?
fi

if ((rc == 0)); then
  echo "Model folder: $output/${pattern:-PATTERN}"
else
  echo "$me: training failed (exit code $rc)" >&2
fi
exit "$rc"
