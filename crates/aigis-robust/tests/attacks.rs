//! FGSM and PGD against the reference models, compared with the Adversarial Robustness
//! Toolbox's figures on the same models and data (`tests/fixtures/reference.json`), a linear
//! model's gradient checked by hand, and PGD's robust accuracy falling as ε grows.

mod common;
use aigis_robust::{attack, onnx};
use common::{UNIT, fixture, load};

#[test]
fn fgsm_agrees_with_art_and_pgd_is_at_least_as_strong() {
    let r: serde_json::Value = serde_json::from_slice(&fixture("reference.json")).expect("json");
    for (model, data) in [
        ("linear", "digits-test.npz"),
        ("mlp", "digits-test.npz"),
        ("cnn", "digits-test-img.npz"),
    ] {
        let (s, x, y) = load(&format!("{model}.onnx"), data);
        for eps in [0.05f32, 0.1] {
            let key = format!("{eps}");
            let art_fgsm = r["models"][model]["fgsm"][&key].as_f64().expect("figure");
            let art_pgd = r["models"][model]["pgd"][&key].as_f64().expect("figure");
            let ours =
                attack::accuracy(&s, &attack::fgsm(&s, &x, &y, eps, UNIT).expect("fgsm"), &y)
                    .expect("accuracy");
            eprintln!("{model} FGSM@{eps}: {ours:.4} (ART {art_fgsm:.4})");
            assert!(
                (ours - art_fgsm).abs() <= 0.03,
                "{model} FGSM@{eps}: {ours} vs ART {art_fgsm}"
            );
            let ours = attack::accuracy(
                &s,
                &attack::pgd(&s, &x, &y, eps, 20, UNIT).expect("pgd"),
                &y,
            )
            .expect("accuracy");
            eprintln!("{model} PGD-20@{eps}: {ours:.4} (ART {art_pgd:.4})");
            assert!(
                ours <= art_pgd + 0.01,
                "{model} PGD@{eps}: {ours} vs ART {art_pgd}"
            );
        }
    }
}

#[test]
fn a_linear_models_gradient_is_the_hand_computed_one() {
    // For logits z = W x + b and cross-entropy, dL/dx = Wᵀ (softmax(z) − onehot(y)).
    let (s, x, y) = load("linear.onnx", "digits-test.npz");
    let model = onnx::parse(&fixture("linear.onnx")).expect("parses");
    let w = &model.initializers["fc.w"];
    let b = &model.initializers["fc.b"];
    let (_, g) = s.loss_gradient(&x, &y).expect("gradient");
    for row in [0usize, 17, 301] {
        let xr = &x.data[row * 64..(row + 1) * 64];
        let z: Vec<f32> = (0..10)
            .map(|c| b.data[c] + (0..64).map(|i| w.data[c * 64 + i] * xr[i]).sum::<f32>())
            .collect();
        let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
        let sum: f32 = e.iter().sum();
        let mut p: Vec<f32> = e.iter().map(|v| v / sum).collect();
        p[y[row] as usize] -= 1.0;
        for i in 0..64 {
            let want: f32 = (0..10).map(|c| w.data[c * 64 + i] * p[c]).sum();
            let got = g.data[row * 64 + i];
            assert!(
                (got - want).abs() < 1e-5,
                "row {row} input {i}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn pgd_robust_accuracy_falls_as_eps_grows() {
    let (s, x, y) = load("mlp.onnx", "digits-test.npz");
    let mut last = attack::accuracy(&s, &x, &y).expect("clean");
    for eps in [0.02f32, 0.05, 0.1, 0.2] {
        let adv = attack::pgd(&s, &x, &y, eps, 10, UNIT).expect("pgd");
        for (a, o) in adv.data.iter().zip(&x.data) {
            assert!((a - o).abs() <= eps + 1e-6 && (0.0..=1.0).contains(a));
        }
        let acc = attack::accuracy(&s, &adv, &y).expect("accuracy");
        assert!(acc <= last, "eps {eps}: {acc} > {last}");
        last = acc;
    }
    assert!(last < 0.2, "{last}");
}

#[test]
fn l2_pgd_agrees_with_art_and_restarts_only_strengthen() {
    use aigis_robust::attack::Norm;
    let r: serde_json::Value = serde_json::from_slice(&fixture("reference.json")).expect("json");
    for (model, data) in [("mlp", "digits-test.npz"), ("cnn", "digits-test-img.npz")] {
        let (s, x, y) = load(&format!("{model}.onnx"), data);
        let art = r["models"][model]["pgd_l2"]["0.5"]
            .as_f64()
            .expect("figure");
        let adv = attack::pgd_from(&s, &x, &x, &y, 0.5, 20, Norm::L2, UNIT).expect("pgd");
        let per = x.data.len() / y.len();
        for (a, o) in adv.data.chunks(per).zip(x.data.chunks(per)) {
            let d: f32 = a
                .iter()
                .zip(o)
                .map(|(p, q)| (p - q) * (p - q))
                .sum::<f32>()
                .sqrt();
            assert!(d <= 0.5 + 1e-4, "{d}");
        }
        let ours = attack::accuracy(&s, &adv, &y).expect("accuracy");
        eprintln!("{model} PGD-20 L2@0.5: {ours:.4} (ART {art:.4})");
        assert!(
            (ours - art).abs() <= 0.03 && ours <= art + 0.01,
            "{model}: {ours} vs ART {art}"
        );
        let once = attack::accuracy(
            &s,
            &attack::pgd(&s, &x, &y, 0.05, 10, UNIT).expect("pgd"),
            &y,
        )
        .expect("acc");
        let adv =
            attack::pgd_restarts(&s, &x, &y, 0.05, 10, Norm::Linf, 3, 9, UNIT).expect("restarts");
        for (a, o) in adv.data.iter().zip(&x.data) {
            assert!((a - o).abs() <= 0.05 + 1e-6 && (0.0..=1.0).contains(a));
        }
        let three = attack::accuracy(&s, &adv, &y).expect("acc");
        assert!(three <= once, "{model}: {three} > {once}");
    }
}

/// Attacks run in blocks of rows whose size depends on the model; a row's adversarial example
/// must not depend on which rows share its block. The whole test set against the first 7 rows
/// and against row 3 alone (other block boundaries), bit for bit.
#[test]
fn a_rows_result_does_not_depend_on_its_batch() {
    for (model, data) in [("mlp", "digits-test.npz"), ("cnn", "digits-test-img.npz")] {
        let (s, x, y) = load(&format!("{model}.onnx"), data);
        let per = x.data.len() / y.len();
        let all = attack::pgd(&s, &x, &y, 0.1, 5, UNIT).expect("pgd");
        let (x7, y7) = common::first(&x, &y, 7);
        let seven = attack::pgd(&s, &x7, &y7, 0.1, 5, UNIT).expect("pgd");
        assert_eq!(seven.data, all.data[..7 * per], "{model}: the first 7 rows");
        let mut shape = x.shape.clone();
        shape[0] = 1;
        let x3 = aigis_robust::Tensor::new(shape, x.data[3 * per..4 * per].to_vec()).expect("row");
        let one = attack::fgsm(&s, &x3, &y[3..4], 0.1, UNIT).expect("fgsm");
        let fgsm_all = attack::fgsm(&s, &x, &y, 0.1, UNIT).expect("fgsm");
        assert_eq!(one.data, fgsm_all.data[3 * per..4 * per], "{model}: row 3");
    }
}
