#![allow(clippy::unwrap_used)]
//! The registry index contract, run against SQLite always and against the real PostgreSQL server
//! when `AIGIS_TEST_POSTGRES_URL` is set (`.ci/run` sets it).

use aigis_sign::registry::{
    Event, FileEntry, Index, PostgresIndex, Provenance, SqliteIndex, VersionRecord,
};

fn record(name: &str, version: &str, id: &str, time: u64) -> VersionRecord {
    VersionRecord {
        schema: aigis_sign::registry::RECORD_SCHEMA.into(),
        name: name.into(),
        version: version.into(),
        version_id: id.into(),
        oms_root: "00".repeat(32),
        model_name: "m".into(),
        files: vec![FileEntry {
            name: "w.bin".into(),
            sha256: "ab".repeat(32),
            bytes: 3,
        }],
        signature: None,
        signer: None,
        scan_report: Some(serde_json::json!({"schema": "aigis.scan/v1"})),
        scan_verdict: "clean".into(),
        forced: false,
        provenance: Provenance {
            user: "u".into(),
            host: "h".into(),
            source: "/m".into(),
            time,
            time_utc: aigis_sign::registry::rfc3339(time),
            parent: None,
        },
        log_index: Some(7),
    }
}

fn contract(index: &mut dyn Index, ns: &str) {
    let a = format!("{ns}/model-a");
    let b = format!("{ns}/model-b");
    index.insert(&record(&a, "1.0", "sha256:1", 100)).unwrap();
    index.insert(&record(&a, "1.1", "sha256:2", 200)).unwrap();
    index.insert(&record(&b, "1.0", "sha256:3", 150)).unwrap();
    // Versions are immutable.
    let e = index
        .insert(&record(&a, "1.0", "sha256:9", 300))
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let got = index.get(&a, "1.1").unwrap().unwrap();
    assert_eq!(got, record(&a, "1.1", "sha256:2", 200));
    assert!(index.get(&a, "9").unwrap().is_none());
    let list = index.list(Some(&a)).unwrap();
    assert_eq!(
        list.iter().map(|s| s.version.as_str()).collect::<Vec<_>>(),
        ["1.0", "1.1"]
    );
    let all = index.list(None).unwrap();
    let mine: Vec<_> = all
        .iter()
        .filter(|s| s.name.starts_with(ns))
        .map(|s| s.version_id.as_str())
        .collect();
    assert_eq!(
        mine,
        ["sha256:1", "sha256:3", "sha256:2"],
        "ordered by time"
    );
    for kind in ["refused", "pulled"] {
        index
            .event(&Event {
                time: 5,
                kind: kind.into(),
                name: a.clone(),
                version: "2".into(),
                detail: "why".into(),
            })
            .unwrap();
    }
    let ev = index.events(&a).unwrap();
    assert_eq!(
        ev.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["refused", "pulled"]
    );
}

#[test]
fn sqlite_index_contract() {
    let d = tempfile::tempdir().unwrap();
    let mut idx = SqliteIndex::open(&d.path().join("index.db")).unwrap();
    contract(&mut idx, "t");
    // Data survives reopening.
    drop(idx);
    let mut idx = SqliteIndex::open(&d.path().join("index.db")).unwrap();
    assert_eq!(idx.list(None).unwrap().len(), 3);
}

#[test]
fn postgres_index_contract() {
    let Ok(url) = std::env::var("AIGIS_TEST_POSTGRES_URL") else {
        eprintln!("postgres_index_contract: SKIPPED (AIGIS_TEST_POSTGRES_URL is not set)");
        return;
    };
    let mut idx = PostgresIndex::connect(&url).unwrap();
    // A namespace per run: the shared database keeps earlier runs' rows.
    let ns = format!(
        "pgtest-{}-{}",
        std::process::id(),
        aigis_sign::registry::now().0
    );
    contract(&mut idx, &ns);
    let mut again = PostgresIndex::connect(&url).unwrap();
    assert!(
        again
            .get(&format!("{ns}/model-a"), "1.0")
            .unwrap()
            .is_some(),
        "visible to a second client"
    );
}

#[test]
fn unreachable_postgres_is_a_clear_error() {
    let e = aigis_sign::registry::open_index(
        std::path::Path::new("/nonexistent"),
        Some("postgres://nobody@127.0.0.1:1/none"),
    )
    .err()
    .unwrap();
    assert!(
        e.to_string()
            .contains("cannot connect to the PostgreSQL registry index"),
        "{e}"
    );
    let e = aigis_sign::registry::open_index(std::path::Path::new("/x"), Some("mysql://x"))
        .err()
        .unwrap();
    assert_eq!(e.exit_code(), 2);
}
