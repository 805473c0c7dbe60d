"""Evidently's DataDriftPreset on the benchmark tables, with KS for numeric and chi-squared
for categorical columns (the p-value tests aigis runs; Evidently's large-data default would
use Wasserstein / Jensen-Shannon thresholds instead). Prints CPU seconds for reading and for
the report, and the per-column decisions, as JSON.

    python run_evidently.py REFERENCE.csv CURRENT.csv
"""
import json
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

t0 = time.process_time()
ref = pd.read_csv(sys.argv[1])
cur = pd.read_csv(sys.argv[2])
t1 = time.process_time()
cat = [c for c in ref.columns if ref[c].dtype == object or c.startswith("bin")]
num = [c for c in ref.columns if c not in cat]
definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
report = Report([DataDriftPreset(num_method="ks", cat_method="chisquare")])
snap = report.run(
    Dataset.from_pandas(cur, data_definition=definition),
    Dataset.from_pandas(ref, data_definition=definition),
)
t2 = time.process_time()
cols = {}
for m in snap.dict()["metrics"]:
    name = m.get("metric_name", "")
    if name.startswith("ValueDrift("):
        col = name.split("column=")[1].split(",")[0].rstrip(")")
        p = m["value"]
        cols[col] = {"p_value": float(p), "drift": bool(p < 0.05)}
print(json.dumps({"read_cpu_s": t1 - t0, "test_cpu_s": t2 - t1, "columns": cols}))
