"""Two tables for the drift benchmark: ROWS rows x 20 columns (14 numeric, 4 categorical,
2 binary), the current one with drift in 6 columns. Seeded.

    python gen_tables.py --rows 1000000 --out DIR
"""
import argparse

import numpy as np
import pandas as pd

ap = argparse.ArgumentParser()
ap.add_argument("--rows", type=int, default=1_000_000)
ap.add_argument("--out", required=True)
a = ap.parse_args()


def table(rng, n, shift):
    cols = {}
    for i in range(14):
        loc = 0.05 * shift if i < 4 else 0.0
        cols[f"num{i}"] = rng.normal(loc, 1.0 + (0.1 * shift if i == 4 else 0.0), n).round(6)
    for i in range(4):
        p = np.array([0.4, 0.3, 0.2, 0.1])
        if i == 0 and shift:
            p = np.array([0.35, 0.3, 0.2, 0.15])
        cols[f"cat{i}"] = rng.choice(np.array(["a", "b", "c", "d"]), n, p=p)
    for i in range(2):
        rate = 0.03 + (0.01 * shift if i == 0 else 0.0)
        cols[f"bin{i}"] = (rng.random(n) < rate).astype(int)
    return pd.DataFrame(cols)


rng = np.random.default_rng(7)
table(rng, a.rows, 0).to_csv(f"{a.out}/reference.csv", index=False)
table(rng, a.rows, 1).to_csv(f"{a.out}/current.csv", index=False)
