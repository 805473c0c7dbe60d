#![allow(clippy::unwrap_used)]
//! Two `aigis guard serve` processes sharing Redis (kill switch, revocations, rate limits),
//! writing their audit chains to PostgreSQL and publishing their decisions to NATS JetStream,
//! against the real servers: what one replica is told, the other enforces within a second; a
//! key's rate holds across both; both chains verify afterwards; the stream holds every
//! decision.

mod common;

use std::time::{Duration, Instant};

use assert_cmd::Command;

fn aigis() -> Command {
    Command::cargo_bin("aigis").unwrap()
}

const CHAT: &str =
    r#"{"model":"m1","messages":[{"role":"user","content":"What is the capital of Peru?"}]}"#;

fn status(resp: &str) -> u16 {
    resp.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Polls `addr` until the answer has `want` status; the time it took.
fn until(addr: &str, key: &str, want: u16) -> Duration {
    let start = Instant::now();
    loop {
        let r = common::http(addr, "POST", "/v1/chat/completions", Some(key), CHAT);
        if status(&r) == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(5), "still {r}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn two_replicas_share_revocations_quarantines_and_rates_and_their_audit_chains_verify() {
    use std::os::unix::fs::PermissionsExt as _;
    let (Ok(redis), Ok(pg)) = (
        std::env::var("AIGIS_TEST_REDIS_URL"),
        std::env::var("AIGIS_TEST_POSTGRES_URL"),
    ) else {
        eprintln!("SKIPPED: AIGIS_TEST_REDIS_URL and AIGIS_TEST_POSTGRES_URL are needed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let up = common::tiny_upstream();
    let token = "multi-node-admin-token-0123456789";
    std::fs::write(d.join("admin.token"), token).unwrap();
    std::fs::set_permissions(
        d.join("admin.token"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let key = |name: &str| {
        let out = aigis()
            .args(["guard", "keys", "create", "--name", name, "--store"])
            .arg(d.join("keys.db"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap().trim().to_string()
    };
    let (main_key, rate_key) = (key("main"), key("rate"));
    // NATS is optional here (its own skip message): without it the rest still runs.
    let nats = std::env::var("AIGIS_TEST_NATS_URL").ok();
    if nats.is_none() {
        eprintln!("SKIPPED (NATS part): AIGIS_TEST_NATS_URL is not set");
    }
    let stream = format!("AIGISMN{}", unique.replace('-', "_"));
    let subject = format!("aigis-mn-{unique}");
    let events = nats.as_ref().map_or_else(String::new, |u| {
        format!("events = \"{u}\"\nevents-subject = \"{subject}\"\nevents-stream = \"{stream}\"\n")
    });
    let mut nodes = Vec::new();
    let mut log_ids = Vec::new();
    for n in 1..=2 {
        let log_id = format!("test.aigis/node{n}-{unique}");
        // Node 2 publishes OCSF documents, node 1 aigis's own objects.
        let events = if n == 2 && !events.is_empty() {
            format!("{events}events-schema = \"ocsf\"\n")
        } else {
            events.clone()
        };
        aigis()
            .args(["audit", "keygen", "--name", &log_id, "-o"])
            .arg(d.join(format!("audit{n}.key")))
            .assert()
            .success();
        std::fs::write(
            d.join(format!("node{n}.toml")),
            format!(
                "[guard.serve]\nlisten = \"127.0.0.1:0\"\nkeys = \"keys.db\"\nadmin-token-file = \"admin.token\"\nincidents = \"{pg}\"\nstate = \"{redis}\"\nstate-prefix = \"aigis-mn-{unique}:\"\n{events}[guard.serve.limits]\nkey-requests-per-minute = 6\nip-requests-per-minute = 0\n[guard.serve.audit]\npath = \"{pg}\"\nkey = \"audit{n}.key\"\ncheckpoint-every = 10\n[[guard.serve.routes]]\nname = \"chat\"\nkind = \"openai\"\nprefix = \"/v1\"\nupstream = \"http://{up}\"\n"
            ),
        )
        .unwrap();
        nodes.push(common::serve(&d.join(format!("node{n}.toml"))));
        log_ids.push(log_id);
    }
    let (a, b) = (nodes[0].1.clone(), nodes[1].1.clone());

    // A key's rate is one budget across both: six a minute, whichever replica is asked.
    for addr in [&a, &b, &a, &b, &a, &b] {
        let r = common::http(addr, "POST", "/v1/chat/completions", Some(&rate_key), CHAT);
        assert_eq!(status(&r), 200, "{r}");
    }
    let r = common::http(&a, "POST", "/v1/chat/completions", Some(&rate_key), CHAT);
    assert_eq!(status(&r), 429, "the seventh request, across replicas: {r}");

    // A model quarantined through replica A is refused by replica B within a second.
    assert_eq!(
        status(&common::http(
            &b,
            "POST",
            "/v1/chat/completions",
            Some(&main_key),
            CHAT
        )),
        200
    );
    aigis()
        .args([
            "guard",
            "quarantine",
            "model:m1",
            "--reason",
            "drill",
            "--url",
        ])
        .arg(format!("http://{a}"))
        .env("AIGIS_ADMIN_TOKEN", token)
        .assert()
        .success();
    let took = until(&b, &main_key, 503);
    assert!(
        took < Duration::from_secs(1),
        "quarantine reached B after {took:?}"
    );
    aigis()
        .args(["guard", "release", "model:m1", "--url"])
        .arg(format!("http://{a}"))
        .env("AIGIS_ADMIN_TOKEN", token)
        .assert()
        .success();
    let took = until(&b, &main_key, 200);
    assert!(
        took < Duration::from_secs(1),
        "release reached B after {took:?}"
    );

    // A key revoked through replica A is refused by replica B within a second.
    aigis()
        .args(["guard", "keys", "revoke", &main_key[4..12], "--url"])
        .arg(format!("http://{a}"))
        .arg("--store")
        .arg(d.join("keys.db"))
        .env("AIGIS_ADMIN_TOKEN", token)
        .assert()
        .success();
    let took = until(&b, &main_key, 401);
    assert!(
        took < Duration::from_secs(1),
        "revocation reached B after {took:?}"
    );

    // Stopped gracefully (a last checkpoint each), both chains verify in PostgreSQL.
    for (child, _, _) in &mut nodes {
        std::process::Command::new("kill")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    for (n, log_id) in log_ids.iter().enumerate() {
        let out = aigis()
            .args(["audit", "verify", "--log", &pg, "--key"])
            .arg(d.join(format!("audit{}.key.pub", n + 1)))
            .assert()
            .success()
            .get_output()
            .stderr
            .clone();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("audit log intact"), "{log_id}: {text}");
        assert!(!text.contains(" 0 records"), "{log_id}: {text}");
    }
    // Every decision of both replicas is in the JetStream stream, as JSON.
    if let Some(url) = &nats {
        let records: u64 = {
            let mut db = postgres::Client::connect(&pg, postgres::NoTls).unwrap();
            let n: i64 = db
                .query_one(
                    "SELECT count(*) FROM aigis_audit_records WHERE log_id = ANY($1)",
                    &[&log_ids],
                )
                .unwrap()
                .get(0);
            u64::try_from(n).unwrap()
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
            let mut s = js.get_stream(&stream).await.unwrap();
            let info = s.info().await.unwrap().clone();
            let (mut decisions, mut ocsf_decisions, mut changes) = (0u64, 0u64, Vec::new());
            for seq in info.state.first_sequence..=info.state.last_sequence {
                let m = s.get_raw_message(seq).await.unwrap();
                let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                if m.subject.as_str() == format!("{subject}.decision") {
                    decisions += 1;
                    // aigis's own form (node 1) or OCSF 6003 API Activity (node 2).
                    if v["class_uid"] == 6003 {
                        ocsf_decisions += 1;
                        assert_eq!(v["api"]["operation"], "chat");
                    } else {
                        assert_eq!(v["route"], "chat", "{v}");
                    }
                } else {
                    assert_eq!(m.subject.as_str(), format!("{subject}.killswitch"));
                    changes.push((v["action"].clone(), v["target"].clone(), v["actor"].clone()));
                }
            }
            assert_eq!(
                decisions, records,
                "one event per audited decision, from both replicas"
            );
            assert!(
                ocsf_decisions > 0 && ocsf_decisions < decisions,
                "{ocsf_decisions}"
            );
            // The changes made through replica A, announced once, by A.
            let key_target = format!("key:{}", &main_key[4..12]);
            assert_eq!(
                changes,
                [
                    ("quarantine".into(), "model:m1".into(), "admin".into()),
                    ("release".into(), "model:m1".into(), "admin".into()),
                    (
                        "quarantine".into(),
                        key_target.clone().into(),
                        "admin".into()
                    ),
                ],
                "{changes:?}"
            );
            js.delete_stream(&stream).await.unwrap();
        });
    }
    let mut db = postgres::Client::connect(&pg, postgres::NoTls).unwrap();
    for id in &log_ids {
        for t in ["aigis_audit_records", "aigis_audit_checkpoints"] {
            db.execute(&format!("DELETE FROM {t} WHERE log_id = $1"), &[id])
                .unwrap();
        }
    }
}
