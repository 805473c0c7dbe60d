#![allow(clippy::unwrap_used)]
//! The `sign` and `verify` stages of `aigis run`.

use std::path::Path;

use aigis_pipeline::{RunOptions, run};

/// A project with `models` approved and `stages` configured.
fn project_with(models: &str, stages: &str) -> tempfile::TempDir {
    let d = project();
    config(d.path(), models, stages);
    d
}

fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo/models");
    std::fs::create_dir_all(p.join("models")).unwrap();
    std::fs::create_dir_all(p.join("keys")).unwrap();
    for m in [
        "classifier.safetensors",
        "preprocess.joblib",
        "checkpoint.pt",
    ] {
        std::fs::copy(demo.join(m), p.join("models").join(m)).unwrap();
    }
    let key = aigis_sign::keys::SigningKey::generate(aigis_sign::keys::Curve::P256);
    std::fs::write(p.join("keys/release.pem"), key.to_pkcs8_pem(None).unwrap()).unwrap();
    std::fs::write(p.join("keys/release.pub.pem"), key.verifying_key().to_pem()).unwrap();
    d
}

fn config(p: &Path, models: &str, stages: &str) {
    std::fs::write(
        p.join("aigis.toml"),
        format!(
            r#"[pipeline]
stages = [{stages}]
[sign]
models = [{models}]
key = "keys/release.pem"
version = "1.0.0"
registry-prefix = "demo/"
[verify]
key = "keys/release.pub.pem"
version = "1.0.0"
registry-prefix = "demo/"
"#
        ),
    )
    .unwrap();
}

fn flip_last_byte(f: &Path) {
    let mut b = std::fs::read(f).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(f, b).unwrap();
}

fn rules(outcome: &aigis_pipeline::RunOutcome) -> Vec<&'static str> {
    outcome.report.findings.iter().map(|f| f.rule).collect()
}

#[test]
fn sign_then_verify_passes_and_records_everything() {
    let d = project_with(
        r#""models/classifier.safetensors", "models/preprocess.joblib""#,
        r#""sign", "verify""#,
    );
    let p = d.path();
    let out = run(p, &RunOptions::default()).unwrap();
    assert_eq!(rules(&out), Vec::<&str>::new(), "{:?}", out.report.findings);
    assert_eq!(out.exit_code, 0);
    assert!(p.join("signatures/classifier.safetensors.sig").is_file());
    // Sign, push and verify entries in a log that verifies.
    let log = aigis_sign::tlog::Log::open(&p.join(".aigis/log")).unwrap();
    let kinds: Vec<String> = log
        .entries()
        .unwrap()
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.json).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        kinds.contains(&"sign".to_string())
            && kinds.contains(&"registry.push".to_string())
            && kinds.contains(&"verify".to_string()),
        "{kinds:?}"
    );
    log.verify(None).unwrap();
    // A second run is idempotent: the same signature bytes, no duplicate-version failure.
    let sig = std::fs::read(p.join("signatures/classifier.safetensors.sig")).unwrap();
    let again = run(p, &RunOptions::default()).unwrap();
    assert_eq!(again.exit_code, 0, "{:?}", again.report.findings);
    assert_eq!(
        std::fs::read(p.join("signatures/classifier.safetensors.sig")).unwrap(),
        sig
    );
}

#[test]
fn verify_stage_catches_tampering_and_missing_signatures() {
    let d = project_with(
        r#""models/classifier.safetensors", "models/preprocess.joblib""#,
        r#""sign""#,
    );
    let p = d.path();
    assert_eq!(run(p, &RunOptions::default()).unwrap().exit_code, 0);
    // Tamper with one model, delete the other's signature.
    flip_last_byte(&p.join("models/classifier.safetensors"));
    std::fs::remove_file(p.join("signatures/preprocess.joblib.sig")).unwrap();
    config(
        p,
        r#""models/classifier.safetensors", "models/preprocess.joblib""#,
        r#""verify""#,
    );
    let out = run(p, &RunOptions::default()).unwrap();
    assert_eq!(out.exit_code, 1);
    let mut r = rules(&out);
    r.sort_unstable();
    assert_eq!(r, ["SIG101", "SIG102"]);
    let sig101 = out
        .report
        .findings
        .iter()
        .find(|f| f.rule == "SIG101")
        .unwrap();
    assert!(
        sig101.evidence.contains("changed: ."),
        "{}",
        sig101.evidence
    );
    assert!(
        sig101.evidence.contains("tensors"),
        "the changed tensor is named: {}",
        sig101.evidence
    );
}

#[test]
fn sign_stage_refuses_a_malicious_model() {
    let d = project_with(r#""models/checkpoint.pt""#, r#""sign""#);
    let p = d.path();
    let out = run(p, &RunOptions::default()).unwrap();
    assert_eq!(rules(&out), ["SIG104"]);
    assert!(out.report.findings[0].evidence.contains("SCN101"));
    assert!(!p.join("signatures/checkpoint.pt.sig").exists());
}

#[test]
fn registry_record_mismatch_is_a_finding() {
    let d = project_with(r#""models/classifier.safetensors""#, r#""sign""#);
    let p = d.path();
    assert_eq!(run(p, &RunOptions::default()).unwrap().exit_code, 0);
    // Re-sign changed content under the same version: the signature verifies, the registry
    // record (immutable 1.0.0) does not match.
    flip_last_byte(&p.join("models/classifier.safetensors"));
    let out = run(p, &RunOptions::default()).unwrap();
    assert_eq!(
        rules(&out),
        ["SIG103"],
        "sign stage: version already recorded with other content"
    );
    config(p, r#""models/classifier.safetensors""#, r#""verify""#);
    let out = run(p, &RunOptions::default()).unwrap();
    assert_eq!(rules(&out), ["SIG103"]);
}

#[test]
fn a_re_signed_model_whose_behaviour_changed_is_caught_by_its_fingerprint() {
    use aigis_robust::attack::Range;
    let d = project();
    let p = d.path();
    let fix = Path::new(env!("CARGO_MANIFEST_DIR")).join("../aigis-robust/tests/fixtures");
    std::fs::copy(fix.join("mlp.onnx"), p.join("models/mlp.onnx")).unwrap();
    std::fs::copy(fix.join("digits-test.npz"), p.join("probes.npz")).unwrap();
    let bytes = std::fs::read(p.join("models/mlp.onnx")).unwrap();
    let session =
        aigis_robust::engine::Session::new(aigis_robust::onnx::parse(&bytes).unwrap()).unwrap();
    let probes =
        aigis_robust::npz::load_x("probes.npz", &std::fs::read(p.join("probes.npz")).unwrap())
            .unwrap();
    let fp = aigis_robust::fingerprint::take(
        &session,
        &bytes,
        0,
        64,
        &[64],
        Range { lo: 0.0, hi: 1.0 },
        Some(&probes),
    )
    .unwrap();
    std::fs::write(p.join("fp.json"), serde_json::to_vec(&fp).unwrap()).unwrap();
    config(p, "\"models/mlp.onnx\"", "\"sign\", \"verify\"");
    let mut cfg = std::fs::read_to_string(p.join("aigis.toml")).unwrap();
    cfg.push_str("[[verify.fingerprints]]\nmodel = \"models/mlp.onnx\"\nfingerprint = \"fp.json\"\nprobes = \"probes.npz\"\n");
    std::fs::write(p.join("aigis.toml"), &cfg).unwrap();
    let out = run(p, &RunOptions::default()).unwrap();
    assert!(
        !rules(&out).contains(&"ROB103"),
        "{:?}",
        out.report.findings
    );

    // Raise one output bias and sign the model again: the signature is valid, the behaviour is not.
    let model = aigis_robust::onnx::parse(&bytes).unwrap();
    let old = model.initializers["fc2.b"].data[3];
    let at = bytes
        .windows(4)
        .position(|w| w == old.to_le_bytes())
        .unwrap();
    let mut patched = bytes.clone();
    patched[at..at + 4].copy_from_slice(&(old + 3.0).to_le_bytes());
    std::fs::write(p.join("models/mlp.onnx"), &patched).unwrap();
    let out = run(p, &RunOptions::default()).unwrap();
    let r = rules(&out);
    assert!(r.contains(&"ROB103"), "{r:?}");
    assert!(!r.contains(&"SIG101"), "the new signature matches: {r:?}");
    assert_eq!(out.exit_code, 1);
}
