//! Incidents: alerts grouped by detector and subject into incidents with a timeline (every
//! alert, every playbook action with its evidence, every acknowledgement and resolution), in
//! SQLite (one gateway) or PostgreSQL (many replicas filing into one store). `aigis incident
//! list|show|timeline|ack|resolve` reads and updates it; the gateway writes it.

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
    backend: Backend,
}

enum Backend {
    Sqlite(Sqlite),
    Postgres(crate::incident_pg::PgIncidents),
}

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

impl IncidentStore {
    /// Opens (creating) the store at `path` (SQLite).
    pub fn open(path: &Path) -> Result<Self, String> {
        Ok(Self {
            backend: Backend::Sqlite(Sqlite::open(path)?),
        })
    }

    /// Opens (creating its tables) the store at `location`: a `postgres://` URL, or a SQLite
    /// file (relative to `base`).
    pub fn open_location(location: &str, base: &Path) -> Result<Self, String> {
        if is_postgres(location) {
            Ok(Self {
                backend: Backend::Postgres(crate::incident_pg::PgIncidents::connect(location)?),
            })
        } else {
            Self::open(&base.join(location))
        }
    }

    /// Adds `a` to the unresolved incident of its detector and subject, or opens one; returns
    /// the incident's number and whether it is new. With PostgreSQL two replicas filing the
    /// same detector and subject at once still make one incident.
    pub fn record_alert(&mut self, a: &Alert) -> Result<(i64, bool), String> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.record_alert(a),
            Backend::Postgres(p) => p.record_alert(a),
        }
    }

    /// Appends a timeline entry.
    pub fn note(&self, id: i64, kind: &str, detail: &str) -> Result<(), String> {
        match &self.backend {
            Backend::Sqlite(s) => s.note(id, kind, detail),
            Backend::Postgres(p) => p.note(id, kind, detail),
        }
    }

    /// Sets the status (`acknowledged`, `resolved`) with a timeline entry.
    pub fn set_status(&self, id: i64, status: &str, note: &str) -> Result<(), String> {
        match &self.backend {
            Backend::Sqlite(s) => s.set_status(id, status, note),
            Backend::Postgres(p) => p.set_status(id, status, note),
        }
    }

    /// Incidents, newest first; resolved ones only with `all`.
    pub fn list(&self, all: bool) -> Result<Vec<Incident>, String> {
        match &self.backend {
            Backend::Sqlite(s) => s.list(all),
            Backend::Postgres(p) => p.list(all),
        }
    }

    /// One incident and its timeline, oldest entry first.
    pub fn show(&self, id: i64) -> Result<(Incident, Vec<Entry>), String> {
        match &self.backend {
            Backend::Sqlite(s) => s.show(id),
            Backend::Postgres(p) => p.show(id),
        }
    }
}

/// The priority kept when an incident at `old` gets an alert at `new`: the higher.
pub(crate) fn top_priority(old: &str, new: &str) -> &'static str {
    if old == "critical" || new == "critical" {
        "critical"
    } else {
        "warning"
    }
}

/// The timeline kind a status change is noted as.
pub(crate) fn status_kind(status: &str) -> &'static str {
    if status == "resolved" {
        "resolve"
    } else {
        "ack"
    }
}

/// The SQLite store.
struct Sqlite {
    conn: Connection,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

// Taken by value: it is passed to `map_err`.
#[allow(clippy::needless_pass_by_value)]
fn db_err(e: rusqlite::Error) -> String {
    format!("incident store: {e}")
}

impl Sqlite {
    fn open(path: &Path) -> Result<Self, String> {
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
    fn record_alert(&mut self, a: &Alert) -> Result<(i64, bool), String> {
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
            let top = top_priority(&old, &priority);
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
    fn note(&self, id: i64, kind: &str, detail: &str) -> Result<(), String> {
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
    fn set_status(&self, id: i64, status: &str, note: &str) -> Result<(), String> {
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
        self.note(id, status_kind(status), note)
    }

    /// Incidents, newest first; resolved ones only with `all`.
    fn list(&self, all: bool) -> Result<Vec<Incident>, String> {
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
    fn show(&self, id: i64) -> Result<(Incident, Vec<Entry>), String> {
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
