#!/usr/bin/env bash
# Gateway latency: the same chat-completion request at a fixed rate, direct to an upstream,
# through nginx `proxy_pass` (the bare-proxy floor) and through `aigis guard serve` with the
# full default input chain, side by side; prints p50/p99 and the latency each proxy adds.
# Needs oha (cargo install oha --locked) and nginx (apt-get install nginx-light). Not run in CI.
#   bench/guard.sh [--rate 2000] [--seconds 15] [--rounds 3]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/guard_common.sh
rate=2000 secs=15 rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v oha >/dev/null || { echo "oha not found (cargo install oha --locked)"; exit 2; }
command -v nginx >/dev/null || { echo "nginx not found (apt-get install nginx-light)"; exit 2; }
cargo build --release -q -p aigis
cargo build --release -q -p aigis-guard --example bench_upstream
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; nginx -p "$work" -c "$work/nginx.conf" -s stop 2>/dev/null; rm -rf "$work"' EXIT

target/release/examples/bench_upstream 127.0.0.1:18000 2>/dev/null &
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream model { server 127.0.0.1:18000; keepalive 64; }
  server {
    listen 127.0.0.1:18001;
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
nginx -p "$work" -c "$work/nginx.conf"
write_guard_config "$work"
key=$(target/release/aigis guard keys create --store "$work/keys.db" --name bench 2>/dev/null)
target/release/aigis guard serve -c "$work/aigis.toml" 2>/dev/null &
aigis_pid=$!
sleep 1

# CPU ticks (user + system, from /proc) of a proxy's processes, to report CPU per request.
ticks() { # name
  case $1 in
    aigis) pids=$aigis_pid ;;
    nginx) pids=$(pgrep -f "nginx: worker") ;;
    *) echo 0; return ;;
  esac
  for p in $pids; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s + 0}'
}
run() { # name port
  before=$(ticks "$1")
  oha -z "${secs}s" -q "$rate" -c 64 --latency-correction --no-tui --output-format json \
    -m POST -H "content-type: application/json" -H "authorization: Bearer $key" -d "$body" \
    "http://127.0.0.1:$2/v1/chat/completions" > "$work/$1.$r.json"
  echo $(( $(ticks "$1") - before )) > "$work/$1.$r.ticks"
}
for r in $(seq "$rounds"); do
  for t in direct:18000 nginx:18001 aigis:18002; do run "${t%%:*}" "${t##*:}"; done
done
python3 - "$work" "$rounds" "$rate" <<'PY'
import json, statistics, sys
work, rounds, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
res = {}
for name in ["direct", "nginx", "aigis"]:
    p50, p99, ok, codes = [], [], [], {}
    for r in range(1, rounds + 1):
        d = json.load(open(f"{work}/{name}.{r}.json"))
        p50.append(d["latencyPercentiles"]["p50"] * 1000)
        p99.append(d["latencyPercentiles"]["p99"] * 1000)
        ok.append(d["summary"]["successRate"])
        for c, n in d.get("statusCodeDistribution", {}).items():
            codes[c] = codes.get(c, 0) + n
    res[name] = (statistics.median(p50), statistics.median(p99), min(ok), codes)
print(f"{rate} req/s, median of {rounds} rounds (ms)")
print(f"{'':8} {'p50':>7} {'p99':>7} {'added p50':>10} {'added p99':>10}  status codes")
d50, d99 = res["direct"][0], res["direct"][1]
for name, (a, b, ok, codes) in res.items():
    print(f"{name:8} {a:7.3f} {b:7.3f} {a - d50:10.3f} {b - d99:10.3f}  {codes}")
n_add = res["nginx"][0] - d50
a_add = res["aigis"][0] - d50
if n_add > 0:
    print(f"aigis added p50 / nginx added p50: {a_add / n_add:.2f}x")
import os
hz = os.sysconf("SC_CLK_TCK")
for name in ["nginx", "aigis"]:
    per = []
    for r in range(1, rounds + 1):
        d = json.load(open(f"{work}/{name}.{r}.json"))
        n = sum(d.get("statusCodeDistribution", {}).values()) or 1
        per.append(int(open(f"{work}/{name}.{r}.ticks").read()) / hz / n * 1e6)
    print(f"{name} CPU per request: {statistics.median(per):.0f} us (median of {rounds} rounds)")
PY
