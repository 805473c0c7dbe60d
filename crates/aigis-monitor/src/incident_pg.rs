//! The incident store in PostgreSQL, for gateways run as many replicas: every replica files its
//! alerts into the same incidents.
//!
//! ```sql
//! aigis_incidents         (id BIGSERIAL, detector, subject, priority, status, title,
//!                          opened_ms BIGINT, updated_ms BIGINT)
//! aigis_incident_timeline (id BIGSERIAL, incident BIGINT REFERENCES aigis_incidents, time_ms,
//!                          kind, detail)
//! ```
//!
//! Filing an alert is one transaction holding an advisory lock on its detector and subject,
//! so two replicas raising the same alert at once still open one incident. The client is the
//! blocking `postgres` crate, which must not run on an async runtime's thread: it lives on a
//! thread of its own and callers hand it work through a channel (they wait for the answer;
//! incident writes are rare). A dropped connection is re-established on the next call.

use std::sync::mpsc;

use postgres::{Client, NoTls};

use crate::audit_pg::redact_url;
use crate::detect::Alert;
use crate::incident::{Entry, Incident, now_ms, status_kind, top_priority};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS aigis_incidents (
    id BIGSERIAL PRIMARY KEY,
    detector TEXT NOT NULL,
    subject TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    opened_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS aigis_incident_timeline (
    id BIGSERIAL PRIMARY KEY,
    incident BIGINT NOT NULL REFERENCES aigis_incidents(id),
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS aigis_incidents_open ON aigis_incidents (detector, subject, status);
CREATE INDEX IF NOT EXISTS aigis_incident_timeline_incident ON aigis_incident_timeline (incident, id);
";

/// Advisory-lock namespaces: the schema, and (with `hashtextextended`) a detector and subject.
const SCHEMA_LOCK: i64 = 0x6169_6769_7302;
const SUBJECT_LOCK_SEED: i64 = 0x6169_6769_6e63;

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// The connection as the worker thread keeps it.
struct Conn {
    url: String,
    client: Option<Client>,
}

impl Conn {
    /// The client, reconnecting when there is none or it was closed.
    fn client(&mut self) -> Result<&mut Client, String> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(connect(&self.url)?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| "no connection".to_string())
    }
}

fn connect(url: &str) -> Result<Client, String> {
    let err = |e: postgres::Error| format!("incident store {}: {e}", redact_url(url));
    let mut client = Client::connect(url, NoTls).map_err(err)?;
    // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogue: serialise it.
    let mut tx = client.transaction().map_err(err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(err)?;
    tx.batch_execute(SCHEMA).map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(client)
}

/// An incident from a row of `aigis_incidents` (a mistyped column is an error, not a panic).
fn incident_row(r: &postgres::Row) -> Result<Incident, postgres::Error> {
    Ok(Incident {
        id: r.try_get(0)?,
        detector: r.try_get(1)?,
        subject: r.try_get(2)?,
        priority: r.try_get(3)?,
        status: r.try_get(4)?,
        title: r.try_get(5)?,
        opened_ms: r.try_get(6)?,
        updated_ms: r.try_get(7)?,
    })
}

/// A handle to the worker thread that owns the connection.
pub struct PgIncidents {
    tx: mpsc::Sender<Job>,
    url: String,
}

impl PgIncidents {
    /// Connects (creating the tables if missing) on a new worker thread.
    pub fn connect(url: &str) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let owned = url.to_string();
        std::thread::Builder::new()
            .name("aigis-incidents-pg".into())
            .spawn(move || {
                let mut conn = Conn {
                    url: owned,
                    client: None,
                };
                let first = conn.client().map(|_| ());
                let ok = first.is_ok();
                let _ = ready_tx.send(first);
                if !ok {
                    return;
                }
                for job in rx {
                    job(&mut conn);
                }
            })
            .map_err(|e| format!("incident store: cannot start its thread: {e}"))?;
        ready_rx
            .recv()
            .map_err(|_| "incident store: its thread ended".to_string())??;
        Ok(Self {
            tx,
            url: url.to_string(),
        })
    }

    /// Runs `f` on the worker thread with a live client and waits for its answer.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, String> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |conn: &mut Conn| {
            let answer = match conn.client() {
                Ok(c) => f(c).map_err(|e| {
                    // A failed statement on a broken connection: the next call reconnects.
                    format!("{e}")
                }),
                Err(e) => Err(e),
            };
            let _ = tx.send(answer);
        });
        self.tx
            .send(job)
            .map_err(|_| "incident store: its thread ended".to_string())?;
        rx.recv()
            .map_err(|_| "incident store: its thread ended".to_string())?
            .map_err(|e| format!("incident store {}: {e}", redact_url(&self.url)))
    }

    pub(crate) fn record_alert(&mut self, a: &Alert) -> Result<(i64, bool), String> {
        let priority = format!("{:?}", a.priority).to_lowercase();
        let (detector, subject, title) =
            (a.detector.to_string(), a.subject.clone(), a.message.clone());
        let detail = serde_json::to_string(a).map_err(|e| e.to_string())?;
        self.call(move |c| {
            let now = now_ms();
            let mut tx = c.transaction()?;
            // One filer at a time per detector and subject, across replicas.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))",
                &[&format!("{detector}\u{1f}{subject}"), &SUBJECT_LOCK_SEED],
            )?;
            let existing = tx.query_opt(
                "SELECT id, priority FROM aigis_incidents WHERE detector = $1 AND subject = $2 \
                 AND status != 'resolved' ORDER BY id DESC LIMIT 1",
                &[&detector, &subject],
            )?;
            let (id, new) = if let Some(row) = existing {
                let (id, old): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
                tx.execute(
                    "UPDATE aigis_incidents SET updated_ms = $2, priority = $3 WHERE id = $1",
                    &[&id, &now, &top_priority(&old, &priority)],
                )?;
                (id, false)
            } else {
                let row = tx.query_one(
                    "INSERT INTO aigis_incidents (detector, subject, priority, status, title, opened_ms, updated_ms) \
                     VALUES ($1, $2, $3, 'open', $4, $5, $5) RETURNING id",
                    &[&detector, &subject, &priority, &title, &now],
                )?;
                (row.try_get(0)?, true)
            };
            tx.execute(
                "INSERT INTO aigis_incident_timeline (incident, time_ms, kind, detail) VALUES ($1, $2, 'alert', $3)",
                &[&id, &now, &detail],
            )?;
            tx.commit()?;
            Ok((id, new))
        })
    }

    pub(crate) fn note(&self, id: i64, kind: &str, detail: &str) -> Result<(), String> {
        let (kind, detail) = (kind.to_string(), detail.to_string());
        let n = self.call(move |c| {
            c.execute(
                "INSERT INTO aigis_incident_timeline (incident, time_ms, kind, detail) \
                 SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM aigis_incidents WHERE id = $1)",
                &[&id, &now_ms(), &kind, &detail],
            )
        })?;
        if n == 0 {
            return Err(format!("no incident {id}"));
        }
        Ok(())
    }

    pub(crate) fn set_status(&self, id: i64, status: &str, note: &str) -> Result<(), String> {
        let owned = status.to_string();
        let n = self.call(move |c| {
            c.execute(
                "UPDATE aigis_incidents SET status = $2, updated_ms = $3 WHERE id = $1",
                &[&id, &owned, &now_ms()],
            )
        })?;
        if n == 0 {
            return Err(format!("no incident {id}"));
        }
        self.note(id, status_kind(status), note)
    }

    pub(crate) fn list(&self, all: bool) -> Result<Vec<Incident>, String> {
        self.call(move |c| {
            c.query(
                "SELECT id, detector, subject, priority, status, title, opened_ms, updated_ms \
                 FROM aigis_incidents WHERE $1 OR status != 'resolved' ORDER BY id DESC",
                &[&all],
            )?
            .iter()
            .map(incident_row)
            .collect()
        })
    }

    pub(crate) fn show(&self, id: i64) -> Result<(Incident, Vec<Entry>), String> {
        let inc = self
            .call(move |c| {
                c.query_opt(
                    "SELECT id, detector, subject, priority, status, title, opened_ms, updated_ms \
                     FROM aigis_incidents WHERE id = $1",
                    &[&id],
                )?
                .as_ref()
                .map(incident_row)
                .transpose()
            })?
            .ok_or_else(|| format!("no incident {id}"))?;
        let entries = self.call(move |c| {
            c.query(
                "SELECT time_ms, kind, detail FROM aigis_incident_timeline WHERE incident = $1 ORDER BY id",
                &[&id],
            )?
            .iter()
            .map(|r| {
                Ok(Entry {
                    time_ms: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    detail: r.try_get(2)?,
                })
            })
            .collect::<Result<_, postgres::Error>>()
        })?;
        Ok((inc, entries))
    }
}
