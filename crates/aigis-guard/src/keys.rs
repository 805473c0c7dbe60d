//! API keys of the gateway: created once and shown once, stored as SHA-256 digests in SQLite
//! (only an id prefix is kept readable), checked in constant time, revoked at once.
//!
//! A key reads `aig_<id>_<secret>`: `id` is 8 base32 characters that name the key in lists and
//! logs, `secret` 32 base32 characters (160 bits) from the OS random generator. Keys are
//! random, not chosen by people, so a plain SHA-256 digest is the right storage: there is
//! nothing for a slow password hash to protect.

use std::path::Path;

use rand_core::{OsRng, RngCore};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// Errors of the key store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The SQLite store could not be opened or used.
    #[error("key store {path}: {source}")]
    Store {
        /// The store's path.
        path: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// No key has this id.
    #[error("no key with id `{0}`")]
    Unknown(String),
    /// A scope is not valid.
    #[error("invalid scope: {0}")]
    Scope(String),
}

/// A stored key, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    /// The readable id (`aig_<id>_…`).
    pub id: String,
    /// Who or what it is for.
    pub name: String,
    /// Route names it may use (empty: every route).
    pub routes: Vec<String>,
    /// Unix seconds of creation.
    pub created: i64,
    /// Unix seconds of revocation, if revoked.
    pub revoked: Option<i64>,
}

/// A key's row: digest, name, routes, created, revoked.
type StoredRow = (Vec<u8>, String, String, i64, Option<i64>);

/// The SQLite key store.
pub struct KeyStore {
    conn: std::sync::Mutex<Store>,
    path: String,
}

/// The connection and the rows `check` read through it.
struct Store {
    conn: Connection,
    /// Digests and infos of keys checked lately, valid while `version` is the database's
    /// `data_version`.
    cache: std::collections::HashMap<String, (Vec<u8>, KeyInfo)>,
    version: Option<i64>,
}

/// Rows kept at most (present keys only, so unknown ids cannot fill it; past this it starts
/// over).
const MAX_CACHED_KEYS: usize = 4096;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn random_base32(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect()
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Equality of two digests that takes the same time wherever they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The id part of a presented key, if it has the key shape.
fn id_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("aig_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 8 && secret.len() == 32).then_some(id)
}

impl KeyStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let err = |source| KeyError::Store {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS api_keys (
                 id TEXT PRIMARY KEY,
                 name TEXT NOT NULL,
                 digest BLOB NOT NULL,
                 routes TEXT NOT NULL,
                 created INTEGER NOT NULL,
                 revoked INTEGER
             );",
        )
        .map_err(err)?;
        Ok(Self {
            conn: std::sync::Mutex::new(Store {
                conn,
                cache: std::collections::HashMap::new(),
                version: None,
            }),
            path: shown,
        })
    }

    fn err(&self, source: rusqlite::Error) -> KeyError {
        KeyError::Store {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock leaves SQLite consistent (every change is one
        // statement), so a poisoned lock is still usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The connection for a change: this connection's own commits leave its `data_version` as
    /// it was, so the cache is dropped here.
    fn writer(&self) -> std::sync::MutexGuard<'_, Store> {
        let mut store = self.lock();
        store.cache.clear();
        store
    }

    /// Creates a key for `name` limited to `routes` (empty: all); returns the key, which is
    /// not stored and cannot be shown again, and its info.
    pub fn create(&self, name: &str, routes: &[String]) -> Result<(String, KeyInfo), KeyError> {
        for r in routes {
            if r.is_empty()
                || !r
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(KeyError::Scope(format!(
                    "route name `{r}` (letters, digits, `-` and `_` only)"
                )));
            }
        }
        let id = random_base32(8);
        let key = format!("aig_{id}_{}", random_base32(32));
        let created = now();
        self.writer()
            .conn
            .execute(
                "INSERT INTO api_keys (id, name, digest, routes, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, name, digest(&key).to_vec(), routes.join(","), created],
            )
            .map_err(|e| self.err(e))?;
        Ok((
            key,
            KeyInfo {
                id,
                name: name.to_string(),
                routes: routes.to_vec(),
                created,
                revoked: None,
            },
        ))
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let store = self.lock();
        let mut st = store
            .conn
            .prepare("SELECT id, name, routes, created, revoked FROM api_keys ORDER BY created, id")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                let routes: String = r.get(2)?;
                Ok(KeyInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    routes: routes_of(&routes),
                    created: r.get(3)?,
                    revoked: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Revokes the key `id`; it stops working at the next request.
    pub fn revoke(&self, id: &str) -> Result<(), KeyError> {
        let n = self
            .writer()
            .conn
            .execute(
                "UPDATE api_keys SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
                params![id, now()],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 && !self.list()?.iter().any(|k| k.id == id) {
            return Err(KeyError::Unknown(id.to_string()));
        }
        Ok(())
    }

    /// The key's info if `presented` is a valid, unrevoked key.
    pub fn check(&self, presented: &str) -> Result<Option<KeyInfo>, KeyError> {
        let Some(id) = id_of(presented) else {
            return Ok(None);
        };
        // Hashed before the lock is taken: the lock is shared by every request.
        let presented_digest = digest(presented);
        let mut store = self.lock();
        // Any commit by another connection (`aigis guard keys revoke`, another replica's admin
        // API) changes `data_version`, and the cached rows are dropped: a revocation still
        // takes effect on the next request. Reading the counter costs a fraction of the query.
        let version: i64 = store
            .conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        if store.version != Some(version) {
            store.cache.clear();
            store.version = Some(version);
        }
        // The info of the key whose digest matches, compared without copying the digest.
        let matched = if let Some((stored, info)) = store.cache.get(id) {
            ct_eq(stored, &presented_digest).then(|| info.clone())
        } else {
            // Prepared once per connection: this runs on every request not cached.
            let row: Option<StoredRow> = store
                .conn
                .prepare_cached(
                    "SELECT digest, name, routes, created, revoked FROM api_keys WHERE id = ?1",
                )
                .and_then(|mut st| {
                    st.query_row(params![id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .optional()
                })
                .map_err(|e| self.err(e))?;
            let Some((stored, name, routes, created, revoked)) = row else {
                return Ok(None);
            };
            let info = KeyInfo {
                id: id.to_string(),
                name,
                routes: routes_of(&routes),
                created,
                revoked,
            };
            if store.cache.len() >= MAX_CACHED_KEYS {
                store.cache.clear();
            }
            let ok = ct_eq(&stored, &presented_digest);
            store.cache.insert(id.to_string(), (stored, info.clone()));
            ok.then_some(info)
        };
        Ok(matched.filter(|info| info.revoked.is_none()))
    }
}

/// The route names of a stored comma-separated list.
fn routes_of(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_check_list_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("keys.db")).unwrap();
        let (key, info) = store.create("ci", &["chat".into()]).unwrap();
        assert!(key.starts_with(&format!("aig_{}_", info.id)));
        assert_eq!(store.check(&key).unwrap().unwrap().routes, ["chat"]);
        // One character off, another key's id, garbage: all refused.
        let mut wrong = key.clone();
        wrong.pop();
        wrong.push(if key.ends_with('a') { 'b' } else { 'a' });
        assert!(store.check(&wrong).unwrap().is_none());
        assert!(store.check("Bearer nonsense").unwrap().is_none());
        // The store never holds the key itself.
        let raw = std::fs::read(dir.path().join("keys.db")).unwrap();
        let secret = key.rsplit('_').next().unwrap();
        assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
        store.revoke(&info.id).unwrap();
        assert!(store.check(&key).unwrap().is_none());
        assert!(store.list().unwrap()[0].revoked.is_some());
        assert!(matches!(
            store.revoke("zzzzzzzz"),
            Err(KeyError::Unknown(_))
        ));
        assert!(store.create("x", &["bad route".into()]).is_err());
    }

    #[test]
    fn cached_keys_see_other_connections_changes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let gateway = KeyStore::open(&path).unwrap();
        let cli = KeyStore::open(&path).unwrap();
        let (key, info) = cli.create("ci", &[]).unwrap();
        // Checked twice: the second answer comes from the cache.
        assert!(gateway.check(&key).unwrap().is_some());
        assert!(gateway.check(&key).unwrap().is_some());
        assert_eq!(gateway.lock().cache.len(), 1);
        // Revoked through the other connection: refused on the very next check.
        cli.revoke(&info.id).unwrap();
        assert!(gateway.check(&key).unwrap().is_none());
        // A key created elsewhere after the cache was filled is found.
        let (second, _) = cli.create("later", &[]).unwrap();
        assert!(gateway.check(&second).unwrap().is_some());
        // Unknown ids are not cached, so guessing cannot fill the cache.
        for i in 0..100 {
            let guess = format!("aig_{i:0>8}_{}", "a".repeat(32));
            assert!(gateway.check(&guess).unwrap().is_none());
        }
        assert!(gateway.lock().cache.len() <= 2);
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
