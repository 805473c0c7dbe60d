//! The engine against the reference models of `bench/robust/make_reference.py` (trained in
//! torch, written with onnx.helper, checked against onnxruntime): the same predictions as the
//! reference's clean accuracy, and hostile files refused without a panic.

use aigis_robust::engine::Session;
use aigis_robust::{Error, npz, onnx};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn accuracy(model: &str, data: &str) -> f64 {
    let s = Session::new(onnx::parse(&fixture(model)).expect("parses")).expect("supported");
    let (x, y) = npz::load_xy(data, &fixture(data)).expect("data");
    let logits = s.run(&x).expect("runs");
    assert_eq!(logits.shape, [y.len(), 10]);
    let right = logits
        .data
        .chunks(10)
        .zip(&y)
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            best.0 as i64 == **label
        })
        .count();
    right as f64 / y.len() as f64
}

#[test]
fn predictions_match_the_reference() {
    let r: serde_json::Value = serde_json::from_slice(&fixture("reference.json")).expect("json");
    for (model, data) in [
        ("linear", "digits-test.npz"),
        ("mlp", "digits-test.npz"),
        ("cnn", "digits-test-img.npz"),
    ] {
        let want = r["models"][model]["clean_accuracy"]
            .as_f64()
            .expect("figure");
        let got = accuracy(&format!("{model}.onnx"), data);
        assert!((got - want).abs() < 1e-9, "{model}: {got} vs {want}");
    }
}

#[test]
fn hostile_models_and_data_are_refused_cleanly() {
    let m = fixture("cnn.onnx");
    for cut in (0..m.len()).step_by(7) {
        if let Ok(model) = onnx::parse(&m[..cut]) {
            let _ = Session::new(model);
        }
    }
    let mut flipped = m.clone();
    for i in (0..flipped.len()).step_by(13) {
        flipped[i] ^= 0x55;
        if let Ok(model) = onnx::parse(&flipped) {
            let _ = Session::new(model);
        }
    }
    let d = fixture("digits-test.npz");
    for cut in (0..d.len()).step_by(997) {
        assert!(npz::load_xy("t.npz", &d[..cut]).is_err() || cut == d.len());
    }
    // The wrong data for a model is a shape error naming both shapes.
    let s = Session::new(onnx::parse(&fixture("cnn.onnx")).expect("parses")).expect("supported");
    let (x, _) = npz::load_xy("digits-test.npz", &fixture("digits-test.npz")).expect("data");
    let e = s.run(&x).expect_err("flat rows into a CNN").to_string();
    assert!(
        e.contains("[N, 1, 8, 8] in the model, the data is [540, 64]"),
        "{e}"
    );
}

#[test]
fn unsupported_operators_are_named() {
    let mut model = onnx::parse(&fixture("mlp.onnx")).expect("parses");
    model.nodes[1].op = "Hardmax".into();
    match Session::new(model) {
        Err(Error::Unsupported { op, node, .. }) => {
            assert_eq!(op, "Hardmax");
            assert!(!node.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn normalisation_runs_before_the_graph_and_gradients_go_through_it() {
    use aigis_robust::{engine::Session, npz, onnx};
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/cnn.onnx",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let data = std::fs::read(format!(
        "{}/tests/fixtures/digits-test-img.npz",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let (x, y) = npz::load_xy("d", &data).expect("data");
    let plain = Session::new(onnx::parse(&bytes).expect("parses")).expect("runs");
    // Raw inputs on a different scale: x_raw = x * 4 + 1, so (x_raw - 1) / 4 = x.
    let raw = aigis_robust::Tensor::new(
        x.shape.clone(),
        x.data.iter().map(|v| v * 4.0 + 1.0).collect(),
    )
    .expect("tensor");
    let norm = Session::new(onnx::parse(&bytes).expect("parses"))
        .expect("runs")
        .with_normalisation(vec![1.0], vec![4.0])
        .expect("normalisation");
    assert_eq!(norm.run(&raw).expect("runs"), plain.run(&x).expect("runs"));
    let (_, g_plain) = plain.loss_gradient(&x, &y).expect("gradient");
    let (_, g_norm) = norm.loss_gradient(&raw, &y).expect("gradient");
    for (a, b) in g_norm.data.iter().zip(&g_plain.data) {
        assert!(
            (a * 4.0 - b).abs() <= 1e-6 * b.abs().max(1.0),
            "d/dx_raw = d/dx / std"
        );
    }
    // Per channel: one channel here; two values are refused, as are zero deviations.
    let e = Session::new(onnx::parse(&bytes).expect("parses"))
        .expect("runs")
        .with_normalisation(vec![0.1, 0.2], vec![1.0, 1.0])
        .expect_err("channels");
    assert!(e.to_string().contains("has 1 channels"), "{e}");
    assert!(
        Session::new(onnx::parse(&bytes).expect("parses"))
            .expect("runs")
            .with_normalisation(vec![0.0], vec![0.0])
            .is_err()
    );
}
