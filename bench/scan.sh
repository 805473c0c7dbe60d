#!/usr/bin/env bash
# Benchmark `aigis scan` against picklescan, modelscan and fickling (modelaudit if installed).
# Not run in CI. Creates a virtualenv outside the repo (AIGIS_BENCH_VENV, default
# ~/.cache/aigis-bench-venv) with the pinned anchors, builds aigis in release mode, and
# prints the Markdown tables used in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AIGIS_BENCH_VENV:-$HOME/.cache/aigis-bench-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/requirements.txt
fi
cargo build --release -p aigis
"$venv/bin/python" bench/scan_bench.py --aigis target/release/aigis "$@"
