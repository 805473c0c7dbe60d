//! The PostgreSQL audit store, for gateways run as many replicas. Each node keeps its own chain
//! (its own signing key, whose name is the chain's `log_id`), so appends take no lock shared
//! between nodes; a session advisory lock on the `log_id` stops two processes from writing one
//! chain (they would fork it). Records and checkpoints are rows:
//!
//! ```sql
//! aigis_audit_records     (log_id TEXT, seq BIGINT, line TEXT, PRIMARY KEY (log_id, seq))
//! aigis_audit_checkpoints (log_id TEXT, size BIGINT, note TEXT, written_at TIMESTAMPTZ)
//! ```
//!
//! `line` is the canonical JSON the leaf hash covers, byte for byte, so the file verifier's
//! checks apply unchanged. A batch of records is one `INSERT` (one round trip, one commit):
//! with the server's default `synchronous_commit = on` a record is on the server's disk before
//! the gateway answers. The client is the blocking `postgres` crate: call it from a thread of
//! its own (the gateway's audit writer), never from an async task.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use aigis_sign::note::{LogKey, NoteVerifier};

use crate::audit::{AuditError, AuditLog, AuditStore, Verification, verify_chain};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS aigis_audit_records (
    log_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (log_id, seq)
);
CREATE TABLE IF NOT EXISTS aigis_audit_checkpoints (
    log_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    note TEXT NOT NULL,
    written_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS aigis_audit_checkpoints_log ON aigis_audit_checkpoints (log_id, size);
";

/// Advisory-lock namespaces (the second argument of `hashtextextended`, and the schema lock).
const CHAIN_LOCK_SEED: i64 = 0x6169_6769;
const SCHEMA_LOCK: i64 = 0x6169_6769_7301;

/// A URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{}{shown}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn db_err(url: &str) -> impl Fn(postgres::Error) -> AuditError + '_ {
    move |e| AuditError::Store(format!("{}: {e}", redact_url(url)))
}

/// Connects and creates the tables if they are missing.
fn connect(url: &str) -> Result<Client, AuditError> {
    let mut client = Client::connect(url, NoTls).map_err(db_err(url))?;
    // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogue: serialise it.
    let mut tx = client.transaction().map_err(db_err(url))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(db_err(url))?;
    tx.batch_execute(SCHEMA).map_err(db_err(url))?;
    tx.commit().map_err(db_err(url))?;
    Ok(client)
}

/// One chain's rows in PostgreSQL.
pub struct PgStore {
    client: Client,
    log_id: String,
    url: String,
    sink: Option<PathBuf>,
}

impl PgStore {
    /// Opens the chain of `key` (its name is the `log_id`) in the database at `url`, checks
    /// what is there and continues it. Fails if another process holds the chain or if the
    /// stored chain does not verify. Checkpoints also go to `sink` (a file) when given.
    pub fn open(
        url: &str,
        key: LogKey,
        every: u64,
        sink: Option<PathBuf>,
    ) -> Result<AuditLog, AuditError> {
        let mut client = connect(url)?;
        let log_id = key.name().to_string();
        let locked: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended($1, $2))",
                &[&log_id, &CHAIN_LOCK_SEED],
            )
            .map_err(db_err(url))?
            .get(0);
        if !locked {
            return Err(AuditError::Store(format!(
                "audit log `{log_id}` in {} is being written by another process: give each \
                 gateway node its own key (`aigis audit keygen --name NODE.example/audit`)",
                redact_url(url)
            )));
        }
        let report = read_and_verify(&mut client, url, &log_id, &key.verifier())?;
        if let Some(bad) = report.problem {
            return Err(AuditError::Broken {
                path: format!("{} (log_id {log_id})", redact_url(url)),
                message: bad,
            });
        }
        let store = PgStore {
            client,
            log_id,
            url: url.to_string(),
            sink,
        };
        Ok(AuditLog::resume(Box::new(store), key, every, report))
    }
}

impl AuditStore for PgStore {
    fn write(&mut self, first_seq: u64, lines: &[String]) -> Result<(), AuditError> {
        let first = i64::try_from(first_seq)
            .map_err(|_| AuditError::Store("sequence number out of range".into()))?;
        let seqs: Vec<i64> = (first..).take(lines.len()).collect();
        self.client
            .execute(
                "INSERT INTO aigis_audit_records (log_id, seq, line) \
                 SELECT $1, s, l FROM unnest($2::BIGINT[], $3::TEXT[]) AS t(s, l)",
                &[&self.log_id, &seqs, &lines],
            )
            .map_err(db_err(&self.url))?;
        Ok(())
    }

    fn checkpoint(&mut self, size: u64, note: &str) -> Result<(), AuditError> {
        let size =
            i64::try_from(size).map_err(|_| AuditError::Store("tree size out of range".into()))?;
        self.client
            .execute(
                "INSERT INTO aigis_audit_checkpoints (log_id, size, note) VALUES ($1, $2, $3)",
                &[&self.log_id, &size, &note],
            )
            .map_err(db_err(&self.url))?;
        if let Some(p) = &self.sink {
            let io = |e: std::io::Error| AuditError::Io {
                path: p.display().to_string(),
                source: e,
            };
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(io)?;
            f.write_all(format!("{}\n", serde_json::Value::from(note)).as_bytes())
                .map_err(io)?;
            f.sync_data().map_err(io)?;
        }
        Ok(())
    }
}

fn read_and_verify(
    client: &mut Client,
    url: &str,
    log_id: &str,
    verifier: &NoteVerifier,
) -> Result<Verification, AuditError> {
    let notes: Vec<(String, Result<String, String>)> = client
        .query(
            "SELECT size, note FROM aigis_audit_checkpoints WHERE log_id = $1 \
             ORDER BY written_at, size",
            &[&log_id],
        )
        .map_err(db_err(url))?
        .into_iter()
        .map(|row| {
            let size: i64 = row.get(0);
            (
                format!("aigis_audit_checkpoints size {size}"),
                Ok(row.get::<_, String>(1)),
            )
        })
        .collect();
    // Records stream from the server: memory stays flat however long the chain.
    let rows = client
        .query_raw(
            "SELECT line FROM aigis_audit_records WHERE log_id = $1 ORDER BY seq",
            [log_id],
        )
        .map_err(db_err(url))?;
    let mut rows = rows;
    let lines = std::iter::from_fn(move || match rows.next() {
        Ok(Some(row)) => Some(Ok(row.get::<_, String>(0).into_bytes())),
        Ok(None) => None,
        Err(e) => Some(Err(format!("{}: {e}", redact_url(url)))),
    });
    let mut report = verify_chain(notes, lines, verifier);
    if report.log_id.is_none() {
        report.log_id = Some(log_id.to_string());
    }
    Ok(report)
}

/// Checks the chain of `verifier`'s log (its name is the `log_id`) in the database at `url`.
pub fn verify_postgres(url: &str, verifier: &NoteVerifier) -> Result<Verification, AuditError> {
    let mut client = Client::connect(url, NoTls).map_err(db_err(url))?;
    let log_id = verifier.name().to_string();
    read_and_verify(&mut client, url, &log_id, verifier)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://gw:s3cret@db.internal:5432/aigis"),
            "postgres://gw:***@db.internal:5432/aigis"
        );
        assert_eq!(
            redact_url("postgres://gw@db/aigis"),
            "postgres://gw@db/aigis"
        );
        assert_eq!(redact_url("postgres://db/aigis"), "postgres://db/aigis");
    }
}
