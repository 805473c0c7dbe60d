"""Reference models, data and ART figures for `aigis robust` (issue 8), made offline from the
digits set that ships with scikit-learn.

Writes to OUT_DIR:
  digits-train.npz, digits-test.npz   x float32 [N, 64] in [0, 1], y int64 [N]
  digits-test-img.npz                 the same test rows as [N, 1, 8, 8] for the CNN
  linear.onnx   Gemm                          (logits; multinomial logistic regression)
  mlp.onnx      Gemm, Relu, Gemm              (logits)
  cnn.onnx      Conv 3x3 pad 1, Relu, MaxPool 2x2, Flatten, Gemm   (logits)
  reference.json  clean accuracy and ART 1.20.1 robust accuracy for FGSM and PGD (L-inf,
                  eps_step = 2.5 * eps / steps, no random start: DESIGN.md's conventions) at
                  several eps, per model, plus the ONNX-vs-torch logit agreement

The ONNX graphs are written with onnx.helper from the trained torch weights (so the operator
set is exactly the one listed), and checked against onnxruntime.

    python make_reference.py OUT_DIR
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

EPS = [0.02, 0.05, 0.1, 0.2]
EPS_L2 = [0.5, 1.0]
PGD_STEPS = 20


def data():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)


def train(model, x, y, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model


def init(name, t):
    return numpy_helper.from_array(t.detach().numpy().astype(np.float32), name)


def gemm(inp, out, w, b, wname):
    # torch Linear: y = x W^T + b -> Gemm(transB=1).
    return (
        helper.make_node("Gemm", [inp, wname + ".w", wname + ".b"], [out], transB=1),
        [init(wname + ".w", w), init(wname + ".b", b)],
    )


def save(nodes, inits, in_shape, path):
    g = helper.make_graph(
        nodes,
        os.path.basename(path),
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"] + in_shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 10])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="aigis bench/robust")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def linear_onnx(model, path):
    n, i = gemm("x", "logits", model[0].weight, model[0].bias, "fc")
    save([n], i, [64], path)


def mlp_onnx(model, path):
    n1, i1 = gemm("x", "h", model[0].weight, model[0].bias, "fc1")
    n2 = helper.make_node("Relu", ["h"], ["r"])
    n3, i3 = gemm("r", "logits", model[2].weight, model[2].bias, "fc2")
    save([n1, n2, n3], i1 + i3, [64], path)


def cnn_onnx(model, path):
    conv = model[0]
    nodes = [
        helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
    ]
    n, i = gemm("f", "logits", model[4].weight, model[4].bias, "fc")
    save(nodes + [n], [init("conv.w", conv.weight), init("conv.b", conv.bias)] + i, [1, 8, 8], path)


def evaluate(model, x, y, shape):
    clf = PyTorchClassifier(
        model=model,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=shape,
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    clean = float((clf.predict(x).argmax(1) == y).mean())
    # The true labels (ART would otherwise attack the model's own predictions).
    onehot = np.eye(10, dtype=np.float32)[y]
    out = {"clean_accuracy": clean, "fgsm": {}, "pgd": {}, "pgd_l2": {}}
    for eps in EPS:
        adv = FastGradientMethod(clf, norm=np.inf, eps=eps).generate(x, y=onehot)
        out["fgsm"][str(eps)] = float((clf.predict(adv).argmax(1) == y).mean())
        pgd = ProjectedGradientDescent(
            clf, norm=np.inf, eps=eps, eps_step=2.5 * eps / PGD_STEPS, max_iter=PGD_STEPS,
            num_random_init=0, verbose=False,
        )
        adv = pgd.generate(x, y=onehot)
        out["pgd"][str(eps)] = float((clf.predict(adv).argmax(1) == y).mean())
    for eps in EPS_L2:
        pgd = ProjectedGradientDescent(
            clf, norm=2, eps=eps, eps_step=2.5 * eps / PGD_STEPS, max_iter=PGD_STEPS,
            num_random_init=0, verbose=False,
        )
        adv = pgd.generate(x, y=onehot)
        out["pgd_l2"][str(eps)] = float((clf.predict(adv).argmax(1) == y).mean())
    return out


def onnx_agreement(path, model, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x})[0]
    want = model(torch.from_numpy(x)).detach().numpy()
    return float(np.abs(got - want).max())


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    xtr, xte, ytr, yte = data()
    np.savez(os.path.join(out, "digits-train.npz"), x=xtr, y=ytr)
    np.savez(os.path.join(out, "digits-test.npz"), x=xte, y=yte)
    xte_img = xte.reshape(-1, 1, 8, 8)
    np.savez(os.path.join(out, "digits-test-img.npz"), x=xte_img, y=yte)
    ref = {"art_version": "1.20.1", "eps": EPS, "eps_l2": EPS_L2, "pgd_steps": PGD_STEPS, "test_rows": int(len(yte)),
           "conventions": "L-inf; loss = softmax cross-entropy on the logits against the true label; FGSM x' = clip(x + eps*sign(grad)); "
                          "PGD from x, eps_step = 2.5*eps/steps, projected and clipped to [0, 1] each step", "models": {}}
    linear = train(torch.nn.Sequential(torch.nn.Linear(64, 10)), xtr, ytr, 60, 0.01)
    mlp = train(torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)), xtr, ytr, 60, 0.005)

    class Img(torch.nn.Module):
        def __init__(self, body):
            super().__init__()
            self.body = body

        def forward(self, x):
            return self.body(x.reshape(-1, 1, 8, 8))

    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(128, 10)
    )
    train(Img(cnn), xtr, ytr, 60, 0.005)
    for name, model, write, x, shape in [
        ("linear", linear, linear_onnx, xte, (64,)),
        ("mlp", mlp, mlp_onnx, xte, (64,)),
        ("cnn", cnn, cnn_onnx, xte_img, (1, 8, 8)),
    ]:
        path = os.path.join(out, f"{name}.onnx")
        write(model, path)
        r = evaluate(model, x, yte, shape)
        r["onnx_max_abs_logit_diff"] = onnx_agreement(path, model, x)
        ref["models"][name] = r
        print(name, json.dumps(r))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "robust-reference")
