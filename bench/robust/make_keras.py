"""TensorFlow/Keras models for `aigis robust` (issue 8's third producer), on the digits split of
make_reference.py: a Keras MLP (Dense 32 relu, Dense 10 softmax; tf2onnx writes MatMul, Add,
Relu, Softmax) and a Keras CNN on NHWC images (Conv2D 8 3x3 same relu, MaxPooling2D, Flatten,
Dense 10 softmax; tf2onnx writes Reshape, Conv, MaxPool, Transpose and the Flatten's shape
computed at run time: Shape, Gather, Cast, Slice, Concat). For each: TensorFlow's scores on the
first 20 test rows and ART 1.20.1's FGSM robust accuracy through TensorFlowV2Classifier (loss on
the logits: the softmax layer's input, as DESIGN.md's conventions ask).

    python make_keras.py OUT_DIR   # keras-mlp.onnx, keras-cnn.onnx, digits-test-nhwc.npz, keras.json

(Keras 3 models are exported through `tf2onnx.convert.from_function`: `from_keras` fails on
Keras 3's tensor names.)
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
    onehot = np.eye(10, dtype=np.float32)[yte]
    ref = {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "art_version": "1.20.1", "models": {}}
    xte_nhwc = xte.reshape(-1, 8, 8, 1)
    np.savez(os.path.join(out, "digits-test-nhwc.npz"), x=xte_nhwc, y=yte)
    for name, shape, body in [
        ("keras-mlp", (64,), lambda: [tf.keras.layers.Dense(32, activation="relu")]),
        ("keras-cnn", (8, 8, 1), lambda: [tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                          tf.keras.layers.MaxPooling2D(2), tf.keras.layers.Flatten()]),
    ]:
        x_train = xtr.reshape((-1,) + shape)
        x_test = xte.reshape((-1,) + shape)
        model = tf.keras.Sequential([tf.keras.Input(shape)] + body() + [tf.keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x_train, ytr, epochs=40, verbose=0, batch_size=64, shuffle=False)
        spec = (tf.TensorSpec((None,) + shape, tf.float32, name="x"),)
        proto, _ = tf2onnx.convert.from_function(tf.function(lambda x, m=model: m(x, training=False)),
                                                 input_signature=spec, opset=17)
        onnx.checker.check_model(proto)
        onnx.save(proto, os.path.join(out, f"{name}.onnx"))
        scores = model.predict(x_test, verbose=0)
        # ART on the logits: the same layers without the final softmax.
        logits = tf.keras.Sequential([tf.keras.Input(shape)] + body() + [tf.keras.layers.Dense(10)])
        logits.set_weights(model.get_weights())
        clf = TensorFlowV2Classifier(model=logits, nb_classes=10, input_shape=shape, clip_values=(0.0, 1.0),
                                     loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        r = {"operators": sorted({n.op_type for n in proto.graph.node}),
             "clean_accuracy": float((scores.argmax(1) == yte).mean()),
             "scores_first_20": scores[:20].astype(float).round(6).tolist(), "fgsm": {}}
        for eps in [0.05, 0.1]:
            adv = FastGradientMethod(clf, norm=np.inf, eps=eps).generate(x_test, y=onehot)
            r["fgsm"][str(eps)] = float((clf.predict(adv).argmax(1) == yte).mean())
        ref["models"][name] = r
    for name, r in ref["models"].items():
        print(name, {k: v for k, v in r.items() if k != "scores_first_20"})
    with open(os.path.join(out, "keras.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "robust-keras")
