//! Incidents: alerts grouped by detector and subject into incidents with a timeline (every
//! alert, every playbook action with its evidence, every acknowledgement and resolution), in
//! SQLite. `aigis incident list|show|ack|resolve` reads and updates it; the gateway writes it.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::detect::Alert;

/// An incident.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Incident {
    /// Its number.
    pub id: i64,
    /// The detector whose alerts it groups.
    pub detector: String,
    /// What the alerts are about (`key:…`, `ip:…`, `route:…`).
    pub subject: String,
    /// The highest priority of its alerts.
    pub priority: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// The first alert's sentence.
    pub title: String,
    /// When it was opened and last changed (ms since the epoch).
    pub opened_ms: i64,
    /// See `opened_ms`.
    pub updated_ms: i64,
}

/// One timeline entry.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Entry {
    /// When (ms since the epoch).
    pub time_ms: i64,
    /// `alert`, `action`, `dry-run`, `ack`, `resolve`.
    pub kind: String,
    /// What happened, with its evidence.
    pub detail: String,
}

/// The incident store.
pub struct IncidentStore {
    conn: Connection,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

// Taken by value: it is passed to `map_err`.
#[allow(clippy::needless_pass_by_value)]
fn db_err(e: rusqlite::Error) -> String {
    format!("incident store: {e}")
}

impl IncidentStore {
    /// Opens (creating) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS incidents (
                id INTEGER PRIMARY KEY, detector TEXT NOT NULL, subject TEXT NOT NULL,
                priority TEXT NOT NULL, status TEXT NOT NULL, title TEXT NOT NULL,
                opened_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS timeline (
                id INTEGER PRIMARY KEY, incident INTEGER NOT NULL REFERENCES incidents(id),
                time_ms INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS incidents_open ON incidents (detector, subject, status);",
        )
        .map_err(db_err)?;
        Ok(Self { conn })
    }

    /// Adds `a` to the unresolved incident of its detector and subject, or opens one; returns
    /// the incident's number and whether it is new.
    pub fn record_alert(&mut self, a: &Alert) -> Result<(i64, bool), String> {
        let tx = self.conn.transaction().map_err(db_err)?;
        let priority = format!("{:?}", a.priority).to_lowercase();
        let existing: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, priority FROM incidents WHERE detector = ?1 AND subject = ?2 \
                 AND status != 'resolved' ORDER BY id DESC LIMIT 1",
                params![a.detector, a.subject],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db_err)?;
        let now = now_ms();
        let (id, new) = if let Some((id, old)) = existing {
            let top = if old == "critical" || priority == "critical" {
                "critical"
            } else {
                "warning"
            };
            tx.execute(
                "UPDATE incidents SET updated_ms = ?2, priority = ?3 WHERE id = ?1",
                params![id, now, top],
            )
            .map_err(db_err)?;
            (id, false)
        } else {
            tx.execute(
                "INSERT INTO incidents (detector, subject, priority, status, title, opened_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?5)",
                params![a.detector, a.subject, priority, a.message, now],
            )
            .map_err(db_err)?;
            (tx.last_insert_rowid(), true)
        };
        let detail = serde_json::to_string(a).map_err(|e| e.to_string())?;
        tx.execute(
            "INSERT INTO timeline (incident, time_ms, kind, detail) VALUES (?1, ?2, 'alert', ?3)",
            params![id, now, detail],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok((id, new))
    }

    /// Appends a timeline entry.
    pub fn note(&self, id: i64, kind: &str, detail: &str) -> Result<(), String> {
        let n = self
            .conn
            .execute(
                "INSERT INTO timeline (incident, time_ms, kind, detail) \
                 SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM incidents WHERE id = ?1)",
                params![id, now_ms(), kind, detail],
            )
            .map_err(db_err)?;
        if n == 0 {
            return Err(format!("no incident {id}"));
        }
        Ok(())
    }

    /// Sets the status (`acknowledged`, `resolved`) with a timeline entry.
    pub fn set_status(&self, id: i64, status: &str, note: &str) -> Result<(), String> {
        let n = self
            .conn
            .execute(
                "UPDATE incidents SET status = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, status, now_ms()],
            )
            .map_err(db_err)?;
        if n == 0 {
            return Err(format!("no incident {id}"));
        }
        let kind = if status == "resolved" {
            "resolve"
        } else {
            "ack"
        };
        self.note(id, kind, note)
    }

    /// Incidents, newest first; resolved ones only with `all`.
    pub fn list(&self, all: bool) -> Result<Vec<Incident>, String> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, detector, subject, priority, status, title, opened_ms, updated_ms \
                 FROM incidents WHERE ?1 OR status != 'resolved' ORDER BY id DESC",
            )
            .map_err(db_err)?;
        st.query_map(params![all], |r| {
            Ok(Incident {
                id: r.get(0)?,
                detector: r.get(1)?,
                subject: r.get(2)?,
                priority: r.get(3)?,
                status: r.get(4)?,
                title: r.get(5)?,
                opened_ms: r.get(6)?,
                updated_ms: r.get(7)?,
            })
        })
        .map_err(db_err)?
        .collect::<Result<_, _>>()
        .map_err(db_err)
    }

    /// One incident and its timeline, oldest entry first.
    pub fn show(&self, id: i64) -> Result<(Incident, Vec<Entry>), String> {
        let inc = self
            .list(true)?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| format!("no incident {id}"))?;
        let mut st = self
            .conn
            .prepare("SELECT time_ms, kind, detail FROM timeline WHERE incident = ?1 ORDER BY id")
            .map_err(db_err)?;
        let entries = st
            .query_map(params![id], |r| {
                Ok(Entry {
                    time_ms: r.get(0)?,
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                })
            })
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        Ok((inc, entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Priority;

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

    #[test]
    fn alerts_group_into_incidents_that_are_acknowledged_and_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = IncidentStore::open(&dir.path().join("i.db")).unwrap();
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
            (inc.priority.as_str(), inc.status.as_str()),
            ("critical", "acknowledged")
        );
        assert_eq!(
            tl.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["alert", "alert", "action", "ack"]
        );
        s.set_status(a, "resolved", "rotated the key").unwrap();
        assert_eq!(
            s.list(false).unwrap().len(),
            1,
            "resolved incidents leave the default list"
        );
        assert_eq!(s.list(true).unwrap().len(), 2);
        // A new alert after resolution opens a new incident.
        let (d, new_d) = s.record_alert(&alert("key:k1", Priority::Warning)).unwrap();
        assert!(new_d && d != a);
        assert!(
            s.set_status(999, "resolved", "")
                .unwrap_err()
                .contains("no incident 999")
        );
    }
}
