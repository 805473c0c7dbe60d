"""Models from other producers for `aigis robust` (issue 8): scikit-learn exported by skl2onnx,
and a PyTorch network exported by torch.onnx.export, on the same digits split as
make_reference.py; plus a model whose gradients are masked.

Writes to OUT_DIR:
  skl-logreg.onnx   LogisticRegression   -> ai.onnx.ml LinearClassifier + Normalizer
  skl-mlp.onnx      MLPClassifier        -> Cast, MatMul, Add, Relu, Softmax (+ a label branch)
  skl-forest.onnx   RandomForest (20 trees, depth 6) -> ai.onnx.ml TreeEnsembleClassifier
  torch-cnn.onnx    Conv+BatchNorm+ReLU+MaxPool+Linear, torch.onnx.export (TorchScript exporter,
                    BatchNorm folded into the Conv by the exporter), dynamic batch
  masked.onnx       mlp.onnx's weights with the logits multiplied by 1e4: softmax saturates,
                    the cross-entropy gradient is exactly 0 for most samples (gradient masking)
  producers.json    per model: onnxruntime's clean accuracy and the scores of the first 20 test
                    rows; ART 1.20.1 FGSM robust accuracy on the logistic regression
                    (ScikitlearnLogisticRegression) and FGSM/PGD-20 on the torch CNN; ART's Square
                    Attack (on the forest's predict_proba as a black box: ART's Square Attack takes
                    neural-network estimators only) and HopSkipJump on the forest (first 100 test rows)

skl2onnx is called with zipmap=False (aigis reads score tensors, not lists of maps).

    python make_producers.py OUT_DIR
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from art.attacks.evasion import FastGradientMethod, HopSkipJump, ProjectedGradientDescent, SquareAttack
from art.estimators.classification import BlackBoxClassifierNeuralNetwork, PyTorchClassifier
from art.estimators.classification.scikitlearn import (
    ScikitlearnLogisticRegression,
    ScikitlearnRandomForestClassifier,
)
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from make_reference import data, train

EPS = [0.05, 0.1]


def skl(model, x, path):
    m = to_onnx(model, x[:1], options={id(model): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    onnx.checker.check_model(m)
    onnx.save(m, path)


def scores(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    out = s.run(None, {s.get_inputs()[0].name: x})
    return out[names.index("probabilities")] if "probabilities" in names else out[0]


def masked(reference_dir, path):
    m = onnx.load(os.path.join(reference_dir, "mlp.onnx"))
    g = m.graph
    g.output[0].name = "scaled"
    g.initializer.append(helper.make_tensor("k", TensorProto.FLOAT, [1], [1e4]))
    g.node.append(helper.make_node("Mul", ["logits", "k"], ["scaled"]))
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main(out, reference_dir):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    xtr, xte, ytr, yte = data()
    onehot = np.eye(10, dtype=np.float32)[yte]
    ref = {"art_version": "1.20.1", "eps": EPS, "models": {}}

    logreg = LogisticRegression(max_iter=2000).fit(xtr, ytr)
    mlp = MLPClassifier((32,), max_iter=500, random_state=0).fit(xtr, ytr)
    forest = RandomForestClassifier(20, max_depth=6, random_state=0).fit(xtr, ytr)
    for name, model in [("skl-logreg", logreg), ("skl-mlp", mlp), ("skl-forest", forest)]:
        skl(model, xtr, os.path.join(out, f"{name}.onnx"))

    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(128, 10),
    )
    xtr_img, xte_img = xtr.reshape(-1, 1, 8, 8), xte.reshape(-1, 1, 8, 8)
    cnn.train()
    train(cnn, xtr_img, ytr, 40, 0.005)
    torch.onnx.export(
        cnn, (torch.zeros(1, 1, 8, 8),), os.path.join(out, "torch-cnn.onnx"), input_names=["x"], output_names=["logits"],
        dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, dynamo=False, opset_version=17,
    )
    masked(reference_dir, os.path.join(out, "masked.onnx"))

    for name, x in [("skl-logreg", xte), ("skl-mlp", xte), ("skl-forest", xte), ("torch-cnn", xte_img), ("masked", xte)]:
        path = os.path.join(out, f"{name}.onnx")
        s = scores(path, x)
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        ref["models"][name] = {
            "operators": ops,
            "clean_accuracy": float((s.argmax(1) == yte).mean()),
            "scores_first_20": s[:20].astype(float).round(6).tolist(),
        }

    art_lr = ScikitlearnLogisticRegression(logreg, clip_values=(0.0, 1.0))
    r = ref["models"]["skl-logreg"]
    r["fgsm"] = {}
    for eps in EPS:
        adv = FastGradientMethod(art_lr, norm=np.inf, eps=eps).generate(xte, y=onehot)
        r["fgsm"][str(eps)] = float((logreg.predict(adv) == yte).mean())

    clf = PyTorchClassifier(model=cnn.eval(), loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 8, 8), nb_classes=10,
                            clip_values=(0.0, 1.0))
    r = ref["models"]["torch-cnn"]
    r["fgsm"], r["pgd"] = {}, {}
    for eps in EPS:
        adv = FastGradientMethod(clf, norm=np.inf, eps=eps).generate(xte_img, y=onehot)
        r["fgsm"][str(eps)] = float((clf.predict(adv).argmax(1) == yte).mean())
        adv = ProjectedGradientDescent(clf, norm=np.inf, eps=eps, eps_step=2.5 * eps / 20, max_iter=20,
                                       num_random_init=0, verbose=False).generate(xte_img, y=onehot)
        r["pgd"][str(eps)] = float((clf.predict(adv).argmax(1) == yte).mean())

    art_rf = ScikitlearnRandomForestClassifier(forest, clip_values=(0.0, 1.0))
    r = ref["models"]["skl-forest"]
    x100, y100 = xte[:100], yte[:100]
    r["black_box_rows"] = 100
    r["square"] = {}
    for eps in EPS:
        np.random.seed(0)
        # ART's Square Attack takes neural-network estimators only: the forest's predict_proba
        # wrapped as a black box.
        # It also takes images only: the rows as the 8x8 digits they are.
        bb = BlackBoxClassifierNeuralNetwork(lambda v: forest.predict_proba(v.reshape(-1, 64)), input_shape=(1, 8, 8),
                                             nb_classes=10, clip_values=(0.0, 1.0))
        adv = SquareAttack(bb, norm=np.inf, eps=eps, max_iter=1000, nb_restarts=1, verbose=False).generate(
            x100.reshape(-1, 1, 8, 8), y=np.eye(10, dtype=np.float32)[y100]).reshape(-1, 64)
        r["square"][str(eps)] = float((forest.predict(adv) == y100).mean())
    np.random.seed(0)
    adv = HopSkipJump(art_rf, norm=np.inf, max_iter=20, max_eval=1000, init_eval=100, verbose=False).generate(x100)
    d = np.abs(adv - x100).max(1)
    fooled = forest.predict(adv) != y100
    r["hopskipjump_linf_distances"] = {"median": float(np.median(d[fooled])) if fooled.any() else None,
                                       "fooled": int(fooled.sum())}
    for name, v in ref["models"].items():
        print(name, {k: v[k] for k in v if k != "scores_first_20"})
    with open(os.path.join(out, "producers.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "robust-producers"
    main(out, sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "../../crates/aigis-robust/tests/fixtures"))
