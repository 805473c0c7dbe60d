//! `aigis robust eval` end to end on the reference models: DESIGN.md §3's JSON with the
//! Adversarial Robustness Toolbox's figures, and clear errors for bad input.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../aigis-robust/tests/fixtures")
        .join(name)
}

fn eval(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["robust", "eval"];
    all.extend_from_slice(args);
    aigis(&all)
}

#[test]
fn eval_reports_arts_figures_in_the_design_schema() {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).expect("read"))
            .expect("json");
    let model = fixture("mlp.onnx");
    let data = fixture("digits-test.npz");
    for (attack, key) in [("fgsm", "fgsm"), ("pgd", "pgd")] {
        let (code, out, err) = eval(&[
            "--model",
            model.to_str().expect("path"),
            "--data",
            data.to_str().expect("path"),
            "--attack",
            attack,
            "--eps",
            "0.1",
            "-f",
            "json",
        ]);
        assert_eq!(code, Some(0), "{err}");
        let v: Value = serde_json::from_str(&out).expect("json");
        for k in [
            "clean_accuracy",
            "robust_accuracy",
            "attack_success_rate",
            "samples",
            "seconds",
        ] {
            assert!(v[k].is_number(), "{k} in {v}");
        }
        assert_eq!(v["eps"], 0.1);
        assert_eq!(v["samples"], 540);
        let want = reference["models"]["mlp"][key]["0.1"]
            .as_f64()
            .expect("figure");
        assert!(
            (v["robust_accuracy"].as_f64().expect("n") - want).abs() < 1e-9,
            "{attack}: {v}"
        );
        assert_eq!(
            v["clean_accuracy"],
            reference["models"]["mlp"]["clean_accuracy"]
        );
    }
}

#[test]
fn l2_pgd_and_restarts_from_the_command_line() {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).expect("read"))
            .expect("json");
    let model = fixture("mlp.onnx");
    let data = fixture("digits-test.npz");
    let base = [
        "--model",
        model.to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "-f",
        "json",
    ];
    let (code, out, err) = eval(
        &[
            &base[..],
            &["--attack", "pgd", "--norm", "l2", "--eps", "0.5"],
        ]
        .concat(),
    );
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["norm"], "l2");
    let want = reference["models"]["mlp"]["pgd_l2"]["0.5"]
        .as_f64()
        .expect("figure");
    assert!(
        (v["robust_accuracy"].as_f64().expect("n") - want).abs() < 1e-9,
        "{v}"
    );
    let (code, out, _) = eval(
        &[
            &base[..],
            &[
                "--attack",
                "pgd",
                "--eps",
                "0.05",
                "--steps",
                "10",
                "--restarts",
                "3",
                "--seed",
                "4",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, Some(0));
    let three: Value = serde_json::from_str(&out).expect("json");
    let (_, out, _) = eval(
        &[
            &base[..],
            &["--attack", "pgd", "--eps", "0.05", "--steps", "10"],
        ]
        .concat(),
    );
    let one: Value = serde_json::from_str(&out).expect("json");
    assert!(
        three["robust_accuracy"].as_f64() <= one["robust_accuracy"].as_f64(),
        "{three} vs {one}"
    );
    assert_eq!(three["restarts"], 3);
    let (code, _, err) = eval(
        &[
            &base[..],
            &["--attack", "fgsm", "--norm", "l2", "--eps", "0.5"],
        ]
        .concat(),
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("apply to PGD"), "{err}");
}

#[test]
fn bad_input_is_named() {
    let cnn = fixture("cnn.onnx");
    let flat = fixture("digits-test.npz");
    let (code, _, err) = eval(&[
        "--model",
        cnn.to_str().expect("p"),
        "--data",
        flat.to_str().expect("p"),
        "--eps",
        "0.1",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("[N, 1, 8, 8] in the model, the data is [540, 64]"),
        "{err}"
    );
    let mlp = fixture("mlp.onnx");
    for (extra, want) in [
        (&["--eps", "0"][..], "--eps 0"),
        (
            &["--eps", "0.1", "--clip", "1,0"][..],
            "LO must be below HI",
        ),
        (&["--eps", "0.1", "--clip", "0,0.5"][..], "outside --clip"),
    ] {
        let mut args = vec![
            "--model",
            mlp.to_str().expect("p"),
            "--data",
            flat.to_str().expect("p"),
        ];
        args.extend_from_slice(extra);
        let (code, _, err) = eval(&args);
        assert_eq!(code, Some(2), "{extra:?}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    // A file that is not a model.
    let (code, _, err) = eval(&[
        "--model",
        flat.to_str().expect("p"),
        "--data",
        flat.to_str().expect("p"),
        "--eps",
        "0.1",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("ONNX model"), "{err}");
}

#[test]
fn a_fingerprint_check_catches_a_patched_weight_in_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let model = fixture("mlp.onnx");
    let probes = fixture("digits-test.npz");
    let fp = dir.path().join("fp.json");
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(assert_cmd::cargo::cargo_bin("aigis"))
            .arg("fingerprint")
            .args(args)
            .output()
            .expect("runs")
    };
    let out = run(&[
        model.as_os_str(),
        "-o".as_ref(),
        fp.as_os_str(),
        "--probes".as_ref(),
        probes.as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = |m: &std::path::Path| {
        run(&[
            m.as_os_str(),
            "--check".as_ref(),
            fp.as_os_str(),
            "--probes".as_ref(),
            probes.as_os_str(),
            "-f".as_ref(),
            "json".as_ref(),
        ])
    };
    let out = check(&model);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["changed"], false);

    // Patch one weight in the file itself: the output bias of class 3, +3.0.
    let bytes = std::fs::read(&model).expect("read");
    let parsed = aigis_robust::onnx::parse(&bytes).expect("parses");
    let old = parsed.initializers["fc2.b"].data[3];
    let at = bytes
        .windows(4)
        .position(|w| w == old.to_le_bytes())
        .expect("the bias bytes are in the file");
    let mut patched = bytes.clone();
    patched[at..at + 4].copy_from_slice(&(old + 3.0).to_le_bytes());
    let altered = dir.path().join("altered.onnx");
    std::fs::write(&altered, &patched).expect("write");
    let out = check(&altered);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["changed"], true);
    let changed = v["comparison"]["changed_decisions"]
        .as_u64()
        .expect("count");
    let inputs = v["inputs"].as_u64().expect("inputs");
    assert!(changed * 100 >= inputs, "{v}");
}

fn aigis(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("aigis"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn harden_writes_a_model_that_is_more_robust() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mlp-hardened.onnx");
    let (mlp, train, test) = (
        fixture("mlp.onnx"),
        fixture("digits-train.npz"),
        fixture("digits-test.npz"),
    );
    let (code, stdout, err) = aigis(&[
        "robust",
        "harden",
        "--model",
        mlp.to_str().expect("p"),
        "--train",
        train.to_str().expect("p"),
        "--test",
        test.to_str().expect("p"),
        "--eps",
        "0.1",
        "--epochs",
        "6",
        "-o",
        out.to_str().expect("p"),
        "-f",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("epoch 6/6"), "progress on stderr: {err}");
    let v: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["schema"], "aigis.robust.harden/v1");
    assert_eq!(v["held_out"], true);
    let (before, after) = (
        v["before"]["robust_accuracy"].as_f64().expect("figure"),
        v["after"]["robust_accuracy"].as_f64().expect("figure"),
    );
    assert!(after > before + 0.05, "{before} -> {after}");
    assert_eq!(v["epochs"].as_array().map(Vec::len), Some(6));
    // The hardened file is evaluated like any model, with the figure harden reported.
    let (code, stdout, err) = eval(&[
        "--model",
        out.to_str().expect("p"),
        "--data",
        test.to_str().expect("p"),
        "--eps",
        "0.1",
        "-f",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let e: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(e["robust_accuracy"].as_f64(), Some(after));

    // Bad input: named, nothing written.
    let never = dir.path().join("never.onnx");
    for (extra, want) in [
        (&["--eps", "0"][..], "--eps 0"),
        (&["--eps", "0.1", "--lr", "5"][..], "--lr 5"),
        (&["--eps", "0.1", "--clip", "0,0.5"][..], "outside --clip"),
    ] {
        let mut args = vec![
            "robust",
            "harden",
            "--model",
            mlp.to_str().expect("p"),
            "--train",
            train.to_str().expect("p"),
            "-o",
            never.to_str().expect("p"),
        ];
        args.extend_from_slice(extra);
        let (code, _, err) = aigis(&args);
        assert_eq!(code, Some(2), "{extra:?}");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(!never.exists());
    }
}

#[test]
fn curves_ensembles_black_box_and_the_masking_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mlp, data) = (fixture("mlp.onnx"), fixture("digits-test.npz"));
    let (code, out, err) = eval(&[
        "--model",
        mlp.to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "--attack",
        "pgd,auto",
        "--eps",
        "0.1,0.02,0.05",
        "-f",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["attacks"], serde_json::json!(["pgd", "apgd", "square"]));
    let curve = v["curve"].as_array().expect("curve");
    let eps: Vec<f64> = curve
        .iter()
        .map(|p| p["eps"].as_f64().expect("eps"))
        .collect();
    assert_eq!(eps, vec![0.02, 0.05, 0.1], "sorted");
    let acc: Vec<f64> = curve
        .iter()
        .map(|p| p["robust_accuracy"].as_f64().expect("acc"))
        .collect();
    assert!(acc.windows(2).all(|w| w[1] <= w[0]), "{acc:?}");
    // The headline figures are the largest budget's; the worst case beats PGD alone.
    assert_eq!(v["eps"], 0.1);
    assert_eq!(v["robust_accuracy"].as_f64(), acc.last().copied());
    assert!(acc[2] <= curve[2]["attacks"]["pgd"].as_f64().expect("pgd"));
    assert!(v["warnings"].as_array().is_some_and(Vec::is_empty));

    // The HTML page draws the curve.
    let page = dir.path().join("r.html");
    let (code, _, err) = eval(&[
        "--model",
        mlp.to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "--attack",
        "pgd",
        "--eps",
        "0.05,0.1",
        "-f",
        "html",
        "-o",
        page.to_str().expect("p"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(html.contains("<svg") && html.matches("<polyline").count() == 2);
    assert!(html.contains("default-src 'none'"));

    // Masked gradients: white-box PGD sees nothing, Square does; warned on stderr and in JSON.
    let (code, out, err) = eval(&[
        "--model",
        fixture("masked.onnx").to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "--attack",
        "pgd,square",
        "--eps",
        "0.1",
        "-f",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("possible gradient masking"), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert!(v["curve"][0]["gradient_masking"]["share"].as_f64() > Some(0.3));

    // A forest: white-box refused by name, black-box runs.
    let forest = fixture("skl-forest.onnx");
    let (code, _, err) = eval(&[
        "--model",
        forest.to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "--attack",
        "auto",
        "--eps",
        "0.1",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no gradients") && err.contains("square"),
        "{err}"
    );
    let (code, out, err) = eval(&[
        "--model",
        forest.to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "--attack",
        "square",
        "--eps",
        "0.1",
        "--queries",
        "300",
        "-f",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert!(v["robust_accuracy"].as_f64() < Some(0.6), "{v}");
    // Normalisation by (0, 1) changes nothing; a mean without a std is refused.
    let (code, out, err) = eval(&[
        "--model",
        mlp.to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "--eps",
        "0.1",
        "--mean",
        "0",
        "--std",
        "1",
        "-f",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["robust_accuracy"].as_f64(), Some(0.3));
    assert_eq!(v["normalisation"]["std"], serde_json::json!([1.0]));
    let (code, _, err) = eval(&[
        "--model",
        mlp.to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "--eps",
        "0.1",
        "--mean",
        "0.5",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--std"), "{err}");
    // L2 with an L-inf-only attack.
    let (code, _, err) = eval(&[
        "--model",
        mlp.to_str().expect("p"),
        "--data",
        data.to_str().expect("p"),
        "--attack",
        "square",
        "--norm",
        "l2",
        "--eps",
        "0.5",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("L-inf only"), "{err}");
}

#[test]
fn csv_data_is_shaped_for_the_model() {
    // The digits test rows as CSV (label,f0..f63): the CNN takes [N, 1, 8, 8].
    let raw = std::fs::read(fixture("digits-test.npz")).expect("fixture");
    let (x, y) = aigis_robust::npz::load_xy("digits-test.npz", &raw).expect("npz");
    let mut csv = String::from("label");
    for i in 0..64 {
        csv.push_str(&format!(",f{i}"));
    }
    csv.push('\n');
    for (row, label) in x.data.chunks(64).zip(&y) {
        csv.push_str(&label.to_string());
        for v in row {
            csv.push_str(&format!(",{v}"));
        }
        csv.push('\n');
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.csv");
    std::fs::write(&path, csv).expect("write");
    let cnn = fixture("cnn.onnx");
    let figure = |data: &std::path::Path| {
        let (code, out, err) = eval(&[
            "--model",
            cnn.to_str().expect("p"),
            "--data",
            data.to_str().expect("p"),
            "--eps",
            "0.1",
            "-f",
            "json",
        ]);
        assert_eq!(code, Some(0), "{err}");
        serde_json::from_str::<Value>(&out).expect("json")["robust_accuracy"].as_f64()
    };
    assert_eq!(figure(&path), figure(&fixture("digits-test-img.npz")));
    assert_eq!(
        figure(&path),
        Some(240.0 / 540.0),
        "the reference figure, 240 of 540"
    );
    std::fs::write(&path, "label,a\n1,0.5\n2,oops\n").expect("write");
    let (code, _, err) = eval(&[
        "--model",
        cnn.to_str().expect("p"),
        "--data",
        path.to_str().expect("p"),
        "--eps",
        "0.1",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("line 3, column 2"), "{err}");
}
