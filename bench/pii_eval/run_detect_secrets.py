#!/usr/bin/env python3
"""Runs Yelp's detect-secrets (pinned in requirements.txt) over a corpus line by line and writes
predictions in aigis pii detect's format, mapping its detector names to aigis secret types.

gitleaks, the anchor the issue names, ships as a Go binary from GitHub releases, which this
machine cannot reach (no Debian, PyPI or npm package carries the binary); detect-secrets is the
secrets scanner that installs from PyPI, so it stands in side by side, and docs quote the
gitleaks figure from the shared study separately.
"""
import argparse
import json
import os
import sys
import tempfile
import time

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

MAP = {
    "GitHub Token": "SECRET_GITHUB_TOKEN",
    "Slack Token": "SECRET_SLACK_TOKEN",
    "Stripe Access Key": "SECRET_STRIPE_KEY",
    "JSON Web Token": "SECRET_JWT",
    "Private Key": "SECRET_PRIVATE_KEY",
    "OpenAI Token": "SECRET_OPENAI_KEY",
    "Secret Keyword": "SECRET_GENERIC",
    "Base64 High Entropy String": "SECRET_GENERIC",
    "Hex High Entropy String": "SECRET_GENERIC",
}


def kind(t, value):
    if t == "AWS Access Key":
        return "SECRET_AWS_ACCESS_KEY" if value.startswith(("AKIA", "ASIA")) else "SECRET_AWS_SECRET_KEY"
    return MAP.get(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    records = [json.loads(l) for l in open(a.corpus, encoding="utf-8") if l.strip()]
    nbytes = sum(len(r["text"].encode()) for r in records)
    # One file holding every record, as the CLI would scan it (its filters apply to files), and
    # a map from file line to (record, offset of the line in the record).
    lines, where = [], []
    for idx, r in enumerate(records):
        off = 0
        for line in r["text"].split("\n"):
            lines.append(line)
            where.append((idx, off))
            off += len(line) + 1
    tmp = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
    tmp.write("\n".join(lines) + "\n")
    tmp.close()
    t0 = time.process_time()
    found = [[] for _ in records]
    with default_settings():
        coll = SecretsCollection()
        coll.scan_file(tmp.name)
        for _, s in coll:
            k = kind(s.type, s.secret_value or "")
            if not k or not s.secret_value:
                continue
            idx, off = where[s.line_number - 1]
            line = lines[s.line_number - 1]
            at = line.find(s.secret_value)
            if at < 0:
                continue
            end = at + len(s.secret_value)
            # Some detectors report only a prefix (`ghp`): extend over the token's characters.
            while end < len(line) and (line[end].isalnum() or line[end] in "_-+/="):
                end += 1
            found[idx].append({"type": k, "start": off + at, "end": off + end})
    with open(a.out, "w") as out:
        for r, ents in zip(records, found):
            # One span per place: specific detectors win over the entropy ones.
            ents.sort(key=lambda e: (e["type"] == "SECRET_GENERIC", e["start"]))
            kept = []
            for e in ents:
                if not any(e["start"] < k["end"] and k["start"] < e["end"] for k in kept):
                    kept.append(e)
            out.write(json.dumps({"id": r["id"], "entities": kept}) + "\n")
    os.unlink(tmp.name)
    cpu = time.process_time() - t0
    print(json.dumps({"tool": "detect-secrets", "records": len(records), "bytes": nbytes,
                      "cpu_seconds": round(cpu, 2), "mb_per_cpu_second": round(nbytes / 1e6 / cpu, 4)}),
          file=sys.stderr)


if __name__ == "__main__":
    main()
