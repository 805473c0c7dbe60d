#!/usr/bin/env bash
# Two builds of `aigis guard classify` run at the same moment, each pinned to its own core with
# one worker thread, then with the cores swapped: both see the same host load, which on a
# shared 2-core VM moves single timed runs by ±20%. Prints user CPU seconds per run; compare
# the pairs (A faster in every pair, on both cores, is a result; mixed pairs are noise).
# Needs taskset (util-linux) and 2 cores. Not run in CI.
#   bench/classify_ab.sh ROUNDS PROMPTS.jsonl BINARY_A BINARY_B
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: bench/classify_ab.sh ROUNDS PROMPTS.jsonl BINARY_A BINARY_B" >&2; exit 2; }
rounds=$1 input=$2 a=$(realpath "$3") b=$(realpath "$4")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { # core binary timing-file
  # classify exits 1 when it blocks or flags a prompt: that is a result, not a failure.
  RAYON_NUM_THREADS=1 taskset -c "$1" /usr/bin/time -f "%U" -o "$3" \
    "$2" guard classify -q -i "$input" -o /dev/null || [ $? -eq 1 ]
}
echo "round  A-core  A-user-s  B-user-s"
for r in $(seq "$rounds"); do
  for ca in 0 1; do
    run "$ca" "$a" "$work/a" & pa=$!
    run "$((1 - ca))" "$b" "$work/b" & pb=$!
    # A build that fails (exit 2) stops the comparison rather than print its time.
    wait "$pa" || { echo "A failed: $a" >&2; exit 2; }
    wait "$pb" || { echo "B failed: $b" >&2; exit 2; }
    echo "$r      $ca       $(tail -1 "$work/a")     $(tail -1 "$work/b")"
  done
done
