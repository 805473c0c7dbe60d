//! Integrity workflows that combine capabilities: registry pushes gated on `aigis scan` and on the
//! model's signature, pulls and re-verification, all recorded in the transparency log.

use std::path::{Path, PathBuf};

use aigis_core::Severity;
use aigis_core::render::{self, Format};
use aigis_sign::SignError;
use aigis_sign::manifest::{Manifest, WalkOptions};
use aigis_sign::model::{VerifyOptions, verify_model};
use aigis_sign::oms::Trust;
use aigis_sign::registry::{self, Event, FileEntry, Objects, Provenance, VersionRecord};
use aigis_sign::tlog::Log;
use serde_json::{Value, json};

/// Name of the local log (its checkpoint origin).
pub const LOG_NAME: &str = "aigis.local/log";

/// Opens (creating on first use) the transparency log under `home`.
pub fn open_log(home: &Path) -> Result<Log, SignError> {
    Log::open_or_init(&home.join("log"), LOG_NAME)
}

/// Appends `entry` (with a `time` field added) to the log under `home`; returns its index.
pub fn record(home: &Path, mut entry: Value) -> Result<u64, SignError> {
    let (t, utc) = registry::now();
    entry["time"] = json!(t);
    entry["time_utc"] = json!(utc);
    open_log(home)?.append(&entry)
}

/// Where the registry lives and which index it uses.
pub struct RegistryLocation<'a> {
    /// aigis home (registry under `home/registry`, log under `home/log`).
    pub home: &'a Path,
    /// Index URL (`sqlite:…`, `postgres://…`), default SQLite under the registry.
    pub index: Option<&'a str>,
}

impl RegistryLocation<'_> {
    fn root(&self) -> PathBuf {
        self.home.join("registry")
    }

    fn open(&self) -> Result<Box<dyn registry::Index>, SignError> {
        registry::open_index(&self.root(), self.index)
    }
}

/// A push request.
pub struct PushRequest<'a> {
    /// Model file or directory.
    pub model: &'a Path,
    /// Model name.
    pub name: &'a str,
    /// Version label.
    pub version: &'a str,
    /// Signature bytes and who must have made it.
    pub signature: Option<(Vec<u8>, Trust)>,
    /// Parent `NAME@VERSION`.
    pub parent: Option<&'a str>,
    /// Store even if a gate fails (recorded).
    pub force: bool,
    /// Scan findings at or above this block the push.
    pub fail_on: Severity,
}

/// The result of a push.
pub enum PushOutcome {
    /// Stored.
    Stored {
        /// The record.
        record: Box<VersionRecord>,
        /// Files whose bytes were new (the rest were deduplicated).
        new_objects: usize,
        /// Gate failures overridden by --force.
        overridden: Vec<String>,
    },
    /// Refused; nothing stored. The refusal is in the index and the log.
    Refused {
        /// Why.
        reasons: Vec<String>,
        /// Log index of the refusal.
        log_index: u64,
    },
}

fn user_and_host() -> (String, String) {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    (user, host)
}

/// Scans, verifies, stores and logs a model version.
pub fn push(loc: &RegistryLocation<'_>, req: &PushRequest<'_>) -> Result<PushOutcome, SignError> {
    for l in [req.name, req.version] {
        if !registry::valid_label(l) {
            return Err(SignError::Usage(format!(
                "`{l}` is not a valid model name or version (letters, digits, `.`, `_`, `-`, `/`, `+`)"
            )));
        }
    }
    let mut index = loc.open()?;
    if index.get(req.name, req.version)?.is_some() {
        return Err(SignError::Usage(format!(
            "{}@{} already exists; versions are immutable, push a new version",
            req.name, req.version
        )));
    }
    if let Some(p) = req.parent {
        let (pn, pv) = registry::parse_ref(p)?;
        if index.get(pn, pv)?.is_none() {
            return Err(SignError::Usage(format!(
                "parent {p} is not in the registry"
            )));
        }
    }
    let mut reasons = Vec::new();
    let mut walk = WalkOptions::default();
    let mut signature = None;
    let mut signer = None;
    if let Some((bytes, trust)) = &req.signature {
        match verify_model(req.model, bytes, trust, &VerifyOptions::default(), &|_| {}) {
            Ok(v) if v.ok() => {
                walk.ignore_paths
                    .clone_from(&v.verified.manifest.serialization.ignore_paths);
                walk.allow_symlinks = v.verified.manifest.serialization.allow_symlinks;
                signer = Some(v.verified.signer.clone());
                signature = Some(String::from_utf8_lossy(bytes).into_owned());
            }
            Ok(v) => {
                let diff: Vec<String> = v.changes.iter().map(ToString::to_string).collect();
                reasons.push(format!(
                    "the model does not match its signature: {}",
                    diff.join(", ")
                ));
                signature = Some(String::from_utf8_lossy(bytes).into_owned());
            }
            Err(e) if e.exit_code() == 1 => {
                reasons.push(format!("the signature does not verify: {e}"));
            }
            Err(e) => return Err(e),
        }
    }
    let manifest = Manifest::compute(req.model, &walk, &|_| {})?;
    let scan_opts = aigis_scan::ScanOptions::default();
    let report = aigis_scan::scan_paths(&[req.model.to_path_buf()], &scan_opts, None, &|_, _| {});
    let gate = aigis_core::policy::report_exit_code(&report, req.fail_on);
    let scan_verdict = if gate == 0 && report.errors.is_empty() {
        "clean".to_string()
    } else {
        let v = format!("blocked: {}", report.summary());
        let top: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity >= req.fail_on)
            .take(5)
            .map(|f| {
                format!(
                    "{} {} {} ({})",
                    f.location.display(),
                    f.rule,
                    f.name,
                    f.evidence
                )
            })
            .collect();
        reasons.push(format!(
            "aigis scan: {}: {}",
            report.summary(),
            top.join("; ")
        ));
        for e in report.errors.iter().take(5) {
            reasons.push(format!(
                "aigis scan could not read {}: {}",
                e.path, e.message
            ));
        }
        v
    };
    let (user, host) = user_and_host();
    let source = std::fs::canonicalize(req.model).unwrap_or_else(|_| req.model.to_path_buf());
    if !reasons.is_empty() && !req.force {
        let (t, _) = registry::now();
        index.event(&Event {
            time: t,
            kind: "refused".into(),
            name: req.name.into(),
            version: req.version.into(),
            detail: reasons.join("; "),
        })?;
        let log_index = record(
            loc.home,
            json!({"kind": "registry.refused", "name": req.name, "version": req.version,
                   "version_id": manifest.version_id(), "reasons": reasons, "user": user, "host": host}),
        )?;
        return Ok(PushOutcome::Refused { reasons, log_index });
    }
    let objects = Objects::new(&loc.root());
    let mut files = Vec::with_capacity(manifest.items.len());
    let mut new_objects = 0;
    for it in &manifest.items {
        let path = if it.name == "." {
            req.model.to_path_buf()
        } else {
            req.model.join(&it.name)
        };
        let hex = aigis_sign::hex(&it.digest);
        let bytes = std::fs::metadata(&path)
            .map_err(|e| SignError::Io {
                path: path.clone(),
                source: e,
            })?
            .len();
        if objects.put(&path, &hex)? {
            new_objects += 1;
        }
        files.push(FileEntry {
            name: it.name.clone(),
            sha256: hex,
            bytes,
        });
    }
    let (t, utc) = registry::now();
    let scan_json: Option<Value> = serde_json::from_str(&render::render(
        &report,
        Format::Json,
        &crate::rules(),
        env!("CARGO_PKG_VERSION"),
    ))
    .ok();
    let mut rec = VersionRecord {
        schema: registry::RECORD_SCHEMA.into(),
        name: req.name.into(),
        version: req.version.into(),
        version_id: manifest.version_id(),
        oms_root: aigis_sign::hex(&manifest.root()),
        model_name: manifest.model_name.clone(),
        files,
        signature,
        signer,
        scan_report: scan_json,
        scan_verdict,
        forced: !reasons.is_empty(),
        provenance: Provenance {
            user,
            host,
            source: source.display().to_string(),
            time: t,
            time_utc: utc,
            parent: req.parent.map(str::to_string),
        },
        log_index: None,
    };
    let idx = record(
        loc.home,
        json!({"kind": "registry.push", "name": rec.name, "version": rec.version, "version_id": rec.version_id,
               "oms_root": rec.oms_root, "signer": rec.signer, "forced": rec.forced, "overridden": reasons,
               "scan": rec.scan_verdict, "parent": rec.provenance.parent, "user": rec.provenance.user}),
    )?;
    rec.log_index = Some(idx);
    index.insert(&rec)?;
    Ok(PushOutcome::Stored {
        record: Box::new(rec),
        new_objects,
        overridden: reasons,
    })
}

/// Looks up `NAME@VERSION`.
pub fn show(loc: &RegistryLocation<'_>, reference: &str) -> Result<VersionRecord, SignError> {
    lookup(&mut *loc.open()?, reference)
}

/// `NAME@VERSION` from an open index (commands that also record an event reuse the connection).
fn lookup(index: &mut dyn registry::Index, reference: &str) -> Result<VersionRecord, SignError> {
    let (n, v) = registry::parse_ref(reference)?;
    index.get(n, v)?.ok_or_else(|| {
        SignError::Usage(format!(
            "{reference} is not in the registry (`aigis registry list` shows what is)"
        ))
    })
}

/// Lists versions.
pub fn list(
    loc: &RegistryLocation<'_>,
    name: Option<&str>,
) -> Result<Vec<registry::Summary>, SignError> {
    loc.open()?.list(name)
}

fn safe_name(name: &str) -> bool {
    name == "."
        || (!name.starts_with('/')
            && name
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."))
}

/// Copies a version's files to `dest` (which must not exist), checking every digest, atomically:
/// the files appear under `dest` only when all were copied and checked.
pub fn pull(
    loc: &RegistryLocation<'_>,
    reference: &str,
    dest: &Path,
) -> Result<VersionRecord, SignError> {
    let mut index = loc.open()?;
    let rec = lookup(&mut *index, reference)?;
    if dest.exists() {
        return Err(SignError::Usage(format!(
            "{} already exists; pull into a new path",
            dest.display()
        )));
    }
    let objects = Objects::new(&loc.root());
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = parent.join(format!(
        ".{}.partial{}",
        dest.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_file(&tmp);
    let single = rec.files.len() == 1 && rec.files[0].name == ".";
    let result = (|| {
        if single {
            objects.get(&rec.files[0].sha256, &tmp)?;
        } else {
            std::fs::create_dir_all(&tmp).map_err(|e| SignError::Io {
                path: tmp.clone(),
                source: e,
            })?;
            for f in &rec.files {
                if !safe_name(&f.name) || f.name == "." {
                    return Err(SignError::Invalid(format!(
                        "registry record names an unsafe path `{}`",
                        f.name
                    )));
                }
                let out = tmp.join(&f.name);
                if let Some(p) = out.parent() {
                    std::fs::create_dir_all(p).map_err(|e| SignError::Io {
                        path: p.to_path_buf(),
                        source: e,
                    })?;
                }
                objects.get(&f.sha256, &out)?;
            }
        }
        std::fs::rename(&tmp, dest).map_err(|e| SignError::Io {
            path: dest.to_path_buf(),
            source: e,
        })
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let (t, _) = registry::now();
    index.event(&Event {
        time: t,
        kind: "pulled".into(),
        name: rec.name.clone(),
        version: rec.version.clone(),
        detail: dest.display().to_string(),
    })?;
    record(
        loc.home,
        json!({"kind": "registry.pull", "name": rec.name, "version": rec.version, "version_id": rec.version_id,
               "dest": dest.display().to_string()}),
    )?;
    Ok(rec)
}

/// Re-checks a stored version: every object's digest, the version id, the stored signature
/// (against `trust` when given) and the push entry in the log (with an inclusion proof).
/// Returns the problems found (empty = intact).
pub fn verify_version(
    loc: &RegistryLocation<'_>,
    reference: &str,
    trust: Option<&Trust>,
) -> Result<(VersionRecord, Vec<String>, Vec<String>), SignError> {
    let mut index = loc.open()?;
    let rec = lookup(&mut *index, reference)?;
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let objects = Objects::new(&loc.root());
    for f in &rec.files {
        if !objects.check(&f.sha256)? {
            problems.push(format!(
                "stored file {} ({}) is missing or corrupted",
                f.name, f.sha256
            ));
        }
    }
    let manifest = rec.manifest();
    if manifest.version_id() != rec.version_id {
        problems.push("the record's version id does not match its file list (index edited)".into());
    }
    match (&rec.signature, trust) {
        (Some(sig), Some(trust)) => match aigis_sign::bundle::Bundle::parse(sig.as_bytes())
            .and_then(|b| aigis_sign::oms::verify_bundle(&b, trust))
        {
            Ok(v) => {
                let signed: Vec<(String, String)> = v
                    .manifest
                    .items
                    .iter()
                    .map(|i| (i.name.clone(), aigis_sign::hex(&i.digest)))
                    .collect();
                let stored: Vec<(String, String)> = rec
                    .files
                    .iter()
                    .map(|f| (f.name.clone(), f.sha256.clone()))
                    .collect();
                if v.manifest.serialization.hash != aigis_sign::digest::HashAlg::Sha256 {
                    notes.push("signature uses a non-SHA-256 hash; its digests are checked at push time only".into());
                } else if signed != stored {
                    problems.push(
                        "the stored files are not the ones the stored signature covers".into(),
                    );
                } else {
                    notes.push(format!("signature valid ({})", v.signer));
                }
            }
            Err(e) => problems.push(format!("stored signature: {e}")),
        },
        (Some(_), None) => {
            notes.push("a signature is stored; give --key or --cert-chain to check it".into());
        }
        (None, _) => notes.push("no signature stored with this version".into()),
    }
    match rec.log_index {
        Some(i) => match Log::open(&loc.home.join("log")).and_then(|log| {
            let p = log.prove_inclusion(i)?;
            aigis_sign::tlog::check_inclusion(&p, &log.verifier()?)?;
            Ok(p.entry)
        }) {
            Ok(entry) => {
                let e: Value = serde_json::from_str(&entry).unwrap_or(Value::Null);
                if e.get("kind").and_then(Value::as_str) != Some("registry.push")
                    || e.get("version_id").and_then(Value::as_str) != Some(rec.version_id.as_str())
                {
                    problems.push(format!(
                        "log entry {i} does not record this push (index and log disagree)"
                    ));
                } else {
                    notes.push(format!("push recorded in the transparency log at entry {i} (inclusion proof checked)"));
                }
            }
            Err(e) => problems.push(format!("transparency log: {e}")),
        },
        None => problems.push("the version has no transparency-log entry".into()),
    }
    let (t, _) = registry::now();
    index.event(&Event {
        time: t,
        kind: if problems.is_empty() {
            "verified"
        } else {
            "verify-failed"
        }
        .into(),
        name: rec.name.clone(),
        version: rec.version.clone(),
        detail: problems.join("; "),
    })?;
    record(
        loc.home,
        json!({"kind": "registry.verify", "name": rec.name, "version": rec.version, "ok": problems.is_empty(),
               "problems": problems}),
    )?;
    Ok((rec, problems, notes))
}
