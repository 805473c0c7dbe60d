//! The response cache: a SQLite file mapping (target, conversation, generation) to the reply,
//! so a rerun — or a run resumed after an interruption — only asks what it has not asked yet.
//! Errors are never cached. The key is a SHA-256 of the target's identity (no credentials),
//! the conversation and the generation number.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension as _};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::{Conversation, Error, Reply};

/// An open cache.
#[derive(Debug)]
pub struct Cache {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// The cache key of one attempt.
pub fn key(target: &Value, conv: &Conversation, generation: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"aigis.redteam.cache/v1\0");
    h.update(target.to_string().as_bytes());
    h.update(b"\0");
    h.update(serde_json::to_vec(conv).unwrap_or_default());
    h.update(b"\0");
    h.update(generation.to_le_bytes());
    h.finalize().into()
}

impl Cache {
    /// Open (or create) the cache at `path`, creating its directory.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let err = |e: &dyn std::fmt::Display| Error::Cache {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let conn = Connection::open(path).map_err(|e| err(&e))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS replies (
                 key BLOB PRIMARY KEY, reply TEXT NOT NULL, created INTEGER NOT NULL);",
        )
        .map_err(|e| {
            err(&format!(
                "{e} (not an aigis response cache? remove it or give another --cache)"
            ))
        })?;
        Ok(Cache {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn err(&self, e: &dyn std::fmt::Display) -> Error {
        Error::Cache {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// The cached reply for `key`; an unreadable entry counts as absent.
    pub fn get(&self, key: &[u8; 32]) -> Result<Option<Reply>, Error> {
        let conn = self.conn.lock().map_err(|_| self.err(&"lock poisoned"))?;
        let text: Option<String> = conn
            .query_row(
                "SELECT reply FROM replies WHERE key = ?1",
                [&key[..]],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(&e))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Store `reply` under `key`.
    pub fn put(&self, key: &[u8; 32], reply: &Reply) -> Result<(), Error> {
        let text = serde_json::to_string(reply).map_err(|e| self.err(&e))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as i64;
        let conn = self.conn.lock().map_err(|_| self.err(&"lock poisoned"))?;
        conn.execute(
            "INSERT OR REPLACE INTO replies (key, reply, created) VALUES (?1, ?2, ?3)",
            rusqlite::params![&key[..], text, now],
        )
        .map_err(|e| self.err(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Response;
    use serde_json::json;

    #[test]
    fn replies_round_trip_and_keys_separate_targets_and_generations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/cache.sqlite");
        let c = Cache::open(&path).expect("open");
        let conv = Conversation::user("hi");
        let t1 = json!({"kind": "openai", "model": "a"});
        let t2 = json!({"kind": "openai", "model": "b"});
        let k = key(&t1, &conv, 0);
        assert_ne!(k, key(&t2, &conv, 0));
        assert_ne!(k, key(&t1, &conv, 1));
        assert_ne!(k, key(&t1, &Conversation::user("hi "), 0));
        assert_eq!(c.get(&k).expect("get"), None);
        let r = Reply::Answered(Response {
            text: "hello".into(),
            ..Response::default()
        });
        c.put(&k, &r).expect("put");
        drop(c);
        let c = Cache::open(&path).expect("reopen");
        assert_eq!(c.get(&k).expect("get"), Some(r));
        let b = Reply::Blocked {
            status: 400,
            message: "aigis_blocked".into(),
        };
        c.put(&k, &b).expect("overwrite");
        assert_eq!(c.get(&k).expect("get"), Some(b));
    }

    #[test]
    fn a_file_that_is_not_a_cache_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sqlite");
        std::fs::write(
            &path,
            b"this is not sqlite at all, just text padding it out ......",
        )
        .expect("write");
        let e = Cache::open(&path).expect_err("refused").to_string();
        assert!(e.contains("c.sqlite"), "{e}");
    }
}
