//! The model manifest: which files a signature covers, in which order, with which digests.
//!
//! The walk follows model-signing 1.1.x exactly where interop depends on it:
//! - a single file is one resource named `.`; a directory's regular files are named by their POSIX
//!   path relative to the model root, dotfiles included, empty directories not recorded;
//! - `.git`, `.gitattributes`, `.github` and `.gitignore` at the root, the signature file itself
//!   when it lies inside the model, and user ignore paths are skipped; an ignore path covers whole
//!   components (`sub` ignores `sub/x`, not `subx`);
//! - any symlink is an error unless symlinks are allowed; then a symlink to a file is hashed as its
//!   target (which must stay inside the model) and a symlink to a directory is not descended;
//! - resources are ordered by path components compared as strings (`a/b` < `a.txt`), and the
//!   subject digest is SHA-256 over the raw digests in that order.
//!
//! Stricter than model-signing: ignored directories are not descended at all, special files and
//! non-UTF-8 names are errors naming the path, duplicate names in a signature are rejected, and
//! [`Manifest::version_id`] binds file names (the OMS subject digest does not).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::SignError;
use crate::cache::Stamp;
use crate::digest::{HashAlg, hash_opened};

/// Paths model-signing ignores at the model root unless told otherwise.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// One covered file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// POSIX path relative to the model root (`.` for a single-file model).
    pub name: String,
    /// The digest algorithm (`sha256`, `blake3`).
    pub algorithm: String,
    /// The raw digest.
    pub digest: Vec<u8>,
}

/// How the manifest was built (`predicate.serialization` in OMS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serialization {
    /// The per-file hash.
    pub hash: HashAlg,
    /// Whether symlinks were followed.
    pub allow_symlinks: bool,
    /// Ignored paths, relative to the model root, in the order recorded.
    pub ignore_paths: Vec<String>,
}

/// A hashed model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Informative name: the file name or directory name.
    pub model_name: String,
    /// How the items were computed.
    pub serialization: Serialization,
    /// Items in OMS order (see [`component_cmp`]).
    pub items: Vec<Item>,
}

/// What to hash and how.
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Per-file hash.
    pub hash: HashAlg,
    /// Follow symlinks to files inside the model instead of refusing them.
    pub allow_symlinks: bool,
    /// Ignore `.git`, `.gitattributes`, `.github`, `.gitignore` at the root.
    pub ignore_git_paths: bool,
    /// Extra ignored paths, relative to the model root.
    pub ignore_paths: Vec<String>,
    /// Hash only these names (model-signing's `--ignore_unsigned_files`).
    pub only: Option<HashSet<String>>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        Self {
            hash: HashAlg::Sha256,
            allow_symlinks: false,
            ignore_git_paths: true,
            ignore_paths: Vec::new(),
            only: None,
        }
    }
}

/// OMS resource order: compare `/`-separated components as strings, like Python's `PurePosixPath`.
pub fn component_cmp(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// A path given on the command line (absolute or relative to the working directory) as a path
/// relative to the model root, or `None` when it lies outside the model.
pub fn relative_to_model(model: &Path, path: &Path) -> Option<String> {
    let root = std::fs::canonicalize(model).ok()?;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    // The signature may not exist yet: resolve its parent.
    let resolved = match std::fs::canonicalize(&abs) {
        Ok(p) => p,
        Err(_) => std::fs::canonicalize(abs.parent()?)
            .ok()?
            .join(abs.file_name()?),
    };
    let rel = resolved.strip_prefix(&root).ok()?;
    let parts: Vec<&str> = rel
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<_>>()?;
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// One file's digest: whether it was freshly hashed (not cached), the digest, its stamp.
type Hashed = (bool, [u8; 32], Option<Stamp>);

struct Found {
    name: String,
    path: PathBuf,
}

impl Manifest {
    /// Walks and hashes `model` (a file or directory). `progress` receives bytes hashed.
    pub fn compute(
        model: &Path,
        opts: &WalkOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Self, SignError> {
        Self::compute_cached(model, opts, progress, None)
    }

    /// [`Self::compute`], answering unchanged files from `cache` and recording new digests in it.
    /// For local re-verification only: never sign from cached digests.
    pub fn compute_cached(
        model: &Path,
        opts: &WalkOptions,
        progress: &(dyn Fn(u64) + Sync),
        mut cache: Option<&mut crate::cache::DigestCache>,
    ) -> Result<Self, SignError> {
        let (files, ignore_paths) = collect(model, opts)?;
        let shared = cache.as_deref();
        // Each file is opened once and stat-ed through its descriptor (no second path lookup);
        // rayon's work stealing spreads files over the cores.
        let digests: Vec<Result<Hashed, SignError>> = files
            .par_iter()
            .map(|f| {
                let io = |e| SignError::io(&f.path, e);
                let file = std::fs::File::open(&f.path).map_err(io)?;
                let meta = file.metadata().map_err(io)?;
                if !meta.is_file() {
                    return Err(SignError::Model(format!(
                        "{} changed type while the model was being walked",
                        f.path.display()
                    )));
                }
                let stamp = Stamp::of(&meta);
                if let Some(d) = shared
                    .zip(stamp.as_ref())
                    .and_then(|(c, s)| c.get(&f.path, s, opts.hash))
                {
                    return Ok((false, d, stamp));
                }
                let d = hash_opened(file, meta.len(), opts.hash, progress).map_err(io)?;
                Ok((true, d, stamp))
            })
            .collect();
        let mut items = Vec::with_capacity(files.len());
        for (f, r) in files.iter().zip(digests) {
            let (fresh, d, stamp) = r?;
            if fresh && let (Some(c), Some(s)) = (cache.as_deref_mut(), stamp) {
                c.put(&f.path, s, opts.hash, &d);
            }
            items.push(Item {
                name: f.name.clone(),
                algorithm: opts.hash.name().to_string(),
                digest: d.to_vec(),
            });
        }
        items.sort_by(|a, b| component_cmp(&a.name, &b.name));
        Ok(Self {
            model_name: model_name(model),
            serialization: Serialization {
                hash: opts.hash,
                allow_symlinks: opts.allow_symlinks,
                ignore_paths,
            },
            items,
        })
    }

    /// The OMS subject digest: SHA-256 over the raw item digests in order. Does not bind names.
    pub fn root(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for it in &self.items {
            h.update(&it.digest);
        }
        h.finalize().into()
    }

    /// aigis's content address for a model version: `sha256:` + SHA-256 of the canonical JSON
    /// `[[name, algorithm, hex digest], …]`. Unlike [`Self::root`], a rename changes it.
    pub fn version_id(&self) -> String {
        // Written directly (no JSON tree): this runs on every sign and verify of 10,000-file models.
        let mut s = String::with_capacity(self.items.len() * 112 + 2);
        s.push('[');
        for (n, i) in self.items.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push('[');
            crate::canonical::push_str(&mut s, &i.name);
            s.push(',');
            crate::canonical::push_str(&mut s, &i.algorithm);
            s.push_str(",\"");
            s.push_str(&crate::hex(&i.digest));
            s.push_str("\"]");
        }
        s.push(']');
        format!("sha256:{}", crate::hex(&Sha256::digest(s.as_bytes())))
    }

    /// Total number of covered files.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is covered.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One difference between a signed manifest and the model on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Same name, different digest.
    Changed {
        /// File name.
        name: String,
        /// Digest algorithm.
        algorithm: String,
        /// Signed digest (hex).
        expected: String,
        /// Digest on disk (hex).
        actual: String,
    },
    /// On disk, not in the signature.
    Added(String),
    /// In the signature, not on disk.
    Removed(String),
    /// Content moved to another name (a removed and an added file with equal digests).
    Renamed {
        /// Signed name.
        from: String,
        /// Name on disk.
        to: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |h: &str| h.chars().take(12).collect::<String>();
        match self {
            Self::Changed {
                name,
                algorithm,
                expected,
                actual,
            } => write!(
                f,
                "changed: {name} ({algorithm} {}… → {}…)",
                short(expected),
                short(actual)
            ),
            Self::Added(n) => write!(f, "added: {n}"),
            Self::Removed(n) => write!(f, "removed: {n}"),
            Self::Renamed { from, to } => write!(f, "renamed: {from} → {to}"),
        }
    }
}

/// Differences from `expected` (signed) to `actual` (on disk), in name order.
pub fn diff(expected: &Manifest, actual: &Manifest) -> Vec<Change> {
    let exp: BTreeMap<&str, &Item> = expected
        .items
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let act: BTreeMap<&str, &Item> = actual.items.iter().map(|i| (i.name.as_str(), i)).collect();
    let mut out = Vec::new();
    let mut removed: Vec<&Item> = Vec::new();
    let mut added: Vec<&Item> = Vec::new();
    for (name, e) in &exp {
        match act.get(name) {
            Some(a) if a.digest == e.digest && a.algorithm == e.algorithm => {}
            Some(a) => out.push(Change::Changed {
                name: (*name).to_string(),
                algorithm: e.algorithm.clone(),
                expected: crate::hex(&e.digest),
                actual: crate::hex(&a.digest),
            }),
            None => removed.push(e),
        }
    }
    for (name, a) in &act {
        if !exp.contains_key(name) {
            added.push(a);
        }
    }
    for r in removed {
        if let Some(pos) = added.iter().position(|a| a.digest == r.digest) {
            let a = added.remove(pos);
            out.push(Change::Renamed {
                from: r.name.clone(),
                to: a.name.clone(),
            });
        } else {
            out.push(Change::Removed(r.name.clone()));
        }
    }
    out.extend(added.into_iter().map(|a| Change::Added(a.name.clone())));
    out
}

fn model_name(model: &Path) -> String {
    match model.file_name().and_then(|n| n.to_str()) {
        Some(n) if n != ".." => n.to_string(),
        _ => std::fs::canonicalize(model)
            .ok()
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .unwrap_or_else(|| "model".to_string()),
    }
}

/// Ignore paths as component lists, plus the list recorded in the signature.
fn ignore_set(opts: &WalkOptions) -> (Vec<Vec<String>>, Vec<String>) {
    let mut recorded: Vec<String> = Vec::new();
    let mut push = |p: &str| {
        let norm: Vec<&str> = p
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if norm.is_empty() || norm.contains(&"..") {
            return;
        }
        let s = norm.join("/");
        if !recorded.contains(&s) {
            recorded.push(s);
        }
    };
    for p in &opts.ignore_paths {
        push(p);
    }
    if opts.ignore_git_paths {
        for p in GIT_PATHS {
            push(p);
        }
    }
    let parts = recorded
        .iter()
        .map(|s| s.split('/').map(str::to_string).collect())
        .collect();
    (parts, recorded)
}

fn is_ignored_name(rel: &str, ignores: &[Vec<String>]) -> bool {
    ignores.iter().any(|ig| {
        let mut parts = rel.split('/');
        ig.iter().all(|c| parts.next() == Some(c.as_str()))
    })
}

fn collect(model: &Path, opts: &WalkOptions) -> Result<(Vec<Found>, Vec<String>), SignError> {
    let (ignores, recorded) = ignore_set(opts);
    let meta = std::fs::symlink_metadata(model).map_err(|e| SignError::io(model, e))?;
    if meta.file_type().is_symlink() && !opts.allow_symlinks {
        return Err(SignError::Model(format!(
            "{} is a symlink; sign the real path, or pass --allow-symlinks",
            model.display()
        )));
    }
    let meta = std::fs::metadata(model).map_err(|e| SignError::io(model, e))?;
    if meta.is_file() {
        let found = Found {
            name: ".".into(),
            path: model.to_path_buf(),
        };
        return Ok((vec![found], recorded));
    }
    if !meta.is_dir() {
        return Err(SignError::Model(format!(
            "{} is neither a regular file nor a directory",
            model.display()
        )));
    }
    let root = std::fs::canonicalize(model).map_err(|e| SignError::io(model, e))?;
    let walk = Walk {
        opts,
        ignores: &ignores,
        root: &root,
    };
    let files = walk.dir(model, "", 0)?;
    Ok((files, recorded))
}

/// Deepest directory nesting walked (deeper trees are refused rather than risking the stack).
const MAX_DIR_DEPTH: usize = 256;

struct Walk<'a> {
    opts: &'a WalkOptions,
    ignores: &'a [Vec<String>],
    root: &'a Path,
}

impl Walk<'_> {
    /// The files under `dir` (named `rel` in the model); subdirectories are walked in parallel.
    fn dir(&self, dir: &Path, rel: &str, depth: usize) -> Result<Vec<Found>, SignError> {
        if depth > MAX_DIR_DEPTH {
            return Err(SignError::Model(format!(
                "{}: directories nest more than {MAX_DIR_DEPTH} deep",
                dir.display()
            )));
        }
        let mut files = Vec::new();
        let mut subdirs = Vec::new();
        let rd = std::fs::read_dir(dir).map_err(|e| SignError::io(dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| SignError::io(dir, e))?;
            let path = entry.path();
            let os_name = entry.file_name();
            let Some(name) = os_name.to_str() else {
                return Err(SignError::Model(format!(
                    "{}: file name {} is not UTF-8 and cannot be named in a signature",
                    dir.display(),
                    os_name.display()
                )));
            };
            // Relative names are built as strings (`sub/x`): one allocation per entry.
            let child = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            if is_ignored_name(&child, self.ignores) {
                continue;
            }
            let ft = entry.file_type().map_err(|e| SignError::io(&path, e))?;
            if let Some(only) = &self.opts.only
                && !only.contains(&child)
                && !ft.is_dir()
            {
                // Directories are still descended to find the named files below them.
                continue;
            }
            if ft.is_symlink() {
                if !self.opts.allow_symlinks {
                    return Err(SignError::Model(format!(
                        "{} is a symlink; symlinks are refused unless --allow-symlinks is given",
                        path.display()
                    )));
                }
                let target = std::fs::canonicalize(&path).map_err(|e| SignError::io(&path, e))?;
                if !target.starts_with(self.root) {
                    return Err(SignError::Model(format!(
                        "{} is a symlink to {}, outside the model directory",
                        path.display(),
                        target.display()
                    )));
                }
                let m = std::fs::metadata(&target).map_err(|e| SignError::io(&target, e))?;
                if m.is_file() {
                    files.push(Found { name: child, path });
                }
                // A symlinked directory is not descended (as model-signing on Python 3.11).
                continue;
            }
            if ft.is_dir() {
                subdirs.push((path, child));
            } else if ft.is_file() {
                files.push(Found { name: child, path });
            } else {
                return Err(SignError::Model(format!(
                    "{} is a special file (socket, FIFO or device); remove it or add it to --ignore-paths",
                    path.display()
                )));
            }
        }
        let nested: Vec<Result<Vec<Found>, SignError>> = subdirs
            .par_iter()
            .map(|(p, c)| self.dir(p, c, depth + 1))
            .collect();
        for n in nested {
            files.extend(n?);
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn component_order_matches_python_pureposixpath() {
        let mut names = vec!["ä", "a.txt", "a-b", "a b", "a/ü", "a/b", "B", "b", "A/z"];
        names.sort_by(|a, b| component_cmp(a, b));
        assert_eq!(
            names,
            ["A/z", "B", "a/b", "a/ü", "a b", "a-b", "a.txt", "b", "ä"]
        );
    }

    #[test]
    fn ignore_matches_whole_components() {
        let ig = vec![vec!["sub".to_string()]];
        assert!(is_ignored_name("sub/x", &ig));
        assert!(!is_ignored_name("subx", &ig));
        assert!(is_ignored_name("sub/x", &ig) && is_ignored_name("sub", &ig));
        assert!(!is_ignored_name("subx/y", &ig) && !is_ignored_name("a/sub", &ig));
    }

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("sub/.git")).unwrap();
        std::fs::create_dir_all(p.join(".git")).unwrap();
        std::fs::create_dir_all(p.join("empty")).unwrap();
        std::fs::write(p.join("a.txt"), b"a").unwrap();
        std::fs::write(p.join("sub/b.bin"), b"b").unwrap();
        std::fs::write(p.join("sub/.git/HEAD"), b"ref").unwrap();
        std::fs::write(p.join(".git/HEAD"), b"ref").unwrap();
        std::fs::write(p.join(".hidden"), b"").unwrap();
        std::fs::write(p.join("model.sig"), b"{}").unwrap();
        d
    }

    #[test]
    fn walk_follows_model_signing_rules() {
        let d = tree();
        let opts = WalkOptions {
            ignore_paths: vec!["model.sig".into()],
            ..WalkOptions::default()
        };
        let m = Manifest::compute(d.path(), &opts, &|_| {}).unwrap();
        let names: Vec<&str> = m.items.iter().map(|i| i.name.as_str()).collect();
        // Root .git ignored, nested sub/.git kept, empty file covered, empty dir not recorded.
        assert_eq!(names, [".hidden", "a.txt", "sub/.git/HEAD", "sub/b.bin"]);
        assert_eq!(
            m.serialization.ignore_paths,
            [
                "model.sig",
                ".git",
                ".gitattributes",
                ".github",
                ".gitignore"
            ]
        );
        // Renaming keeps the OMS root but changes the version id.
        std::fs::rename(d.path().join("a.txt"), d.path().join("0.txt")).unwrap();
        let m2 = Manifest::compute(d.path(), &opts, &|_| {}).unwrap();
        assert_eq!(m.root(), m2.root());
        assert_ne!(m.version_id(), m2.version_id());
        assert_eq!(
            diff(&m, &m2),
            vec![Change::Renamed {
                from: "a.txt".into(),
                to: "0.txt".into()
            }]
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_refused_or_confined() {
        let d = tree();
        std::os::unix::fs::symlink("a.txt", d.path().join("link")).unwrap();
        let e = Manifest::compute(d.path(), &WalkOptions::default(), &|_| {}).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        let allow = WalkOptions {
            allow_symlinks: true,
            ..WalkOptions::default()
        };
        let m = Manifest::compute(d.path(), &allow, &|_| {}).unwrap();
        assert!(m.items.iter().any(|i| i.name == "link"));
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("escape")).unwrap();
        let e = Manifest::compute(d.path(), &allow, &|_| {}).unwrap_err();
        assert!(e.to_string().contains("outside the model"), "{e}");
    }

    #[test]
    fn cache_reuses_unchanged_files_only() {
        let d = tree();
        let mut cache = crate::cache::DigestCache::default();
        let opts = WalkOptions::default();
        let m1 = Manifest::compute_cached(d.path(), &opts, &|_| {}, Some(&mut cache)).unwrap();
        assert_eq!(cache.hits(), 0);
        let hashed = std::sync::atomic::AtomicU64::new(0);
        let count = |n: u64| {
            hashed.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let m2 = Manifest::compute_cached(d.path(), &opts, &count, Some(&mut cache)).unwrap();
        assert_eq!(m1, m2);
        assert_eq!(cache.hits(), m1.len());
        assert_eq!(
            hashed.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "nothing re-hashed"
        );
        // Same size, content changed: the change time moves, so it is re-hashed.
        std::fs::write(d.path().join("a.txt"), b"b").unwrap();
        let m3 = Manifest::compute_cached(d.path(), &opts, &count, Some(&mut cache)).unwrap();
        assert_ne!(m1.items, m3.items);
        assert_eq!(hashed.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn version_id_is_sha256_of_the_canonical_name_list() {
        let m = Manifest {
            model_name: "m".into(),
            serialization: Serialization {
                hash: HashAlg::Sha256,
                allow_symlinks: false,
                ignore_paths: vec![],
            },
            items: vec![
                Item {
                    name: "a \"q\"\n/ü".into(),
                    algorithm: "sha256".into(),
                    digest: vec![1, 2],
                },
                Item {
                    name: "b".into(),
                    algorithm: "sha256".into(),
                    digest: vec![255],
                },
            ],
        };
        let list: Vec<serde_json::Value> = m
            .items
            .iter()
            .map(|i| json!([i.name, i.algorithm, crate::hex(&i.digest)]))
            .collect();
        let want = crate::canonical::to_string(&serde_json::Value::Array(list));
        assert_eq!(
            m.version_id(),
            format!("sha256:{}", crate::hex(&Sha256::digest(want.as_bytes())))
        );
    }

    #[test]
    fn single_file_is_named_dot() {
        let d = tree();
        let m =
            Manifest::compute(&d.path().join("a.txt"), &WalkOptions::default(), &|_| {}).unwrap();
        assert_eq!(m.model_name, "a.txt");
        assert_eq!(m.items.len(), 1);
        assert_eq!(m.items[0].name, ".");
    }
}
