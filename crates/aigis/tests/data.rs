#![allow(clippy::unwrap_used)]
//! Acceptance tests of `aigis data …`: anonymisation round trips, dataset scans, and `age`
//! interop against the real `age` binary (installed by `.ci/run`; skipped with a message when
//! it is missing).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn aigis() -> Command {
    Command::cargo_bin("aigis").unwrap()
}

fn age_bin() -> Option<PathBuf> {
    let ok = std::process::Command::new("age")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(PathBuf::from("age"))
    } else {
        eprintln!("skipped: the `age` binary is not installed (apt-get install age)");
        None
    }
}

fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("vault.key");
    aigis()
        .args(["data", "keygen", "-o"])
        .arg(&key)
        .assert()
        .success();
    key
}

const CSV: &str = "id,name,email,account,note\n1,Ann,ann@example.com,4485-2231-77,\"call +44 20 7946 0958, \"\"ok\"\"\"\n2,Bo,ann@example.com,99887766,card 4111 1111 1111 1111 😀\n";

#[test]
fn tokenize_detokenize_csv_round_trip_with_fpe_column() {
    let d = tempfile::tempdir().unwrap();
    let key = keygen(d.path());
    let input = d.path().join("in.csv");
    std::fs::write(&input, CSV).unwrap();
    let tok = d.path().join("tok.csv");
    aigis()
        .args([
            "data",
            "tokenize",
            "-q",
            "--column-operator",
            "account=fpe",
            "--key",
        ])
        .arg(&key)
        .arg(&input)
        .arg("-o")
        .arg(&tok)
        .assert()
        .code(0);
    let t = std::fs::read_to_string(&tok).unwrap();
    assert!(!t.contains("ann@example.com") && !t.contains("4111") && !t.contains("7946"));
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(t.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(&rows[0][2], &rows[1][2], "deterministic tokens keep joins");
    assert!(rows[0][2].starts_with("EMAIL_ADDRESS_"));
    assert_eq!(
        rows[0][3].len(),
        "4485-2231-77".len(),
        "FPE keeps the format"
    );
    assert_eq!(&rows[0][3][4..5], "-");
    let back = d.path().join("back.csv");
    aigis()
        .args([
            "data",
            "detokenize",
            "-q",
            "--column-operator",
            "account=fpe",
            "--key",
        ])
        .arg(&key)
        .arg(&tok)
        .arg("-o")
        .arg(&back)
        .assert()
        .code(0);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), CSV);
    // Another key restores nothing and says so.
    let other = d.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let key2 = keygen(&other);
    let out = aigis()
        .args(["data", "detokenize", "--key"])
        .arg(&key2)
        .arg(&tok)
        .arg("-o")
        .arg(d.path().join("x.csv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 values restored"), "{err}");
    assert!(!err.contains(&std::fs::read_to_string(&key).unwrap()[18..40]));
}

#[test]
fn redact_uses_config_operators_and_jsonl_keeps_structure() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("aigis.toml"),
        "[data.anonymize]\ndefault = \"replace\"\n[data.anonymize.entities]\nCREDIT_CARD = \"mask:4\"\n",
    )
    .unwrap();
    let input = d.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\":1,\"text\":\"card 4111 1111 1111 1111, mail ann@example.com\",\"n\":2}\n",
    )
    .unwrap();
    let out = d.path().join("out.jsonl");
    aigis()
        .args(["data", "redact", "-q", "--config"])
        .arg(d.path().join("aigis.toml"))
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["text"], "card **** **** **** 1111, mail <EMAIL_ADDRESS>");
    assert_eq!((v["id"].as_i64(), v["n"].as_i64()), (Some(1), Some(2)));
    // Keyed operators without a key: a clear error, exit 2, no output file.
    let out2 = d.path().join("never.jsonl");
    let o = aigis()
        .env_remove("AIGIS_VAULT_KEY")
        .args(["data", "redact", "--operator", "EMAIL_ADDRESS=hash"])
        .arg(&input)
        .arg("-o")
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("aigis data keygen"));
    assert!(!out2.exists());
    let o = aigis()
        .args(["data", "redact", "--operator", "EMAIL_ADDRESS=scramble"])
        .arg(&input)
        .arg("-o")
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown operator `scramble`"));
}

#[test]
fn data_scan_reports_columns_and_gates() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.csv");
    std::fs::write(&input, CSV).unwrap();
    let o = aigis()
        .args(["data", "scan", "--format", "json"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let fields = &v["datasets"][0]["fields"];
    let email = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[0] == "email")
        .unwrap();
    assert_eq!(email[1]["entities"]["EMAIL_ADDRESS"], 2);
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"PII102") && rules.contains(&"PII103"),
        "{rules:?}"
    );
    // Raising the thresholds clears the gate.
    aigis()
        .args([
            "data",
            "scan",
            "--allow",
            "EMAIL_ADDRESS=2",
            "--allow",
            "PHONE_NUMBER=1",
        ])
        .args([
            "--allow",
            "note:CREDIT_CARD=1",
            "--allow",
            "name:PERSON=2",
            "--allow",
            "LOCATION=2",
        ])
        .arg(&input)
        .assert()
        .code(0);
}

#[test]
fn age_interop_both_ways_and_tamper_leaves_no_output() {
    let Some(age) = age_bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let id = d.path().join("me.key");
    let o = aigis()
        .args(["data", "keygen", "--age", "-o"])
        .arg(&id)
        .output()
        .unwrap();
    let public = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert!(public.starts_with("age1"));
    let plain = d.path().join("plain.bin");
    let data: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(&plain, &data).unwrap();
    // age encrypts, aigis decrypts.
    let a1 = d.path().join("a1.age");
    let st = std::process::Command::new(&age)
        .args(["-r", &public, "-o"])
        .arg(&a1)
        .arg(&plain)
        .status()
        .unwrap();
    assert!(st.success());
    let p1 = d.path().join("p1.bin");
    aigis()
        .args(["data", "decrypt", "-i"])
        .arg(&id)
        .arg(&a1)
        .arg("-o")
        .arg(&p1)
        .assert()
        .code(0);
    assert_eq!(std::fs::read(&p1).unwrap(), data);
    // aigis encrypts (binary and armoured), age decrypts.
    for armor in [false, true] {
        let a2 = d.path().join(format!("a2-{armor}.age"));
        let mut cmd = aigis();
        cmd.args(["data", "encrypt", "-r", &public]);
        if armor {
            cmd.arg("-a");
        }
        cmd.arg(&plain).arg("-o").arg(&a2).assert().code(0);
        let p2 = d.path().join("p2.bin");
        let st = std::process::Command::new(&age)
            .args(["-d", "-i"])
            .arg(&id)
            .arg("-o")
            .arg(&p2)
            .arg(&a2)
            .status()
            .unwrap();
        assert!(st.success(), "age -d failed (armor {armor})");
        assert_eq!(std::fs::read(&p2).unwrap(), data);
    }
    // A flipped byte in the last chunk: age's own output is rejected by aigis with no file.
    let mut bad = std::fs::read(&a1).unwrap();
    let n = bad.len();
    bad[n - 3] ^= 0x40;
    let t = d.path().join("t.age");
    std::fs::write(&t, bad).unwrap();
    let out = d.path().join("t.bin");
    let o = aigis()
        .args(["data", "decrypt", "-i"])
        .arg(&id)
        .arg(&t)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no output written"));
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
    // An identity that is not the recipient.
    let other = d.path().join("other.key");
    aigis()
        .args(["data", "keygen", "--age", "-o"])
        .arg(&other)
        .assert()
        .success();
    let o = aigis()
        .args(["data", "decrypt", "-i"])
        .arg(&other)
        .arg(&a1)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrong key"));
}
