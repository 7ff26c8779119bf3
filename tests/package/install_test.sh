#!/usr/bin/env bash
# ctest "package_install": installs the build into a temporary prefix, builds examples/predict_app as
# a separate CMake project against the installed package (find_package(patchcore)), trains a small
# model with the installed CLI (random backbone, generated demo data) and checks that the app's score
# for one image equals `patchcore predict`'s results.json score.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd); src=$(cd "$2" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/patchcore-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
for f in bin/patchcore include/patchcore/model.h include/patchcore/error.h include/patchcore/roi.h \
         lib/cmake/patchcore/patchcoreConfig.cmake lib/cmake/patchcore/patchcoreConfigVersion.cmake \
         lib/cmake/patchcore/patchcoreTargets.cmake lib/libpatchcore_pipeline.a lib/libpatchcore_io.a; do
  [[ -e $prefix/$f ]] || fail "not installed: $f"
done
# The installed package must not point back into the source or build tree (include/ is the whole API).
if grep -rlF -e "$src/src" -e "$build" "$prefix/lib/cmake/patchcore" "$prefix/include"; then
  fail "installed package files name the source/build tree (above)"
fi
if grep -rn '#include "\(io\|data\|backbone\|search\|head\|export\|pipeline\|cli\)/' "$prefix/include"; then
  fail "a public header includes an internal src/ header (above)"
fi

# A separate CMake project that only knows the prefix.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src/examples/predict_app" -B "$tmp/app" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >"$tmp/app-config.log" 2>&1 \
  || { cat "$tmp/app-config.log"; fail "configuring examples/predict_app against the installed package"; }
cmake --build "$tmp/app" >"$tmp/app-build.log" 2>&1 || { cat "$tmp/app-build.log"; fail "building examples/predict_app"; }
# Its compile commands see the installed include/ only, never the project's src/.
grep -q -- "-I$src/src\|-isystem $src/src\|$src/include" "$tmp/app/build.ninja" && fail "the app compiles with the project's source folders"
grep -q "$prefix/include" "$tmp/app/build.ninja" || fail "the app does not use the installed include/"

cli=$prefix/bin/patchcore
"$cli" make-demo-data --output "$tmp/data" --train-images 8 >/dev/null
"$cli" train --data-dir "$tmp/data" --output "$tmp/models" --pattern-name pkg --backbone resnet18 \
  --weights random:0 --image-size 64 64 --coreset-ratio 0.1 --batch-size 8 >"$tmp/train.log" 2>&1 \
  || { cat "$tmp/train.log"; fail "patchcore train"; }
image=$(find "$tmp/data/test" -type f -name '*.png' | sort | tail -n1)
[[ -n $image ]] || fail "make-demo-data wrote no test image"
"$cli" predict --model "$tmp/models/pkg" --input "$image" --output "$tmp/pred" >/dev/null
app_out=$("$tmp/app/predict_app" "$tmp/models/pkg" "$image") || fail "predict_app failed"
echo "predict_app: $app_out"
python3 - "$tmp/pred/results.json" "$app_out" <<'PY'
import json, math, sys
results = json.load(open(sys.argv[1]))
assert len(results) == 1, results
cli = float(results[0]["score"])
fields = dict(kv.split("=") for kv in sys.argv[2].split())
app = float(fields["score"])
print(f"patchcore predict: {cli!r}, predict_app: {app!r}")
if not (math.isfinite(app) and abs(app - cli) <= 1e-4 * max(1.0, abs(cli))):
    sys.exit(f"FAIL: scores differ: predict {cli} vs predict_app {app}")
PY
# Bad input: the app's UserError path (clear message, non-zero exit).
if "$tmp/app/predict_app" "$tmp/no-such-model" "$image" 2>"$tmp/err.txt"; then fail "predict_app accepted a missing model folder"; fi
grep -q "no-such-model" "$tmp/err.txt" || { cat "$tmp/err.txt"; fail "the error does not name the model folder"; }
echo "package_install: OK"
