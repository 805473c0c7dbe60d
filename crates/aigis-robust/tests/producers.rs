//! Models from other producers — scikit-learn through skl2onnx (a linear model as
//! `ai.onnx.ml` LinearClassifier, an MLP as MatMul layers with a label branch, a random forest
//! as TreeEnsembleClassifier) and a PyTorch CNN through torch.onnx.export — give
//! onnxruntime's scores, ART's robust accuracy, and are hardened or refused by name.

mod common;
use aigis_robust::attack::{self, Norm};
use aigis_robust::eval::{self, Attack};
use aigis_robust::train;
use common::{UNIT, first, fixture, load, plan};
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_slice(&fixture("producers.json")).expect("json")
}

fn data_for(model: &str) -> &'static str {
    if model.starts_with("torch-cnn") {
        "digits-test-img.npz"
    } else {
        "digits-test.npz"
    }
}

#[test]
fn scores_match_onnxruntime() {
    let r = reference();
    for model in ["skl-logreg", "skl-mlp", "skl-forest", "torch-cnn", "masked"] {
        let (s, x, y) = load(&format!("{model}.onnx"), data_for(model));
        let want = &r["models"][model];
        let clean = attack::accuracy(&s, &x, &y).expect("accuracy");
        let theirs = want["clean_accuracy"].as_f64().expect("figure");
        assert!(
            (clean - theirs).abs() < 1e-9,
            "{model}: clean accuracy {clean} vs {theirs}"
        );
        let (x20, _) = first(&x, &y, 20);
        let got = s.run(&x20).expect("runs");
        let rows = want["scores_first_20"].as_array().expect("rows");
        let mut worst = 0f64;
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in row.as_array().expect("row").iter().enumerate() {
                let ours = f64::from(got.data[i * got.shape[1] + j]);
                let theirs = v.as_f64().expect("score");
                worst = worst.max((ours - theirs).abs() / theirs.abs().max(1.0));
            }
        }
        eprintln!("{model}: clean {clean:.4}, largest score difference {worst:.2e}");
        assert!(worst < 1e-4, "{model}: scores differ by {worst}");
    }
}

#[test]
fn white_box_attacks_agree_with_art_on_other_producers() {
    let r = reference();
    for model in ["skl-logreg", "torch-cnn"] {
        let (s, x, y) = load(&format!("{model}.onnx"), data_for(model));
        for eps in [0.05f32, 0.1] {
            let key = format!("{eps}");
            let art = r["models"][model]["fgsm"][&key].as_f64().expect("figure");
            let ours =
                attack::accuracy(&s, &attack::fgsm(&s, &x, &y, eps, UNIT).expect("fgsm"), &y)
                    .expect("accuracy");
            eprintln!("{model} FGSM@{eps}: {ours:.4} (ART {art:.4})");
            assert!(
                (ours - art).abs() <= 0.03,
                "{model} FGSM@{eps}: {ours} vs {art}"
            );
            if let Some(art_pgd) = r["models"][model]["pgd"][&key].as_f64() {
                let ours = attack::accuracy(
                    &s,
                    &attack::pgd(&s, &x, &y, eps, 20, UNIT).expect("pgd"),
                    &y,
                )
                .expect("accuracy");
                eprintln!("{model} PGD-20@{eps}: {ours:.4} (ART {art_pgd:.4})");
                assert!(
                    ours <= art_pgd + 0.01,
                    "{model} PGD@{eps}: {ours} vs {art_pgd}"
                );
            }
        }
    }
}

#[test]
fn a_forest_is_tested_black_box_and_refused_white_box() {
    let r = reference();
    let (s, x, y) = load("skl-forest.onnx", "digits-test.npz");
    assert!(!s.differentiable());
    let e = attack::fgsm(&s, &x, &y, 0.1, UNIT).expect_err("no gradient");
    assert!(
        e.to_string().contains("TreeEnsembleClassifier") && e.to_string().contains("black-box"),
        "{e}"
    );
    let e = train::trainable(&s).expect_err("not trainable");
    assert!(e.to_string().contains("TreeEnsembleClassifier"), "{e}");
    let (x100, y100) = first(&x, &y, 100);
    for eps in [0.05f32, 0.1] {
        let rep = eval::evaluate(
            &s,
            &x100,
            &y100,
            &plan(&[Attack::Square, Attack::HopSkipJump], &[eps]),
            &mut |_, _| {},
        )
        .expect("evaluates");
        let art = r["models"]["skl-forest"]["square"][&format!("{eps}")]
            .as_f64()
            .expect("figure");
        let p = &rep.curve[0];
        eprintln!("skl-forest @{eps}: {:?} (ART Square {art:.2})", p.attacks);
        assert!(
            p.attacks["square"] <= art + 0.1,
            "Square@{eps}: {} vs ART {art}",
            p.attacks["square"]
        );
        assert!(
            p.attacks["hopskipjump"] < rep.clean_accuracy,
            "HopSkipJump flips some"
        );
    }
}

#[test]
fn masked_gradients_are_reported() {
    let (s, x, y) = load("masked.onnx", "digits-test.npz");
    let rep = eval::evaluate(
        &s,
        &x,
        &y,
        &plan(&[Attack::Fgsm, Attack::Pgd, Attack::Square], &[0.1]),
        &mut |_, _| {},
    )
    .expect("evaluates");
    let p = &rep.curve[0];
    eprintln!("masked: {:?} {:?}", p.attacks, rep.warnings);
    // The white-box attacks see (almost) no gradient; the black-box one is not fooled by that.
    assert!(
        p.attacks["pgd"] > rep.clean_accuracy - 0.1,
        "{:?}",
        p.attacks
    );
    assert!(
        p.attacks["square"] < p.attacks["pgd"] - 0.3,
        "{:?}",
        p.attacks
    );
    assert!(p.gradient_masking.as_ref().is_some_and(|m| m.share > 0.3));
    assert_eq!(rep.warnings.len(), 1);
    assert!(
        rep.warnings[0].contains("gradient masking"),
        "{:?}",
        rep.warnings
    );
    // FGSM is no yardstick: the Square Attack beats its single step on any model.
    let rep = eval::evaluate(
        &s,
        &x,
        &y,
        &plan(&[Attack::Fgsm, Attack::Square], &[0.1]),
        &mut |_, _| {},
    )
    .expect("evaluates");
    assert!(rep.curve[0].gradient_masking.is_none() && rep.warnings.is_empty());
    // A linear model where cross-entropy attacks trail the margin loss by a few samples: no
    // warning either.
    let (s2, x2, y2) = load("skl-logreg.onnx", "digits-test.npz");
    let rep = eval::evaluate(
        &s2,
        &x2,
        &y2,
        &plan(&[Attack::Apgd, Attack::Square], &[0.1]),
        &mut |_, _| {},
    )
    .expect("evaluates");
    let gap = rep.curve[0]
        .gradient_masking
        .as_ref()
        .map_or(0.0, |m| m.share);
    assert!(gap > 0.0 && gap < eval::MASKING_WARN, "{gap}");
    assert!(rep.warnings.is_empty());
    // The same model without the scaling: no warning.
    let (s, x, y) = load("mlp.onnx", "digits-test.npz");
    let rep = eval::evaluate(
        &s,
        &x,
        &y,
        &plan(&[Attack::Pgd, Attack::Square], &[0.1]),
        &mut |_, _| {},
    )
    .expect("evaluates");
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
}

#[test]
fn producers_models_harden_or_say_why_not() {
    let (xt, yt) =
        aigis_robust::npz::load_xy("train", &fixture("digits-train.npz")).expect("train");
    for model in ["skl-mlp", "torch-cnn"] {
        let (mut s, xe, ye) = load(&format!("{model}.onnx"), data_for(model));
        let mut xt = xt.clone();
        if model == "torch-cnn" {
            xt.shape = vec![xt.shape[0], 1, 8, 8];
        }
        let before = attack::accuracy(
            &s,
            &attack::pgd(&s, &xe, &ye, 0.1, 20, UNIT).expect("pgd"),
            &ye,
        )
        .expect("acc");
        let cfg = train::Config {
            eps: 0.1,
            steps: 7,
            norm: Norm::Linf,
            epochs: 8,
            batch: 64,
            lr: 1e-3,
            seed: 1,
            range: UNIT,
        };
        let w = train::harden(&mut s, &xt, &yt, &cfg, &mut |_| {}).expect("trains");
        let after = attack::accuracy(
            &s,
            &attack::pgd(&s, &xe, &ye, 0.1, 20, UNIT).expect("pgd"),
            &ye,
        )
        .expect("acc");
        eprintln!(
            "{model}: robust {before:.4} -> {after:.4}, {} weights",
            w.len()
        );
        assert!(after > before + 0.05, "{model}: {before} -> {after}");
        let out = aigis_robust::onnx::with_weights(&fixture(&format!("{model}.onnx")), &w, &[])
            .expect("writes");
        let again =
            aigis_robust::engine::Session::new(aigis_robust::onnx::parse(&out).expect("parses"))
                .expect("runs");
        assert_eq!(again.run(&xe).expect("runs"), s.run(&xe).expect("runs"));
    }
    let (s, _, _) = load("skl-logreg.onnx", "digits-test.npz");
    let e = train::trainable(&s).expect_err("attributes");
    assert!(e.to_string().contains("LinearClassifier"), "{e}");
}

#[test]
fn keras_models_exported_by_tf2onnx_match_tensorflow_and_art() {
    let r: Value = serde_json::from_slice(&fixture("keras.json")).expect("json");
    // The CNN takes NHWC images and computes its Flatten's shape at run time.
    for (model, data) in [
        ("keras-mlp", "digits-test.npz"),
        ("keras-cnn", "digits-test-nhwc.npz"),
    ] {
        let want = &r["models"][model];
        let (s, x, y) = load(&format!("{model}.onnx"), data);
        let clean = attack::accuracy(&s, &x, &y).expect("accuracy");
        let theirs = want["clean_accuracy"].as_f64().expect("figure");
        assert!(
            (clean - theirs).abs() < 1e-9,
            "{model}: {clean} vs {theirs}"
        );
        let (x20, _) = first(&x, &y, 20);
        let got = s.run(&x20).expect("runs");
        for (i, row) in want["scores_first_20"]
            .as_array()
            .expect("rows")
            .iter()
            .enumerate()
        {
            for (j, v) in row.as_array().expect("row").iter().enumerate() {
                let (ours, tf) = (f64::from(got.data[i * 10 + j]), v.as_f64().expect("score"));
                assert!(
                    (ours - tf).abs() < 1e-5,
                    "{model} row {i} class {j}: {ours} vs {tf}"
                );
            }
        }
        for eps in [0.05f32, 0.1] {
            let art = want["fgsm"][&format!("{eps}")].as_f64().expect("figure");
            let ours =
                attack::accuracy(&s, &attack::fgsm(&s, &x, &y, eps, UNIT).expect("fgsm"), &y)
                    .expect("accuracy");
            eprintln!("{model} FGSM@{eps}: {ours:.4} (ART {art:.4})");
            assert!((ours - art).abs() <= 0.03, "{model}: {ours} vs {art}");
        }
    }
}
