#![allow(clippy::unwrap_used)]
//! `aigis monitor drift` from the command line: exit codes, the DESIGN §3 JSON, the table,
//! atomic output and bad input.

use assert_cmd::Command;
use serde_json::Value;

fn aigis() -> Command {
    Command::cargo_bin("aigis").unwrap()
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../aigis-monitor/tests/fixtures/drift")
        .join(name)
}

/// The JSON report of `aigis monitor drift`, which must exit with `code`.
fn drift_json(reference: &std::path::Path, current: &std::path::Path, code: i32) -> Vec<u8> {
    aigis()
        .args(["monitor", "drift", "-f", "json", "--reference"])
        .arg(reference)
        .arg("--current")
        .arg(current)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone()
}

#[test]
fn a_stored_profile_replaces_the_reference_table() {
    let dir = tempfile::tempdir().unwrap();
    let prof = dir.path().join("ref.aigisprof");
    aigis()
        .args(["monitor", "profile", "--reference"])
        .arg(fixture("ref.csv"))
        .arg("-o")
        .arg(&prof)
        .assert()
        .success();
    assert_eq!(
        drift_json(&prof, &fixture("cur.csv"), 1),
        drift_json(&fixture("ref.csv"), &fixture("cur.csv"), 1),
        "the same report, byte for byte"
    );
    aigis()
        .args(["monitor", "profile", "--reference"])
        .arg(dir.path().join("missing.csv"))
        .arg("-o")
        .arg(dir.path().join("x.aigisprof"))
        .assert()
        .code(2);
    assert!(
        !dir.path().join("x.aigisprof").exists(),
        "nothing written on failure"
    );
}

#[test]
fn drift_reads_parquet_from_the_command_line() {
    let out = drift_json(
        &fixture("ptab_ref.parquet"),
        &fixture("ptab_cur.parquet"),
        1,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["dataset_drift"], true);
    aigis()
        .args(["monitor", "drift", "--reference"])
        .arg(fixture("ptab_ref.parquet"))
        .arg("--current")
        .arg(fixture("ptab_ref.csv"))
        .assert()
        .code(0);
    let err = aigis()
        .args(["monitor", "drift", "--reference"])
        .arg(fixture("plist.parquet"))
        .arg("--current")
        .arg(fixture("ptab_cur.parquet"))
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("plist.parquet") && err.contains("tags"),
        "{err}"
    );
}

#[test]
fn drift_exits_1_with_the_design_schema_and_0_on_the_same_data() {
    let out = aigis()
        .args(["monitor", "drift", "-f", "json", "--reference"])
        .arg(fixture("ref.csv"))
        .arg("--current")
        .arg(fixture("cur.csv"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["dataset_drift"], true);
    for c in v["columns"].as_array().unwrap() {
        for k in ["name", "test", "statistic", "p_value", "drift"] {
            assert!(c.get(k).is_some(), "{k} missing in {c}");
        }
    }
    let income = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "income")
        .unwrap();
    assert_eq!(
        (income["test"].as_str(), income["drift"].as_bool()),
        (Some("ks"), Some(true))
    );
    assert_eq!(v["js_log_base"], 2);

    let out = aigis()
        .args(["monitor", "drift", "--reference"])
        .arg(fixture("ref.csv"))
        .arg("--current")
        .arg(fixture("ref.csv"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("dataset drift: no"), "{text}");
    assert!(text.contains("0 of 6 tested columns drifted"), "{text}");
}

#[test]
fn output_files_are_written_whole_and_bad_input_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("drift.json");
    aigis()
        .args(["monitor", "drift", "-f", "json", "-o"])
        .arg(&report)
        .arg("--reference")
        .arg(fixture("ref.csv"))
        .arg("--current")
        .arg(fixture("cur.csv"))
        .assert()
        .code(1)
        .stdout("");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["drifted_columns"], 3);

    let other = dir.path().join("other.csv");
    std::fs::write(&other, "income,age\n1,2\n").unwrap();
    let err = aigis()
        .args(["monitor", "drift", "--reference"])
        .arg(fixture("ref.csv"))
        .arg("--current")
        .arg(&other)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("only in the reference: country"), "{err}");

    let missing = dir.path().join("nope.csv");
    let e1 = aigis()
        .args(["monitor", "drift", "--reference"])
        .arg(&missing)
        .arg("--current")
        .arg(fixture("cur.csv"))
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&e1).contains("nope.csv"));
    let e2 = aigis()
        .args(["monitor", "drift", "--alpha", "1.5", "--reference"])
        .arg(fixture("ref.csv"))
        .arg("--current")
        .arg(fixture("cur.csv"))
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&e2).contains("--alpha"));
    let schema = dir.path().join("types.toml");
    std::fs::write(&schema, "[columns]\nincome = \"fancy\"\n").unwrap();
    let e3 = aigis()
        .args(["monitor", "drift", "--schema"])
        .arg(&schema)
        .arg("--reference")
        .arg(fixture("ref.csv"))
        .arg("--current")
        .arg(fixture("cur.csv"))
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&e3).contains("types.toml"));
}

#[test]
fn quoted_fields_with_line_breaks_are_read_as_one_cell() {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    let mut a = String::from("label,x\n");
    let mut b = String::from("label,x\n");
    for i in 0..60 {
        a.push_str(&format!("\"line one\nline two\",{}\n", i % 7));
        b.push_str(&format!("\"line one\nline two\",{}\n", i % 7));
    }
    std::fs::write(&r, a).unwrap();
    std::fs::write(&c, b).unwrap();
    let out = aigis()
        .args(["monitor", "drift", "-f", "json", "--reference"])
        .arg(&r)
        .arg("--current")
        .arg(&c)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let label = &v["columns"][0];
    assert_eq!(
        (label["n_reference"].as_u64(), label["test"].as_str()),
        (Some(60), Some("chi2"))
    );
}

#[test]
fn the_drift_stage_reports_each_drifted_column_as_mon101() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("data")).unwrap();
    std::fs::copy(fixture("ref.csv"), p.join("data/ref.csv")).unwrap();
    std::fs::copy(fixture("cur.csv"), p.join("data/cur.csv")).unwrap();
    std::fs::write(
        p.join("aigis.toml"),
        "[pipeline]\nstages = [\"drift\"]\n[drift]\nreference = \"data/ref.csv\"\ncurrent = \"data/cur.csv\"\nmin-effect = 0.15\n",
    )
    .unwrap();
    let out = aigis()
        .arg("run")
        .arg(p)
        .args(["--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    let titles: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["title"].as_str().unwrap()))
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.iter().all(|(r, _)| *r == "MON101"));
    assert!(
        titles[0]
            .1
            .starts_with("column `income` drifted (ks statistic 0.1446"),
        "{titles:?}"
    );
    assert!(
        titles[1].1.starts_with("column `country` drifted (chi2"),
        "{titles:?}"
    );

    // The same table as current: nothing drifts, exit 0.
    std::fs::copy(fixture("ref.csv"), p.join("data/cur.csv")).unwrap();
    aigis().arg("run").arg(p).assert().code(0);
    // A bad correction is a configuration error.
    std::fs::write(
        p.join("aigis.toml"),
        "[pipeline]\nstages = [\"drift\"]\n[drift]\nreference = \"data/ref.csv\"\ncurrent = \"data/cur.csv\"\ncorrection = \"holm\"\n",
    )
    .unwrap();
    let err = aigis()
        .arg("run")
        .arg(p)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("holm"));
}

/// Audit-log lines: `per_minute` requests a minute from key k1 for `minutes`, then `burst` a
/// minute for two minutes.
fn audit_lines(minutes: u64, per_minute: u64, burst: u64) -> String {
    let t0 = 1_790_000_040_000u64;
    let mut out = String::new();
    for m in 0..minutes + 2 {
        let n = if m < minutes { per_minute } else { burst };
        for i in 0..n {
            let r = serde_json::json!({
                "time_ms": t0 + m * 60_000 + i * 60_000 / n.max(1), "route": "chat",
                "client": format!("10.0.0.{}", i % 3), "key": "k1", "decision": "allow",
                "status": 200, "latency_us": 300, "prompt_tokens": 10, "completion_tokens": 20,
                "rules": [], "seq": 0, "prev": "0", "log_id": "t"
            });
            out.push_str(&r.to_string());
            out.push('\n');
        }
    }
    out
}

#[test]
fn detect_replays_an_audit_log_and_names_the_burst() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, audit_lines(30, 30, 30)).unwrap();
    aigis()
        .args(["monitor", "detect", "--log"])
        .arg(&log)
        .assert()
        .code(0)
        .stdout("");
    std::fs::write(&log, audit_lines(30, 30, 1500)).unwrap();
    let out = aigis()
        .args(["monitor", "detect", "-f", "json", "--log"])
        .arg(&log)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let alerts: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rate = alerts
        .iter()
        .find(|a| a["detector"] == "key_request_rate")
        .unwrap();
    assert_eq!(rate["subject"], "key:k1");
    assert_eq!(rate["observed"], 1500.0);
    assert!(
        rate["message"]
            .as_str()
            .unwrap()
            .contains("against a baseline of 30.0")
    );
    // A longer warm-up from the configuration: 30 windows are not enough, nothing fires.
    std::fs::write(
        dir.path().join("aigis.toml"),
        "[pipeline]\nstages = [\"scan\"]\n[monitor.detect]\nwarmup-windows = 40\n",
    )
    .unwrap();
    aigis()
        .args(["monitor", "detect", "-c"])
        .arg(dir.path().join("aigis.toml"))
        .arg("--log")
        .arg(&log)
        .assert()
        .code(0);
    aigis()
        .args(["monitor", "detect", "--log"])
        .arg(dir.path().join("missing.jsonl"))
        .assert()
        .code(2);
}

#[test]
fn events_and_alerts_convert_to_ocsf_and_ecs() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, audit_lines(30, 30, 1500)).unwrap();
    let lines = |args: &[&str], code: i32| -> Vec<Value> {
        let out = aigis()
            .args(["monitor"])
            .args(args)
            .arg("--log")
            .arg(&log)
            .assert()
            .code(code)
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let ocsf = lines(&["events", "--schema", "ocsf"], 0);
    assert_eq!(ocsf.len(), 30 * 30 + 2 * 1500);
    assert!(
        ocsf.iter()
            .all(|v| v["class_uid"] == 6003 && v["type_uid"] == 600_399)
    );
    assert_eq!(ocsf[0]["actor"]["user"]["uid"], "k1");
    let ecs = lines(&["events", "--schema", "ecs"], 0);
    assert_eq!(ecs[0]["event"]["outcome"], "success");
    let otel = lines(&["events", "--schema", "otel"], 0);
    assert_eq!(otel[0]["attributes"]["gen_ai.usage.output_tokens"], 20);
    let findings = lines(&["detect", "-f", "json", "--schema", "ocsf"], 1);
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|v| v["class_uid"] == 2004));
    assert!(
        findings
            .iter()
            .any(|v| v["finding_info"]["types"][0] == "key_request_rate")
    );
}

/// The stdout of a successful `aigis ARGS STORE`.
fn incident_out(args: &[&str], store: &std::path::Path) -> Vec<u8> {
    aigis()
        .args(args)
        .arg(store)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

#[test]
fn incidents_are_listed_shown_acknowledged_and_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("incidents.db");
    {
        let mut s = aigis_monitor::incident::IncidentStore::open(&db).unwrap();
        let a = aigis_monitor::detect::Alert {
            detector: "key_new_sources",
            subject: "key:abcd1234".into(),
            time_ms: 1,
            observed: 200.0,
            baseline: 3.0,
            score: 50.0,
            priority: aigis_monitor::detect::Priority::Critical,
            atlas: &["AML.T0012"],
            message: "key:abcd1234: 200 distinct client addresses".into(),
        };
        let (id, _) = s.record_alert(&a).unwrap();
        s.note(id, "action", "playbook `p` took key:abcd1234 offline")
            .unwrap();
    }
    let out = incident_out(&["incident", "list", "-f", "json", "--store"], &db);
    let list: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(list[0]["subject"], "key:abcd1234");
    assert_eq!(list[0]["status"], "open");
    aigis()
        .args(["incident", "ack", "1", "--note", "on it", "--store"])
        .arg(&db)
        .assert()
        .success();
    aigis()
        .args([
            "incident",
            "resolve",
            "1",
            "--note",
            "key rotated",
            "--store",
        ])
        .arg(&db)
        .assert()
        .success();
    let out = incident_out(&["incident", "show", "1", "--store"], &db);
    let text = String::from_utf8(out).unwrap();
    for want in [
        "resolved",
        "alert",
        "took key:abcd1234 offline",
        "on it",
        "key rotated",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let out = incident_out(&["incident", "list", "--store"], &db);
    assert!(out.is_empty(), "resolved incidents leave the default list");
    // The timeline alone, one JSON entry per line, oldest first.
    let out = incident_out(&["incident", "timeline", "1", "-f", "json", "--store"], &db);
    let kinds: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["alert", "action", "ack", "resolve"]);
    // As an OCSF 2005 Incident Finding: closed, resolved, critical, the alert as a finding.
    let out = incident_out(
        &[
            "incident",
            "show",
            "1",
            "--schema",
            "ocsf",
            "--assignee-group",
            "soc",
            "--store",
        ],
        &db,
    );
    let o: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (o["class_uid"].as_u64(), o["type_uid"].as_u64()),
        (Some(2005), Some(200_503))
    );
    assert_eq!(
        (o["status"].as_str(), o["priority_id"].as_u64()),
        (Some("Resolved"), Some(4))
    );
    assert_eq!(o["assignee_group"]["name"], "soc");
    assert_eq!(o["finding_info_list"][0]["types"][0], "key_new_sources");
    assert_eq!(o["attacks"][0]["technique"]["uid"], "AML.T0012");
    let out = incident_out(
        &["incident", "list", "--all", "--schema", "ocsf", "--store"],
        &db,
    );
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
    aigis()
        .args(["incident", "resolve", "7", "--store"])
        .arg(&db)
        .assert()
        .code(2);
    aigis()
        .args(["incident", "list", "--store"])
        .arg(dir.path().join("none.db"))
        .assert()
        .code(2);
}

#[test]
fn replaying_an_audit_log_files_its_alerts_as_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, audit_lines(30, 30, 1500)).unwrap();
    let db = dir.path().join("forensics.db");
    let out = aigis()
        .args(["incident", "replay", "--log"])
        .arg(&log)
        .arg("--store")
        .arg(&db)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("key_request_rate\tkey:k1"), "{text}");
    let store = aigis_monitor::incident::IncidentStore::open(&db).unwrap();
    let inc = store.list(false).unwrap();
    assert!(
        inc.iter()
            .any(|i| i.detector == "key_request_rate" && i.subject == "key:k1")
    );
}

#[test]
fn user_rules_from_the_configuration_raise_alerts_and_bad_rules_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, audit_lines(2, 5, 5)).unwrap();
    let cfg = dir.path().join("aigis.toml");
    std::fs::write(
        &cfg,
        "[pipeline]\nstages = [\"scan\"]\n[[monitor.detect.rules]]\nrule = \"k1-from-10-0-0-2\"\ncondition = \"key = k1 and client = \\\"10.0.0.2\\\" and status in (200, 201)\"\noutput = \"%key called %route from %client\"\npriority = \"critical\"\ntags = [\"AML.T0012\"]\n",
    )
    .unwrap();
    let out = aigis()
        .args(["monitor", "detect", "-f", "json", "-c"])
        .arg(&cfg)
        .arg("--log")
        .arg(&log)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let alerts: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Four minutes of five requests, addresses cycling .0/.1/.2: indexes 2 per minute match.
    assert_eq!(alerts.len(), 4, "{alerts:?}");
    assert_eq!(alerts[0]["detector"], "k1-from-10-0-0-2");
    assert_eq!(alerts[0]["message"], "k1 called chat from 10.0.0.2");
    assert_eq!(alerts[0]["atlas"][0], "AML.T0012");
    std::fs::write(
        &cfg,
        "[pipeline]\nstages = [\"scan\"]\n[[monitor.detect.rules]]\nrule = \"broken\"\ncondition = \"kee = k1\"\noutput = \"x\"\n",
    )
    .unwrap();
    let err = aigis()
        .args(["monitor", "detect", "-c"])
        .arg(&cfg)
        .arg("--log")
        .arg(&log)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8_lossy(&err).contains("rule `broken`: unknown field `kee`"),
        "{}",
        String::from_utf8_lossy(&err)
    );
}
