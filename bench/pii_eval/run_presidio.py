#!/usr/bin/env python3
"""Runs Microsoft Presidio's AnalyzerEngine over a corpus (JSONL with "id" and "text") and writes
predictions in aigis pii detect's format. Pinned in requirements.txt.

No spaCy English model installs from the registries this machine reaches (en_core_web_sm/md/lg
are published on GitHub, not PyPI; the PyPI names are absent or placeholder packages), so the
NLP engine is a blank English spaCy pipeline: Presidio's pattern recognizers, checksums and
context words all run, its NER-based PERSON/LOCATION/NRP find nothing. The report says so.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--threshold", type=float, default=0.4)
    a = ap.parse_args()
    model_dir = os.path.join(tempfile.mkdtemp(), "blank_en")
    spacy.blank("en").to_disk(model_dir)
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model_dir}],
    })
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    records = [json.loads(l) for l in open(a.corpus, encoding="utf-8") if l.strip()]
    nbytes = sum(len(r["text"].encode()) for r in records)
    t0 = time.process_time()
    w0 = time.time()
    with open(a.out, "w") as out:
        for r in records:
            res = engine.analyze(text=r["text"], language="en", score_threshold=a.threshold)
            ents = [{"type": x.entity_type, "start": x.start, "end": x.end, "score": round(x.score, 2)} for x in res]
            out.write(json.dumps({"id": r["id"], "entities": ents}) + "\n")
    cpu = time.process_time() - t0
    print(json.dumps({"tool": "presidio", "records": len(records), "bytes": nbytes, "cpu_seconds": round(cpu, 2),
                      "wall_seconds": round(time.time() - w0, 2),
                      "mb_per_cpu_second": round(nbytes / 1e6 / cpu, 4)}), file=sys.stderr)


if __name__ == "__main__":
    main()
