"""ART's PGD-20 (eps 0.1) on the reference CNN and the 540 digits test rows, timed in process
(3 runs), beside `aigis robust eval` on the same model and data. Run from the repository root:

    python bench/robust/time_art.py
    aigis robust eval --model crates/aigis-robust/tests/fixtures/cnn.onnx \
      --data crates/aigis-robust/tests/fixtures/digits-test-img.npz --attack pgd --eps 0.1 -f json
"""
import os
FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "aigis-robust", "tests", "fixtures")
import time, numpy as np, torch
from art.attacks.evasion import ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
import onnx
from onnx import numpy_helper
d = np.load(FIX + "/digits-test-img.npz")
x, y = d["x"], d["y"]
m = onnx.load(FIX + "/cnn.onnx")
w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(128, 10))
with torch.no_grad():
    net[0].weight.copy_(w["conv.w"]); net[0].bias.copy_(w["conv.b"]); net[4].weight.copy_(w["fc.w"]); net[4].bias.copy_(w["fc.b"])
clf = PyTorchClassifier(model=net, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 8, 8), nb_classes=10, clip_values=(0.0, 1.0))
onehot = np.eye(10, dtype=np.float32)[y]
ts = []
for _ in range(3):
    t = time.time()
    adv = ProjectedGradientDescent(clf, norm=np.inf, eps=0.1, eps_step=2.5 * 0.1 / 20, max_iter=20, num_random_init=0, verbose=False).generate(x, y=onehot)
    ts.append(time.time() - t)
print("ART PGD-20 CNN seconds (3 runs):", [round(v, 3) for v in ts], "robust acc", float((clf.predict(adv).argmax(1) == y).mean()))
