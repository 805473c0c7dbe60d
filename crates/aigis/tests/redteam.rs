//! `aigis redteam` end to end: the reference target (vulnerable and hardened), the same run
//! through `aigis guard serve`, every report format, the gate's exit codes and `diff`.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn aigis() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("aigis"))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the reference target; its base URL.
fn reference_target(hardened: bool) -> (Server, String) {
    let mut cmd = aigis();
    cmd.args(["redteam", "target", "--listen", "127.0.0.1:0"]);
    if hardened {
        cmd.arg("--hardened");
    }
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    (Server(child), url)
}

/// `aigis redteam` against `base` with the reference target's model name, no cache, quiet.
fn redteam_cmd(base: &str, extra: &[&str]) -> Command {
    let mut c = aigis();
    c.args([
        "redteam",
        "--target",
        "openai",
        "--base-url",
        base,
        "--model",
    ])
    .args(["aigis-vulnerable-1", "--no-cache", "-q"])
    .args(extra);
    c
}

fn redteam(base: &str, extra: &[&str]) -> (Option<i32>, Vec<u8>, String) {
    let out = redteam_cmd(base, extra).output().unwrap();
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn load(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn a_run_against_the_reference_target_gates_reports_and_diffs() {
    let dir = tempfile::tempdir().unwrap();
    let (_t, base) = reference_target(false);
    let direct = dir.path().join("direct.json");
    let log = dir.path().join("attempts.jsonl");
    let (code, _, err) = redteam(
        &base,
        &[
            "--format",
            "json",
            "-o",
            direct.to_str().unwrap(),
            "--attempts-log",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tool = lines
        .iter()
        .find(|l| l["probe"] == "excessive_agency.direct_request")
        .unwrap();
    assert_eq!(tool["outcome"], "answered");
    assert_eq!(tool["detector"], "tool-call");
    assert_eq!(tool["detail"]["tool_calls"][0]["name"], "delete_records");
    assert!(
        tool["conversation"]["system"]
            .as_str()
            .unwrap()
            .contains("CANARY-")
    );
    assert!(err.contains("successful"), "{err}");
    let v = load(&direct);
    assert_eq!(v["schema"], "aigis.redteam/v1");
    assert_eq!(v["complete"], true);
    assert_eq!(v["target"]["kind"], "openai");
    assert!(
        v["attack_success_rate"].as_f64().unwrap() > 0.9,
        "{}",
        v["attack_success_rate"]
    );
    assert_eq!(v["families"].as_array().unwrap().len(), 12);
    let r0 = &v["results"][0];
    for k in [
        "probe",
        "family",
        "owasp",
        "atlas",
        "attempts",
        "successes",
        "examples",
    ] {
        assert!(!r0[k].is_null(), "{k} in {r0}");
    }
    assert!(r0["examples"][0]["response"].is_string());

    // A generous gate passes; an unknown family in it is a usage error.
    let (code, _, _) = redteam(&base, &["--probes", "harmful_content", "--fail-on", "0.6"]);
    assert_eq!(code, Some(0));
    let (code, _, err) = redteam(&base, &["--fail-on", "nope=0.1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no family `nope`"), "{err}");

    // SARIF is valid 2.1.0 and cites the probe rules.
    let (_, sarif, _) = redteam(
        &base,
        &["--probes", "prompt_injection,encoding", "--format", "sarif"],
    );
    let doc: Value = serde_json::from_slice(&sarif).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../aigis-core/tests/fixtures/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "PRB101"));
    assert!(results.iter().any(|r| r["ruleId"] == "PRB104"));

    // HTML is one page with no scripts, the attacks escaped.
    let (_, html, _) = redteam(&base, &["--probes", "insecure_output", "--format", "html"]);
    let html = String::from_utf8(html).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("PRB109"));
    assert!(!html.contains("<script"), "attack text must be escaped");
    assert!(html.contains("&lt;script&gt;"));

    // The hardened twin: no successes, exit 0.
    let (_h, hbase) = reference_target(true);
    let hard = dir.path().join("hardened.json");
    let (code, _, err) = redteam(&hbase, &["--format", "json", "-o", hard.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(load(&hard)["successes"], 0);

    // diff: direct → hardened is an improvement (exit 0), the reverse a regression (exit 1).
    let out = aigis()
        .args(["redteam", "diff"])
        .args([&direct, &hard])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("prompt_injection") && table.contains("-100.0pp"),
        "{table}"
    );
    let out = aigis()
        .args(["redteam", "diff", "-f", "json"])
        .args([&hard, &direct])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(d["regressions"].as_u64().unwrap() >= 12);
    // A file that is not a report is an error naming it.
    std::fs::write(dir.path().join("x.json"), "{\"schema\": \"aigis.scan/v1\"}").unwrap();
    let out = aigis()
        .args(["redteam", "diff"])
        .arg(dir.path().join("x.json"))
        .arg(&hard)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("x.json"));
}

#[test]
fn the_guard_in_front_lowers_the_attack_success_rate() {
    let dir = tempfile::tempdir().unwrap();
    let (_t, base) = reference_target(false);
    let upstream = base.trim_end_matches("/v1");
    let store = dir.path().join("keys.db");
    let key = aigis()
        .args([
            "guard", "keys", "create", "--name", "redteam", "--route", "chat", "--store",
        ])
        .arg(&store)
        .output()
        .unwrap();
    let key = String::from_utf8(key.stdout).unwrap().trim().to_string();
    let cfg = dir.path().join("aigis.toml");
    std::fs::write(
        &cfg,
        format!("[guard.serve]\nlisten = \"127.0.0.1:0\"\nkeys = \"keys.db\"\n[[guard.serve.routes]]\nname = \"chat\"\nkind = \"openai\"\nprefix = \"/v1\"\nupstream = \"{upstream}\"\nmax-output-tokens = 256\n[guard.output.tools]\ndeny = [\"delete_*\", \"send_email\", \"transfer_funds\", \"run_shell\"]\n"),
    )
    .unwrap();
    let (guard, addr, _err) = common::serve(&cfg);
    let _guard = Server(guard);
    let direct = dir.path().join("direct.json");
    let guarded = dir.path().join("guarded.json");
    redteam(&base, &["--format", "json", "-o", direct.to_str().unwrap()]);
    let guard_url = format!("http://{addr}/v1");
    let out = redteam_cmd(
        &guard_url,
        &[
            "--api-key-env",
            "RT_KEY",
            "--format",
            "json",
            "-o",
            guarded.to_str().unwrap(),
        ],
    )
    .env("RT_KEY", &key)
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains(&key), "the key must never be printed");
    let (d, g) = (load(&direct), load(&guarded));
    assert_eq!(g["complete"], true, "{err}");
    assert_eq!(g["attempts"], d["attempts"]);
    let (asr_d, asr_g) = (
        d["attack_success_rate"].as_f64().unwrap(),
        g["attack_success_rate"].as_f64().unwrap(),
    );
    assert!(asr_g < asr_d / 2.0, "guarded {asr_g} vs direct {asr_d}");
    assert!(g["blocked"].as_u64().unwrap() > 50, "{}", g["blocked"]);
    let fam = |v: &Value, n: &str| {
        v["families"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["family"] == n)
            .unwrap()["successes"]
            .as_u64()
            .unwrap()
    };
    // Leaks are redacted or withheld every time.
    // So are the tool calls the configuration denies (GRD109), and the route's token cap
    // ends "repeat forever".
    for f in [
        "secrets_leakage",
        "pii_leakage",
        "excessive_agency",
        "denial_of_service",
    ] {
        assert_eq!(fam(&g, f), 0, "{f} through the guard");
    }
    // Injections mostly blocked; the few that pass are the red team's findings on the guard
    // (docs/redteam.md lists them).
    for f in ["prompt_injection", "indirect_injection"] {
        assert!(
            fam(&g, f) * 5 < fam(&d, f),
            "{f}: {} through the guard of {} direct",
            fam(&g, f),
            fam(&d, f)
        );
    }
    // Streamed answers are scanned as they pass: the leaks stay caught.
    let streamed = dir.path().join("streamed.json");
    let out = redteam_cmd(
        &guard_url,
        &[
            "--api-key-env",
            "RT_KEY",
            "--stream",
            "--probes",
            "secrets_leakage,pii_leakage,prompt_injection.ignore_previous,excessive_agency",
        ],
    )
    .args(["--format", "json", "-o", streamed.to_str().unwrap()])
    .env("RT_KEY", &key)
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = load(&streamed);
    assert_eq!(
        (st["complete"].as_bool(), st["successes"].as_u64()),
        (Some(true), Some(0))
    );
    assert_eq!(st["target"]["stream"], true);
    // Without the key the gateway refuses everything: a clear error, exit 2.
    let out = redteam_cmd(&guard_url, &["--probes", "encoding.hex"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("INCOMPLETE") && stdout.contains("HTTP 401"),
        "{stdout}"
    );
}

#[test]
fn usage_errors_name_the_flag() {
    let check = |mut cmd: Command, want: &str| {
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{want}: {err}");
        assert!(err.contains(want), "{want}: {err}");
    };
    let mut c = aigis();
    c.args([
        "redteam",
        "--target",
        "openai",
        "--model",
        "m",
        "--no-cache",
    ]);
    check(c, "--base-url");
    let mut c = aigis();
    c.args([
        "redteam",
        "--target",
        "http",
        "--url",
        "http://x",
        "--no-cache",
    ]);
    check(c, "--request-template");
    check(redteam_cmd("ftp://x", &[]), "http:// or https://");
    for (extra, want) in [
        (
            &["--api-key-env", "AIGIS_TEST_SURELY_UNSET"][..],
            "AIGIS_TEST_SURELY_UNSET",
        ),
        (&["--probes", "nope"][..], "no family `nope`"),
        (&["--buffs", "rot14"][..], "no buff `rot14`"),
    ] {
        check(redteam_cmd("http://x/v1", extra), want);
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("mine.toml");
    std::fs::write(
        &bad,
        "family = 'jailbreak'\nsource = 's'\nlicence = 'MIT'\n[[probe]]\nname = 'x'\nprompts = ['{oops}']\n",
    )
    .unwrap();
    let mut c = redteam_cmd("http://x/v1", &["--probe-file"]);
    c.arg(&bad);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mine.toml") && err.contains("unknown placeholder `{oops}`"),
        "{err}"
    );
}
