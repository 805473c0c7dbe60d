#![allow(clippy::unwrap_used)]
//! Acceptance tests of the `aigis` binary, named for the contract they check.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(rel: &str) -> PathBuf {
    root().join("crates/aigis-scan/tests/fixtures").join(rel)
}

fn aigis() -> Command {
    Command::cargo_bin("aigis").unwrap()
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).expect("stdout is JSON")
}

/// `aigis scan -q --format json PATHS…`: the exit code and the parsed report.
fn scan_json<P: AsRef<std::ffi::OsStr>>(paths: &[P]) -> (Option<i32>, Value) {
    let out = aigis()
        .args(["scan", "--format", "json", "-q"])
        .args(paths)
        .output()
        .unwrap();
    (out.status.code(), json_of(&out.stdout))
}

#[test]
fn malicious_pickle_exits_1() {
    let (code, v) = scan_json(&[fixture("malicious/os_system_p2.pkl")]);
    assert_eq!(code, Some(1));
    assert_eq!(v["schema"], "aigis.scan/v1");
    assert_eq!(v["files"][0]["verdict"], "unsafe");
    assert_eq!(v["findings"][0]["rule"], "SCN101");
    assert_eq!(
        v["findings"][0]["evidence"],
        "posix.system(\"echo aigis-fixture\")"
    );
}

#[test]
fn clean_files_exit_0() {
    let (code, v) = scan_json(&[
        fixture("benign/model.safetensors"),
        fixture("benign/torch_state_dict.pt"),
    ]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    let formats: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, vec!["safetensors", "pytorch-zip"]);
    assert_eq!(v["files"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn missing_path_exits_2_with_hint() {
    let out = aigis()
        .args(["scan", "/nonexistent/aigis/model.pt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/aigis/model.pt") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn bad_usage_exits_2() {
    let out = aigis()
        .args(["scan", "--fail-on", "severe", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = aigis()
        .args(["scan", "--allow", "nocolon", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unparseable_file_is_a_finding() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("weights.bin");
    std::fs::write(&p, [0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5]).unwrap();
    let (code, v) = scan_json(&[&p]);
    assert_eq!(code, Some(1));
    assert_eq!(v["findings"][0]["rule"], "SCN002");
    let p2 = d.path().join("truncated.gguf");
    std::fs::write(&p2, b"GGUF\x03\x00\x00\x00\x01").unwrap();
    let out = aigis()
        .args(["scan", "--format", "json", "-q"])
        .arg(&p2)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out.stdout)["files"][0]["verdict"], "error");
    // Never 0 when something could not be checked, whatever the threshold.
    let out = aigis()
        .args(["scan", "-q", "--fail-on", "critical"])
        .arg(&p2)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn fail_on_threshold_changes_exit_code() {
    let f = fixture("malicious/unknown_call.pkl"); // one medium finding
    assert_eq!(
        aigis()
            .args(["scan", "-q"])
            .arg(&f)
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        aigis()
            .args(["scan", "-q", "--fail-on", "high"])
            .arg(&f)
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        aigis()
            .args(["scan", "-q", "--allow", "evil_corp.payload:Run"])
            .arg(&f)
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn findings_are_not_masked_by_errors_elsewhere() {
    let (code, v) = scan_json(&[
        fixture("malicious/os_system_p4.pkl"),
        PathBuf::from("/nonexistent/aigis/model.pt"),
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(v["errors"][0]["path"], "/nonexistent/aigis/model.pt");
}

#[test]
fn sarif_output_is_valid_sarif() {
    let out = aigis()
        .args(["scan", "--format", "sarif", "-q"])
        .arg(fixture("malicious"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out.stdout);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("crates/aigis-core/tests/fixtures/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let v = jsonschema_validate(&schema, &doc);
    assert!(v.is_empty(), "{v:#?}");
    assert!(doc["runs"][0]["results"].as_array().unwrap().len() > 50);
}

fn jsonschema_validate(schema: &Value, doc: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).unwrap();
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

#[test]
fn output_file_is_written() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().join("report.html");
    let out = aigis()
        .args(["scan", "-q", "--format", "html", "-o"])
        .arg(&o)
        .arg(fixture("malicious/os_system_p0.pkl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let html = std::fs::read_to_string(&o).unwrap();
    assert!(html.contains("SCN101") && html.starts_with("<!doctype html>"));
}

#[test]
fn demo_run_exits_1_and_writes_reports() {
    let d = tempfile::tempdir().unwrap();
    let out = aigis()
        .arg("run")
        .arg(root().join("examples/demo"))
        .arg("--out")
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("SCN101") && table.contains("models/checkpoint.pt"),
        "{table}"
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("aigis-report.json")).unwrap())
            .unwrap();
    assert_eq!(v["schema"], "aigis.run/v1");
    // Four model files, the dataset and the guard's two prompt sets, which pass their gate.
    assert_eq!(v["files"].as_array().unwrap().len(), 7);
    let prompt_sets: Vec<&Value> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["format"].as_str().unwrap().starts_with("prompts/"))
        .collect();
    assert_eq!(prompt_sets.len(), 2);
    assert!(
        prompt_sets.iter().all(|f| f["verdict"] == "clean"),
        "{prompt_sets:?}"
    );
    assert!(!table.contains("GRD20"), "{table}");
    assert!(
        table.contains("PII102") && table.contains("data/customers.csv!note"),
        "{table}"
    );
    assert!(d.path().join("aigis-report.html").exists());
}

#[test]
fn run_with_suppression_and_bad_config() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("m")).unwrap();
    std::fs::copy(
        fixture("malicious/unknown_call.pkl"),
        d.path().join("m/custom.pkl"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("aigis.toml"),
        "[scan]\npaths = [\"m\"]\n[[suppress]]\nrule = \"SCN104\"\npath = \"m/*\"\nreason = \"reviewed\"\nexpires = \"2999-01-01\"\n",
    )
    .unwrap();
    assert_eq!(
        aigis()
            .arg("run")
            .arg(d.path())
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    std::fs::write(
        d.path().join("aigis.toml"),
        "[scan]\npaths = [\"m\"]\n[[suppress]]\nrule = \"SCN104\"\nreason = \"reviewed\"\nexpires = \"2001-01-01\"\n",
    )
    .unwrap();
    let out = aigis().arg("run").arg(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("PIP001") && s.contains("SCN104"), "{s}");
    std::fs::write(d.path().join("aigis.toml"), "[scan]\npathz = [\"m\"]\n").unwrap();
    let out = aigis().arg("run").arg(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pathz"));
    std::fs::write(
        d.path().join("aigis.toml"),
        "[pipeline]\nstages = [\"pii\"]\n",
    )
    .unwrap();
    let out = aigis().arg("run").arg(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not available in this version"));
}

#[test]
fn rules_lists_and_explains() {
    let out = aigis().arg("rules").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("SCN101") && s.contains("PIP001"));
    let out = aigis()
        .args(["rules", "pickle-dangerous-global"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.starts_with("SCN101 pickle-dangerous-global (critical)") && s.contains("## Remediation"),
        "{s}"
    );
    assert_eq!(
        aigis()
            .args(["rules", "XYZ999"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn pii_detect_writes_jsonl_with_code_point_offsets() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"r1\",\"msg\":{\"text\":\"😀 écrire à jane@example.com\"}}\n{\"id\":\"r2\",\"msg\":{\"text\":\"rien\"}}\nnot json\n",
    )
    .unwrap();
    let out_file = d.path().join("out.jsonl");
    let out = aigis()
        .args(["pii", "detect", "-q", "--text-field", "msg.text", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "entities found: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("record 3: not JSON"));
    let text = std::fs::read_to_string(&out_file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "r1");
    // Python: "😀 écrire à jane@example.com".index("jane") == 11
    assert_eq!(lines[0]["entities"][0]["start"], 11);
    assert_eq!(lines[0]["entities"][0]["end"], 27);
    assert_eq!(lines[0]["entities"][0]["score"], 0.95);
    assert_eq!(lines[1]["entities"].as_array().unwrap().len(), 0);
    // Nothing found and nothing bad: exit 0.
    let clean = d.path().join("clean.txt");
    std::fs::write(&clean, "hello\nworld\n").unwrap();
    let out = aigis()
        .args(["pii", "detect", "-q", "--input"])
        .arg(&clean)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn pii_detect_reads_csv_per_column() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("people.csv");
    std::fs::write(
        &input,
        "name,contact,ssn\nBob,\"bob@example.com, +44 20 7946 0958\",536221234\nAl,-,12\n",
    )
    .unwrap();
    let out = aigis()
        .args(["pii", "detect", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let kinds: Vec<(&str, &str)> = first["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            // A lone first name counts because its column is called `name`.
            ("PERSON", "name"),
            ("EMAIL_ADDRESS", "contact"),
            ("PHONE_NUMBER", "contact"),
            ("US_SSN", "ssn")
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ssn") && stderr.contains("US_SSN 1"),
        "{stderr}"
    );
    let out = aigis()
        .args(["pii", "detect", "-q", "--column", "nope", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column `nope`"));
}
