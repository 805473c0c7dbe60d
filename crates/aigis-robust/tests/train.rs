//! Adversarial training on the digits set: robust accuracy rises, the model written back is a
//! valid ONNX model with the same graph, the result does not depend on the thread count, and
//! models that cannot be trained or written are refused by name.

mod common;
use common::{UNIT, fixture};
use std::collections::HashMap;

use aigis_robust::attack::{self, Norm};
use aigis_robust::engine::Session;
use aigis_robust::train::{self, Config};
use aigis_robust::{Tensor, npz, onnx};

fn config(epochs: usize) -> Config {
    Config {
        eps: 0.1,
        steps: 7,
        norm: Norm::Linf,
        epochs,
        batch: 64,
        lr: 1e-3,
        seed: 7,
        range: UNIT,
    }
}

fn robust(s: &Session, x: &Tensor, y: &[i64]) -> f64 {
    let adv = attack::pgd(s, x, y, 0.1, 20, UNIT).expect("pgd");
    attack::accuracy(s, &adv, y).expect("accuracy")
}

fn as_images(mut x: Tensor) -> Tensor {
    let n = x.shape[0];
    x.shape = vec![n, 1, 8, 8];
    x
}

#[test]
fn adversarial_training_raises_robust_accuracy_and_writes_a_valid_model() {
    let (xt, yt) = npz::load_xy("train", &fixture("digits-train.npz")).expect("train");
    let (xe, ye) = npz::load_xy("test", &fixture("digits-test.npz")).expect("test");
    for (model, images) in [("mlp.onnx", false), ("cnn.onnx", true)] {
        let bytes = fixture(model);
        let (xt, xe) = if images {
            (as_images(xt.clone()), as_images(xe.clone()))
        } else {
            (xt.clone(), xe.clone())
        };
        let mut s = Session::new(onnx::parse(&bytes).expect("parses")).expect("supported");
        let (clean0, robust0) = (
            attack::accuracy(&s, &xe, &ye).expect("accuracy"),
            robust(&s, &xe, &ye),
        );
        let mut losses = Vec::new();
        let weights = train::harden(&mut s, &xt, &yt, &config(10), &mut |e| {
            losses.push(e.adversarial_loss);
        })
        .expect("trains");
        let (clean1, robust1) = (
            attack::accuracy(&s, &xe, &ye).expect("accuracy"),
            robust(&s, &xe, &ye),
        );
        eprintln!("{model}: clean {clean0:.4} -> {clean1:.4}, robust {robust0:.4} -> {robust1:.4}");
        assert!(
            robust1 >= robust0 + 0.08,
            "{model}: robust accuracy {robust0} -> {robust1}"
        );
        assert!(
            clean1 >= clean0 - 0.03,
            "{model}: clean {clean0} -> {clean1}"
        );
        assert!(
            losses.last() < losses.first(),
            "{model}: the adversarial loss falls: {losses:?}"
        );

        // Written back: the same graph and interface, the new weights, the same outputs.
        let out =
            onnx::with_weights(&bytes, &weights, &[("aigis.hardened", "test")]).expect("writes");
        let (before, after) = (
            onnx::parse(&bytes).expect("parses"),
            onnx::parse(&out).expect("the written model parses"),
        );
        assert_eq!(before.nodes, after.nodes);
        assert_eq!(before.inputs, after.inputs);
        assert_eq!(before.outputs, after.outputs);
        assert_eq!(before.opset, after.opset);
        for (name, w) in &weights {
            assert_eq!(&after.initializers[name], w, "{model}: {name} written");
            assert_ne!(&before.initializers[name], w, "{model}: {name} trained");
        }
        let reloaded = Session::new(after).expect("runs");
        assert_eq!(
            reloaded.run(&xe).expect("runs"),
            s.run(&xe).expect("runs"),
            "{model}: the file gives the trained session's outputs"
        );
        // Writing again replaces the metadata entry instead of adding a second one.
        let twice =
            onnx::with_weights(&out, &weights, &[("aigis.hardened", "again")]).expect("writes");
        let count = |b: &[u8], pat: &[u8]| b.windows(pat.len()).filter(|w| *w == pat).count();
        assert_eq!(count(&twice, b"aigis.hardened"), 1);
        assert_eq!(count(&twice, b"again"), 1);
    }
}

#[test]
fn training_does_not_depend_on_the_thread_count() {
    let (xt, yt) = npz::load_xy("train", &fixture("digits-train.npz")).expect("train");
    let run = |threads: usize| -> HashMap<String, Tensor> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let mut s = Session::new(onnx::parse(&fixture("mlp.onnx")).expect("parses"))
                .expect("supported");
            train::harden(&mut s, &xt, &yt, &config(1), &mut |_| {}).expect("trains")
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn refuses_what_it_cannot_train_or_write() {
    let bytes = fixture("mlp.onnx");
    let s = Session::new(onnx::parse(&bytes).expect("parses")).expect("supported");
    // A weight that is not in the graph.
    let mut w = HashMap::new();
    w.insert(
        "nope".to_string(),
        Tensor::new(vec![1], vec![0.0]).expect("tensor"),
    );
    let e = onnx::with_weights(&bytes, &w, &[]).expect_err("unknown weight");
    assert!(e.to_string().contains("not initializers"), "{e}");
    // Bad labels and empty data are errors, not panics.
    let x = Tensor::new(vec![2, 64], vec![0.5; 128]).expect("tensor");
    let mut s2 = Session::new(onnx::parse(&bytes).expect("parses")).expect("supported");
    assert!(train::harden(&mut s2, &x, &[0, 99], &config(1), &mut |_| {}).is_err());
    assert!(train::harden(&mut s2, &x, &[0], &config(1), &mut |_| {}).is_err());
    let mut zero = config(1);
    zero.batch = 0;
    assert!(train::harden(&mut s2, &x, &[0, 1], &zero, &mut |_| {}).is_err());
    drop(s);
}
