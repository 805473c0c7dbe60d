#!/usr/bin/env bash
# Benchmark `aigis sign`/`verify` against model-signing 1.1.1 (issue 3's data sets).
# Not run in CI: it writes 8 GiB of test data under bench/work/sign (override with --work).
# Creates a virtualenv outside the repo (AIGIS_SIGN_BENCH_VENV, default ~/.cache/aigis-sign-bench)
# with the pinned peer, builds aigis in release mode and prints the Markdown table.
#   bench/sign.sh [--size-gib 1] [--runs 3] [--cache warm|cold|both] [--sets abc]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AIGIS_SIGN_BENCH_VENV:-$HOME/.cache/aigis-sign-bench}
if [ ! -x "$venv/bin/model_signing" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tests/interop/requirements.txt
fi
cargo build --release -p aigis
"$venv/bin/python" bench/sign_bench.py --aigis target/release/aigis --model-signing "$venv/bin/model_signing" "$@"
