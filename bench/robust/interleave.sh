#!/usr/bin/env bash
# Attack time of several aigis builds, interleaved run by run (the host's speed drifts too
# much for runs minutes apart to compare), medians and minima of the `seconds` the JSON report
# gives. The report goes to a file, not a pipe: a reader starting beside aigis takes a core.
#   bench/robust/interleave.sh MODEL DATA.npz ATTACK RUNS BIN1 [BIN2 ...]
# e.g. bench/robust/interleave.sh cnn /tmp/cnn5400.npz pgd 9 /tmp/aigis-before target/release/aigis
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 5 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
model=$1 data=$2 attack=$3 runs=$4
shift 4
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$runs"); do
  for bin in "$@"; do
    "$bin" robust eval --model "crates/aigis-robust/tests/fixtures/$model.onnx" --data "$data" \
      --attack "$attack" --eps 0.1 --steps 20 -f json > "$out"
    echo "$bin $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['curve'][0]['seconds'][sys.argv[2]])" "$out" "$attack")"
  done
done | sort -k1,1 -k2n | awk -v m="$model" -v a="$attack" '
  { v[$1] = v[$1] " " $2; n[$1]++ }
  END { for (b in v) { split(v[b], s, " "); printf "%s %s %s median %s min %s\n", b, m, a, s[int((n[b] + 1) / 2)], s[1] } }'
