#!/usr/bin/env bash
# Training time and peak memory: `patchcore train` against a PyTorch reference that follows
# anomalib's PatchCore training (bench/reference_patchcore.py), measured in the same run.
#
#   bash bench/train_vs_pytorch.sh                      # N = 200 and 1000 images
#   SIZES="200" bash bench/train_vs_pytorch.sh          # only N = 200
#   REF_TIMEOUT=600 bash bench/train_vs_pytorch.sh      # cap each reference run (seconds)
#   SUMMARY_ONLY=1 SIZES="200" bash bench/train_vs_pytorch.sh   # re-print the table from $WORK/logs
#
# Settings: wide_resnet50_2 with random weights (random:0 / torchvision weights=None), layers
# layer2+layer3, 224x224, coreset ratio 0.001, batch 32, 2 threads for both. Data: generated
# copper-wire images (`patchcore make-demo-data --size 256`). Each run is wrapped in
# /usr/bin/time -v: wall clock and "Maximum resident set size" are read from it for both sides.
# Results: a Markdown table on stdout and in $WORK/results.md; logs in $WORK/logs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PATCHCORE="${PATCHCORE:-$ROOT/build/patchcore}"
WORK="${WORK:-/tmp/patchcore-bench/train}"
SIZES="${SIZES:-200 1000}"
THREADS="${THREADS:-2}"
REF_TIMEOUT="${REF_TIMEOUT:-900}"
PY=/usr/bin/python3

[[ -x "$PATCHCORE" ]] || { echo "no patchcore binary at $PATCHCORE (set PATCHCORE=...)" >&2; exit 1; }
if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
  echo "installing python3-torch python3-torchvision (Debian)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch python3-torchvision >&2
fi
"$PY" -c "import cv2" 2>/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-opencv >&2 ||
  echo "python3-opencv not available: the reference decodes with PIL" >&2

mkdir -p "$WORK/logs"
rows=()
if [[ -n "${SUMMARY_ONLY:-}" ]]; then
  for N in $SIZES; do [[ -s "$WORK/logs/ref-$N.json" ]] && rows+=("$N:0") || rows+=("$N:124"); done
  SIZES=""
fi
for N in $SIZES; do
  data="$WORK/data-$N"
  if [[ ! -d "$data/train/good" || $(ls "$data/train/good" | wc -l) -ne $N ]]; then
    rm -rf "$data"
    "$PATCHCORE" make-demo-data --output "$data" --train-images "$N" --size 256 >&2
  fi
  good="$data/train/good"

  echo "== N=$N: patchcore train ($(date +%T))" >&2
  rm -rf "$WORK/model-$N"
  /usr/bin/time -v -o "$WORK/logs/ours-$N.time" \
    "$PATCHCORE" train --data-dir "$good" --output "$WORK/model-$N" --pattern-name b \
    --backbone wide_resnet50_2 --layers layer2 layer3 --image-size 224 224 --coreset-ratio 0.001 \
    --batch-size 32 --weights random:0 --threads "$THREADS" --quiet \
    >"$WORK/logs/ours-$N.out" 2>"$WORK/logs/ours-$N.err"
  grep -E "time |memory bank|images " "$WORK/logs/ours-$N.out" >&2

  echo "== N=$N: PyTorch reference, limit ${REF_TIMEOUT}s ($(date +%T))" >&2
  rm -f "$WORK/logs/ref-$N.json"
  set +e
  /usr/bin/time -v -o "$WORK/logs/ref-$N.time" \
    timeout "$REF_TIMEOUT" "$PY" "$ROOT/bench/reference_patchcore.py" --data-dir "$good" \
    --image-size 224 --batch-size 32 --coreset-ratio 0.001 --threads "$THREADS" \
    --json "$WORK/logs/ref-$N.json" >"$WORK/logs/ref-$N.out" 2>"$WORK/logs/ref-$N.err"
  rc=$?
  set -e
  tail -n 3 "$WORK/logs/ref-$N.err" >&2
  rows+=("$N:$rc")
done

REF_TIMEOUT="$REF_TIMEOUT" "$PY" - "$WORK" "${rows[@]}" <<'EOF' | tee "$WORK/results.md"
import json, os, re, sys
work, rows = sys.argv[1], sys.argv[2:]
REF_TIMEOUT_S = os.environ.get("REF_TIMEOUT", "?")
logs = os.path.join(work, "logs")

def time_v(path):
    text = open(path).read()
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    parts = [float(p) for p in m.group(1).split(":")]
    wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024
    return wall, rss

def gb(b): return f"{b / 1e9:.2f} GB"

out = ["| N | ours wall | ours w/o export | reference wall | ref/ours (w/o export) | ours peak RSS | reference peak RSS | ref/ours RSS |",
       "|---|---|---|---|---|---|---|---|"]
phases = []
for row in rows:
    n, rc = row.split(":"); rc = int(rc)
    wall, rss = time_v(os.path.join(logs, f"ours-{n}.time"))
    text = open(os.path.join(logs, f"ours-{n}.out")).read()
    tline = re.search(r"^\s*time\s+(.*)$", text, re.M).group(1)
    t = dict((k, float(v)) for k, v in re.findall(r"(\w+) ([\d.]+)s", tline))
    total = float(re.search(r"([\d.]+)s total", text).group(1))
    no_export = wall - t["export"]
    rwall, rrss = time_v(os.path.join(logs, f"ref-{n}.time"))
    note = ""
    if rc == 0:
        ref = json.load(open(os.path.join(logs, f"ref-{n}.json")))
        rt = ref["timings_s"]
        ref_phase = (f"import {rt['import']:.1f}s, model init {rt['model']:.1f}s, features {rt['features']:.1f}s, "
                     f"vstack {rt['vstack']:.1f}s, projection {rt['projection']:.1f}s, greedy {rt['greedy']:.1f}s")
        ref_wall_txt = f"{rwall:.1f} s"
    else:
        # Timed out: extrapolate from the progress lines (labelled as such).
        err = open(os.path.join(logs, f"ref-{n}.err")).read()
        feats = re.findall(r"features (\d+)/(\d+) images ([\d.]+)s", err)
        greedy = re.findall(r"greedy step (\d+)/(\d+) ([\d.]+)s \(~(\d+)s total\)", err)
        proj = re.findall(r"projection .* in ([\d.]+)s", err)
        start = re.findall(r"\[reference\s+([\d.]+)s\] features", err)
        if greedy:
            last = greedy[-1]
            est = rwall - float(last[2]) + float(last[3])
            note = f" (timed out at {REF_TIMEOUT_S}s in greedy step {last[0]}/{last[1]}; EXTRAPOLATED)"
        elif feats:
            done, tot, sec = feats[-1]
            est = rwall + float(sec) * (int(tot) / int(done) - 1)
            note = f" (timed out at {REF_TIMEOUT_S}s after {done}/{tot} images; EXTRAPOLATED, coreset not included)"
        else:
            est = float("nan"); note = " (timed out before features)"
        rwall = est
        ref_phase = "timed out: " + " | ".join(l for l in err.splitlines()[-3:])
        ref_wall_txt = f"~{est:.0f} s (extrapolated)"
    out.append(f"| {n} | {wall:.1f} s | {no_export:.1f} s | {ref_wall_txt} | {rwall / no_export:.2f} | "
               f"{gb(rss)} | {gb(rrss)}{' (at kill)' if rc else ''} | {rrss / rss:.2f} |")
    phases.append(f"- N={n} ours: {tline}; /usr/bin/time wall {wall:.1f}s")
    phases.append(f"- N={n} reference: {ref_phase}; /usr/bin/time wall {rwall:.1f}s{note}")
print("\n".join(out)); print(); print("\n".join(phases))
EOF
