#![allow(clippy::unwrap_used)]
//! The PostgreSQL audit store against the real server (`AIGIS_TEST_POSTGRES_URL`).

use aigis_monitor::audit::AuditError;
use aigis_monitor::audit_pg::{PgStore, verify_postgres};
use aigis_sign::note::LogKey;
use serde_json::{Map, Value};

fn url() -> Option<String> {
    let u = std::env::var("AIGIS_TEST_POSTGRES_URL").ok();
    if u.is_none() {
        eprintln!("SKIPPED: AIGIS_TEST_POSTGRES_URL is not set");
    }
    u
}

fn record(i: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("route".into(), Value::from("chat"));
    m.insert("n".into(), Value::from(i));
    m
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("aigis.test/{name}-{}-{nanos}", std::process::id())
}

struct Cleanup(String, String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.0, postgres::NoTls) {
            let _ = c.execute(
                "DELETE FROM aigis_audit_records WHERE log_id = $1",
                &[&self.1],
            );
            let _ = c.execute(
                "DELETE FROM aigis_audit_checkpoints WHERE log_id = $1",
                &[&self.1],
            );
        }
    }
}

#[test]
fn a_chain_in_postgres_verifies_continues_and_is_locked_to_one_writer() {
    let Some(url) = url() else { return };
    let name = unique("chain");
    let _cleanup = Cleanup(url.clone(), name.clone());
    let key = LogKey::generate(&name).unwrap();
    let private = key.to_private_string();
    let verifier = key.verifier();

    let mut log = PgStore::open(&url, key, 10, None).unwrap();
    let batch: Vec<_> = (0..25).map(record).collect();
    let seqs: Vec<u64> = log
        .append_batch(batch)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(seqs, (0..25).collect::<Vec<_>>());
    log.checkpoint().unwrap();

    // A second process cannot fork the chain while the first holds it.
    let again = LogKey::from_private_string(&private).unwrap();
    let err = PgStore::open(&url, again, 10, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("being written by another process"), "{err}");
    assert!(!err.contains("password"), "{err}");

    let r = verify_postgres(&url, &verifier).unwrap();
    assert_eq!(r.problem, None);
    assert_eq!((r.records, r.covered), (25, 25));
    drop(log);

    // Reopened, the chain continues where it stopped.
    let key = LogKey::from_private_string(&private).unwrap();
    let mut log = PgStore::open(&url, key, 10, None).unwrap();
    assert_eq!(log.append(record(25)).unwrap(), 25);
    log.checkpoint().unwrap();
    drop(log);
    let r = verify_postgres(&url, &verifier).unwrap();
    assert_eq!((r.problem, r.records, r.covered), (None, 26, 26));
}

#[test]
fn edits_deletions_and_truncation_in_the_database_are_found() {
    let Some(url) = url() else { return };
    let name = unique("tamper");
    let _cleanup = Cleanup(url.clone(), name.clone());
    let key = LogKey::generate(&name).unwrap();
    let verifier = key.verifier();
    let mut log = PgStore::open(&url, key, 5, None).unwrap();
    for i in 0..20 {
        log.append(record(i)).unwrap();
    }
    drop(log);
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let problem = || {
        verify_postgres(&url, &verifier)
            .unwrap()
            .problem
            .unwrap_or_default()
    };
    assert_eq!(problem(), "");

    // An edited record: the next record's `prev` no longer matches.
    let line: String = db
        .query_one(
            "SELECT line FROM aigis_audit_records WHERE log_id = $1 AND seq = 7",
            &[&name],
        )
        .unwrap()
        .get(0);
    let edited = line.replace("\"n\":7", "\"n\":8");
    db.execute(
        "UPDATE aigis_audit_records SET line = $2 WHERE log_id = $1 AND seq = 7",
        &[&name, &edited],
    )
    .unwrap();
    let p = problem();
    assert!(p.starts_with("record 8 "), "{p}");
    db.execute(
        "UPDATE aigis_audit_records SET line = $2 WHERE log_id = $1 AND seq = 7",
        &[&name, &line],
    )
    .unwrap();
    assert_eq!(problem(), "");

    // A deleted record: a gap in the sequence.
    db.execute(
        "DELETE FROM aigis_audit_records WHERE log_id = $1 AND seq = 12",
        &[&name],
    )
    .unwrap();
    let p = problem();
    assert!(p.starts_with("record 12 ") && p.contains("removed"), "{p}");

    // The tail behind the last checkpoint cut off: the checkpoint covers more than remain.
    db.execute(
        "DELETE FROM aigis_audit_records WHERE log_id = $1 AND seq >= 12",
        &[&name],
    )
    .unwrap();
    let p = problem();
    assert!(p.contains("truncated after record 11"), "{p}");
}

#[test]
fn the_writer_reopens_the_store_after_the_database_drops_it() {
    use aigis_monitor::audit_writer::{AuditWriter, WriterOptions};
    let Some(base) = url() else { return };
    let name = unique("reopen");
    let _cleanup = Cleanup(base.clone(), name.clone());
    // Tagged so the test can find and end this writer's session, as a server restart would.
    let app = format!("aigis-reopen-{}", std::process::id());
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}application_name={app}");
    let key = LogKey::generate(&name).unwrap();
    let private = key.to_private_string();
    let verifier = key.verifier();
    let u = url.clone();
    let writer = AuditWriter::start(
        move || {
            let key = LogKey::from_private_string(&private)
                .map_err(|e| AuditError::Store(e.to_string()))?;
            PgStore::open(&u, key, 1000, None)
        },
        WriterOptions::default(),
    )
    .unwrap();
    let append = |i: u64| {
        let (tx, rx) = std::sync::mpsc::channel();
        writer
            .submit(
                record(i),
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            )
            .unwrap();
        rx.recv().unwrap()
    };
    for i in 0..5 {
        assert_eq!(append(i), Ok(i));
    }
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    let ended: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1) t",
            &[&app],
        )
        .unwrap()
        .get(0);
    assert_eq!(ended, 1);
    // The write on the dead session fails (the gateway answers 503), then the store is
    // reopened and the chain continues where it stopped.
    assert!(append(5).is_err());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(append(6), Ok(5));
    writer.close().unwrap();
    let r = verify_postgres(&base, &verifier).unwrap();
    assert_eq!((r.problem, r.records, r.covered), (None, 6, 6));
}
