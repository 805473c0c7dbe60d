#!/usr/bin/env python3
"""Scores predictions against the gold corpus: precision, recall and F1 per entity type, by
exact span and by overlap, plus micro averages over PII types and over secret types.

Predictions are JSONL: {"id": …, "entities": [{"type", "start", "end"}]} (aigis pii detect's
output), Python str offsets. Only types present in the gold corpus are scored; a tool's other
types (Presidio's NRP, say) are ignored rather than counted as false positives.

Usage: score.py --gold corpus.jsonl --pred aigis=a.jsonl --pred presidio=p.jsonl [--json out.json]
"""
import argparse
import json
from collections import defaultdict


def load(path, key="entities"):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                v = json.loads(line)
                out[v["id"]] = [(e["type"], e["start"], e["end"]) for e in v.get(key, [])]
    return out


def score(gold, pred, types, overlap):
    tp_p = defaultdict(int)  # predictions that match a gold span
    tp_g = defaultdict(int)  # gold spans matched
    n_p = defaultdict(int)
    n_g = defaultdict(int)
    for rid, gs in gold.items():
        ps = [p for p in pred.get(rid, []) if p[0] in types]
        for g in gs:
            n_g[g[0]] += 1
        for p in ps:
            n_p[p[0]] += 1

        def match(a, b):
            if a[0] != b[0]:
                return False
            if overlap:
                return a[1] < b[2] and b[1] < a[2]
            return a[1] == b[1] and a[2] == b[2]

        for p in ps:
            if any(match(p, g) for g in gs):
                tp_p[p[0]] += 1
        for g in gs:
            if any(match(p, g) for p in ps):
                tp_g[g[0]] += 1
    res = {}
    for t in types:
        p = tp_p[t] / n_p[t] if n_p[t] else (1.0 if n_g[t] == 0 else 0.0)
        r = tp_g[t] / n_g[t] if n_g[t] else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        res[t] = {"precision": p, "recall": r, "f1": f, "gold": n_g[t], "predicted": n_p[t]}

    def micro(sel):
        P = sum(n_p[t] for t in sel)
        G = sum(n_g[t] for t in sel)
        tpp = sum(tp_p[t] for t in sel)
        tpg = sum(tp_g[t] for t in sel)
        p = tpp / P if P else 0.0
        r = tpg / G if G else 0.0
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}

    pii = [t for t in types if not t.startswith("SECRET_")]
    sec = [t for t in types if t.startswith("SECRET_")]
    return res, micro(pii), micro(sec)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", required=True)
    ap.add_argument("--pred", action="append", required=True, help="name=file")
    ap.add_argument("--json")
    a = ap.parse_args()
    gold = load(a.gold, "spans")
    types = sorted({g[0] for gs in gold.values() for g in gs})
    tools = [p.split("=", 1) for p in a.pred]
    preds = {name: load(path) for name, path in tools}
    report = {}
    for mode in ("overlap", "exact"):
        report[mode] = {}
        for name, _ in tools:
            res, mp, ms = score(gold, preds[name], set(types), mode == "overlap")
            report[mode][name] = {"types": res, "pii_micro": mp, "secrets_micro": ms}
    # Secrets ignoring which secret type was named (a scanner with other type names is not
    # penalised for naming): every SECRET_* label becomes SECRET.
    collapse = lambda d: {k: [("SECRET" if t.startswith("SECRET_") else t, a, b) for t, a, b in v] for k, v in d.items()}
    gold_any = collapse(gold)
    for mode in ("overlap", "exact"):
        for name, _ in tools:
            # "SECRET" has no "SECRET_" prefix, so its figure is the first micro average.
            _, any_type, _ = score(gold_any, collapse(preds[name]), {"SECRET"}, mode == "overlap")
            report[mode][name]["secrets_any_type"] = any_type
    names = [n for n, _ in tools]
    for mode in ("overlap", "exact"):
        print(f"\n## F1 by entity type ({mode} match); P/R in brackets")
        print("| type | gold | " + " | ".join(names) + " |")
        print("|---|---:|" + "---:|" * len(names))
        for t in types:
            cells = []
            for n in names:
                r = report[mode][n]["types"][t]
                cells.append(f"{r['f1']:.2f} ({r['precision']:.2f}/{r['recall']:.2f})")
            g = report[mode][names[0]]["types"][t]["gold"]
            print(f"| {t} | {g} | " + " | ".join(cells) + " |")
        for label, key in (("**PII micro**", "pii_micro"), ("**secrets micro**", "secrets_micro"),
                           ("**secrets, any type**", "secrets_any_type")):
            cells = []
            for n in names:
                r = report[mode][n][key]
                cells.append(f"**{r['f1']:.2f}** ({r['precision']:.2f}/{r['recall']:.2f})")
            print(f"| {label} | | " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
