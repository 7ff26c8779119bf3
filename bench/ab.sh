#!/usr/bin/env bash
# A/B: the same Google Benchmark filter on two builds, alternating, so that both see the
# same machine load. Prints the median real time of each build per benchmark.
#   bash bench/ab.sh BASE_BIN NEW_BIN FILTER [ROUNDS]
set -euo pipefail
base="$1" new="$2" filter="$3" rounds="${4:-3}"
out="$(mktemp -d)"
for r in $(seq "$rounds"); do
  for side in base new; do
    bin="$base"; [ "$side" = new ] && bin="$new"
    "$bin" --benchmark_filter="$filter" --benchmark_min_time=1 --benchmark_format=json >"$out/$side.$r.json" 2>/dev/null
  done
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, sys, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
def load(side):
    t = {}
    for r in range(1, rounds + 1):
        for b in json.load(open(f"{out}/{side}.{r}.json"))["benchmarks"]:
            t.setdefault(b["name"], []).append(b["real_time"])
    return {k: statistics.median(v) for k, v in t.items()}
base, new = load("base"), load("new")
print("| benchmark | base ms | new ms | base / new |")
print("|---|---|---|---|")
for k in base:
    if k in new:
        print(f"| {k} | {base[k]:.2f} | {new[k]:.2f} | {base[k] / new[k]:.2f} |")
PY
