#!/usr/bin/env bash
# Runs bench/search_bench (2 threads) and prints the tables of docs/benchmarks.md:
# ms per 784-query search, GFLOP/s, and each exact backend's throughput as a fraction of
# the sgemm of the same shape measured in the same run.
#
#   bash bench/search_table.sh                  # banks 1k, 10k, 100k (the 100k FAISS builds take minutes)
#   SEARCH_BANKS=1000,10000 bash bench/search_table.sh
#   SEARCH_FILTER='-BM_FaissHnsw/C:(384|1536)/M:100000' bash bench/search_table.sh
#       (without the 100k-row HNSW builds: Debian's FAISS builds HNSW with its scalar reference
#        distance, and the one-thread build of 100k x 1536 rows had not finished after 28 min)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${TMPDIR:-/tmp}/patchcore-search-bench.json"
"$ROOT/${BUILD_DIR:-build}/bench/search_bench" --benchmark_min_time="${MIN_TIME:-1}" --benchmark_filter="${SEARCH_FILTER:-.}" \
  --benchmark_format=json --benchmark_out="$OUT" >/dev/null
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys, re
runs = json.load(open(sys.argv[1]))
print("CPU:", runs["context"].get("mhz_per_cpu"), "MHz,", runs["context"].get("num_cpus"), "CPUs")
rows = {}
for b in runs["benchmarks"]:
    m = re.match(r"BM_(\w+)/C:(\d+)/M:(\d+)", b["name"])
    if m:
        rows.setdefault((int(m[2]), int(m[3])), {})[m[1]] = (b["real_time"], b["GFLOPs"] / 1e9)
    else:
        rows.setdefault("scoring", {})[b["name"]] = b["real_time"]
print("| C | M | oneDNN sgemm ms | OpenBLAS sgemm ms | native ms | native / oneDNN sgemm throughput | native pruned ms | LibTorch (before) ms | FAISS Flat ms | FAISS HNSW ms | FAISS IVF ms | native speed-up vs before |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in sorted(k for k in rows if k != "scoring"):
    r = rows[key]
    ms = lambda name: f"{r[name][0]:.2f}" if name in r else "-"
    print(f"| {key[0]} | {key[1]} | {ms('Sgemm')} | {ms('OpenBlasSgemm')} | {ms('Native')} | {r['Sgemm'][0] / r['Native'][0]:.2f} | "
          f"{ms('Pruned')} | {ms('LibTorch')} | {ms('FaissFlat')} | {ms('FaissHnsw')} | {ms('FaissIvf')} | "
          f"{r['LibTorch'][0] / r['Native'][0]:.2f}x |")
s = rows.get("scoring", {})
if s:
    old, new = s["BM_TrainScoringLibTorch/real_time"], s["BM_TrainScoringNative/real_time"]
    print(f"\nTraining-image scoring, 32 images x 784 patches vs 784 bank rows, C=1536: "
          f"before {old:.1f} ms, native {new:.1f} ms, speed-up {old / new:.2f}x")
PY
