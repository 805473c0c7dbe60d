//! Digest cache for fast local re-verification (`aigis verify --cached`).
//!
//! A file's digest is reused only when its device, inode, size, modification time and change
//! time (all in nanoseconds) are exactly as when it was hashed. The change time cannot be set by
//! an unprivileged user, so rewriting a file and restoring its mtime still forces a re-hash. The
//! cache is a local convenience: it is never consulted when signing, and a cached verification
//! trusts whoever could write the cache file (it lives in the aigis home, mode 0600).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::SignError;
use crate::digest::HashAlg;

/// What identifies an unchanged file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    /// The stamp of `meta`, or `None` on platforms without inode numbers.
    pub fn of(meta: &std::fs::Metadata) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(Self {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.size(),
                mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
                ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    alg: String,
    digest: String,
}

/// The cache, keyed by canonical path.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DigestCache {
    entries: HashMap<PathBuf, Entry>,
    #[serde(skip)]
    hits: std::sync::atomic::AtomicUsize,
}

impl DigestCache {
    /// Loads `path`, or an empty cache when it is missing or unreadable (a damaged cache only
    /// costs a re-hash).
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes the cache atomically, mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), SignError> {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| SignError::io(p, e))?;
        }
        let bytes = serde_json::to_vec(self).map_err(|e| SignError::Store(e.to_string()))?;
        crate::write_atomic(path, &bytes, true)
    }

    /// A cached digest for `path` if its stamp is unchanged.
    pub fn get(&self, path: &Path, stamp: &Stamp, alg: HashAlg) -> Option<[u8; 32]> {
        let key = std::fs::canonicalize(path).ok()?;
        let e = self.entries.get(&key)?;
        if e.stamp != *stamp || e.alg != alg.name() {
            return None;
        }
        let d: [u8; 32] = crate::unhex(&e.digest)?.try_into().ok()?;
        self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(d)
    }

    /// Records a digest.
    pub fn put(&mut self, path: &Path, stamp: Stamp, alg: HashAlg, digest: &[u8; 32]) {
        if let Ok(key) = std::fs::canonicalize(path) {
            self.entries.insert(
                key,
                Entry {
                    stamp,
                    alg: alg.name().to_string(),
                    digest: crate::hex(digest),
                },
            );
        }
    }

    /// Files answered from the cache so far.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}
