"""FGSM and PGD throughput, aigis against the Adversarial Robustness Toolbox, side by side on the
same ONNX models and data, in one run (issue 8's benchmark).

Also prints the robust-accuracy table: ART's figures (written by make_reference.py and make_producers.py)
beside aigis's on the same models and data. Throughput models: the reference MLP and CNN (tests/fixtures, made by make_reference.py); for ART the same
weights loaded into the equivalent torch modules (PyTorchClassifier). Data: the 540 digits test
rows repeated 10 times (5,400 samples) so that per-call overheads do not dominate. Each attack
runs RUNS times per tool, the tools interleaved round by round (the host's speed drifts); medians
are quoted. ART is timed in process (Python start-up and imports not counted) at batch size 32
(its default), 512 and 2,048, the default and the fastest reported; aigis is
timed in process too (the attack's own `seconds` in the JSON report; model and data loading not
counted), and the whole command's wall time is printed beside it.

    python bench/robust/bench.py --aigis target/release/aigis [--runs 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnx
import torch
from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from onnx import numpy_helper

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "aigis-robust", "tests", "fixtures")
EPS, STEPS, REPEAT = 0.1, 20, 10


def torch_model(name):
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(f"{FIX}/{name}.onnx").graph.initializer}
    if name == "mlp":
        net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        pairs = [(net[0], "fc1"), (net[2], "fc2")]
        shape = (64,)
    else:
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                  torch.nn.Linear(128, 10))
        with torch.no_grad():
            net[0].weight.copy_(w["conv.w"])
            net[0].bias.copy_(w["conv.b"])
        pairs = [(net[4], "fc")]
        shape = (1, 8, 8)
    with torch.no_grad():
        for layer, key in pairs:
            layer.weight.copy_(w[f"{key}.w"])
            layer.bias.copy_(w[f"{key}.b"])
    return PyTorchClassifier(model=net.eval(), loss=torch.nn.CrossEntropyLoss(), input_shape=shape, nb_classes=10,
                             clip_values=(0.0, 1.0))


def art_attack(clf, attack, batch):
    if attack == "fgsm":
        return FastGradientMethod(clf, norm=np.inf, eps=EPS, batch_size=batch)
    return ProjectedGradientDescent(clf, norm=np.inf, eps=EPS, eps_step=2.5 * EPS / STEPS, max_iter=STEPS, num_random_init=0,
                                    batch_size=batch, verbose=False)


# ART's default batch size first; the fastest of all is reported beside it.
ART_BATCHES = [32, 512, 2048]


def settle():
    """A pause before each timed run: PyTorch's OpenMP workers keep spinning for a while after
    a parallel region, and would otherwise take a core from whatever runs next."""
    time.sleep(0.3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aigis", required=True)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="aigis-robust-bench-")
    rows = []
    for name, data in [("mlp", "digits-test.npz"), ("cnn", "digits-test-img.npz")]:
        d = np.load(f"{FIX}/{data}")
        x, y = np.concatenate([d["x"]] * REPEAT), np.concatenate([d["y"]] * REPEAT)
        path = os.path.join(work, f"{name}.npz")
        np.savez(path, x=x, y=y)
        clf = torch_model(name)
        onehot = np.eye(10, dtype=np.float32)[y]
        for attack in ["fgsm", "pgd"]:
            # Interleaved: each round times ART at both batch sizes and aigis back to back, so
            # the host's drift (a quarter within minutes here) hits all three alike.
            times = {b: [] for b in ART_BATCHES}
            accs = {}
            ours, walls = [], []
            for _ in range(a.runs):
                for batch in ART_BATCHES:
                    settle()
                    t = time.perf_counter()
                    adv = art_attack(clf, attack, batch).generate(x, y=onehot)
                    times[batch].append(time.perf_counter() - t)
                    accs[batch] = float((clf.predict(adv).argmax(1) == y).mean())
                settle()
                t = time.perf_counter()
                out = subprocess.run([a.aigis, "robust", "eval", "--model", f"{FIX}/{name}.onnx", "--data", path, "--attack", attack,
                                      "--eps", str(EPS), "--steps", str(STEPS), "-f", "json"], check=True, capture_output=True, text=True)
                walls.append(time.perf_counter() - t)
                v = json.loads(out.stdout)
                ours.append(v["curve"][0]["seconds"][attack])
            art = {b: (statistics.median(times[b]), accs[b]) for b in times}
            best_batch = min(art, key=lambda b: art[b][0])
            best = (art[best_batch][0], best_batch, art[best_batch][1])
            n = len(y)
            row = {
                "model": name, "attack": attack, "samples": n,
                "art_default_seconds": round(art[32][0], 4), "art_default_samples_per_s": round(n / art[32][0]),
                "art_seconds": round(best[0], 4), "art_batch": best[1], "art_samples_per_s": round(n / best[0]),
                "art_robust_accuracy": round(best[2], 4),
                "aigis_seconds": round(statistics.median(ours), 4), "aigis_wall_seconds": round(statistics.median(walls), 4),
                "aigis_samples_per_s": round(n / max(statistics.median(ours), 1e-9)),
                "aigis_robust_accuracy": round(v["robust_accuracy"], 4),
            }
            row["speedup"] = round(row["art_seconds"] / max(row["aigis_seconds"], 1e-9), 1)
            row["speedup_vs_default"] = round(row["art_default_seconds"] / max(row["aigis_seconds"], 1e-9), 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    accuracy_table(a.aigis)
    print()
    print("| model | attack | samples | ART batch 32 (default): s, samples/s | ART best: s (batch), samples/s | aigis: s (wall), samples/s "
          "| vs ART default | vs ART best | robust acc ART / aigis |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['attack']} | {r['samples']} | {r['art_default_seconds']}, {r['art_default_samples_per_s']:,} | "
              f"{r['art_seconds']} ({r['art_batch']}), {r['art_samples_per_s']:,} | "
              f"{r['aigis_seconds']} ({r['aigis_wall_seconds']}), {r['aigis_samples_per_s']:,} | {r['speedup_vs_default']}x | "
              f"{r['speedup']}x | {r['art_robust_accuracy']} / {r['aigis_robust_accuracy']} |")


def accuracy_table(aigis):
    """Robust accuracy, ART (reference.json / producers.json, made by the generator scripts) beside
    aigis on the same models and data, every figure DESIGN.md's conventions."""
    ref = json.load(open(f"{FIX}/reference.json"))
    prod = json.load(open(f"{FIX}/producers.json"))
    cases = []
    for model in ["linear", "mlp", "cnn"]:
        r = ref["models"][model]
        for attack, norm, table in [("fgsm", "linf", "fgsm"), ("pgd", "linf", "pgd"), ("pgd", "l2", "pgd_l2")]:
            for eps, art in r[table].items():
                cases.append((model, "digits-test-img.npz" if model == "cnn" else "digits-test.npz", attack, norm, eps, art))
    for model, data in [("skl-logreg", "digits-test.npz"), ("torch-cnn", "digits-test-img.npz")]:
        for attack in ["fgsm", "pgd"]:
            for eps, art in prod["models"][model].get(attack, {}).items():
                cases.append((model, data, attack, "linf", eps, art))
    keras = json.load(open(f"{FIX}/keras.json"))["models"]
    for model, data in [("keras-mlp", "digits-test.npz"), ("keras-cnn", "digits-test-nhwc.npz")]:
        for eps, art in keras[model]["fgsm"].items():
            cases.append((model, data, "fgsm", "linf", eps, art))
    print()
    print("| model | attack | norm | eps | ART 1.20.1 | aigis | difference |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for model, data, attack, norm, eps, art in cases:
        out = subprocess.run([aigis, "robust", "eval", "--model", f"{FIX}/{model}.onnx", "--data", f"{FIX}/{data}", "--attack", attack,
                              "--norm", norm, "--eps", eps, "--steps", str(STEPS), "-f", "json"], check=True, capture_output=True, text=True)
        ours = json.loads(out.stdout)["robust_accuracy"]
        worst = max(worst, abs(ours - art))
        print(f"| {model} | {attack.upper()}{'-20' if attack == 'pgd' else ''} | {norm} | {eps} | {art:.4f} | {ours:.4f} | {ours - art:+.4f} |")
    print(f"\nlargest difference: {worst:.4f} over {len(cases)} figures")


if __name__ == "__main__":
    main()
