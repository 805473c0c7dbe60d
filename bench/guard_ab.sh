#!/usr/bin/env bash
# Two (or more) builds of the gateway compared in turn, not side by side in time: one gateway
# at a time behind the same upstream, the same request as bench/guard.sh at a fixed rate, a
# direct run each round. Prints p50 and p99 (ms) and CPU per request (µs, from
# /proc/PID/stat ticks over the requests answered) for every run; compare medians.
# Needs oha (cargo install oha --locked). Not run in CI.
#   bench/guard_ab.sh ROUNDS SECONDS AIGIS_BINARY...
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/guard_common.sh
[ $# -ge 3 ] || { echo "usage: bench/guard_ab.sh ROUNDS SECONDS AIGIS_BINARY..." >&2; exit 2; }
rounds=$1 secs=$2
shift 2
command -v oha >/dev/null || { echo "oha not found (cargo install oha --locked)"; exit 2; }
cargo build --release -q -p aigis-guard --example bench_upstream
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
target/release/examples/bench_upstream 127.0.0.1:18000 2>/dev/null &
write_guard_config "$work"
key=$("$1" guard keys create --store "$work/keys.db" --name bench 2>/dev/null)
percentiles='import json,sys; j=json.load(sys.stdin); p=j["latencyPercentiles"]; print("%.3f %.3f %d" % (p["p50"]*1000, p["p99"]*1000, sum(j["statusCodeDistribution"].values())))'
load() { oha -z "${secs}s" -q 2000 --no-tui --output-format json -m POST \
  -H "content-type: application/json" "$@" -d "$body"; }
sleep 0.5
ticks=$(getconf CLK_TCK)
for _ in $(seq "$rounds"); do
  read -r p50 p99 _ < <(load http://127.0.0.1:18000/v1/chat/completions | python3 -c "$percentiles")
  echo "direct $p50 $p99"
  for bin in "$@"; do
    bin=$(realpath "$bin")
    (cd "$work" && exec "$bin" guard serve -c aigis.toml 2>/dev/null) &
    pid=$!
    sleep 1.2
    t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    read -r p50 p99 n < <(load -H "authorization: Bearer $key" \
      http://127.0.0.1:18002/v1/chat/completions | python3 -c "$percentiles")
    t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    echo "$bin $p50 $p99 cpu_us=$(( (t1 - t0) * 1000000 / ticks / (n > 0 ? n : 1) ))"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  done
done
