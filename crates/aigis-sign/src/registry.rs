//! The model registry: content-addressed file storage plus an index of versions.
//!
//! Files live once under `objects/sha256/ab/cdef…` however many versions share them. The index
//! (SQLite by default, PostgreSQL for teams) maps `NAME@VERSION` to a [`VersionRecord`]: the
//! manifest, the version id that binds file names, the OMS root, the signature, the scan report
//! taken at push time and provenance. Refusals and pulls are recorded as events.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::SignError;
use crate::manifest::{Item, Manifest};

/// Schema tag of a stored version record.
pub const RECORD_SCHEMA: &str = "aigis.registry.version/v1";

/// One file of a stored version.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Name relative to the model root (`.` for a single-file model).
    pub name: String,
    /// Hex SHA-256 (also the object address).
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Who pushed, when and from where.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// User name.
    pub user: String,
    /// Host name.
    pub host: String,
    /// Source path at push time.
    pub source: String,
    /// Unix seconds.
    pub time: u64,
    /// RFC 3339 UTC.
    pub time_utc: String,
    /// Parent version (`NAME@VERSION`), e.g. the base of a fine-tune.
    pub parent: Option<String>,
}

/// A stored model version.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VersionRecord {
    /// Always [`RECORD_SCHEMA`].
    pub schema: String,
    /// Model name.
    pub name: String,
    /// Version label.
    pub version: String,
    /// `sha256:…` over names and digests ([`Manifest::version_id`]).
    pub version_id: String,
    /// OMS subject digest (for lookups from OMS tooling; does not bind names).
    pub oms_root: String,
    /// Model name as recorded in the manifest.
    pub model_name: String,
    /// Files.
    pub files: Vec<FileEntry>,
    /// OMS signature bundle JSON, when pushed with one.
    pub signature: Option<String>,
    /// Who signed, as verification reported it.
    pub signer: Option<String>,
    /// `aigis scan` JSON report taken at push time.
    pub scan_report: Option<serde_json::Value>,
    /// Scan summary: `clean`, or what blocked it.
    pub scan_verdict: String,
    /// Pushed with --force over a failed gate.
    pub forced: bool,
    /// Provenance.
    pub provenance: Provenance,
    /// Transparency-log index of the push entry.
    pub log_index: Option<u64>,
}

impl VersionRecord {
    /// The manifest (SHA-256 per file) this record describes.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            model_name: self.model_name.clone(),
            serialization: crate::manifest::Serialization {
                hash: crate::digest::HashAlg::Sha256,
                allow_symlinks: false,
                ignore_paths: Vec::new(),
            },
            items: self
                .files
                .iter()
                .map(|f| Item {
                    name: f.name.clone(),
                    algorithm: "sha256".into(),
                    digest: crate::unhex(&f.sha256).unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// A registry event that is not a version (refusals, pulls, verifications).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    /// Unix seconds.
    pub time: u64,
    /// `refused`, `pulled`, `verified`, `verify-failed`.
    pub kind: String,
    /// Model name.
    pub name: String,
    /// Version label.
    pub version: String,
    /// Human detail.
    pub detail: String,
}

/// Listing row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// Model name.
    pub name: String,
    /// Version label.
    pub version: String,
    /// Version id.
    pub version_id: String,
    /// Unix seconds.
    pub created: u64,
}

/// A registry index backend.
pub trait Index: Send {
    /// Stores a version; fails if `NAME@VERSION` exists (versions are immutable).
    fn insert(&mut self, rec: &VersionRecord) -> Result<(), SignError>;
    /// Looks a version up.
    fn get(&mut self, name: &str, version: &str) -> Result<Option<VersionRecord>, SignError>;
    /// Lists versions, oldest first.
    fn list(&mut self, name: Option<&str>) -> Result<Vec<Summary>, SignError>;
    /// Records an event.
    fn event(&mut self, ev: &Event) -> Result<(), SignError>;
    /// Events for a model, oldest first.
    fn events(&mut self, name: &str) -> Result<Vec<Event>, SignError>;
}

fn store_err(e: impl std::fmt::Display) -> SignError {
    SignError::Store(format!("registry index: {e}"))
}

/// SQLite index (the embedded default).
pub struct SqliteIndex {
    conn: rusqlite::Connection,
}

impl SqliteIndex {
    /// Opens or creates the database.
    pub fn open(path: &Path) -> Result<Self, SignError> {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| SignError::io(p, e))?;
        }
        let conn = rusqlite::Connection::open(path).map_err(store_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(store_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS aigis_versions (
                 name TEXT NOT NULL, version TEXT NOT NULL, version_id TEXT NOT NULL,
                 created BIGINT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (name, version));
             CREATE TABLE IF NOT EXISTS aigis_registry_events (
                 id INTEGER PRIMARY KEY AUTOINCREMENT, time BIGINT NOT NULL, kind TEXT NOT NULL,
                 name TEXT NOT NULL, version TEXT NOT NULL, detail TEXT NOT NULL);",
        )
        .map_err(store_err)?;
        Ok(Self { conn })
    }
}

impl Index for SqliteIndex {
    fn insert(&mut self, rec: &VersionRecord) -> Result<(), SignError> {
        let json = serde_json::to_string(rec).map_err(store_err)?;
        self.conn
            .execute(
                "INSERT INTO aigis_versions (name, version, version_id, created, record) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![rec.name, rec.version, rec.version_id, rec.provenance.time as i64, json],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    SignError::Usage(format!("{}@{} already exists; versions are immutable, push a new version", rec.name, rec.version))
                }
                other => store_err(other),
            })?;
        Ok(())
    }

    fn get(&mut self, name: &str, version: &str) -> Result<Option<VersionRecord>, SignError> {
        let mut st = self
            .conn
            .prepare("SELECT record FROM aigis_versions WHERE name = ?1 AND version = ?2")
            .map_err(store_err)?;
        let mut rows = st
            .query(rusqlite::params![name, version])
            .map_err(store_err)?;
        match rows.next().map_err(store_err)? {
            Some(row) => {
                let s: String = row.get(0).map_err(store_err)?;
                Ok(Some(serde_json::from_str(&s).map_err(store_err)?))
            }
            None => Ok(None),
        }
    }

    fn list(&mut self, name: Option<&str>) -> Result<Vec<Summary>, SignError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT name, version, version_id, created FROM aigis_versions
                 WHERE ?1 IS NULL OR name = ?1 ORDER BY created, name, version",
            )
            .map_err(store_err)?;
        let rows = st
            .query_map(rusqlite::params![name], |r| {
                Ok(Summary {
                    name: r.get(0)?,
                    version: r.get(1)?,
                    version_id: r.get(2)?,
                    created: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(store_err)?;
        rows.collect::<Result<_, _>>().map_err(store_err)
    }

    fn event(&mut self, ev: &Event) -> Result<(), SignError> {
        self.conn
            .execute(
                "INSERT INTO aigis_registry_events (time, kind, name, version, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![ev.time as i64, ev.kind, ev.name, ev.version, ev.detail],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn events(&mut self, name: &str) -> Result<Vec<Event>, SignError> {
        let mut st = self
            .conn
            .prepare("SELECT time, kind, name, version, detail FROM aigis_registry_events WHERE name = ?1 ORDER BY id")
            .map_err(store_err)?;
        let rows = st
            .query_map(rusqlite::params![name], |r| {
                Ok(Event {
                    time: r.get::<_, i64>(0)? as u64,
                    kind: r.get(1)?,
                    name: r.get(2)?,
                    version: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .map_err(store_err)?;
        rows.collect::<Result<_, _>>().map_err(store_err)
    }
}

/// PostgreSQL index, for a registry shared by a team.
pub struct PostgresIndex {
    client: postgres::Client,
}

impl PostgresIndex {
    /// Connects (`postgres://user@host:port/db`) and creates the tables if needed. TLS is not
    /// configured here: use a local socket, a trusted network or a TLS-terminating proxy.
    pub fn connect(url: &str) -> Result<Self, SignError> {
        let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(|e| {
            SignError::Store(format!(
                "cannot connect to the PostgreSQL registry index: {e}"
            ))
        })?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS aigis_versions (
                     name TEXT NOT NULL, version TEXT NOT NULL, version_id TEXT NOT NULL,
                     created BIGINT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (name, version));
                 CREATE TABLE IF NOT EXISTS aigis_registry_events (
                     id BIGSERIAL PRIMARY KEY, time BIGINT NOT NULL, kind TEXT NOT NULL,
                     name TEXT NOT NULL, version TEXT NOT NULL, detail TEXT NOT NULL);",
            )
            .map_err(store_err)?;
        Ok(Self { client })
    }
}

impl Index for PostgresIndex {
    fn insert(&mut self, rec: &VersionRecord) -> Result<(), SignError> {
        let json = serde_json::to_string(rec).map_err(store_err)?;
        self.client
            .execute(
                "INSERT INTO aigis_versions (name, version, version_id, created, record) VALUES ($1, $2, $3, $4, $5)",
                &[&rec.name, &rec.version, &rec.version_id, &(rec.provenance.time as i64), &json],
            )
            .map_err(|e| {
                if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
                    SignError::Usage(format!("{}@{} already exists; versions are immutable, push a new version", rec.name, rec.version))
                } else {
                    store_err(e)
                }
            })?;
        Ok(())
    }

    fn get(&mut self, name: &str, version: &str) -> Result<Option<VersionRecord>, SignError> {
        let row = self
            .client
            .query_opt(
                "SELECT record FROM aigis_versions WHERE name = $1 AND version = $2",
                &[&name, &version],
            )
            .map_err(store_err)?;
        row.map(|r| {
            serde_json::from_str::<VersionRecord>(&r.get::<_, String>(0)).map_err(store_err)
        })
        .transpose()
    }

    fn list(&mut self, name: Option<&str>) -> Result<Vec<Summary>, SignError> {
        let rows = self
            .client
            .query(
                "SELECT name, version, version_id, created FROM aigis_versions
                 WHERE $1::TEXT IS NULL OR name = $1 ORDER BY created, name, version",
                &[&name],
            )
            .map_err(store_err)?;
        Ok(rows
            .iter()
            .map(|r| Summary {
                name: r.get(0),
                version: r.get(1),
                version_id: r.get(2),
                created: r.get::<_, i64>(3) as u64,
            })
            .collect())
    }

    fn event(&mut self, ev: &Event) -> Result<(), SignError> {
        self.client
            .execute(
                "INSERT INTO aigis_registry_events (time, kind, name, version, detail) VALUES ($1, $2, $3, $4, $5)",
                &[&(ev.time as i64), &ev.kind, &ev.name, &ev.version, &ev.detail],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn events(&mut self, name: &str) -> Result<Vec<Event>, SignError> {
        let rows = self
            .client
            .query(
                "SELECT time, kind, name, version, detail FROM aigis_registry_events WHERE name = $1 ORDER BY id",
                &[&name],
            )
            .map_err(store_err)?;
        Ok(rows
            .iter()
            .map(|r| Event {
                time: r.get::<_, i64>(0) as u64,
                kind: r.get(1),
                name: r.get(2),
                version: r.get(3),
                detail: r.get(4),
            })
            .collect())
    }
}

/// Opens the index named by `url`: `postgres://…`/`postgresql://…`, `sqlite:PATH`, or the default
/// SQLite file under `root`.
pub fn open_index(root: &Path, url: Option<&str>) -> Result<Box<dyn Index>, SignError> {
    match url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Box::new(PostgresIndex::connect(u)?))
        }
        Some(u) if u.starts_with("sqlite:") => Ok(Box::new(SqliteIndex::open(Path::new(
            &u["sqlite:".len()..],
        ))?)),
        Some(u) => Err(SignError::Usage(format!(
            "registry index `{u}`: use sqlite:PATH or postgres://USER@HOST:PORT/DB"
        ))),
        None => Ok(Box::new(SqliteIndex::open(&root.join("index.db"))?)),
    }
}

/// Splits `NAME@VERSION`.
pub fn parse_ref(s: &str) -> Result<(&str, &str), SignError> {
    match s.rsplit_once('@') {
        Some((n, v)) if valid_label(n) && valid_label(v) => Ok((n, v)),
        _ => Err(SignError::Usage(format!(
            "`{s}` is not NAME@VERSION (letters, digits, `.`, `_`, `-`, `/`; e.g. fraud-model@1.2.0)"
        ))),
    }
}

/// Model names and versions: no whitespace, no `@`, at most 200 characters.
pub fn valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '+'))
        && !s.starts_with(['.', '/'])
        && !s.contains("..")
}

/// Content-addressed file storage.
pub struct Objects {
    root: PathBuf,
}

impl Objects {
    /// Storage under `root/objects`.
    pub fn new(registry_root: &Path) -> Self {
        Self {
            root: registry_root.join("objects").join("sha256"),
        }
    }

    fn path(&self, hex: &str) -> PathBuf {
        self.root.join(&hex[..2]).join(&hex[2..])
    }

    /// True when the object is stored.
    pub fn has(&self, hex: &str) -> bool {
        hex.len() == 64 && self.path(hex).is_file()
    }

    /// Copies `src` in as object `hex`, hashing while copying; fails (storing nothing) if the
    /// content does not hash to `hex` (the file changed after it was hashed). Returns whether
    /// new bytes were stored (false when deduplicated).
    pub fn put(&self, src: &Path, hex: &str) -> Result<bool, SignError> {
        if self.has(hex) {
            return Ok(false);
        }
        let dest = self.path(hex);
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(|e| SignError::io(dir, e))?;
        let tmp = dir.join(format!(".{}.tmp{}", &hex[2..], std::process::id()));
        let result = copy_hashing(src, &tmp).and_then(|got| {
            if got == hex {
                std::fs::rename(&tmp, &dest).map_err(|e| SignError::io(&dest, e))
            } else {
                Err(SignError::Invalid(format!(
                    "{} changed while it was being pushed (sha256 {got}, expected {hex})",
                    src.display()
                )))
            }
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map(|()| true)
    }

    /// Copies object `hex` to `dest`, checking its digest. A corrupted object is an error.
    pub fn get(&self, hex: &str, dest: &Path) -> Result<(), SignError> {
        let src = self.path(hex);
        let got = copy_hashing(&src, dest)?;
        if got != hex {
            let _ = std::fs::remove_file(dest);
            return Err(SignError::Invalid(format!(
                "stored object {hex} is corrupted (it now hashes to {got})"
            )));
        }
        Ok(())
    }

    /// Re-hashes object `hex`.
    pub fn check(&self, hex: &str) -> Result<bool, SignError> {
        let p = self.path(hex);
        if !p.is_file() {
            return Ok(false);
        }
        let d = crate::digest::hash_file(&p, crate::digest::HashAlg::Sha256, &|_| {})?;
        Ok(crate::hex(&d) == hex)
    }
}

fn copy_hashing(src: &Path, dest: &Path) -> Result<String, SignError> {
    let mut r = std::fs::File::open(src).map_err(|e| SignError::io(src, e))?;
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| SignError::io(dest, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = r.read(&mut buf).map_err(|e| SignError::io(src, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        w.write_all(&buf[..n]).map_err(|e| SignError::io(dest, e))?;
    }
    w.sync_all().map_err(|e| SignError::io(dest, e))?;
    Ok(crate::hex(&h.finalize()))
}

/// Current time as (unix seconds, RFC 3339 UTC).
pub fn now() -> (u64, String) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (t, rfc3339(t))
}

/// Formats unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(t: u64) -> String {
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn refs_and_labels() {
        assert_eq!(parse_ref("org/model@1.0").unwrap(), ("org/model", "1.0"));
        for bad in ["model", "@1", "m@", "m@1 2", "../x@1", "m@a@b/../c"] {
            assert!(parse_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn objects_dedup_and_detect_corruption() {
        let d = tempfile::tempdir().unwrap();
        let objs = Objects::new(&d.path().join("reg"));
        let f = d.path().join("f");
        std::fs::write(&f, b"weights").unwrap();
        let hex = crate::hex(&Sha256::digest(b"weights"));
        assert!(objs.put(&f, &hex).unwrap());
        assert!(!objs.put(&f, &hex).unwrap(), "second put is deduplicated");
        assert!(objs.put(&f, &"0".repeat(64)).is_err());
        assert!(objs.check(&hex).unwrap());
        std::fs::write(objs.path(&hex), b"tampered").unwrap();
        assert!(!objs.check(&hex).unwrap());
        assert!(objs.get(&hex, &d.path().join("out")).is_err());
        assert!(!d.path().join("out").exists());
    }
}
