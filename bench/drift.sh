#!/usr/bin/env bash
# Batch drift: `aigis monitor drift` against alibi-detect's TabularDrift and Evidently's
# DataDriftPreset (KS / chi-squared) on the same two tables (ROWS rows x 20 columns, drift in
# 6), side by side; wall and CPU time including reading the CSVs, and whether the per-column
# decisions agree. Not run in CI (minutes). Creates a virtualenv outside the repo
# (AIGIS_DRIFT_BENCH_VENV, default ~/.cache/aigis-drift-bench) with the pinned anchors.
#   bench/drift.sh [--rows 1000000] [--runs 3] [--no-evidently]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=1000000 runs=3 evidently=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --no-evidently) evidently=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
venv=${AIGIS_DRIFT_BENCH_VENV:-$HOME/.cache/aigis-drift-bench}
if ! "$venv/bin/python" -c "import alibi_detect, evidently, scipy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/drift/requirements.txt
fi
py="$venv/bin/python"
work=bench/work/drift
mkdir -p "$work"
cargo build --release -q -p aigis
[ -f "$work/reference-$rows.csv" ] || {
  "$py" bench/drift/gen_tables.py --rows "$rows" --out "$work"
  mv "$work/reference.csv" "$work/reference-$rows.csv"
  mv "$work/current.csv" "$work/current-$rows.csv"
}
ref="$work/reference-$rows.csv" cur="$work/current-$rows.csv"
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e %U %S" -o "$work/aigis.$i.time" target/release/aigis monitor drift \
    --reference "$ref" --current "$cur" -f json -o "$work/aigis.json" || true
  /usr/bin/time -f "%e %U %S" -o "$work/alibi.$i.time" "$py" bench/drift/run_alibi.py "$ref" "$cur" \
    > "$work/alibi.json" 2> "$work/alibi.log"
done
if [ "$evidently" = 1 ]; then
  # As many runs as the others (about 45 s each here), so its figure is a median too.
  for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S" -o "$work/evidently.$i.time" "$py" bench/drift/run_evidently.py "$ref" "$cur" \
      > "$work/evidently.json" 2> "$work/evidently.log"
  done
fi
python3 - "$work" "$runs" "$rows" <<'PY'
import json, os, statistics, sys
work, runs, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def times(name, n):
    t = [list(map(float, open(f"{work}/{name}.{i}.time").read().split()[-3:])) for i in range(1, n + 1)
         if os.path.exists(f"{work}/{name}.{i}.time")]
    return statistics.median(x[0] for x in t), statistics.median(x[1] + x[2] for x in t), len(t)
a = json.load(open(f"{work}/aigis.json"))
mine = {c["name"]: c["drift"] for c in a["columns"]}
print(f"{rows} rows x {len(mine)} columns, reference and current; CPU includes reading the CSVs")
base = times("aigis", runs)
print(f"{'tool':12} {'wall s':>8} {'CPU s':>8} {'wall ratio':>11} {'CPU ratio':>10}  decisions  (runs)")
for name in ["aigis", "alibi", "evidently"]:
    if not os.path.exists(f"{work}/{name}.1.time"):
        continue
    wall, cpu, n = times(name, runs)
    if name == "aigis":
        agree = "-"
    else:
        other = json.load(open(f"{work}/{name}.json"))["columns"]
        # alibi applies Bonferroni like aigis; Evidently flags each column at p < 0.05.
        if name == "evidently":
            ref = {c["name"]: c["p_value"] is not None and c["p_value"] < 0.05 for c in a["columns"]}
        else:
            ref = mine
        same = sum(ref[c] == other[c]["drift"] for c in ref)
        agree = f"{same}/{len(ref)} same"
    print(f"{name:12} {wall:8.2f} {cpu:8.2f} {wall / base[0]:10.1f}x {cpu / base[1]:9.1f}x  {agree}  ({n})")
PY
