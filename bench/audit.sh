#!/usr/bin/env bash
# Audit log cost: the gateway's saturated throughput and latency with the audit log off, in a
# file (fsync at checkpoints; fsync per batch of records) and in PostgreSQL, side by side, with
# the same request. Needs wrk (apt-get install wrk); PostgreSQL from AIGIS_TEST_POSTGRES_URL
# (skipped when unset). Not run in CI.
#   bench/audit.sh [--seconds 10] [--connections 32] [--rounds 3]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/guard_common.sh
secs=10 conns=32 rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)"; exit 2; }
cargo build --release -q -p aigis
cargo build --release -q -p aigis-guard --example bench_upstream
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
aigis=target/release/aigis
target/release/examples/bench_upstream 127.0.0.1:18100 2>/dev/null &
key=$("$aigis" guard keys create --store "$work/keys.db" --name bench 2>/dev/null)
run_id=$$-$(date +%s)
"$aigis" audit keygen --name "bench.aigis/$run_id" -o "$work/audit.key" 2>/dev/null
cat > "$work/req.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $key"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"I am planning a trip to France next spring with my family. What is the capital?"}],"max_tokens":64}'
LUA

config() { # audit-section
  write_guard_config "$work" 18102 18100 "$1"
}
modes="off file-checkpoint file-always"
[ -n "${AIGIS_TEST_POSTGRES_URL:-}" ] && modes="$modes postgres"
for r in $(seq "$rounds"); do
  for m in $modes; do
    case $m in
      off) config "" ;;
      file-checkpoint) config "[guard.serve.audit]
path = \"audit-$r.jsonl\"
key = \"audit.key\"
fsync = \"checkpoint\"" ;;
      file-always) config "[guard.serve.audit]
path = \"audit-always-$r.jsonl\"
key = \"audit.key\"
fsync = \"always\"" ;;
      postgres) config "[guard.serve.audit]
path = \"$AIGIS_TEST_POSTGRES_URL\"
key = \"audit.key\"" ;;
    esac
    "$aigis" guard serve -c "$work/aigis.toml" 2>/dev/null &
    pid=$!
    sleep 0.7
    wrk -t 2 -c "$conns" -d "${secs}s" --latency -s "$work/req.lua" \
      http://127.0.0.1:18102/v1/chat/completions > "$work/$m.$r.txt"
    kill -TERM $pid; wait $pid 2>/dev/null || true
  done
done
if [ -n "${AIGIS_TEST_POSTGRES_URL:-}" ] && command -v psql >/dev/null; then
  psql -q "$AIGIS_TEST_POSTGRES_URL" -c "DELETE FROM aigis_audit_records WHERE log_id = 'bench.aigis/$run_id'; DELETE FROM aigis_audit_checkpoints WHERE log_id = 'bench.aigis/$run_id';" || true
fi
python3 - "$work" "$rounds" "$modes" "$conns" <<'PY'
import re, statistics, sys
work, rounds, modes, conns = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
def ms(v):
    n, u = float(re.match(r"[\d.]+", v).group()), re.sub(r"[\d.]", "", v)
    return n * {"us": 0.001, "ms": 1, "s": 1000}[u]
print(f"saturated, wrk -c {conns}, median of {rounds} rounds")
print(f"{'audit':16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  non-2xx")
for m in modes:
    rps, p50, p99, bad = [], [], [], 0
    for r in range(1, rounds + 1):
        t = open(f"{work}/{m}.{r}.txt").read()
        rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)))
        p50.append(ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1)))
        p99.append(ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1)))
        x = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        bad += int(x.group(1)) if x else 0
    print(f"{m:16} {statistics.median(rps):9.0f} {statistics.median(p50):8.3f} {statistics.median(p99):8.3f}  {bad}")
PY
