#!/usr/bin/env bash
# Red teaming: `aigis redteam` against garak 0.17.1 on the same OpenAI-compatible endpoint —
# aigis's own vulnerable reference target, which answers at once, so the figure is the
# harnesses' own cost — side by side, RUNS times each, medians. garak runs the probes closest
# to aigis's families that work offline (PromptInject, latent injection in résumés and
# reports, DAN, base64/hex/ROT13 injection, markdown exfiltration, SQL echo, API keys,
# divergence, grandma); aigis its full default suite with all nine buffs. Both with 16
# attempts in flight and one generation. Attempt counts differ a little, so wall time per
# 1,000 attempts is compared. Also counts distinct prompts and families of both.
# With --real-server it also runs the aigis suite against Hugging Face's `transformers serve`
# with a tiny random-weight model made locally (bench/redteam/make_tiny_model.py): a real
# OpenAI-compatible server, no download. Not run in CI (minutes).
#   bench/redteam.sh [--runs 3] [--real-server]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 real=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --real-server) real=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
venv=${AIGIS_REDTEAM_BENCH_VENV:-$HOME/.cache/aigis-garak}
if ! "$venv/bin/python" -c "import garak, fastapi" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/redteam/requirements.txt
fi
py="$venv/bin/python"
work=$PWD/bench/work/redteam
mkdir -p "$work"
cargo build --release -q -p aigis
aigis=$PWD/target/release/aigis
port=${AIGIS_REDTEAM_BENCH_PORT:-18099}
"$aigis" redteam target --listen "127.0.0.1:$port" 2>"$work/target.log" &
tpid=$!
trap 'kill $tpid 2>/dev/null || true' EXIT
sleep 0.5
cat > "$work/garak-generator.json" <<JSON
{"openai": {"OpenAICompatible": {"uri": "http://127.0.0.1:$port/v1/", "model": "aigis-vulnerable-1",
 "max_tokens": 512, "temperature": 0.0, "suppressed_params": ["stop", "frequency_penalty", "presence_penalty", "n"]}}}
JSON
probes=promptinject.HijackHateHumans,latentinjection.LatentInjectionResume,latentinjection.LatentInjectionReport,dan.Ablation_Dan_11_0,encoding.InjectBase64,encoding.InjectHex,encoding.InjectROT13,web_injection.MarkdownImageExfil,exploitation.SQLInjectionEcho,apikey.GetKey,divergence.Repeat,grandma.Win10
buffs=base64,hex,rot13,leetspeak,homoglyph,zero-width,unicode-tags,fiction,authority
export OPENAICOMPATIBLE_API_KEY=unused
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e %U %S" -o "$work/aigis.$i.time" "$aigis" redteam --target openai \
    --base-url "http://127.0.0.1:$port/v1" --model aigis-vulnerable-1 --no-cache -q \
    --concurrency 16 --buffs "$buffs" --fail-on none -f json -o "$work/aigis.json" 2>/dev/null || true
  (cd "$work" && /usr/bin/time -f "%e %U %S" -o "$work/garak.$i.time" "$py" -m garak \
    -t openai.OpenAICompatible -n aigis-vulnerable-1 -G "$work/garak-generator.json" \
    -p "$probes" -g 1 --parallel_attempts 16 --report_prefix "$work/garak" >"$work/garak.log" 2>&1)
done
"$py" - <<'PY' > "$work/garak-counts.json"
import json, garak._plugins as p
probes = [n for n, active in p.enumerate_plugins("probes") if active]
print(json.dumps({"active_probe_classes": len(probes), "families": len({n.split(".")[1] for n in probes})}))
PY
"$aigis" redteam list -f json > "$work/aigis-list.json"
python3 - "$work" "$runs" <<'PY'
import glob, json, os, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
def med(name, k):
    # /usr/bin/time puts "Command exited with non-zero status N" first when the gate fails.
    return statistics.median(float(open(f"{work}/{name}.{i}.time").read().splitlines()[-1].split()[k]) for i in range(1, runs + 1))
a = json.load(open(f"{work}/aigis.json"))
runs_dir = os.path.expanduser("~/.local/share/garak/garak_runs")
report = sorted(glob.glob(f"{work}/garak*.report.jsonl") + glob.glob(f"{runs_dir}/*garak*.report.jsonl"), key=os.path.getmtime)[-1]
g_attempts, g_prompts = 0, set()
for line in open(report):
    e = json.loads(line)
    if e.get("entry_type") == "attempt" and e.get("status") == 2:
        g_attempts += 1
        turns = e["prompt"]["turns"]
        g_prompts.add(json.dumps(turns[-1]["content"]["text"]))
aw, gw = med("aigis", 0), med("garak", 0)
acpu, gcpu = med("aigis", 1) + med("aigis", 2), med("garak", 1) + med("garak", 2)
lst = json.load(open(f"{work}/aigis-list.json"))
gc = json.load(open(f"{work}/garak-counts.json"))
print(f"aigis: {a['attempts']} attempts, {aw:.2f} s wall ({1000*aw/a['attempts']:.2f} s per 1,000), CPU {acpu:.2f} s, ASR {a['attack_success_rate']:.3f}")
print(f"garak: {g_attempts} attempts, {gw:.2f} s wall ({1000*gw/g_attempts:.2f} s per 1,000), CPU {gcpu:.2f} s")
print(f"per attempt: aigis {(gw/g_attempts)/(aw/a['attempts']):.1f}x faster (wall), {(gcpu/g_attempts)/(acpu/a['attempts']):.1f}x less CPU")
base = sum(f["prompts"] for f in lst["families"])
print(f"aigis: {len(lst['families'])} families, {base} distinct base prompts, x{1+len(lst['buffs'])} with its {len(lst['buffs'])} buffs")
print(f"garak: {gc['active_probe_classes']} active probe classes in {gc['families']} modules; this set: {len(g_prompts)} distinct prompts")
PY
if [ "$real" = 1 ]; then
  "$py" bench/redteam/make_tiny_model.py "$work/tiny-model" >/dev/null 2>&1
  "$venv/bin/transformers" serve "$work/tiny-model" --port $((port + 1)) --device cpu >"$work/serve.log" 2>&1 &
  spid=$!
  trap 'kill $tpid $spid 2>/dev/null || true' EXIT
  for _ in $(seq 60); do curl -sf "http://127.0.0.1:$((port + 1))/health" >/dev/null && break; sleep 1; done
  /usr/bin/time -f "%e" -o "$work/real.time" "$aigis" redteam --target openai \
    --base-url "http://127.0.0.1:$((port + 1))/v1" --model "$work/tiny-model" --max-tokens 32 \
    --no-cache -q --concurrency 4 -f json -o "$work/real.json" 2>/dev/null || true
  python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
r = json.load(open(f"{w}/real.json"))
fam = {f["family"]: f["successes"] for f in r["families"] if f["successes"]}
print(f"transformers serve (tiny random model): {r['attempts']} attempts, complete={r['complete']}, "
      f"{open(f'{w}/real.time').read().split()[-1]} s, successes by family {fam}")
PY
fi
