#![allow(clippy::unwrap_used)]
//! Acceptance tests of keygen, sign, verify, log and registry, named for the contract they check.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pki(name: &str) -> PathBuf {
    root()
        .join("crates/aigis-sign/tests/fixtures/pki")
        .join(name)
}

fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sandbox: its own AIGIS_HOME, a key pair and a small model directory.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let e = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        let m = e.path("model");
        std::fs::create_dir_all(m.join("sub")).unwrap();
        std::fs::write(m.join("weights.bin"), vec![b'7'; 10_000]).unwrap();
        std::fs::write(m.join("config.json"), b"{}").unwrap();
        std::fs::write(m.join("empty"), b"").unwrap();
        std::fs::write(m.join("sub/extra.txt"), b"x").unwrap();
        let out = e
            .aigis()
            .args(["keygen", "-o"])
            .arg(e.path("key.pem"))
            .output()
            .unwrap();
        assert_exit(&out, 0);
        e
    }

    /// Exit code of `aigis ARGS…`.
    fn code(&self, args: &[&str]) -> Option<i32> {
        self.aigis().args(args).output().unwrap().status.code()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn aigis(&self) -> Command {
        let mut c = Command::cargo_bin("aigis").unwrap();
        c.env("AIGIS_HOME", self.path("home"))
            .env_remove("AIGIS_KEY_PASSPHRASE");
        c
    }

    /// `aigis sign --key KEY MODEL --signature SIG EXTRA…` with explicit paths.
    fn sign_raw(
        &self,
        key: &Path,
        model: &Path,
        sig: &Path,
        extra: &[&str],
    ) -> std::process::Output {
        self.aigis()
            .args(["sign", "-q", "--key"])
            .arg(key)
            .arg(model)
            .arg("--signature")
            .arg(sig)
            .args(extra)
            .output()
            .unwrap()
    }

    fn sign(&self, model: &str, sig: &str) -> std::process::Output {
        self.aigis()
            .args(["sign", "-q", "--key"])
            .arg(self.path("key.pem"))
            .arg(self.path(model))
            .arg("--signature")
            .arg(self.path(sig))
            .output()
            .unwrap()
    }

    /// `aigis verify --format json`: exit code and parsed result.
    fn verify(&self, model: &str, sig: &str) -> (Option<i32>, Value, String) {
        let out = self
            .aigis()
            .args(["verify", "-q", "--format", "json", "--key"])
            .arg(self.path("key.pub.pem"))
            .arg(self.path(model))
            .arg("--signature")
            .arg(self.path(sig))
            .output()
            .unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code(),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[cfg(unix)]
#[test]
fn keygen_writes_0600_private_key_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    let mode = std::fs::metadata(e.path("key.pem"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let pem = std::fs::read_to_string(e.path("key.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(
        std::fs::read_to_string(e.path("key.pub.pem"))
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let out = e
        .aigis()
        .args(["keygen", "-o"])
        .arg(e.path("key.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(e.path("key.pem")).unwrap(),
        pem,
        "existing key untouched"
    );
}

#[test]
fn sign_then_verify_is_deterministic_and_valid() {
    let e = Env::new();
    assert_eq!(e.sign("model", "a.sig").status.code(), Some(0));
    assert_eq!(e.sign("model", "b.sig").status.code(), Some(0));
    assert_eq!(
        std::fs::read(e.path("a.sig")).unwrap(),
        std::fs::read(e.path("b.sig")).unwrap()
    );
    let (code, v, _) = e.verify("model", "a.sig");
    assert_eq!(code, Some(0));
    assert_eq!(v["schema"], "aigis.verify/v1");
    assert_eq!(v["valid"], true);
    assert_eq!(v["files"], 4, "the empty file is covered too");
}

#[test]
fn every_tampering_exits_1_with_a_readable_diff() {
    type Tamper = fn(&Path);
    let cases: [(&str, Tamper, &str); 6] = [
        (
            "changed byte",
            |m| std::fs::write(m.join("weights.bin"), vec![b'8'; 10_000]).unwrap(),
            "changed: weights.bin (sha256 ",
        ),
        (
            "added file",
            |m| std::fs::write(m.join("extra.py"), b"import os").unwrap(),
            "added: extra.py",
        ),
        (
            "removed file",
            |m| std::fs::remove_file(m.join("sub/extra.txt")).unwrap(),
            "removed: sub/extra.txt",
        ),
        (
            "renamed file",
            |m| std::fs::rename(m.join("config.json"), m.join("cfg.json")).unwrap(),
            "renamed: config.json → cfg.json",
        ),
        (
            "swapped files",
            |m| {
                std::fs::write(m.join("config.json"), b"x").unwrap();
                std::fs::write(m.join("sub/extra.txt"), b"{}").unwrap();
            },
            "changed: config.json",
        ),
        (
            "filled empty file",
            |m| std::fs::write(m.join("empty"), b"!").unwrap(),
            "changed: empty",
        ),
    ];
    for (what, tamper, want) in cases {
        let e = Env::new();
        assert_eq!(e.sign("model", "m.sig").status.code(), Some(0));
        tamper(&e.path("model"));
        let (code, v, stderr) = e.verify("model", "m.sig");
        assert_eq!(code, Some(1), "{what}: {stderr}");
        assert_eq!(v["valid"], false, "{what}");
        let changes = v["changes"].to_string();
        assert!(changes.contains(want), "{what}: {changes}");
        assert!(stderr.contains("Verification FAILED"), "{what}: {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn symlinks_are_refused_when_signing_and_fail_verification() {
    let e = Env::new();
    assert_eq!(e.sign("model", "m.sig").status.code(), Some(0));
    std::os::unix::fs::symlink("/etc/passwd", e.path("model/escape")).unwrap();
    let (code, _, stderr) = e.verify("model", "m.sig");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("symlink"), "{stderr}");
    let out = e.sign("model", "n.sig");
    assert_eq!(out.status.code(), Some(2));
    assert!(!e.path("n.sig").exists(), "nothing half-written");
}

#[test]
fn bad_inputs_name_the_problem() {
    let e = Env::new();
    assert_eq!(e.sign("model", "m.sig").status.code(), Some(0));
    // Corrupted bundle JSON → invalid (1), named.
    let sig = std::fs::read_to_string(e.path("m.sig")).unwrap();
    std::fs::write(e.path("cut.sig"), &sig[..sig.len() / 2]).unwrap();
    let (code, _, stderr) = e.verify("model", "cut.sig");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("not an OMS Sigstore bundle"), "{stderr}");
    // Signature of another model.
    std::fs::create_dir_all(e.path("other")).unwrap();
    std::fs::write(e.path("other/w.bin"), b"other").unwrap();
    assert_eq!(e.sign("other", "other.sig").status.code(), Some(0));
    let (code, v, _) = e.verify("model", "other.sig");
    assert_eq!(code, Some(1));
    assert!(v["changes"].to_string().contains("removed: w.bin"));
    // Malformed PEM, wrong key kind, missing model: exit 2, no secret in the message.
    std::fs::write(
        e.path("bad.pem"),
        "-----BEGIN PRIVATE KEY-----\nnot base64!!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = e.sign_raw(&e.path("bad.pem"), &e.path("model"), &e.path("x.sig"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed PEM"));
    let out = e.sign_raw(
        &e.path("key.pub.pem"),
        &e.path("model"),
        &e.path("x.sig"),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("public key"));
    let out = e.sign_raw(&e.path("key.pem"), &e.path("nope"), &e.path("x.sig"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!e.path("x.sig").exists());
    let key = std::fs::read_to_string(e.path("key.pem")).unwrap();
    let secret_line = key.lines().nth(1).unwrap();
    for o in [&out.stderr, &out.stdout] {
        assert!(!String::from_utf8_lossy(o).contains(secret_line));
    }
}

#[test]
fn encrypted_keys_need_their_passphrase() {
    let e = Env::new();
    std::fs::write(e.path("pass"), "s3cret passphrase\n").unwrap();
    let out = e
        .aigis()
        .args(["keygen", "--curve", "p384", "-o"])
        .arg(e.path("enc.pem"))
        .arg("--passphrase-file")
        .arg(e.path("pass"))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        std::fs::read_to_string(e.path("enc.pem"))
            .unwrap()
            .contains("ENCRYPTED PRIVATE KEY")
    );
    let sign = |extra: &[&str]| {
        e.aigis()
            .args(["sign", "-q", "--key"])
            .arg(e.path("enc.pem"))
            .arg(e.path("model"))
            .arg("--signature")
            .arg(e.path("enc.sig"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = sign(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("encrypted"));
    let out = sign(&["--passphrase-file", e.path("pass").to_str().unwrap()]);
    assert_exit(&out, 0);
    let out = e
        .aigis()
        .args(["verify", "-q", "--key"])
        .arg(e.path("enc.pub.pem"))
        .arg(e.path("model"))
        .arg("--signature")
        .arg(e.path("enc.sig"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn certificate_method_validates_the_chain() {
    let e = Env::new();
    let out = e
        .aigis()
        .args(["sign", "-q", "--no-log", "--key"])
        .arg(pki("leaf.key"))
        .arg("--cert")
        .arg(pki("leaf.pem"))
        .arg("--cert-chain")
        .arg(pki("intermediate.pem"))
        .arg(e.path("model"))
        .arg("--signature")
        .arg(e.path("c.sig"))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let verify = |root: &str| {
        e.aigis()
            .args(["verify", "-q", "--no-log", "--cert-chain"])
            .arg(pki(root))
            .arg(e.path("model"))
            .arg("--signature")
            .arg(e.path("c.sig"))
            .output()
            .unwrap()
    };
    assert_eq!(verify("root.pem").status.code(), Some(0));
    let bad = verify("other-root.pem");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("trusted root"));
    // The key does not match the certificate: refused at signing.
    let out = e
        .aigis()
        .args(["sign", "-q", "--key"])
        .arg(e.path("key.pem"))
        .arg("--cert")
        .arg(pki("leaf.pem"))
        .arg(e.path("model"))
        .arg("--signature")
        .arg(e.path("d.sig"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
}

#[test]
fn tensor_manifest_names_the_changed_tensor() {
    let e = Env::new();
    let st = root().join("examples/demo/models/classifier.safetensors");
    std::fs::copy(&st, e.path("model/classifier.safetensors")).unwrap();
    let out = e
        .aigis()
        .args(["sign", "-q", "--tensors", "--key"])
        .arg(e.path("key.pem"))
        .arg(e.path("model"))
        .arg("--signature")
        .arg(e.path("t.sig"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mut bytes = std::fs::read(e.path("model/classifier.safetensors")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(e.path("model/classifier.safetensors"), bytes).unwrap();
    let (code, v, stderr) = e.verify("model", "t.sig");
    assert_eq!(code, Some(1));
    let tc = &v["tensor_changes"][0];
    assert_eq!(tc["file"], "classifier.safetensors");
    assert_eq!(tc["tensors"].as_array().unwrap().len(), 1, "{v}");
    assert!(stderr.contains("tensors changed"), "{stderr}");
}

#[test]
fn log_records_sign_and_verify_and_proofs_check_offline() {
    let e = Env::new();
    assert_eq!(e.sign("model", "m.sig").status.code(), Some(0));
    assert_eq!(e.verify("model", "m.sig").0, Some(0));
    let show = e.aigis().args(["log", "show"]).output().unwrap();
    let kinds: Vec<String> = String::from_utf8_lossy(&show.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["sign", "verify"]);
    assert_eq!(e.code(&["log", "verify"]), Some(0));
    // A third party with only the public key checks an inclusion proof.
    let proof = e.aigis().args(["log", "prove", "0"]).output().unwrap();
    std::fs::write(e.path("proof.json"), &proof.stdout).unwrap();
    let pubkey =
        String::from_utf8(e.aigis().args(["log", "key"]).output().unwrap().stdout).unwrap();
    let check = |file: &str| {
        Command::cargo_bin("aigis")
            .unwrap()
            .env("AIGIS_HOME", e.path("elsewhere"))
            .args(["log", "verify", "--proof"])
            .arg(e.path(file))
            .args(["--log-key", pubkey.trim()])
            .output()
            .unwrap()
    };
    assert_eq!(check("proof.json").status.code(), Some(0));
    let forged = String::from_utf8(proof.stdout)
        .unwrap()
        .replace("\\\"sign\\\"", "\\\"verify\\\"");
    std::fs::write(e.path("forged.json"), forged).unwrap();
    assert_eq!(check("forged.json").status.code(), Some(1));
    // Consistency from a kept checkpoint to the current log.
    let cp = e
        .aigis()
        .args(["log", "checkpoint"])
        .output()
        .unwrap()
        .stdout;
    std::fs::write(e.path("old.cp"), &cp).unwrap();
    assert_eq!(e.sign("model", "m2.sig").status.code(), Some(0));
    let cons = e
        .aigis()
        .args(["log", "prove", "--since"])
        .arg(e.path("old.cp"))
        .output()
        .unwrap();
    std::fs::write(e.path("cons.json"), &cons.stdout).unwrap();
    assert_eq!(check("cons.json").status.code(), Some(0));
    // Editing an entry is detected, naming it.
    let entries = e.path("home/log/entries.jsonl");
    let text =
        std::fs::read_to_string(&entries)
            .unwrap()
            .replacen("\"ok\":true", "\"ok\":false", 1);
    std::fs::write(&entries, text).unwrap();
    let out = e.aigis().args(["log", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("entry 1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn registry_push_pull_verify_and_refusal() {
    let e = Env::new();
    assert_eq!(e.sign("model", "m.sig").status.code(), Some(0));
    let push = |model: &Path, version: &str, extra: &[&str]| {
        e.aigis()
            .args(["registry", "push"])
            .arg(model)
            .args(["--name", "team/model", "--version", version])
            .args(extra)
            .output()
            .unwrap()
    };
    let (sig, key) = (e.path("m.sig"), e.path("key.pub.pem"));
    let signed = [
        "--signature",
        sig.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    let out = push(&e.path("model"), "1.0", &signed);
    assert_exit(&out, 0);
    // Same content again under a new version: every object deduplicated.
    let out = push(&e.path("model"), "1.1", &["--parent", "team/model@1.0"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0 new"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        push(&e.path("model"), "1.0", &[]).status.code(),
        Some(2),
        "versions are immutable"
    );
    let show: Value = serde_json::from_slice(
        &e.aigis()
            .args(["registry", "show", "team/model@1.1"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(show["provenance"]["parent"], "team/model@1.0");
    assert_eq!(show["scan_verdict"], "clean");
    assert!(show["scan_report"]["files"].is_array());
    // Pull writes an identical tree.
    let out = e
        .aigis()
        .args(["registry", "pull", "team/model@1.0"])
        .arg(e.path("pulled"))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read(e.path("pulled/weights.bin")).unwrap(),
        vec![b'7'; 10_000]
    );
    assert!(e.path("pulled/empty").exists());
    let verify = || {
        e.aigis()
            .args(["registry", "verify", "team/model@1.0", "--key"])
            .arg(&key)
            .output()
            .unwrap()
    };
    assert_eq!(
        verify().status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify().stderr)
    );
    // A signature that does not match is refused, and the refusal is logged.
    std::fs::write(e.path("model/weights.bin"), b"swapped").unwrap();
    let out = push(&e.path("model"), "2.0", &signed);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("REFUSED"));
    let log = String::from_utf8(e.aigis().args(["log", "show"]).output().unwrap().stdout).unwrap();
    assert!(log.lines().last().unwrap().contains("registry.refused"));
    // A malicious model is refused by the scan gate; --force stores it and says so.
    let bad = root().join("examples/demo/models/checkpoint.pt");
    let out = push(&bad, "3.0", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("aigis scan"));
    let out = push(&bad, "3.0", &["--force"]);
    assert_eq!(out.status.code(), Some(0));
    let show: Value = serde_json::from_slice(
        &e.aigis()
            .args(["registry", "show", "team/model@3.0"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(show["forced"], true);
    // Corrupting a stored object is detected by registry verify and refused by pull.
    let objects = e.path("home/registry/objects/sha256");
    let hex = show["files"][0]["sha256"].as_str().unwrap();
    std::fs::write(objects.join(&hex[..2]).join(&hex[2..]), b"corrupted").unwrap();
    let out = e
        .aigis()
        .args(["registry", "verify", "team/model@3.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupted"));
    let out = e
        .aigis()
        .args(["registry", "pull", "team/model@3.0"])
        .arg(e.path("pulled3"))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(!e.path("pulled3").exists(), "nothing half-written");
    assert_eq!(e.code(&["log", "verify"]), Some(0));
}

#[test]
fn registry_on_postgres_from_the_cli() {
    let Ok(url) = std::env::var("AIGIS_TEST_POSTGRES_URL") else {
        eprintln!(
            "registry_on_postgres_from_the_cli: SKIPPED (AIGIS_TEST_POSTGRES_URL is not set)"
        );
        return;
    };
    let e = Env::new();
    let name = format!("cli-pg-{}-{}", std::process::id(), aigis_time());
    let out = e
        .aigis()
        .args(["registry", "push"])
        .arg(e.path("model"))
        .args(["--name", &name, "--version", "1", "--index", &url])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let list = e
        .aigis()
        .args([
            "registry", "list", &name, "--format", "json", "--index", &url,
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let out = e
        .aigis()
        .args(["registry", "verify", &format!("{name}@1"), "--index", &url])
        .output()
        .unwrap();
    assert_exit(&out, 0);
}

fn aigis_time() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn cached_verify_rehashes_only_changed_files_and_still_catches_tampering() {
    let e = Env::new();
    assert_eq!(e.sign("model", "m.sig").status.code(), Some(0));
    let verify = || {
        e.aigis()
            .args(["verify", "--no-log", "--cached", "--key"])
            .arg(e.path("key.pub.pem"))
            .arg(e.path("model"))
            .arg("--signature")
            .arg(e.path("m.sig"))
            .output()
            .unwrap()
    };
    let first = verify();
    assert_exit(&first, 0);
    assert!(String::from_utf8_lossy(&first.stderr).contains("0 files unchanged"));
    let second = verify();
    assert_exit(&second, 0);
    assert!(String::from_utf8_lossy(&second.stderr).contains("4 files unchanged"));
    std::fs::write(e.path("model/config.json"), b"[]").unwrap();
    let third = verify();
    assert_exit(&third, 1);
    let err = String::from_utf8_lossy(&third.stderr);
    assert!(
        err.contains("3 files unchanged") && err.contains("changed: config.json"),
        "{err}"
    );
}

#[test]
fn ignore_unsigned_files_checks_only_what_was_signed() {
    let e = Env::new();
    assert_eq!(e.sign("model", "m.sig").status.code(), Some(0));
    std::fs::write(e.path("model/notes.md"), b"added after signing").unwrap();
    let verify = || {
        e.aigis()
            .args([
                "verify",
                "-q",
                "--no-log",
                "--ignore-unsigned-files",
                "--key",
            ])
            .arg(e.path("key.pub.pem"))
            .arg(e.path("model"))
            .arg("--signature")
            .arg(e.path("m.sig"))
            .output()
            .unwrap()
    };
    assert_exit(&verify(), 0);
    assert_eq!(
        e.verify("model", "m.sig").0,
        Some(1),
        "without the flag the extra file fails"
    );
    std::fs::remove_file(e.path("model/config.json")).unwrap();
    let out = verify();
    assert_exit(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed: config.json"));
}
