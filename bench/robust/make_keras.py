"""A TensorFlow/Keras model for `aigis robust` (issue 8's third producer), on the digits split of
make_reference.py: a Keras MLP (Dense 32 relu, Dense 10 softmax) exported by tf2onnx
(MatMul, Add, Relu, Softmax), TensorFlow's scores on the first 20 test rows and ART 1.20.1's
FGSM robust accuracy through its TensorFlowV2Classifier (loss on the logits: the softmax layer's
input, as DESIGN.md's conventions ask).

    python make_keras.py OUT_DIR      # writes keras-mlp.onnx and keras.json

(Keras 3 models are exported through `tf2onnx.convert.from_function`: `from_keras` fails on
Keras 3's tensor names. A Keras CNN exports a dynamic Flatten — Shape, Gather, Slice, Concat on
the shape — which aigis does not run yet.)
"""

import json
import os
import sys

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx
from art.attacks.evasion import FastGradientMethod
from art.estimators.classification import TensorFlowV2Classifier

from make_reference import data


def main(out):
    os.makedirs(out, exist_ok=True)
    tf.random.set_seed(0)
    np.random.seed(0)
    xtr, xte, ytr, yte = data()
    mlp = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(32, activation="relu"),
                               tf.keras.layers.Dense(10, activation="softmax")])
    mlp.compile("adam", "sparse_categorical_crossentropy")
    mlp.fit(xtr, ytr, epochs=40, verbose=0, batch_size=64, shuffle=False)
    spec = (tf.TensorSpec((None, 64), tf.float32, name="x"),)
    model_proto, _ = tf2onnx.convert.from_function(tf.function(lambda x: mlp(x, training=False)), input_signature=spec,
                                                   opset=17)
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, os.path.join(out, "keras-mlp.onnx"))
    scores = mlp.predict(xte, verbose=0)
    # ART on the logits: the same layers without the final softmax.
    logits = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(32, activation="relu"), tf.keras.layers.Dense(10)])
    logits.set_weights(mlp.get_weights())
    clf = TensorFlowV2Classifier(model=logits, nb_classes=10, input_shape=(64,), clip_values=(0.0, 1.0),
                                 loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    onehot = np.eye(10, dtype=np.float32)[yte]
    ref = {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "art_version": "1.20.1",
           "operators": sorted({n.op_type for n in model_proto.graph.node}),
           "clean_accuracy": float((scores.argmax(1) == yte).mean()),
           "scores_first_20": scores[:20].astype(float).round(6).tolist(), "fgsm": {}}
    for eps in [0.05, 0.1]:
        adv = FastGradientMethod(clf, norm=np.inf, eps=eps).generate(xte, y=onehot)
        ref["fgsm"][str(eps)] = float((clf.predict(adv).argmax(1) == yte).mean())
    print({k: v for k, v in ref.items() if k != "scores_first_20"})
    with open(os.path.join(out, "keras.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "robust-keras")
