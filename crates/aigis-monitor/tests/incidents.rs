#![allow(clippy::unwrap_used)]
//! The incident store, SQLite and PostgreSQL (the real server, `AIGIS_TEST_POSTGRES_URL`),
//! through the same scenario; and two replicas filing the same alert at once into PostgreSQL.

use aigis_monitor::detect::{Alert, Priority};
use aigis_monitor::incident::IncidentStore;

fn alert(subject: &str, priority: Priority) -> Alert {
    Alert {
        detector: "key_request_rate",
        subject: subject.into(),
        time_ms: 1,
        observed: 1500.0,
        baseline: 30.0,
        score: 100.0,
        priority,
        atlas: &["AML.T0034"],
        message: format!("{subject}: 1500 requests"),
    }
}

/// Alerts grouped, priorities raised, notes, acknowledgement, resolution, a new incident after
/// resolution, errors for unknown incidents.
fn scenario(s: &mut IncidentStore) {
    let (a, new_a) = s.record_alert(&alert("key:k1", Priority::Warning)).unwrap();
    let (b, new_b) = s
        .record_alert(&alert("key:k1", Priority::Critical))
        .unwrap();
    let (c, new_c) = s.record_alert(&alert("key:k2", Priority::Warning)).unwrap();
    assert_eq!((a, new_a, new_b, new_c), (b, true, false, true));
    assert_ne!(a, c);
    s.note(a, "action", "revoked key:k1").unwrap();
    s.set_status(a, "acknowledged", "looking").unwrap();
    let (inc, tl) = s.show(a).unwrap();
    assert_eq!(
        (
            inc.priority.as_str(),
            inc.status.as_str(),
            inc.title.as_str()
        ),
        ("critical", "acknowledged", "key:k1: 1500 requests")
    );
    assert_eq!(
        tl.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["alert", "alert", "action", "ack"]
    );
    let evidence: serde_json::Value = serde_json::from_str(&tl[0].detail).unwrap();
    assert_eq!(evidence["detector"], "key_request_rate");
    s.set_status(a, "resolved", "rotated the key").unwrap();
    assert_eq!(
        s.list(false).unwrap().len(),
        1,
        "resolved ones leave the default list"
    );
    assert_eq!(s.list(true).unwrap().len(), 2);
    assert_eq!(s.list(true).unwrap()[0].id, c, "newest first");
    let (d, new_d) = s.record_alert(&alert("key:k1", Priority::Warning)).unwrap();
    assert!(
        new_d && d != a,
        "a new alert after resolution opens a new incident"
    );
    assert!(
        s.set_status(999_999, "resolved", "")
            .unwrap_err()
            .contains("no incident 999999")
    );
    assert!(
        s.note(999_999, "action", "x")
            .unwrap_err()
            .contains("no incident")
    );
    assert!(s.show(999_999).unwrap_err().contains("no incident"));
}

#[test]
fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&mut IncidentStore::open_location("i.db", dir.path()).unwrap());
}

/// A fresh schema for one test, dropped at the end; its URL sets `search_path` to it.
struct Schema {
    admin: String,
    name: String,
    url: String,
}

impl Schema {
    fn new(tag: &str) -> Option<Self> {
        let Ok(admin) = std::env::var("AIGIS_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED: AIGIS_TEST_POSTGRES_URL is not set");
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("aigis_incidents_{tag}_{}_{nanos}", std::process::id());
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}options=-csearch_path%3D{name}");
        Some(Self { admin, name, url })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
        }
    }
}

#[test]
fn postgres_store() {
    let Some(schema) = Schema::new("scenario") else {
        return;
    };
    let mut s = IncidentStore::open_location(&schema.url, std::path::Path::new(".")).unwrap();
    scenario(&mut s);
    // A second connection (another replica, or the CLI) sees the same incidents.
    let other = IncidentStore::open_location(&schema.url, std::path::Path::new(".")).unwrap();
    assert_eq!(other.list(true).unwrap(), s.list(true).unwrap());
}

#[test]
fn replicas_filing_the_same_alert_at_once_open_one_incident() {
    let Some(schema) = Schema::new("race") else {
        return;
    };
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = schema.url.clone();
            std::thread::spawn(move || {
                let mut s = IncidentStore::open_location(&url, std::path::Path::new(".")).unwrap();
                (0..25)
                    .map(|_| {
                        s.record_alert(&alert("ip:10.0.0.9", Priority::Warning))
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let filed: Vec<(i64, bool)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let s = IncidentStore::open_location(&schema.url, std::path::Path::new(".")).unwrap();
    let all = s.list(true).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(filed.iter().filter(|(_, new)| *new).count(), 1);
    assert!(filed.iter().all(|(id, _)| *id == all[0].id));
    assert_eq!(s.show(all[0].id).unwrap().1.len(), 100);
}

#[test]
fn an_unreachable_database_is_an_error_without_its_password() {
    let e = IncidentStore::open_location(
        "postgres://aigis:s3cret@127.0.0.1:1/nothing",
        std::path::Path::new("."),
    )
    .err()
    .unwrap();
    assert!(e.contains("127.0.0.1:1") && !e.contains("s3cret"), "{e}");
}
