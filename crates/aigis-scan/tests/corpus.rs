#![allow(clippy::unwrap_used)]
//! The fixture corpus (made by the real libraries with `fixtures/generate.py`): every benign
//! file passes, every malicious file is flagged with the rules the manifest names, and every
//! scan rule fires on at least one fixture.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use aigis_core::{Severity, Verdict};
use aigis_scan::{ScanOptions, rules, scan_paths};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn scan_corpus() -> aigis_core::Report {
    let root = fixtures();
    let opts = ScanOptions {
        digest: false,
        ..Default::default()
    };
    scan_paths(
        &[root.join("benign"), root.join("malicious")],
        &opts,
        Some(&root),
        &|_, _| {},
    )
}

#[test]
fn corpus_matches_manifest() {
    let manifest: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let report = scan_corpus();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut rules_by_path: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in &report.findings {
        rules_by_path
            .entry(f.location.path.as_str())
            .or_default()
            .insert(f.rule);
    }
    let mut problems = Vec::new();
    for (path, exp) in &manifest {
        let Some(rec) = report.files.iter().find(|f| &f.path == path) else {
            problems.push(format!("{path}: not scanned"));
            continue;
        };
        let got = rules_by_path
            .get(path.as_str())
            .cloned()
            .unwrap_or_default();
        if exp["malicious"].as_bool().unwrap_or(false) {
            if rec.verdict == Verdict::Clean {
                problems.push(format!(
                    "{path}: malicious fixture judged clean ({})",
                    exp["note"]
                ));
            }
            for r in exp["rules"].as_array().unwrap() {
                if !got.contains(r.as_str().unwrap()) {
                    problems.push(format!("{path}: expected {r}, got {got:?}"));
                }
            }
        } else {
            let loud: Vec<_> = report
                .findings
                .iter()
                .filter(|f| &f.location.path == path && f.severity >= Severity::Medium)
                .map(|f| format!("{} {}", f.rule, f.title))
                .collect();
            if !loud.is_empty() || rec.verdict != Verdict::Clean {
                problems.push(format!(
                    "{path}: benign fixture flagged ({:?}): {loud:?}",
                    rec.verdict
                ));
            }
        }
    }
    // And nothing on disk is missing from the manifest.
    for f in &report.files {
        if !manifest.contains_key(&f.path) {
            problems.push(format!("{}: scanned but not in expected.json", f.path));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_rule_fires_on_some_fixture() {
    let report = scan_corpus();
    let fired: BTreeSet<&str> = report.findings.iter().map(|f| f.rule).collect();
    // SCN005 needs a symbolic link, made at run time in `symlink_out_of_tree_is_reported`.
    let missing: Vec<&str> = rules::RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !fired.contains(id) && *id != "SCN005")
        .collect();
    assert!(missing.is_empty(), "rules with no fixture hit: {missing:?}");
}

#[test]
fn rule_registry_is_well_formed() {
    let problems = rules::registry().problems();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[cfg(unix)]
#[test]
fn symlink_out_of_tree_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("model.onnx.data")).unwrap();
    std::os::unix::fs::symlink("inside.txt", d.path().join("ok-link")).unwrap();
    std::fs::write(d.path().join("inside.txt"), "hello").unwrap();
    let r = scan_paths(
        &[d.path().to_path_buf()],
        &ScanOptions::default(),
        Some(d.path()),
        &|_, _| {},
    );
    let hits: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule == "SCN005")
        .map(|f| f.location.path.clone())
        .collect();
    assert_eq!(hits, vec!["model.onnx.data".to_string()]);
}

#[test]
fn unreadable_path_is_an_error_not_a_pass() {
    let d = tempfile::tempdir().unwrap();
    let r = scan_paths(
        &[d.path().join("nope")],
        &ScanOptions::default(),
        None,
        &|_, _| {},
    );
    assert_eq!(r.errors.len(), 1);
    assert!(r.errors[0].message.contains("cannot read"));
}

#[test]
fn digests_are_sha256_of_the_file() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.txt"), b"abc").unwrap();
    let r = scan_paths(
        &[d.path().to_path_buf()],
        &ScanOptions::default(),
        Some(d.path()),
        &|_, _| {},
    );
    assert_eq!(
        r.files[0].sha256.as_deref(),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
}

/// One line per finding over the whole corpus: a regression net for every rule's wording,
/// severity and location (offsets included).
#[test]
fn corpus_findings_snapshot() {
    let report = scan_corpus();
    let lines: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{:<8} {} {} | {} | {}",
                f.severity.as_str(),
                f.rule,
                f.location.display(),
                f.title,
                f.evidence
            )
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn output_formats_snapshot() {
    let root = fixtures();
    let opts = ScanOptions {
        digest: false,
        ..Default::default()
    };
    let files = [
        root.join("malicious/os_system_p2.pkl"),
        root.join("benign/model.safetensors"),
        root.join("malicious/zip_bad_crc.pt"),
    ];
    let report = scan_paths(&files, &opts, Some(&root), &|_, _| {});
    let reg = rules::registry();
    insta::assert_snapshot!("table", aigis_core::render::table(&report));
    insta::assert_snapshot!("json", aigis_core::render::json(&report));
    insta::assert_snapshot!(
        "sarif",
        aigis_core::render::sarif(&report, &reg, "0.0.0-test")
    );
}

#[test]
fn external_data_scanned_alone_is_resolved_through_its_model() {
    let root = fixtures();
    let data = root.join("benign/onnx_external/model.onnx.data");
    let r = scan_paths(
        std::slice::from_ref(&data),
        &ScanOptions::default(),
        Some(&root),
        &|_, _| {},
    );
    assert_eq!(r.files[0].format, "tensor-data");
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // The same bytes with no model naming them are an unknown binary.
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(&data, d.path().join("model.onnx.data")).unwrap();
    let r = scan_paths(
        &[d.path().join("model.onnx.data")],
        &ScanOptions::default(),
        None,
        &|_, _| {},
    );
    assert_eq!(r.findings[0].rule, "SCN002");
}

#[test]
fn tf1_checkpoint_shards_are_tensor_data() {
    let src = fixtures().join("benign/tf_savedmodel/variables");
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(
        src.join("variables.index"),
        d.path().join("model.ckpt.index"),
    )
    .unwrap();
    std::fs::copy(
        src.join("variables.data-00000-of-00001"),
        d.path().join("model.ckpt.data-00000-of-00001"),
    )
    .unwrap();
    for target in [
        d.path().to_path_buf(),
        d.path().join("model.ckpt.data-00000-of-00001"),
    ] {
        let r = scan_paths(
            &[target],
            &ScanOptions::default(),
            Some(d.path()),
            &|_, _| {},
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert!(r.files.iter().any(|f| f.format == "tensor-data"));
    }
    // Without its index, the shard is an unknown binary.
    std::fs::remove_file(d.path().join("model.ckpt.index")).unwrap();
    let r = scan_paths(
        &[d.path().to_path_buf()],
        &ScanOptions::default(),
        Some(d.path()),
        &|_, _| {},
    );
    assert_eq!(r.findings[0].rule, "SCN002");
}
