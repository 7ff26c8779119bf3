#!/usr/bin/env bash
# ctest "export_client": builds examples/export_client's ONNX Runtime client as a separate CMake
# project (ONNX Runtime's official C/C++ headers from the npm package @qvac/onnx, the library
# that onnxruntime-node bundles; both test-only, scripts/install-onnxruntime.sh), then runs it on
# models that `patchcore train` exported, one plain and one ROI model (--roi-rect), and checks:
# its score equals `patchcore predict`'s results.json score, and an image without the part is
# not scored (exit code 3) where predict reports "roi_found": false.
#   export_client_test.sh BUILD_DIR SOURCE_DIR
# Exit code 77 (ctest: skipped) when the ONNX Runtime packages are not installed.
set -euo pipefail
build=$(cd "$1" && pwd); src=$(cd "$2" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

modules=$src/tests/runtime/node_modules
headers=$modules/@qvac/onnx/prebuilds/include/onnxruntime
library=$(find "$modules/onnxruntime-node/bin" -path '*linux/x64/libonnxruntime.so*' 2>/dev/null | sort | tail -n1)
if [[ ! -f $headers/onnxruntime_cxx_api.h || -z $library ]]; then
  echo "skipped: ONNX Runtime headers or library missing under $modules (run scripts/install-onnxruntime.sh)"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/patchcore-client.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src/examples/export_client" -B "$tmp/client" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
      -DONNXRUNTIME_INCLUDE_DIR="$headers" -DONNXRUNTIME_LIBRARY="$library" >"$tmp/config.log" 2>&1 \
  || { cat "$tmp/config.log"; fail "configuring examples/export_client"; }
cmake --build "$tmp/client" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building examples/export_client"; }
client=$tmp/client/onnxruntime_client
[[ -x $client ]] || fail "onnxruntime_client was not built (see $tmp/config.log)"

cli=$build/patchcore
"$cli" make-demo-data --output "$tmp/data" --train-images 8 >/dev/null
common=(--data-dir "$tmp/data" --output "$tmp/models" --backbone resnet18 --weights random:0
        --image-size 64 64 --coreset-ratio 0.1 --batch-size 8)
"$cli" train "${common[@]}" --pattern-name plain >"$tmp/train-plain.log" 2>&1 \
  || { cat "$tmp/train-plain.log"; fail "patchcore train (plain)"; }
"$cli" train "${common[@]}" --pattern-name roi --roi-rect 40 40 160 160 >"$tmp/train-roi.log" 2>&1 \
  || { cat "$tmp/train-roi.log"; fail "patchcore train (ROI)"; }
image=$(find "$tmp/data/test" -type f -name '*.png' | sort | tail -n1)
[[ -n $image ]] || fail "make-demo-data wrote no test image"

# Same score as `patchcore predict` (ORT vs the native engine: float rounding only).
for model in plain roi; do
  "$cli" predict --model "$tmp/models/$model" --input "$image" --output "$tmp/pred-$model" >/dev/null
  out=$("$client" "$tmp/models/$model" "$model" "$image") || fail "onnxruntime_client failed on the $model model"
  echo "onnxruntime_client ($model): $out"
  python3 - "$tmp/pred-$model/results.json" "$out" <<'PY'
import json, math, re, sys
results = json.load(open(sys.argv[1]))
cli = float(results[0]["score"])
client = float(re.search(r"^score (\S+)", sys.argv[2], re.M).group(1))
print(f"patchcore predict: {cli!r}, onnxruntime_client: {client!r}")
if not (math.isfinite(client) and abs(client - cli) <= 1e-4 * max(1.0, abs(cli))):
    sys.exit(f"FAIL: scores differ: predict {cli} vs onnxruntime_client {client}")
PY
done
grep -q "(ROI, match" <<<"$("$client" "$tmp/models/roi" roi "$image")" || fail "the ROI model's client run did not locate the ROI"

# An image without the part (flat grey 24-bit BMP): predict reports roi_found false, the client does
# not score it.
python3 - "$tmp/flat.bmp" <<'PY'
import struct, sys
side = 256
pixels = bytes([128]) * (side * side * 3)
header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
open(sys.argv[1], "wb").write(header + info + pixels)
PY
"$cli" predict --model "$tmp/models/roi" --input "$tmp/flat.bmp" --output "$tmp/pred-flat" >/dev/null
python3 -c "import json,sys; r=json.load(open(sys.argv[1]))[0]; sys.exit(0 if r['roi_found'] is False else 'FAIL: predict found an ROI in a flat image')" \
  "$tmp/pred-flat/results.json"
set +e
"$client" "$tmp/models/roi" roi "$tmp/flat.bmp" >"$tmp/flat.txt" 2>&1
code=$?
set -e
[[ $code -eq 3 ]] || { cat "$tmp/flat.txt"; fail "onnxruntime_client exit code $code on an image without the part (want 3)"; }
grep -q "ROI not found" "$tmp/flat.txt" || fail "onnxruntime_client did not say the ROI was not found"
echo "export_client: OK"
