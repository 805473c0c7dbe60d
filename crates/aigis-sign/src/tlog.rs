//! The local append-only transparency log.
//!
//! Layout under the log directory:
//! - `entries.jsonl`: one canonical-JSON entry per line; the line's bytes are the RFC 6962 leaf;
//! - `checkpoints/<size>.note`: every signed checkpoint ever issued (C2SP signed note);
//! - `log.key` (0600) and `log.pub`: the Ed25519 key that signs checkpoints, as a signed-note key.
//!
//! [`Log::verify`] recomputes the tree and checks every stored checkpoint against it, so any edited,
//! removed, reordered or inserted entry, and any rollback below a checkpoint, is detected. A local
//! attacker who also holds `log.key` could rewrite everything consistently; that is why a third
//! party keeps a checkpoint and checks [`Log::consistency`] proofs against it with only `log.pub`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::SignError;
use crate::merkle::{self, Hash};
use crate::note::{Checkpoint, LogKey, NoteVerifier};

/// Longest accepted entry line.
const MAX_ENTRY_BYTES: usize = 1 << 20;

/// A log on disk.
pub struct Log {
    dir: PathBuf,
}

/// One entry with its position.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Zero-based index.
    pub index: u64,
    /// Canonical JSON.
    pub json: String,
}

/// An inclusion proof a third party can check with the log's public key only.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Entry index.
    pub index: u64,
    /// The entry (canonical JSON), whose bytes are the leaf.
    pub entry: String,
    /// Audit path, hex.
    pub proof: Vec<String>,
    /// The signed checkpoint the path leads to.
    pub checkpoint: String,
}

/// A consistency proof from an older checkpoint to a newer one.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older signed checkpoint.
    pub old_checkpoint: String,
    /// The newer signed checkpoint.
    pub new_checkpoint: String,
    /// Proof hashes, hex.
    pub proof: Vec<String>,
}

/// A log file (key, checkpoint) as text, size-bounded.
fn read_text(p: &Path) -> Result<String, SignError> {
    String::from_utf8(crate::read_bounded(p, "log file")?).map_err(|_| {
        SignError::Invalid(format!(
            "{} is not UTF-8 text: the log was edited",
            p.display()
        ))
    })
}

fn hexes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(|h| crate::hex(h)).collect()
}

fn unhexes(hs: &[String]) -> Result<Vec<Hash>, SignError> {
    hs.iter()
        .map(|s| {
            crate::unhex(s)
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| {
                    SignError::Malformed(format!("proof hash `{s}` is not 32 hex bytes"))
                })
        })
        .collect()
}

impl Log {
    /// Opens the log in `dir`, creating it (and its key, named `name`) when absent.
    pub fn open_or_init(dir: &Path, name: &str) -> Result<Self, SignError> {
        std::fs::create_dir_all(dir.join("checkpoints")).map_err(|e| SignError::io(dir, e))?;
        let log = Self {
            dir: dir.to_path_buf(),
        };
        // Two processes creating the log at once must not both generate a key.
        let _guard = log.lock()?;
        if !log.dir.join("log.key").exists() {
            let key = LogKey::generate(name)?;
            crate::write_atomic(
                &log.dir.join("log.key"),
                key.to_private_string().as_bytes(),
                true,
            )?;
            crate::write_atomic(
                &log.dir.join("log.pub"),
                format!("{}\n", key.verifier()).as_bytes(),
                false,
            )?;
        }
        if !log.entries_path().exists() {
            File::create(log.entries_path()).map_err(|e| SignError::io(log.entries_path(), e))?;
        }
        Ok(log)
    }

    /// Opens an existing log.
    pub fn open(dir: &Path) -> Result<Self, SignError> {
        if !dir.join("log.pub").exists() {
            return Err(SignError::Usage(format!(
                "{}: no transparency log here (it is created by the first sign, push or `aigis log append`)",
                dir.display()
            )));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Exclusive lock over the log directory, released when the file is dropped.
    fn lock(&self) -> Result<File, SignError> {
        let p = self.dir.join(".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| SignError::io(&p, e))?;
        f.lock().map_err(|e| SignError::io(&p, e))?;
        Ok(f)
    }

    fn entries_path(&self) -> PathBuf {
        self.dir.join("entries.jsonl")
    }

    fn key(&self) -> Result<LogKey, SignError> {
        let p = self.dir.join("log.key");
        let s = read_text(&p)?;
        LogKey::from_private_string(&s)
    }

    /// The public verifier (contents of `log.pub`).
    pub fn verifier(&self) -> Result<NoteVerifier, SignError> {
        let p = self.dir.join("log.pub");
        NoteVerifier::parse(&read_text(&p)?)
    }

    /// All entries in order.
    pub fn entries(&self) -> Result<Vec<Entry>, SignError> {
        let p = self.entries_path();
        let f = File::open(&p).map_err(|e| SignError::io(&p, e))?;
        let mut out = Vec::new();
        let mut r = BufReader::new(f);
        let mut line = String::new();
        loop {
            line.clear();
            // Bounded: a hostile multi-gigabyte line is refused, not loaded.
            let n = std::io::Read::take(&mut r, MAX_ENTRY_BYTES as u64 + 1)
                .read_line(&mut line)
                .map_err(|e| SignError::io(&p, e))?;
            if n == 0 {
                break;
            }
            if line.len() > MAX_ENTRY_BYTES {
                return Err(SignError::Invalid(format!(
                    "entry {} is larger than 1 MiB",
                    out.len()
                )));
            }
            let Some(json) = line.strip_suffix('\n') else {
                return Err(SignError::Invalid(format!(
                    "entry {} is truncated (no newline): the log was cut mid-write or edited",
                    out.len()
                )));
            };
            out.push(Entry {
                index: out.len() as u64,
                json: json.to_string(),
            });
        }
        Ok(out)
    }

    fn leaf_hashes(entries: &[Entry]) -> Vec<Hash> {
        entries
            .iter()
            .map(|e| merkle::leaf_hash(e.json.as_bytes()))
            .collect()
    }

    /// Appends an entry (any JSON object; stored canonically with its index) and signs a new
    /// checkpoint. Returns the entry index. Appends are serialised with a file lock.
    pub fn append(&self, entry: &Value) -> Result<u64, SignError> {
        if !entry.is_object() {
            return Err(SignError::Usage("a log entry must be a JSON object".into()));
        }
        let p = self.entries_path();
        let mut f = OpenOptions::new()
            .append(true)
            .open(&p)
            .map_err(|e| SignError::io(&p, e))?;
        f.lock().map_err(|e| SignError::io(&p, e))?;
        let existing = self.entries()?;
        let index = existing.len() as u64;
        let mut obj = entry.clone();
        obj["index"] = Value::from(index);
        let line = crate::canonical::to_string(&obj);
        if line.len() >= MAX_ENTRY_BYTES {
            return Err(SignError::Usage("log entry is larger than 1 MiB".into()));
        }
        f.write_all(format!("{line}\n").as_bytes())
            .map_err(|e| SignError::io(&p, e))?;
        f.sync_all().map_err(|e| SignError::io(&p, e))?;
        let mut leaves = Self::leaf_hashes(&existing);
        leaves.push(merkle::leaf_hash(line.as_bytes()));
        self.sign_checkpoint(&leaves)?;
        Ok(index)
    }

    fn sign_checkpoint(&self, leaves: &[Hash]) -> Result<String, SignError> {
        let key = self.key()?;
        let cp = Checkpoint {
            origin: key.name().to_string(),
            size: leaves.len() as u64,
            root: merkle::root(leaves),
        };
        let note = key.sign(&cp.body());
        crate::write_atomic(
            &self
                .dir
                .join("checkpoints")
                .join(format!("{}.note", cp.size)),
            note.as_bytes(),
            false,
        )?;
        Ok(note)
    }

    /// The latest signed checkpoint (the one for the largest size).
    pub fn checkpoint(&self) -> Result<String, SignError> {
        let sizes = self.checkpoint_sizes()?;
        let Some(last) = sizes.last() else {
            return Err(SignError::Usage(
                "the log is empty: no checkpoint yet".into(),
            ));
        };
        let p = self.dir.join("checkpoints").join(format!("{last}.note"));
        read_text(&p)
    }

    fn checkpoint_sizes(&self) -> Result<Vec<u64>, SignError> {
        let d = self.dir.join("checkpoints");
        let mut sizes = Vec::new();
        for e in std::fs::read_dir(&d).map_err(|e| SignError::io(&d, e))? {
            let e = e.map_err(|e| SignError::io(&d, e))?;
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(n) = name
                .strip_suffix(".note")
                .and_then(|s| s.parse::<u64>().ok())
            {
                sizes.push(n);
            }
        }
        sizes.sort_unstable();
        Ok(sizes)
    }

    /// Inclusion proof for entry `index` against the latest checkpoint.
    pub fn prove_inclusion(&self, index: u64) -> Result<InclusionProof, SignError> {
        let entries = self.entries()?;
        let note = self.checkpoint()?;
        let cp = Checkpoint::open(&note, &self.verifier()?)?;
        let leaves = Self::leaf_hashes(&entries);
        let size = usize::try_from(cp.size).unwrap_or(usize::MAX);
        let i = usize::try_from(index).unwrap_or(usize::MAX);
        let proof = merkle::inclusion_proof(&leaves, i, size).ok_or_else(|| {
            SignError::Usage(format!(
                "no entry {index}: the log's checkpoint covers {} entries",
                cp.size
            ))
        })?;
        Ok(InclusionProof {
            index,
            entry: entries[i].json.clone(),
            proof: hexes(&proof),
            checkpoint: note,
        })
    }

    /// Consistency proof from the checkpoint of `old_size` to the latest.
    pub fn prove_consistency(&self, old_note: &str) -> Result<ConsistencyProof, SignError> {
        let v = self.verifier()?;
        let old = Checkpoint::open(old_note, &v)?;
        let new_note = self.checkpoint()?;
        let new = Checkpoint::open(&new_note, &v)?;
        let leaves = Self::leaf_hashes(&self.entries()?);
        let proof = merkle::consistency_proof(
            &leaves,
            usize::try_from(old.size).unwrap_or(usize::MAX),
            usize::try_from(new.size).unwrap_or(usize::MAX),
        )
        .ok_or_else(|| {
            SignError::Invalid(format!(
                "the old checkpoint has size {} but the log now has {}: the log was rolled back",
                old.size, new.size
            ))
        })?;
        Ok(ConsistencyProof {
            old_checkpoint: old_note.to_string(),
            new_checkpoint: new_note,
            proof: hexes(&proof),
        })
    }

    /// Recomputes the tree and checks every stored checkpoint and, when given, an externally kept
    /// one. Returns the verified tree size. Errors name the first bad entry or checkpoint.
    pub fn verify(&self, trusted: Option<&str>) -> Result<u64, SignError> {
        let v = self.verifier()?;
        let entries = self.entries()?;
        for e in &entries {
            let parsed: Value = serde_json::from_str(&e.json).map_err(|_| {
                SignError::Invalid(format!("entry {} is not JSON: the log was edited", e.index))
            })?;
            if crate::canonical::to_string(&parsed) != e.json
                || parsed.get("index").and_then(Value::as_u64) != Some(e.index)
            {
                return Err(SignError::Invalid(format!(
                    "entry {} was edited, reordered or inserted (its recorded index or canonical form does not match)",
                    e.index
                )));
            }
        }
        let leaves = Self::leaf_hashes(&entries);
        let n = leaves.len() as u64;
        let mut notes: Vec<(String, String)> = Vec::new();
        for size in self.checkpoint_sizes()? {
            let p = self.dir.join("checkpoints").join(format!("{size}.note"));
            notes.push((p.display().to_string(), read_text(&p)?));
        }
        if let Some(t) = trusted {
            notes.push(("the trusted checkpoint".into(), t.to_string()));
        }
        let mut max = 0;
        // Checkpoints are checked by ascending size, so the first failure names the first bad entry.
        let mut last_good = 0u64;
        for (what, note) in &notes {
            let cp = Checkpoint::open(note, &v)
                .map_err(|e| SignError::Invalid(format!("{what}: {e}")))?;
            if cp.size > n {
                return Err(SignError::Invalid(format!(
                    "{what} covers {} entries but the log holds {n}: entries were removed (rollback)",
                    cp.size
                )));
            }
            let size = usize::try_from(cp.size).unwrap_or(usize::MAX);
            if merkle::root(&leaves[..size]) != cp.root {
                let first_bad = if last_good + 1 == cp.size {
                    format!(
                        "entry {last_good} is the first that was altered, removed, reordered or inserted"
                    )
                } else {
                    format!(
                        "an entry in {last_good}..{} was altered, removed, reordered or inserted",
                        cp.size
                    )
                };
                return Err(SignError::Invalid(format!(
                    "{what}: the first {} entries no longer hash to the signed root; {first_bad}",
                    cp.size
                )));
            }
            last_good = last_good.max(cp.size);
            max = max.max(cp.size);
        }
        if max < n {
            return Err(SignError::Invalid(format!(
                "entries {max}..{n} are not covered by any signed checkpoint: they were appended by hand"
            )));
        }
        Ok(n)
    }
}

/// Checks an inclusion proof offline, with only the log's public key.
pub fn check_inclusion(
    p: &InclusionProof,
    verifier: &NoteVerifier,
) -> Result<Checkpoint, SignError> {
    let cp = Checkpoint::open(&p.checkpoint, verifier)?;
    let proof = unhexes(&p.proof)?;
    if merkle::verify_inclusion(
        &merkle::leaf_hash(p.entry.as_bytes()),
        p.index,
        cp.size,
        &proof,
        &cp.root,
    ) {
        Ok(cp)
    } else {
        Err(SignError::Invalid(format!(
            "inclusion proof does not verify: entry {} is not in the log at size {}",
            p.index, cp.size
        )))
    }
}

/// Checks a consistency proof offline, with only the log's public key.
pub fn check_consistency(
    p: &ConsistencyProof,
    verifier: &NoteVerifier,
) -> Result<(Checkpoint, Checkpoint), SignError> {
    let old = Checkpoint::open(&p.old_checkpoint, verifier)?;
    let new = Checkpoint::open(&p.new_checkpoint, verifier)?;
    let proof = unhexes(&p.proof)?;
    if merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof) {
        Ok((old, new))
    } else {
        Err(SignError::Invalid(format!(
            "consistency proof does not verify: the log at size {} is not an extension of the log at size {} (history rewritten or rolled back)",
            new.size, old.size
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_with(n: usize) -> (tempfile::TempDir, Log) {
        let d = tempfile::tempdir().unwrap();
        let log = Log::open_or_init(d.path(), "aigis.test/log").unwrap();
        for i in 0..n {
            log.append(&json!({"kind": "test", "n": i})).unwrap();
        }
        (d, log)
    }

    #[test]
    fn append_prove_verify() {
        let (_d, log) = log_with(5);
        assert_eq!(log.verify(None).unwrap(), 5);
        let v = log.verifier().unwrap();
        for i in 0..5 {
            let p = log.prove_inclusion(i).unwrap();
            let cp = check_inclusion(&p, &v).unwrap();
            assert_eq!(cp.size, 5);
            let mut bad = p.clone();
            bad.entry = bad.entry.replace("\"n\":", "\"m\":");
            assert!(check_inclusion(&bad, &v).is_err());
        }
        let old = std::fs::read_to_string(log.dir.join("checkpoints/3.note")).unwrap();
        log.append(&json!({"kind": "test", "n": 5})).unwrap();
        let c = log.prove_consistency(&old).unwrap();
        let (o, n) = check_consistency(&c, &v).unwrap();
        assert_eq!((o.size, n.size), (3, 6));
        assert!(log.verify(Some(&old)).is_ok());
    }

    fn rewrite(log: &Log, f: impl FnOnce(&mut Vec<String>)) {
        let p = log.entries_path();
        let mut lines: Vec<String> = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        f(&mut lines);
        let mut s = lines.join("\n");
        if !lines.is_empty() {
            s.push('\n');
        }
        std::fs::write(&p, s).unwrap();
    }

    #[test]
    fn concurrent_appends_from_many_threads_keep_the_log_valid() {
        let d = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let dir = d.path().to_path_buf();
                s.spawn(move || {
                    // Each thread opens (and may create) the log itself, like separate processes.
                    let log = Log::open_or_init(&dir, "aigis.test/log").unwrap();
                    for i in 0..5 {
                        log.append(&json!({"t": t, "i": i})).unwrap();
                    }
                });
            }
        });
        let log = Log::open(d.path()).unwrap();
        assert_eq!(log.verify(None).unwrap(), 40);
    }

    #[test]
    fn every_tampering_is_detected() {
        type Tamper = Box<dyn FnOnce(&mut Vec<String>)>;
        let cases: Vec<(&str, Tamper)> = vec![
            (
                "edit",
                Box::new(|l: &mut Vec<String>| l[2] = l[2].replace("\"n\":2", "\"n\":7")),
            ),
            (
                "remove",
                Box::new(|l: &mut Vec<String>| {
                    l.remove(1);
                }),
            ),
            ("reorder", Box::new(|l: &mut Vec<String>| l.swap(0, 1))),
            (
                "insert",
                Box::new(|l: &mut Vec<String>| l.insert(2, l[2].clone())),
            ),
            ("truncate", Box::new(|l: &mut Vec<String>| l.truncate(3))),
            (
                "append by hand",
                Box::new(|l: &mut Vec<String>| l.push("{\"index\":5,\"kind\":\"x\"}".into())),
            ),
        ];
        for (what, f) in cases {
            let (_d, log) = log_with(5);
            rewrite(&log, f);
            let e = log.verify(None).unwrap_err();
            assert_eq!(e.exit_code(), 1, "{what}: {e}");
        }
        // Rollback with the checkpoints deleted too is caught by a checkpoint kept elsewhere.
        let (_d, log) = log_with(5);
        let kept = log.checkpoint().unwrap();
        rewrite(&log, |l| l.truncate(3));
        for s in [4, 5] {
            std::fs::remove_file(log.dir.join(format!("checkpoints/{s}.note"))).unwrap();
        }
        assert!(log.verify(None).is_ok());
        assert!(
            log.verify(Some(&kept))
                .unwrap_err()
                .to_string()
                .contains("rollback")
        );
        assert!(log.prove_consistency(&kept).is_err());
    }
}
