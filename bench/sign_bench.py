"""Benchmark aigis sign/verify against model-signing on the three data sets of issue 3.

  (a) 4 files of SIZE GiB   (b) one file of 4×SIZE GiB   (c) 10,000 small files (1-8 KiB)

For each: aigis sign and verify in OMS mode (files + SHA-256, the format model-signing reads),
aigis sign in the native mode (BLAKE3, parallel inside each file), and model-signing sign and
verify (key method). Every command runs --runs times; the median wall time is reported, with the
page cache warm (files read just before) or cold (evicted with posix_fadvise DONTNEED).

The hardware limit is `openssl speed -evp sha256` (16 KiB blocks, one core) times the number of
files that can be hashed at once (min(files, cores)). Prints Markdown for docs/benchmarks.md.
"""

import argparse
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import time

GIB = 1 << 30


def write_random(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size == size:
        return
    chunk = os.urandom(64 << 20)
    with open(path, "wb") as f:
        left = size
        i = 0
        while left > 0:
            n = min(left, len(chunk))
            # Vary each chunk so no two blocks are equal (defeats any dedup/compression).
            f.write(i.to_bytes(8, "little") + chunk[8:n])
            left -= n
            i += 1


def datasets(work, size_gib):
    size = int(size_gib * GIB)
    a = work / "a-4-files"
    for i in range(4):
        write_random(a / f"shard-{i}.bin", size)
    b = work / "b-one-file"
    write_random(b / "model.bin", 4 * size)
    c = work / "c-10k-files"
    if not (c / "done").exists():
        shutil.rmtree(c, ignore_errors=True)
        for i in range(10_000):
            p = c / f"dir{i // 500:02d}" / f"f{i:05d}.bin"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(os.urandom(1024 + (i * 7919) % 7168))
        (c / "done").write_text("")
    return {"a": a, "b": b, "c": c}


def files_of(d):
    return [p for p in d.rglob("*") if p.is_file() and p.name != "done"]


def set_cache(d, warm):
    for p in files_of(d):
        fd = os.open(p, os.O_RDONLY)
        try:
            if warm:
                while os.read(fd, 16 << 20):
                    pass
            else:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(cmd, env):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}{p.stderr}")
    return dt


def openssl_sha256():
    out = subprocess.run(["openssl", "speed", "-evp", "sha256", "-seconds", "3", "-bytes", "16384"],
                         capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.lower().startswith("sha256")][-1]
    kb_per_s = float(re.findall(r"([\d.]+)k", line)[-1])
    return kb_per_s * 1000  # bytes/s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aigis", required=True)
    ap.add_argument("--model-signing", required=True)
    ap.add_argument("--work", default="bench/work/sign")
    ap.add_argument("--size-gib", type=float, default=1.0, help="size of each file of (a); (b) is 4x")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cache", choices=["warm", "cold", "both"], default="both")
    ap.add_argument("--sets", default="abc")
    a = ap.parse_args()
    work = pathlib.Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, AIGIS_HOME=str(work / "home"))
    key, pub = work / "key.pem", work / "key.pub.pem"
    if not key.exists():
        subprocess.run([a.aigis, "keygen", "-o", key], check=True, env=env, capture_output=True)
    sets = datasets(work, a.size_gib)
    cores = os.cpu_count() or 1
    sha_core = openssl_sha256()
    print(f"machine: {cores} cores, {os.uname().machine}; openssl speed -evp sha256 (16 KiB): "
          f"{sha_core / 1e9:.2f} GB/s per core; runs: {a.runs}, median wall time\n")
    print("| set | cache | tool | mode | median s | GB/s | vs limit | vs model-signing |")
    print("|---|---|---|---|---|---|---|---|")
    for s in a.sets:
        d = sets[s]
        fs = files_of(d)
        total = sum(p.stat().st_size for p in fs)
        limit = sha_core * min(len(fs), cores)
        sig = work / f"{s}.sig"
        msig = work / f"{s}.ms.sig"
        cmds = [
            ("aigis", "sign OMS sha256", [a.aigis, "sign", d, "--key", key, "--signature", sig, "-q", "--no-log"]),
            ("aigis", "verify OMS sha256", [a.aigis, "verify", d, "--key", pub, "--signature", sig, "-q", "--no-log"]),
            ("aigis", "sign native blake3", [a.aigis, "sign", d, "--key", key, "--signature", work / f"{s}.b3.sig",
                                             "--hash", "blake3", "-q", "--no-log"]),
            ("model-signing", "sign key", [a.model_signing, "sign", "key", d, "--private_key", key, "--signature", msig]),
            ("model-signing", "verify key", [a.model_signing, "verify", "key", d, "--public_key", pub, "--signature", msig]),
        ]
        caches = ["warm", "cold"] if a.cache == "both" else [a.cache]
        if s == "c":
            caches = ["warm"]
        for cache in caches:
            med = {}
            for tool, mode, cmd in cmds:
                times = []
                for _ in range(a.runs):
                    set_cache(d, cache == "warm")
                    times.append(timed([str(c) for c in cmd], env))
                med[(tool, mode)] = statistics.median(times)
            for (tool, mode), t in med.items():
                gbs = total / t / 1e9
                vs_limit = f"{total / t / limit:.2f}×" if "sha256" in mode or tool == "model-signing" else ""
                peer = {"sign": ("model-signing", "sign key"), "verify": ("model-signing", "verify key")}
                vs_ms = ""
                if tool == "aigis":
                    ref = med[peer["verify" if mode.startswith("verify") else "sign"]]
                    vs_ms = f"{ref / t:.1f}× faster"
                print(f"| ({s}) {len(fs)} files, {total / 1e9:.2f} GB | {cache} | {tool} | {mode} | {t:.3f} | "
                      f"{gbs:.2f} | {vs_limit} | {vs_ms} |")
            if s == "b":
                r = med[("aigis", "sign OMS sha256")] / med[("aigis", "sign native blake3")]
                print(f"| (b) | {cache} | aigis | native vs OMS | | | | {r:.2f}× |")
        sys.stdout.flush()
    print(f"\nlimit = {sha_core / 1e9:.2f} GB/s × min(files, {cores} cores)")


if __name__ == "__main__":
    main()
