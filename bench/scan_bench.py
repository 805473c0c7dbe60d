#!/usr/bin/env python3
"""Time `aigis scan` against picklescan, modelscan, fickling (and modelaudit when installed),
side by side on the same inputs, the way users run them. Prints a Markdown report.

Inputs:
  1. the fixture corpus (crates/aigis-scan/tests/fixtures/{benign,malicious}), as one
     directory call and as one CLI call per file;
  2. a multi-GB PyTorch zip checkpoint (generated with torch.save, cached under bench/work);
  3. a ~200 MB opcode-dense pickle (a large vocabulary dict, cached).
Each measurement is the median of --runs wall-clock runs (default 3; 1 for per-file loops).

Usage: bench/scan_bench.py --aigis target/release/aigis [--runs 3] [--gb 3]
"""
import argparse, os, pickle, shutil, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "bench", "work")
FIX = os.path.join(ROOT, "crates", "aigis-scan", "tests", "fixtures")


ENV = dict(os.environ, PROMPTFOO_DISABLE_TELEMETRY="1", NO_COLOR="1")
TIMEOUT = 300


def run(cmd):
    """Run one command; returns its exit code, or None when it hit TIMEOUT seconds."""
    try:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, timeout=TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        return None


def timed(cmd, runs):
    ts = []
    rc = None
    for _ in range(runs):
        t = time.perf_counter()
        rc = run(cmd)
        ts.append(time.perf_counter() - t if rc is not None else float("inf"))
        if rc is None:
            break
    return statistics.median(ts), rc


def per_file(cmd_for, files):
    """One call per file, once; returns the total wall time and each file's exit code."""
    codes = {}
    t = time.perf_counter()
    for f in files:
        codes[f] = run(cmd_for(f))
    return time.perf_counter() - t, codes


def make_inputs(gb):
    os.makedirs(WORK, exist_ok=True)
    big = os.path.join(WORK, f"checkpoint_{gb:g}gb.pt")
    if not os.path.exists(big):
        import torch
        n = int(gb * (1 << 30) / 4 / 8)
        torch.save({f"layer{i}.weight": torch.zeros(n) for i in range(8)}, big)
    dense = os.path.join(WORK, "vocab_200mb.pkl")
    if not os.path.exists(dense):
        vocab = {f"tok_{i:08d}_{'x' * (i % 7)}": i for i in range(8_500_000)}
        with open(dense, "wb") as f:
            pickle.dump(vocab, f, protocol=4)
    return big, dense


def tool_cmds(aigis):
    bindir = os.path.dirname(sys.executable)
    t = {
        "aigis": lambda p: [aigis, "scan", "-q", "--format", "json", p],
        "picklescan": lambda p: [os.path.join(bindir, "picklescan"), "-p", p],
        "modelscan": lambda p: [os.path.join(bindir, "modelscan"), "-p", p],
        "fickling": lambda p: [os.path.join(bindir, "fickling"), "--check-safety", p],
    }
    if shutil.which("modelaudit", path=bindir):
        t["modelaudit"] = lambda p: [os.path.join(bindir, "modelaudit"), "scan", "--no-cache", p]
    return t


def detection(codes_by_tool, manifest):
    """Per tool: malicious files it flags (exit 1) and benign files it flags, from the
    one-call-per-file pass."""
    out = ["\nDetection on the same corpus (one call per file; flagged = exit code 1; files that are parts of a model directory, such as raw tensor shards, excluded):\n",
           "| tool | malicious flagged | benign flagged (false positives) | malicious files it errored on (exit >= 2) |", "|---|---|---|---|"]
    mal = [os.path.join(FIX, k) for k, v in manifest.items() if v.get("malicious")]
    ben = [os.path.join(FIX, k) for k, v in manifest.items() if not v.get("malicious") and not v.get("support")]
    for name, codes in codes_by_tool.items():
        hits = sum(codes.get(k) == 1 for k in mal)
        errs = sum(codes.get(k) not in (0, 1) for k in mal)
        fps = sum(codes.get(k) == 1 for k in ben)
        out.append(f"| {name} | {hits}/{len(mal)} ({100 * hits / len(mal):.0f}%) | {fps}/{len(ben)} | {errs} |")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aigis", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gb", type=float, default=3)
    ap.add_argument("--tools", default="", help="comma-separated subset, e.g. aigis,picklescan")
    a = ap.parse_args()
    tools = tool_cmds(os.path.abspath(a.aigis))
    if a.tools:
        tools = {k: v for k, v in tools.items() if k in a.tools.split(",")}
    files = sorted(os.path.join(dp, f) for d in ("benign", "malicious") for dp, _, fs in os.walk(os.path.join(FIX, d)) for f in fs)
    corpus_dir = os.path.join(WORK, "corpus")
    shutil.rmtree(corpus_dir, ignore_errors=True)
    os.makedirs(corpus_dir)
    for d in ("benign", "malicious"):
        shutil.copytree(os.path.join(FIX, d), os.path.join(corpus_dir, d))
    big, dense = make_inputs(a.gb)
    out = []
    out.append(f"Machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; runs per figure: {a.runs} (median).\n")
    out.append(f"Corpus: {len(files)} fixture files ({sum(os.path.getsize(f) for f in files) / 1e6:.1f} MB).\n")
    out.append(f"Timeout per command: {TIMEOUT} s. Anchors run once on the large inputs and per file; aigis {a.runs} times.\n")
    out.append("| tool | corpus, one call on the directory (s) | corpus, one call per file (s) | "
               f"{os.path.getsize(big) / 1e9:.1f} GB torch checkpoint (s) | {os.path.getsize(dense) / 1e6:.0f} MB opcode-dense pickle (s) |")
    out.append("|---|---|---|---|---|")
    rows = {}
    codes_by_tool = {}
    for name, cmd in tools.items():
        d_dir, dir_rc = timed(cmd(corpus_dir), a.runs)
        d_files, codes_by_tool[name] = per_file(cmd, files)
        d_big, _ = timed(cmd(big), a.runs if name == "aigis" else 1)
        d_dense, _ = timed(cmd(dense), a.runs if name == "aigis" else 1)
        rows[name] = (d_dir, d_files, d_big, d_dense)
        fmt = lambda x, p: f">{TIMEOUT}" if x == float("inf") else f"{x:.{p}f}"
        out.append(f"| {name} | {fmt(d_dir, 3)} (exit {dir_rc}) | {fmt(d_files, 2)} | {fmt(d_big, 3)} | {fmt(d_dense, 2)} |")
        print(out[-1], file=sys.stderr)
    nd, _ = timed([tools["aigis"](big)[0], "scan", "-q", "--no-digest", "--format", "json", big], a.runs)
    out.append(f"\naigis on the checkpoint without SHA-256 digests (`--no-digest`): {nd:.3f} s.")
    a_row = rows["aigis"]
    out.append("\nRatios (anchor time / aigis time; higher is better for aigis):\n")
    out.append("| anchor | directory | per file | checkpoint | dense pickle |")
    out.append("|---|---|---|---|---|")
    for name, r in rows.items():
        if name == "aigis":
            continue
        ratio = lambda x, y: f">{TIMEOUT / y:.0f}x" if x == float("inf") else f"{x / y:.0f}x"
        out.append(f"| {name} | {ratio(r[0], a_row[0])} | {ratio(r[1], a_row[1])} | {ratio(r[2], a_row[2])} | {ratio(r[3], a_row[3])} |")
    mbps = os.path.getsize(dense) / 1e6 / a_row[3]
    out.append(f"\naigis throughput on the opcode-dense pickle: {mbps:.0f} MB/s (wall, including process start and SHA-256).")
    import json
    manifest = json.load(open(os.path.join(FIX, "expected.json")))
    out.extend(detection(codes_by_tool, manifest))
    print("\n".join(out))


if __name__ == "__main__":
    main()
