//! The `robust` stage on the reference MLP: gates on clean and robust accuracy.

mod common;

use aigis_core::Severity;
use aigis_pipeline::{RunOptions, run};

fn project(gates: &str) -> tempfile::TempDir {
    project_with("mlp.onnx", gates)
}

fn project_with(model: &str, gates: &str) -> tempfile::TempDir {
    let d = common::project(
        "robust",
        &format!(
            "model = \"models/mlp.onnx\"\ndata = \"test.npz\"\neps = 0.1\nsteps = 20\n{gates}"
        ),
    );
    let fix =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../aigis-robust/tests/fixtures");
    std::fs::create_dir_all(d.path().join("models")).expect("dir");
    std::fs::copy(fix.join(model), d.path().join("models/mlp.onnx")).expect("copy");
    std::fs::copy(fix.join("digits-test.npz"), d.path().join("test.npz")).expect("copy");
    d
}

#[test]
fn gates_on_clean_and_robust_accuracy() {
    // PGD-20 at 0.1 leaves the MLP at 0.30 (the ART reference figure): a 0.4 gate fails.
    let d = project("min-clean-accuracy = 0.9\nmin-robust-accuracy = 0.4\n");
    let out = run(d.path(), &RunOptions::default()).expect("runs");
    assert_eq!(out.exit_code, 1);
    let f: Vec<_> = out
        .report
        .findings
        .iter()
        .map(|f| (f.rule, f.severity))
        .collect();
    assert_eq!(f, [("ROB101", Severity::High)]);
    assert!(
        out.report.findings[0]
            .title
            .contains("robust accuracy 0.3000"),
        "{}",
        out.report.findings[0].title
    );

    let d = project("min-clean-accuracy = 0.99\nmin-robust-accuracy = 0.2\n");
    let out = run(d.path(), &RunOptions::default()).expect("runs");
    let f: Vec<_> = out.report.findings.iter().map(|f| f.rule).collect();
    assert_eq!(f, ["ROB102"]);

    let d = project("min-clean-accuracy = 0.9\nmin-robust-accuracy = 0.2\n");
    let out = run(d.path(), &RunOptions::default()).expect("runs");
    assert_eq!(out.exit_code, 0, "{:?}", out.report.findings);
}

#[test]
fn ensembles_gate_on_the_worst_case_and_masking_is_a_finding() {
    // PGD alone leaves 0.30 at eps 0.1; with APGD and Square each sample's worst case counts.
    let d = project("attack = \"pgd,auto\"\nmin-robust-accuracy = 0.2999\n");
    let out = run(d.path(), &RunOptions::default()).expect("runs");
    let f: Vec<_> = out.report.findings.iter().map(|f| f.rule).collect();
    assert_eq!(f, ["ROB101"], "{:?}", out.report.findings);
    // The masked model: PGD finds nothing, Square does.
    let d = project_with("masked.onnx", "attack = \"pgd,square\"\nqueries = 300\n");
    let out = run(d.path(), &RunOptions::default()).expect("runs");
    let f: Vec<_> = out
        .report
        .findings
        .iter()
        .map(|f| (f.rule, f.severity))
        .collect();
    assert_eq!(f, [("ROB104", Severity::Medium)]);
    assert!(out.report.findings[0].title.contains("gradient masking"));
    assert_eq!(out.exit_code, 1);
}

#[test]
fn bad_configuration_and_files_are_named() {
    let d = project("norm = \"l3\"\n");
    let e = run(d.path(), &RunOptions::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("norm = `l3`"), "{e}");
    let d = project("attack = \"pgd,cw\"\n");
    let e = run(d.path(), &RunOptions::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("unknown attack `cw`"), "{e}");
    let d = project("mean = [0.1, 0.2]\nstd = [1.0]\n");
    let e = run(d.path(), &RunOptions::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("[robust] mean/std"), "{e}");
    let d = project("attack = \"square\"\nnorm = \"l2\"\n");
    let e = run(d.path(), &RunOptions::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("L-inf only"), "{e}");
    let d = project("");
    std::fs::write(d.path().join("models/mlp.onnx"), b"not a model").expect("write");
    let e = run(d.path(), &RunOptions::default())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("models/mlp.onnx") && e.contains("ONNX"), "{e}");
}
