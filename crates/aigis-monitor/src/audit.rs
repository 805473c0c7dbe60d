//! The tamper-evident audit log: JSON Lines of canonical JSON records (sorted keys, no
//! whitespace, integers only — RFC 8785 for the values aigis writes), each carrying `log_id`,
//! `seq` (from 0) and `prev`, the RFC 6962 leaf hash of the previous record's line (64 zeros
//! for the first). Every `checkpoint_every` records, on request and at shutdown an Ed25519
//! signed note in the C2SP checkpoint form (origin, tree size, Merkle root over the leaf
//! hashes) is appended to `<log>.checkpoints`, and to a second sink when configured.
//!
//! [`verify`] detects an edited, deleted, reordered or inserted record anywhere (the chain
//! breaks at the first bad record), and truncation behind the last signed checkpoint (the
//! checkpoint covers more records than remain). A tail cut after the last checkpoint cannot be
//! seen without one: checkpoint often.
//!
//! Durability: a record is written with one `write` call before [`AuditLog::append`] returns,
//! so a process killed at any point (`kill -9`) loses no record it acknowledged; with
//! `Fsync::Always` each record is also flushed to disk before `append` returns (survives power
//! loss; costs a disk flush per request), with `Fsync::Checkpoint` only at checkpoints.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use aigis_sign::merkle::{self, Hash};
use aigis_sign::note::{Checkpoint, LogKey, NoteVerifier};
use serde_json::{Map, Value};

/// The right edge of an RFC 6962 tree: the roots of its perfect subtrees, largest first —
/// enough to compute the root of all leaves so far with O(log n) memory, whatever the size.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    nodes: Vec<(Hash, u32)>,
    size: u64,
}

impl Frontier {
    /// Adds a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.nodes.push((leaf, 0));
        self.size += 1;
        while self.nodes.len() >= 2 {
            let (r, hr) = self.nodes[self.nodes.len() - 1];
            let (l, hl) = self.nodes[self.nodes.len() - 2];
            if hl != hr {
                break;
            }
            self.nodes.truncate(self.nodes.len() - 2);
            self.nodes.push((merkle::node_hash(&l, &r), hl + 1));
        }
    }

    /// Leaves added.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether no leaf was added.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The RFC 6962 root of the leaves so far (the hash of nothing for none).
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(&(mut acc, _)) = it.next() else {
            return merkle::root(&[]);
        };
        for (left, _) in it {
            acc = merkle::node_hash(left, &acc);
        }
        acc
    }
}

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading or writing a log file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A record to append is not a JSON object of strings, integers, booleans, arrays and
    /// objects, or uses a reserved field.
    #[error("audit record rejected: {0}")]
    Record(String),
    /// The store could not take records or a checkpoint (the database is down, the disk full).
    #[error("audit store: {0}")]
    Store(String),
    /// The existing log cannot be continued (it does not verify).
    #[error("existing audit log {path} does not verify: {message}")]
    Broken {
        /// The log.
        path: String,
        /// Why.
        message: String,
    },
}

/// When records reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// After every record.
    Always,
    /// At every checkpoint (records are still written to the OS at once).
    Checkpoint,
}

/// Where a chain's records and checkpoints are kept: JSON Lines files ([`FileStore`]) or
/// PostgreSQL ([`crate::audit_pg::PgStore`]).
pub trait AuditStore: Send {
    /// Stores `lines` (canonical records, no newline), whose sequence numbers start at
    /// `first_seq`, before returning — durably as far as the store's policy promises.
    fn write(&mut self, first_seq: u64, lines: &[String]) -> Result<(), AuditError>;
    /// Makes every written record durable, then stores a signed checkpoint note covering the
    /// first `size` records.
    fn checkpoint(&mut self, size: u64, note: &str) -> Result<(), AuditError>;
    /// Whether the store wants a checkpoint now and [`AuditStore::seal`] after it (a file
    /// segment that reached its size).
    fn wants_seal(&self) -> bool {
        false
    }
    /// Seals the current segment (called right after a checkpoint).
    fn seal(&mut self) -> Result<(), AuditError> {
        Ok(())
    }
}

/// The JSON Lines store: records in the log file (sealed into numbered segments at a size),
/// checkpoints in `<log>.checkpoints` and an optional second file.
pub struct FileStore {
    path: PathBuf,
    file: File,
    checkpoints: PathBuf,
    sink: Option<PathBuf>,
    fsync: Fsync,
    rotate_bytes: Option<u64>,
    bytes: u64,
    buf: Vec<u8>,
}

impl AuditStore for FileStore {
    fn write(&mut self, _first_seq: u64, lines: &[String]) -> Result<(), AuditError> {
        self.buf.clear();
        for l in lines {
            self.buf.extend_from_slice(l.as_bytes());
            self.buf.push(b'\n');
        }
        // One write for the batch: a reader never sees half a record unless the disk fails.
        self.file.write_all(&self.buf).map_err(io(&self.path))?;
        if self.fsync == Fsync::Always {
            self.file.sync_data().map_err(io(&self.path))?;
        }
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    fn checkpoint(&mut self, _size: u64, note: &str) -> Result<(), AuditError> {
        self.file.sync_data().map_err(io(&self.path))?;
        let line = format!("{}\n", Value::from(note));
        for p in std::iter::once(&self.checkpoints).chain(self.sink.as_ref()) {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(io(p))?;
            f.write_all(line.as_bytes()).map_err(io(p))?;
            f.sync_data().map_err(io(p))?;
        }
        Ok(())
    }

    fn wants_seal(&self) -> bool {
        self.rotate_bytes.is_some_and(|max| self.bytes >= max)
    }

    /// Renames the active file to the next segment number and starts a fresh one.
    fn seal(&mut self) -> Result<(), AuditError> {
        let n = segments(&self.path).len() + 1;
        let mut sealed = self.path.as_os_str().to_owned();
        sealed.push(format!(".{n:06}"));
        std::fs::rename(&self.path, &sealed).map_err(io(&self.path))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        self.bytes = 0;
        Ok(())
    }
}

/// An open audit log: the chain's state (tree edge, last leaf, signing key) over a store.
pub struct AuditLog {
    store: Box<dyn AuditStore>,
    log_id: String,
    key: LogKey,
    frontier: Frontier,
    prev: Hash,
    every: u64,
    since_checkpoint: u64,
}

/// The sealed segments of a log, oldest first: `<log>.000001`, `<log>.000002`, …
pub fn segments(log: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let f = e.file_name();
            let n = f.to_str()?.strip_prefix(name)?.strip_prefix('.')?;
            (n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (n.parse().ok(), e.path()))
                .and_then(|(k, p)| Some((k?, p)))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, p)| p).collect()
}

const RESERVED: &[&str] = &["log_id", "seq", "prev"];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The checkpoints file of a log.
pub fn checkpoints_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".checkpoints");
    PathBuf::from(p)
}

fn only_integers(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(a) => a.iter().all(only_integers),
        Value::Object(m) => m.values().all(only_integers),
        _ => true,
    }
}

impl AuditLog {
    /// Opens the log at `path` (created if missing), continuing its chain after checking it;
    /// `key` signs the checkpoints and its name is the log's origin.
    pub fn open(
        path: &Path,
        key: LogKey,
        every: u64,
        fsync: Fsync,
        sink: Option<PathBuf>,
    ) -> Result<Self, AuditError> {
        Self::open_rotating(path, key, every, fsync, sink, None)
    }

    /// Like [`AuditLog::open`]; the active file is sealed into a numbered segment (after a
    /// checkpoint) whenever it reaches `rotate_bytes`. The chain runs on across segments.
    pub fn open_rotating(
        path: &Path,
        key: LogKey,
        every: u64,
        fsync: Fsync,
        sink: Option<PathBuf>,
        rotate_bytes: Option<u64>,
    ) -> Result<Self, AuditError> {
        let checkpoints = checkpoints_path(path);
        let report = if path.exists() || !segments(path).is_empty() {
            let report = verify(path, &key.verifier());
            if let Some(bad) = report.problem {
                return Err(AuditError::Broken {
                    path: path.display().to_string(),
                    message: bad,
                });
            }
            report
        } else {
            Verification::default()
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        let bytes = file.metadata().map_or(0, |m| m.len());
        let store = FileStore {
            path: path.to_path_buf(),
            file,
            checkpoints,
            sink,
            fsync,
            rotate_bytes: rotate_bytes.filter(|b| *b > 0),
            bytes,
            buf: Vec::new(),
        };
        Ok(Self::resume(Box::new(store), key, every, report))
    }

    /// Continues the chain `report` describes (a verified store) on `store`.
    pub fn resume(
        store: Box<dyn AuditStore>,
        key: LogKey,
        every: u64,
        report: Verification,
    ) -> Self {
        let log_id = report.log_id.unwrap_or_else(|| key.name().to_string());
        Self {
            store,
            log_id,
            key,
            frontier: report.frontier,
            prev: report.prev,
            every: every.max(1),
            since_checkpoint: 0,
        }
    }

    /// Records in the log.
    pub fn len(&self) -> u64 {
        self.frontier.len()
    }

    /// Whether the log has no record.
    pub fn is_empty(&self) -> bool {
        self.frontier.is_empty()
    }

    /// Records appended since the last checkpoint.
    pub fn unchecked(&self) -> u64 {
        self.since_checkpoint
    }

    /// Appends `record` (a JSON object; `log_id`, `seq` and `prev` are added) and returns its
    /// sequence number once it is written.
    pub fn append(&mut self, record: Map<String, Value>) -> Result<u64, AuditError> {
        self.append_batch(vec![record])
            .pop()
            .unwrap_or_else(|| Err(AuditError::Record("nothing appended".into())))
    }

    /// Appends records in order with one store write (one disk flush or one database round
    /// trip for all of them): the results, in order, are their sequence numbers or why they
    /// were not written. Rejected records (reserved fields, fractions) take no place in the
    /// chain; if the store fails, none of the batch is in the chain.
    pub fn append_batch(
        &mut self,
        records: Vec<Map<String, Value>>,
    ) -> Vec<Result<u64, AuditError>> {
        let mut results: Vec<Result<u64, AuditError>> = Vec::with_capacity(records.len());
        let mut lines = Vec::with_capacity(records.len());
        let mut leaves = Vec::with_capacity(records.len());
        let first = self.frontier.len();
        let mut prev = self.prev;
        for mut record in records {
            if let Some(k) = RESERVED.iter().find(|k| record.contains_key(**k)) {
                results.push(Err(AuditError::Record(format!("field `{k}` is reserved"))));
                continue;
            }
            let seq = first + lines.len() as u64;
            record.insert("log_id".into(), Value::String(self.log_id.clone()));
            record.insert("seq".into(), Value::from(seq));
            record.insert("prev".into(), Value::String(aigis_sign::hex(&prev)));
            let v = Value::Object(record);
            if !only_integers(&v) {
                results.push(Err(AuditError::Record(
                    "numbers must be integers (scale fractions: milli-scores, microseconds)".into(),
                )));
                continue;
            }
            let line = aigis_sign::canonical::to_string(&v);
            prev = merkle::leaf_hash(line.as_bytes());
            leaves.push(prev);
            lines.push(line);
            results.push(Ok(seq));
        }
        if lines.is_empty() {
            return results;
        }
        if let Err(e) = self.store.write(first, &lines) {
            let why = e.to_string();
            return results
                .into_iter()
                .map(|r| r.and_then(|_| Err(AuditError::Store(why.clone()))))
                .collect();
        }
        for leaf in leaves {
            self.frontier.push(leaf);
        }
        self.prev = prev;
        self.since_checkpoint += lines.len() as u64;
        // The records are stored; a checkpoint that fails afterwards is reported on each (the
        // caller refuses service rather than run without signatures).
        let due = self.since_checkpoint >= self.every || self.store.wants_seal();
        if due && let Err(e) = self.checkpoint() {
            let why = e.to_string();
            return results
                .into_iter()
                .map(|r| r.and_then(|_| Err(AuditError::Store(why.clone()))))
                .collect();
        }
        results
    }

    /// Signs and stores a checkpoint of the whole log (to the sink too), after making the
    /// records it covers durable; seals the store's segment when it asked for it.
    pub fn checkpoint(&mut self) -> Result<(), AuditError> {
        let cp = Checkpoint {
            origin: self.key.name().to_string(),
            size: self.frontier.len(),
            root: self.frontier.root(),
        };
        let note = self.key.sign(&cp.body());
        self.store.checkpoint(cp.size, &note)?;
        self.since_checkpoint = 0;
        if self.store.wants_seal() {
            self.store.seal()?;
        }
        Ok(())
    }
}

/// What [`verify`] found.
#[derive(Debug, Default)]
pub struct Verification {
    /// Records read.
    pub records: u64,
    /// Valid checkpoints read, and the largest size they cover.
    pub checkpoints: u64,
    /// The largest record count a valid checkpoint covers.
    pub covered: u64,
    /// The first problem, naming the first bad record or checkpoint; `None` when intact.
    pub problem: Option<String>,
    /// The tree of the records read, and the last leaf hash (to continue the log).
    pub frontier: Frontier,
    /// The last record's leaf hash (zeros for none).
    pub prev: Hash,
    /// The log's id.
    pub log_id: Option<String>,
}

/// A checkpoint whose signature verified: where it is, and what it commits to.
struct Signed {
    index: usize,
    at: String,
    size: u64,
    root: Hash,
}

/// Checks the log at `path` (its sealed segments, then the active file) and its checkpoints
/// against `verifier`. Memory stays O(log n): roots are compared as the records stream past.
pub fn verify(path: &Path, verifier: &NoteVerifier) -> Verification {
    let cps = checkpoints_path(path);
    let mut notes = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&cps) {
        for (n, line) in text.lines().enumerate() {
            let note = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .ok_or_else(|| "not a JSON string".to_string());
            notes.push((format!("{}:{}", cps.display(), n + 1), note));
        }
    }
    let mut files = segments(path);
    if path.exists() || files.is_empty() {
        files.push(path.to_path_buf());
    }
    let mut readers = Vec::new();
    for f in &files {
        match File::open(f) {
            Ok(file) => readers.push(BufReader::new(file)),
            Err(e) => {
                return Verification {
                    problem: Some(format!("{}: {e}", f.display())),
                    ..Verification::default()
                };
            }
        }
    }
    let lines = readers
        .into_iter()
        .flat_map(|r| r.split(b'\n'))
        .map(|l| l.map_err(|e| format!("{}: {e}", path.display())));
    verify_chain(notes, lines, verifier)
}

/// The verification shared by every store: `notes` are the checkpoints (where each is, and
/// its signed-note text or why it could not be read), `lines` the records in stored order.
pub fn verify_chain(
    notes: Vec<(String, Result<String, String>)>,
    lines: impl Iterator<Item = Result<Vec<u8>, String>>,
    verifier: &NoteVerifier,
) -> Verification {
    let mut out = Verification::default();
    let mut signed: Vec<Signed> = Vec::new();
    for (n, (at, note)) in notes.into_iter().enumerate() {
        let bad = |why: String| Some(format!("checkpoint {n} ({at}): {why}"));
        let note = match note {
            Ok(note) => note,
            Err(why) => {
                out.problem = bad(why);
                return out;
            }
        };
        match Checkpoint::open(&note, verifier) {
            Ok(c) => signed.push(Signed {
                index: n,
                at,
                size: c.size,
                root: c.root,
            }),
            Err(e) => {
                out.problem = bad(format!("signature does not verify: {e}"));
                return out;
            }
        }
    }
    let mut by_size: Vec<&Signed> = signed.iter().collect();
    by_size.sort_by_key(|c| c.size);
    let mut next = 0;
    let check = |frontier: &Frontier, next: &mut usize, out: &mut Verification| -> bool {
        while let Some(c) = by_size.get(*next).filter(|c| c.size == frontier.len()) {
            if frontier.root() != c.root {
                out.problem = Some(format!(
                    "checkpoint {} ({}): the first {} records do not match the signed root: altered",
                    c.index, c.at, c.size
                ));
                return false;
            }
            out.checkpoints += 1;
            out.covered = out.covered.max(c.size);
            *next += 1;
        }
        true
    };
    if !check(&out.frontier.clone(), &mut next, &mut out) {
        return out;
    }
    let mut prev = [0u8; 32];
    for (n, line) in lines.enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                out.problem = Some(e);
                return out;
            }
        };
        let bad = |why: String| Some(format!("record {n} (line {}): {why}", n + 1));
        let Ok(text) = std::str::from_utf8(&line) else {
            out.problem = bad("not UTF-8".into());
            return out;
        };
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
            out.problem = bad("not a JSON object (partial write or edit)".into());
            return out;
        };
        if aigis_sign::canonical::to_string(&Value::Object(map.clone())) != text {
            out.problem = bad("not in canonical form: altered".into());
            return out;
        }
        let seq = map.get("seq").and_then(Value::as_u64);
        if seq != Some(n as u64) {
            out.problem = bad(format!(
                "sequence number {} where {n} was expected: records removed, inserted or reordered",
                seq.map_or_else(|| "missing".to_string(), |s| s.to_string())
            ));
            return out;
        }
        let id = map.get("log_id").and_then(Value::as_str).map(String::from);
        match (&out.log_id, &id) {
            (None, Some(_)) => out.log_id.clone_from(&id),
            (Some(a), Some(b)) if a == b => {}
            _ => {
                out.problem =
                    bad("log_id differs from the first record's: records from another log".into());
                return out;
            }
        }
        if map.get("prev").and_then(Value::as_str) != Some(aigis_sign::hex(&prev).as_str()) {
            out.problem = bad("`prev` does not match the previous record: the previous record was altered, or records were removed or inserted".into());
            return out;
        }
        prev = merkle::leaf_hash(&line);
        out.frontier.push(prev);
        out.prev = prev;
        out.records += 1;
        let frontier = out.frontier.clone();
        if !check(&frontier, &mut next, &mut out) {
            return out;
        }
    }
    if let Some(c) = by_size.get(next) {
        out.problem = Some(format!(
            "checkpoint {} ({}): signed for {} records but the log has {}: truncated after record {}",
            c.index,
            c.at,
            c.size,
            out.records,
            out.records.saturating_sub(1)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("route".into(), Value::from("chat"));
        m.insert(
            "action".into(),
            Value::from(if i.is_multiple_of(3) {
                "block"
            } else {
                "allow"
            }),
        );
        m.insert("latency_us".into(), Value::from(100 + i));
        m
    }

    fn setup(n: u64, every: u64) -> (tempfile::TempDir, PathBuf, NoteVerifier) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let key = LogKey::generate("aigis.test/audit").unwrap();
        let verifier = key.verifier();
        let mut log = AuditLog::open(&path, key, every, Fsync::Checkpoint, None).unwrap();
        for i in 0..n {
            log.append(rec(i)).unwrap();
        }
        log.checkpoint().unwrap();
        (dir, path, verifier)
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn write(p: &Path, l: &[String]) {
        std::fs::write(p, l.join("\n") + "\n").unwrap();
    }

    fn problem(p: &Path, v: &NoteVerifier) -> String {
        verify(p, v).problem.unwrap_or_default()
    }

    #[test]
    fn an_intact_log_verifies_and_continues_its_chain() {
        let (_d, path, v) = setup(10, 4);
        let r = verify(&path, &v);
        assert_eq!(
            (r.problem, r.records, r.checkpoints, r.covered),
            (None, 10, 3, 10)
        );
        // Reopening continues the chain.
        let key = LogKey::generate("aigis.test/audit").unwrap();
        // Another key cannot verify the checkpoints: reopening refuses to continue.
        assert!(AuditLog::open(&path, key, 4, Fsync::Checkpoint, None).is_err());
    }

    #[test]
    fn edits_deletions_reordering_and_insertions_are_found() {
        let (_d, path, v) = setup(8, 100);
        let orig = lines(&path);

        let mut l = orig.clone();
        // Record 4 says "allow"; turned into "block", the next record's `prev` no longer fits.
        l[4] = l[4].replace("\"allow\"", "\"block\"");
        assert_ne!(l[4], orig[4]);
        write(&path, &l);
        assert!(
            problem(&path, &v).starts_with("record 5 "),
            "{}",
            problem(&path, &v)
        );

        let mut l = orig.clone();
        l.remove(5);
        write(&path, &l);
        assert!(
            problem(&path, &v).starts_with("record 5 "),
            "{}",
            problem(&path, &v)
        );

        let mut l = orig.clone();
        l.swap(2, 3);
        write(&path, &l);
        assert!(
            problem(&path, &v).starts_with("record 2 "),
            "{}",
            problem(&path, &v)
        );

        let mut l = orig.clone();
        l.insert(4, l[4].clone());
        write(&path, &l);
        assert!(
            problem(&path, &v).starts_with("record 5 "),
            "{}",
            problem(&path, &v)
        );

        // The last record altered: only the checkpoint's root can tell.
        let mut l = orig.clone();
        l[7] = l[7].replace("\"latency_us\":107", "\"latency_us\":1");
        write(&path, &l);
        assert!(
            problem(&path, &v).contains("do not match the signed root"),
            "{}",
            problem(&path, &v)
        );

        write(&path, &orig);
        assert_eq!(verify(&path, &v).problem, None);
    }

    #[test]
    fn truncation_is_seen_behind_a_checkpoint_and_not_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let key = LogKey::generate("aigis.test/audit").unwrap();
        let secret = key.to_private_string();
        let v = key.verifier();
        let mut log = AuditLog::open(&path, key, 100, Fsync::Checkpoint, None).unwrap();
        for i in 0..6 {
            log.append(rec(i)).unwrap();
        }
        log.checkpoint().unwrap();
        drop(log);
        let at_checkpoint = lines(&path);
        write(&path, &at_checkpoint[..4]);
        assert!(
            problem(&path, &v).contains("truncated after record 3"),
            "{}",
            problem(&path, &v)
        );

        // Reopened with the same key, the chain continues; two records after the checkpoint.
        write(&path, &at_checkpoint);
        let key = LogKey::from_private_string(&secret).unwrap();
        let mut log = AuditLog::open(&path, key, 100, Fsync::Checkpoint, None).unwrap();
        assert_eq!(log.len(), 6);
        log.append(rec(6)).unwrap();
        log.append(rec(7)).unwrap();
        drop(log);
        assert_eq!(verify(&path, &v).records, 8);
        // Cut back to the checkpoint: nothing can tell (this is why checkpoints are frequent).
        write(&path, &at_checkpoint);
        assert_eq!(verify(&path, &v).problem, None);
    }

    #[test]
    fn the_frontier_root_is_the_rfc6962_root() {
        let leaves: Vec<Hash> = (0u32..70)
            .map(|i| merkle::leaf_hash(&i.to_le_bytes()))
            .collect();
        let mut f = Frontier::default();
        assert_eq!(f.root(), merkle::root(&[]));
        for n in 1..=leaves.len() {
            f.push(leaves[n - 1]);
            assert_eq!(f.root(), merkle::root(&leaves[..n]), "n = {n}");
        }
        assert!(f.nodes.len() <= 7, "log2(70) subtrees at most");
    }

    #[test]
    fn segments_rotate_and_verify_as_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let key = LogKey::generate("aigis.test/audit").unwrap();
        let secret = key.to_private_string();
        let v = key.verifier();
        let mut log =
            AuditLog::open_rotating(&path, key, 1000, Fsync::Checkpoint, None, Some(1000)).unwrap();
        for i in 0..40 {
            log.append(rec(i)).unwrap();
        }
        drop(log);
        let segs = segments(&path);
        assert!(segs.len() >= 3, "{segs:?}");
        let r = verify(&path, &v);
        assert_eq!((r.problem, r.records), (None, 40));
        assert!(
            r.checkpoints >= segs.len() as u64,
            "each seal is checkpointed"
        );
        // Reopened, the chain continues after the last segment.
        let key = LogKey::from_private_string(&secret).unwrap();
        let mut log =
            AuditLog::open_rotating(&path, key, 1000, Fsync::Checkpoint, None, Some(1000)).unwrap();
        assert_eq!(log.len(), 40);
        log.append(rec(40)).unwrap();
        drop(log);
        assert_eq!(verify(&path, &v).records, 41);
        // A whole segment removed is a gap in the chain.
        std::fs::remove_file(&segs[1]).unwrap();
        assert!(
            problem(&path, &v).contains("sequence number"),
            "{}",
            problem(&path, &v)
        );
    }

    #[test]
    fn forged_checkpoints_and_bad_records_are_rejected() {
        let (_d, path, v) = setup(3, 100);
        let cps = checkpoints_path(&path);
        let text = std::fs::read_to_string(&cps).unwrap();
        std::fs::write(&cps, text.replace("3\\n", "2\\n")).unwrap();
        assert!(
            problem(&path, &v).contains("signature does not verify"),
            "{}",
            problem(&path, &v)
        );

        let key = LogKey::generate("aigis.test/audit").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut log =
            AuditLog::open(&dir.path().join("l.jsonl"), key, 10, Fsync::Always, None).unwrap();
        let mut m = Map::new();
        m.insert("seq".into(), Value::from(9));
        assert!(log.append(m).is_err());
        let mut m = Map::new();
        m.insert("score".into(), serde_json::json!(0.5));
        assert!(log.append(m).is_err());
        // With the genuine checkpoints back, a broken record is named.
        std::fs::write(&cps, &text).unwrap();
        let mut l = lines(&path);
        l[1] = "{\"garbage".into();
        write(&path, &l);
        assert!(
            problem(&path, &v).starts_with("record 1 "),
            "{}",
            problem(&path, &v)
        );
    }
}
