#!/usr/bin/env bash
# PII/secret detection: quality and speed of aigis against Presidio and detect-secrets, side by
# side on the same Faker corpus with the same scorer, plus throughput on a >= 200 MB CSV.
# Not run in CI (several minutes). Creates a virtualenv outside the repo
# (AIGIS_PII_BENCH_VENV, default ~/.cache/aigis-pii-bench) with the pinned peers.
#   bench/pii.sh [--records 3000] [--csv-mb 200] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
records=3000 csv_mb=200 runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --csv-mb) csv_mb=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
venv=${AIGIS_PII_BENCH_VENV:-$HOME/.cache/aigis-pii-bench}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import faker, presidio_analyzer, detect_secrets" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/pii_eval/requirements.txt
fi
py="$venv/bin/python"
work=bench/work/pii
mkdir -p "$work"
cargo build --release -q -p aigis
aigis=target/release/aigis

"$py" bench/pii_eval/gen_corpus.py --records "$records" -o "$work/corpus.jsonl"
bytes=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['text'].encode()) for l in open('$work/corpus.jsonl')))")

# aigis on the corpus: CPU seconds for the ratio against Presidio (same text, same records).
start=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$work/aigis.time" "$aigis" pii detect -q --input "$work/corpus.jsonl" \
  --text-field text -o "$work/aigis.jsonl" || true
"$py" bench/pii_eval/run_presidio.py "$work/corpus.jsonl" -o "$work/presidio.jsonl" 2> "$work/presidio.log" || { cat "$work/presidio.log"; exit 2; }
"$py" bench/pii_eval/run_detect_secrets.py "$work/corpus.jsonl" -o "$work/detect-secrets.jsonl" 2> "$work/ds.log"
"$py" bench/pii_eval/score.py --gold "$work/corpus.jsonl" --pred aigis="$work/aigis.jsonl" \
  --pred presidio="$work/presidio.jsonl" --pred detect-secrets="$work/detect-secrets.jsonl" --json "$work/scores.json"
aigis_cpu=$(tail -1 "$work/aigis.time" | awk '{print $1+$2}')
echo
echo "corpus: $records records, $bytes bytes of text"
echo "aigis: $aigis_cpu CPU s ($(python3 -c "print(round($bytes/1e6/max($aigis_cpu,0.001),2))") MB per CPU-second)"
grep -h '"tool"' "$work/presidio.log" "$work/ds.log" | grep -v Traceback || true

# Throughput: a >= 200 MB customer table, every column, all cores; median of $runs runs.
csv="$work/customers-${csv_mb}mb.csv"
[ -f "$csv" ] || "$py" bench/pii_eval/gen_csv.py --mb "$csv_mb" -o "$csv"
size=$(stat -c %s "$csv")
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e %U %S %M" -o "$work/csv.$i.time" "$aigis" pii detect -q --input "$csv" -o "$work/csv.out.jsonl" || true
done
python3 - "$size" "$work" "$runs" <<'PY'
import statistics, sys
size, work, runs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
# /usr/bin/time puts "Command exited with non-zero status 1" (entities found) before the figures.
rows = [list(map(float, open(f"{work}/csv.{i}.time").read().strip().splitlines()[-1].split())) for i in range(1, runs + 1)]
wall = statistics.median(r[0] for r in rows)
cpu = statistics.median(r[1] + r[2] for r in rows)
rss = max(r[3] for r in rows) / 1024
print(f"CSV throughput: {size/1e6:.0f} MB, median wall {wall:.2f} s = {size/1e6/wall:.1f} MB/s "
      f"({size/1e6/cpu:.1f} MB per CPU-second), peak RSS {rss:.0f} MiB, {runs} runs")
PY
