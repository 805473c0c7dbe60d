#!/usr/bin/env python3
"""LLM Guard's offline input scanners over labelled prompts: one JSON line per prompt,
{"id", "blocked", "scanners": [names that failed]}, and prompts per second on stderr.

The scanners that need no downloaded model, each with its package defaults: InvisibleText,
Secrets (detect-secrets and LLM Guard's own plugins) and BanSubstrings with the list of
jailbreak markers LLM Guard ships (its output scanner's OUTPUT_STOP_SUBSTRINGS; the input
scanner has no default list). PromptInjection, BanTopics, Gibberish, Toxicity and the other
classifiers pull Hugging Face weights at first use and are not run (see SOURCES.md of the
prompt set: the reference figures for "LLM Guard's offline scanners" are for this set).

    python run_llm_guard.py PROMPTS.jsonl... > llm_guard.jsonl
"""
import json
import logging
import sys
import time

logging.disable(logging.CRITICAL)

from llm_guard import scan_prompt  # noqa: E402
from llm_guard.util import configure_logger  # noqa: E402
from llm_guard.input_scanners import BanSubstrings, InvisibleText, Secrets  # noqa: E402
from llm_guard.output_scanners.ban_substrings import OUTPUT_STOP_SUBSTRINGS  # noqa: E402


def main():
    # Its per-scan debug lines go to stdout by default: errors only, on stderr.
    configure_logger(log_level="ERROR", stream=sys.stderr)
    scanners = [
        InvisibleText(),
        Secrets(),
        BanSubstrings(substrings=OUTPUT_STOP_SUBSTRINGS, match_type="str", case_sensitive=False),
    ]
    names = ["InvisibleText", "Secrets", "BanSubstrings"]
    prompts = []
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            prompts.extend(json.loads(line) for line in f if line.strip())
    t0 = time.perf_counter()
    for p in prompts:
        _, valid, _ = scan_prompt(scanners, p["text"], fail_fast=False)
        failed = [n for n, s in zip(names, scanners) if not valid.get(type(s).__name__, True)]
        print(json.dumps({"id": p["id"], "blocked": bool(failed), "scanners": failed}))
    dt = time.perf_counter() - t0
    print(f"llm-guard: {len(prompts)} prompts in {dt:.2f} s = {len(prompts) / dt:.0f} prompts/s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
