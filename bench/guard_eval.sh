#!/usr/bin/env bash
# The guard's detection beside LLM Guard's offline input scanners on the labelled development
# prompts (../shared/data/prompts), one scorer for both, and their speed on the same prompts.
# aigis's default chain was trained on these prompts, so its figure here is in-sample: the
# honest aigis figure is eval_prompts' leave-one-category-out, printed after the table. LLM
# Guard's scanners are rules (nothing trained), so its figure is fair as it stands.
# Creates a virtualenv outside the repo (AIGIS_GUARD_BENCH_VENV, default
# ~/.cache/aigis-llmguard) with the pinned anchor.
#   bench/guard_eval.sh [PROMPTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
prompts=${1:-../shared/data/prompts}
venv=${AIGIS_GUARD_BENCH_VENV:-$HOME/.cache/aigis-llmguard}
if ! "$venv/bin/python" -c "import llm_guard" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/guard_eval/requirements.txt
fi
work=bench/work/guard_eval
mkdir -p "$work"
cargo build --release -q -p aigis
cat "$prompts/attacks.jsonl" "$prompts/benign.jsonl" > "$work/prompts.jsonl"
start=$(date +%s.%N)
target/release/aigis guard classify -q -i "$work/prompts.jsonl" -o "$work/aigis.jsonl" || true
end=$(date +%s.%N)
n=$(wc -l < "$work/prompts.jsonl")
echo "aigis: $n prompts in $(echo "$end - $start" | bc) s (includes start-up)" >&2
"$venv/bin/python" bench/guard_eval/run_llm_guard.py "$prompts/attacks.jsonl" "$prompts/benign.jsonl" \
  > "$work/llm_guard.jsonl"
python3 bench/guard_eval/score.py --prompts "$prompts" \
  --guard "aigis (in-sample)=$work/aigis.jsonl" --guard "llm-guard offline=$work/llm_guard.jsonl" \
  --json "$work/score.json"
echo
echo "aigis, leave-one-category-out (the classifier never saw the category it is scored on):"
cargo run --release -q -p aigis-guard --example eval_prompts 2>/dev/null | sed -n '/threshold 0.61 (default)/,/fpr_1pct/p' \
  | grep -v fpr_1pct
