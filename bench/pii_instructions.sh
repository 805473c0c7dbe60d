#!/usr/bin/env bash
# Instructions per table row spent in PII detection (one thread, callgrind): a figure that,
# unlike wall time, does not move with the host's load, for comparing two versions of the
# detectors. Needs valgrind and the table of bench/pii.sh.
#   bench/pii_instructions.sh [TABLE.csv] [COLUMN|all] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
table=${1:-bench/work/pii/customers-200mb.csv}
column=${2:-all}
rows=${3:-2000}
[ -f "$table" ] || { echo "no table at $table (bench/pii.sh makes one)" >&2; exit 2; }
cargo build --release -q -p aigis-data --example row_costs
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='row_costs::run' \
  target/release/examples/row_costs "$table" "$column" 1 "$rows" >/dev/null 2>&1
total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
echo "$column: $((total / rows)) instructions per row ($rows rows)"
