#!/usr/bin/env bash
# The exported `shortlist` model against the exported `exact` model in ONNX Runtime (CPU, 2 threads
# by default), per image (batch 1, 224x224, layer2+layer3), all timed in this one run.
#
#   bash bench/shortlist_ort.sh
#   BACKBONES=resnet18 BANKS=10000 REPEAT=10 bash bench/shortlist_ort.sh
#
# For each backbone and bank size, bench/shortlist_graph_bench writes exact.onnx and shortlist.onnx
# (DIMS dims, 0 = automatic: min(128, C/6); SIZE rows re-ranked) and prints each graph's GFLOP. Each
# is run by tests/runtime/run_onnx.js (onnxruntime-node: intraOpNumThreads = $THREADS, optimisation
# 'all', one warm-up, then $REPEAT timed runs):
#  * end to end: the median latency, models run in the order exact, shortlist, shortlist, exact and
#    each one's two medians averaged, so that a drift of the shared machine falls on both sides;
#  * search part: ORT's own profiler in separate runs (profiling costs time), the mean kernel time
#    per run of the search's nodes (the patches' norms and everything from the bank distances to
#    the patch scores: names matching $SEARCH_NODES), so the backbone's noise does not enter it.
# Results: Markdown table on stdout and in $WORK/results.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
WORK="${WORK:-/tmp/patchcore-bench/shortlist}"
BACKBONES="${BACKBONES:-resnet18 wide_resnet50_2}"
BANKS="${BANKS:-10000 100000}"
DIMS="${DIMS:-0}"
SIZE="${SIZE:-8}"
THREADS="${THREADS:-2}"
SEARCH_NODES='^(patches|bank|dist_sq|dot_times_2|nearest|shortlist|patch_scores)'
REPEAT="${REPEAT:-10}"
WRITER="$BUILD/bench/shortlist_graph_bench"

[[ -x "$WRITER" ]] || { echo "no $WRITER: build the project (ninja -C build shortlist_graph_bench)" >&2; exit 1; }
source "$ROOT/bench/ort_lib.sh"
mkdir -p "$WORK"

ort_input "$WORK/input.bin"
time_ms() { ort_ms "$1" "$WORK/input.bin" "$REPEAT" "$THREADS" "$WORK"; }
search_ms() { ort_nodes_ms "$1" "$WORK/input.bin" "$REPEAT" "$THREADS" "$WORK" "$SEARCH_NODES"; }

{
  echo "| backbone | bank rows | dims | GFLOP exact | GFLOP shortlist | ORT exact ms | ORT shortlist ms | end-to-end speed-up | search exact ms (profiler) | search shortlist ms (profiler) | search speed-up |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$WORK/results.md"
for backbone in $BACKBONES; do
  for bank in $BANKS; do
    dir="$WORK/$backbone-$bank"
    echo "== $backbone, $bank rows: writing the models $(date +%T)" >&2
    "$WRITER" "$backbone" "$bank" "$dir" "$DIMS" "$SIZE" >"$dir.flops"
    gflop() { awk -v m="$1" '$1 == m {print $2}' "$dir.flops"; }
    declare -A first=() second=()
    for m in exact shortlist; do first[$m]=$(time_ms "$dir/$m.onnx"); done
    for m in shortlist exact; do second[$m]=$(time_ms "$dir/$m.onnx"); done
    avg() { awk -v a="${first[$1]}" -v b="${second[$1]}" 'BEGIN{printf "%.2f", (a + b) / 2}'; }
    exact=$(avg exact); short=$(avg shortlist)
    search_exact=$(search_ms "$dir/exact.onnx"); search_short=$(search_ms "$dir/shortlist.onnx")
    echo "   exact ${first[exact]}/${second[exact]} ms (search $search_exact), shortlist ${first[shortlist]}/${second[shortlist]} ms (search $search_short)" >&2
    awk -v bb="$backbone" -v r="$bank" -v dims="$(gflop dims)" -v ge="$(gflop exact.onnx)" -v gs="$(gflop shortlist.onnx)" \
        -v e="$exact" -v s="$short" -v se="$search_exact" -v ss="$search_short" 'BEGIN{
      printf "| %s | %d | %d | %.1f | %.1f | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n",
        bb, r, dims, ge, gs, e, s, e / s, se, ss, se / ss }' >>"$WORK/results.md"
    rm -f "$dir"/*.onnx "$dir"/*.onnx.data  # hundreds of MB per bank
  done
done
echo "(ONNX Runtime $(node -e 'console.log(require(process.argv[1] + "/package.json").version)' \
  "$ROOT/tests/runtime/node_modules/onnxruntime-node"), $THREADS threads, shortlist $SIZE rows in $DIMS dims (0 = automatic);" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))" >>"$WORK/results.md"
cat "$WORK/results.md"
