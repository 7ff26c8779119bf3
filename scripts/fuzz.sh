#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, every source with ASan + UBSan) into
# build-fuzz/ and runs each for SECONDS (default 60) from a copy of its committed seed corpus
# (tests/fuzz/corpus/<target>/; plus the shared MobileNet model.json for the TF.js reader when
# ../shared is there). Prints executions per second and the coverage reached per target.
# A crash, hang (>10 s) or sanitizer report stops that target with its input saved under
# build-fuzz/findings/<target>/ and makes the script exit 1: add the input to
# tests/fuzz/corpus/<target>/ (the normal test suite replays that folder:
# tests/pipeline/fuzz_corpus_test.cpp) and fix the loader.
#
#   bash scripts/fuzz.sh [SECONDS]          FUZZ_TARGETS="safetensors image" to run some only
#   bash scripts/fuzz.sh --ci               (.ci/run) a fixed number of runs from a fixed seed per
#                                           target, so that CI is reproducible
#   bash scripts/fuzz.sh --sanitized-tests  (.ci/run) one test program per layer (io, search, data,
#                                           backbone, head, export, pipeline, eval, cli) built in the
#                                           same sanitized build and run with leak checks: the layers
#                                           under ASan + UBSan in CI at the cost of a few minutes
#                                           (the whole suite: scripts/test.sh --sanitize)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
if [[ ${1:-} == --ci ]]; then
  targets=(${FUZZ_TARGETS:-safetensors norm_stats tfjs image model config_yaml})
  limits=(-seed=1 -runs=30000)
elif [[ ${1:-} == --sanitized-tests ]]; then
  targets=()
else
  targets=(${FUZZ_TARGETS:-safetensors norm_stats tfjs image model config_yaml})
  limits=(-max_total_time="${1:-60}")
fi

if ! command -v clang++ >/dev/null; then
  echo "fuzz: installing clang (Debian) for libFuzzer"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang >/dev/null
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Tests are configured (not built unless asked): --sanitized-tests builds some in this same tree.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
      -DPATCHCORE_FUZZ=ON -DPATCHCORE_BUILD_TESTS=ON -DPATCHCORE_BUILD_BENCH=OFF >/dev/null

if [[ ${1:-} == --sanitized-tests ]]; then
  tests=(safetensors_test exact_index_test image_header_test conv_net_test head_coreset_test export_graph_test
         trainer_test eval_metrics_test fault_test)
  cmake --build "$BUILD" -j "$(nproc)" --target "${tests[@]}" patchcore
  export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
  export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  status=0
  for t in "${tests[@]}"; do
    if (cd "$BUILD/tests" && "./$t" >"../sanitized-$t.log" 2>&1); then
      echo "sanitized: $t passed"
    else
      echo "sanitized: $t FAILED ($BUILD/sanitized-$t.log):"; tail -n 30 "$BUILD/sanitized-$t.log"; status=1
    fi
  done
  exit "$status"
fi
cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

status=0
summary=()
for t in "${targets[@]}"; do
  work=$BUILD/corpus/$t findings=$BUILD/findings/$t
  rm -rf "$work" && mkdir -p "$work" "$findings"
  cp tests/fuzz/corpus/"$t"/* "$work"/
  shared_json=../shared/weights/mobilenet_v1_0.75_224_tfjs/model.json
  [[ $t == tfjs && -f $shared_json ]] && cp "$shared_json" "$work/shared_mobilenet_model.json"
  log=$BUILD/fuzz-$t.log
  echo "== fuzz_$t (${limits[*]})"
  # Leak checks off: LibTorch and OpenCV keep allocations alive until exit by design.
  set +e
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 "$BUILD/tests/fuzz/fuzz_$t" "$work" \
    "${limits[@]}" -timeout=10 -rss_limit_mb=2560 -artifact_prefix="$findings/" \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
  features=$(grep -o 'ft: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
  if ((rc != 0)); then
    status=1
    grep -m 5 -E "ERROR: |SUMMARY|runtime error|escaped" "$log" || true
    summary+=("| $t | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${features:-?} | FINDING: $(ls "$findings" | head -1) |")
  else
    summary+=("| $t | $execs | $rate | $cov | $features | none |")
  fi
done
echo
echo "| target | executions | executions/s | coverage (edges) | features | findings |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
exit "$status"
