//! keygen, sign, verify, log and registry commands.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use aigis_pipeline::integrity::{self, PushOutcome, PushRequest, RegistryLocation};
use aigis_sign::SignError;
use aigis_sign::keys::{Curve, Passphrase, SigningKey, VerifyingKey};
use aigis_sign::manifest::{WalkOptions, relative_to_model};
use aigis_sign::model::{SignRequest, VerifyOptions, sign_model, verify_model_cached};
use aigis_sign::oms::Trust;
use aigis_sign::x509::Cert;
use serde_json::json;

use crate::cli::{
    CurveArg, HashArg, KeygenArgs, LogCommand, MachineFormat, RegistryCommand, SignArgs,
    VerifyArgs, WalkArgs,
};

/// Maps a library error to the exit code and prints it.
fn fail(e: &SignError) -> u8 {
    eprintln!("error: {e}");
    e.exit_code() as u8
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, SignError> {
    aigis_sign::read_bounded(path, what)
}

fn read_text(path: &Path, what: &str) -> Result<String, SignError> {
    String::from_utf8(read(path, what)?).map_err(|_| {
        SignError::Key(format!(
            "{what} {} is not text (PEM expected)",
            path.display()
        ))
    })
}

fn passphrase(file: Option<&Path>, required: bool) -> Result<Option<Passphrase>, SignError> {
    if let Some(f) = file {
        return Ok(Some(Passphrase::new(read(f, "passphrase file")?)));
    }
    match std::env::var_os("AIGIS_KEY_PASSPHRASE") {
        Some(v) => Ok(Some(Passphrase::new(v.into_encoded_bytes()))),
        None if required => Err(SignError::Usage(
            "--encrypt needs a passphrase: --passphrase-file FILE or $AIGIS_KEY_PASSPHRASE".into(),
        )),
        None => Ok(None),
    }
}

/// A byte progress bar for hashing `model`, only on a terminal and only for large models (the
/// size walk is skipped otherwise).
fn progress_bar(quiet: bool, model: &Path) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let total = total_size(model);
    (total > 64 << 20).then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} hashing {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

/// Total size of regular files under `p` (for the progress bar only).
fn total_size(p: &Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

pub fn keygen(a: &KeygenArgs) -> u8 {
    let r = (|| {
        let public = a.public.clone().unwrap_or_else(|| {
            let s = a.out.to_string_lossy();
            PathBuf::from(
                s.strip_suffix(".pem")
                    .map_or_else(|| format!("{s}.pub.pem"), |b| format!("{b}.pub.pem")),
            )
        });
        for p in [&a.out, &public] {
            if p.exists() && !a.force {
                return Err(SignError::Usage(format!(
                    "{} exists; pass --force to overwrite it",
                    p.display()
                )));
            }
        }
        let curve = match a.curve {
            CurveArg::P256 => Curve::P256,
            CurveArg::P384 => Curve::P384,
            CurveArg::P521 => Curve::P521,
        };
        let pass = if a.encrypt || a.passphrase_file.is_some() {
            passphrase(a.passphrase_file.as_deref(), true)?
        } else {
            None
        };
        let key = SigningKey::generate(curve);
        let pem = zeroize::Zeroizing::new(key.to_pkcs8_pem(pass.as_ref())?);
        aigis_sign::write_atomic(&a.out, pem.as_bytes(), true)?;
        aigis_sign::write_atomic(&public, key.verifying_key().to_pem().as_bytes(), false)?;
        eprintln!(
            "aigis keygen: wrote {} ({curve}{}, mode 0600) and {} (hint {})",
            a.out.display(),
            if pass.is_some() { ", encrypted" } else { "" },
            public.display(),
            &key.verifying_key().hint()[..16]
        );
        Ok(())
    })();
    r.map_or_else(|e| fail(&e), |()| 0)
}

fn walk_ignores(model: &Path, w: &WalkArgs, signature: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in w
        .ignore_paths
        .iter()
        .chain(std::iter::once(&signature.to_path_buf()))
    {
        if let Some(rel) = relative_to_model(model, p) {
            out.push(rel);
        }
    }
    out
}

pub fn sign(a: &SignArgs) -> u8 {
    let r = (|| {
        let pass = passphrase(a.passphrase_file.as_deref(), false)?;
        let what = format!("key {}", a.key.display());
        let key = SigningKey::from_pem(&read_text(&a.key, "key")?, pass.as_ref(), &what)?;
        let chain = match &a.cert {
            None => None,
            Some(leaf) => {
                let mut ders: Vec<Vec<u8>> = Cert::from_pem_file(
                    &read_text(leaf, "certificate")?,
                    &leaf.display().to_string(),
                )?
                .iter()
                .map(|c| c.der().to_vec())
                .collect();
                for c in &a.cert_chain {
                    for cert in Cert::from_pem_file(
                        &read_text(c, "certificate chain")?,
                        &c.display().to_string(),
                    )? {
                        ders.push(cert.der().to_vec());
                    }
                }
                Some(ders)
            }
        };
        let walk = WalkOptions {
            hash: match a.hash {
                HashArg::Sha256 => aigis_sign::digest::HashAlg::Sha256,
                HashArg::Blake3 => aigis_sign::digest::HashAlg::Blake3,
            },
            allow_symlinks: a.walk.allow_symlinks,
            ignore_git_paths: !a.walk.no_ignore_git_paths,
            ignore_paths: walk_ignores(&a.model, &a.walk, &a.signature),
            only: None,
        };
        let bar = progress_bar(a.quiet, &a.model);
        let done = AtomicU64::new(0);
        let tick = |n: u64| {
            let d = done.fetch_add(n, Ordering::Relaxed) + n;
            if let Some(b) = &bar {
                b.set_position(d);
            }
        };
        let signed = sign_model(
            &SignRequest {
                model: &a.model,
                key: &key,
                chain,
                walk,
                tensors: a.tensors,
            },
            &tick,
        )?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let json_text = signed.bundle.to_json();
        aigis_sign::write_atomic(&a.signature, json_text.as_bytes(), false)?;
        let m = &signed.manifest;
        let log_index = if a.no_log {
            None
        } else {
            use sha2::Digest as _;
            Some(integrity::record(
                &a.home.home,
                json!({"kind": "sign", "model": m.model_name, "source": std::fs::canonicalize(&a.model).unwrap_or_else(|_| a.model.clone()).display().to_string(),
                       "version_id": m.version_id(), "oms_root": aigis_sign::hex(&m.root()), "files": m.len(),
                       "signature_sha256": aigis_sign::hex(&sha2::Sha256::digest(json_text.as_bytes())),
                       "key_hint": key.verifying_key().hint()}),
            )?)
        };
        let bytes: u64 = done.load(Ordering::Relaxed);
        match a.format {
            MachineFormat::Json => println!(
                "{}",
                json!({"schema": "aigis.sign/v1", "model": m.model_name, "signature": a.signature.display().to_string(),
                       "files": m.len(), "bytes": bytes, "hash": m.serialization.hash.name(),
                       "oms_root": aigis_sign::hex(&m.root()), "version_id": m.version_id(), "log_index": log_index})
            ),
            MachineFormat::Table => println!(
                "signed {} ({} files, {} bytes, {}) -> {}\nversion id {}{}",
                m.model_name,
                m.len(),
                bytes,
                m.serialization.hash.name(),
                a.signature.display(),
                m.version_id(),
                log_index.map_or(String::new(), |i| format!(
                    "\nrecorded in the transparency log at entry {i}"
                ))
            ),
        }
        Ok(())
    })();
    r.map_or_else(|e| fail(&e), |()| 0)
}

fn trust(key: Option<&Path>, roots: &[PathBuf]) -> Result<Trust, SignError> {
    match (key, roots.is_empty()) {
        (Some(k), true) => Ok(Trust::Key(VerifyingKey::from_pem(&read_text(k, "public key")?, &k.display().to_string())?)),
        (None, false) => {
            let mut certs = Vec::new();
            for r in roots {
                certs.extend(Cert::from_pem_file(&read_text(r, "certificate chain")?, &r.display().to_string())?);
            }
            Ok(Trust::Roots(certs))
        }
        (Some(_), false) => Err(SignError::Usage("give either --key or --cert-chain, not both".into())),
        (None, true) => Err(SignError::Usage(
            "say who must have signed: --key PUBLIC.pem (key method) or --cert-chain ROOT.pem (certificate method)".into(),
        )),
    }
}

pub fn verify(a: &VerifyArgs) -> u8 {
    let r = (|| {
        let trust = trust(a.key.as_deref(), &a.cert_chain)?;
        let bytes = read(&a.signature, "signature")?;
        let opts = VerifyOptions {
            ignore_paths: walk_ignores(&a.model, &a.walk, &a.signature),
            no_ignore_git_paths: a.walk.no_ignore_git_paths,
            allow_symlinks: a.walk.allow_symlinks,
            ignore_unsigned_files: a.ignore_unsigned_files,
        };
        let cache_path = a.home.home.join("cache").join("digests.json");
        let mut cache = a
            .cached
            .then(|| aigis_sign::cache::DigestCache::load(&cache_path));
        let bar = progress_bar(a.quiet, &a.model);
        let done = AtomicU64::new(0);
        let tick = |n: u64| {
            let d = done.fetch_add(n, Ordering::Relaxed) + n;
            if let Some(b) = &bar {
                b.set_position(d);
            }
        };
        let res = verify_model_cached(&a.model, &bytes, &trust, &opts, &tick, cache.as_mut());
        if let Some(c) = &cache {
            c.save(&cache_path)?;
            eprintln!(
                "aigis verify: {} files unchanged since the last check (digests reused)",
                c.hits()
            );
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let v = match res {
            Ok(v) => v,
            Err(e) => {
                if !a.no_log && e.exit_code() == 1 {
                    let _ = integrity::record(
                        &a.home.home,
                        json!({"kind": "verify", "ok": false, "model": a.model.display().to_string(), "error": e.to_string()}),
                    );
                }
                if a.format == MachineFormat::Json {
                    println!(
                        "{}",
                        json!({"schema": "aigis.verify/v1", "valid": false, "error": e.to_string()})
                    );
                }
                return Err(e);
            }
        };
        for w in &v.verified.warnings {
            eprintln!("warning: {w}");
        }
        let changes: Vec<String> = v.changes.iter().map(ToString::to_string).collect();
        let m = &v.verified.manifest;
        let log_index = if a.no_log {
            None
        } else {
            Some(integrity::record(
                &a.home.home,
                json!({"kind": "verify", "ok": v.ok(), "model": m.model_name, "version_id": v.actual.version_id(),
                       "signer": v.verified.signer, "changes": changes}),
            )?)
        };
        if a.format == MachineFormat::Json {
            println!(
                "{}",
                json!({"schema": "aigis.verify/v1", "valid": v.ok(), "model": m.model_name, "signer": v.verified.signer,
                       "files": m.len(), "legacy": v.verified.legacy, "changes": changes,
                       "tensor_changes": v.tensor_changes.iter().map(|(f, t)| json!({"file": f, "tensors": t})).collect::<Vec<_>>(),
                       "version_id": v.actual.version_id(), "log_index": log_index})
            );
        }
        if v.ok() {
            eprintln!(
                "Verification succeeded: {} files match the signature by {}",
                m.len(),
                v.verified.signer
            );
            Ok(0)
        } else {
            eprintln!("Verification FAILED: the model differs from its signature");
            for c in &changes {
                eprintln!("  {c}");
            }
            for (f, ts) in &v.tensor_changes {
                eprintln!("  {f}: tensors changed: {}", ts.join(", "));
            }
            Ok(1)
        }
    })();
    r.unwrap_or_else(|e| fail(&e))
}

pub fn log(c: &LogCommand) -> u8 {
    let r: Result<u8, SignError> = (|| match c {
        LogCommand::Append { file, home } => {
            let mut text = String::new();
            if file.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| SignError::Usage(format!("reading stdin: {e}")))?;
            } else {
                text = read_text(file, "entry")?;
            }
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| SignError::Usage(format!("the entry is not JSON: {e}")))?;
            let i = integrity::open_log(&home.home)?.append(&v)?;
            println!("{i}");
            Ok(0)
        }
        LogCommand::Show { index, home } => {
            let log = aigis_sign::tlog::Log::open(&home.home.join("log"))?;
            for e in log.entries()? {
                if index.is_none_or(|i| i == e.index) {
                    println!("{}", e.json);
                }
            }
            Ok(0)
        }
        LogCommand::Prove { index, since, home } => {
            let log = aigis_sign::tlog::Log::open(&home.home.join("log"))?;
            let out = if let Some(old) = since {
                serde_json::to_string_pretty(
                    &log.prove_consistency(&read_text(old, "checkpoint")?)?,
                )
            } else {
                serde_json::to_string_pretty(&log.prove_inclusion(index.unwrap_or_default())?)
            };
            println!("{}", out.map_err(|e| SignError::Store(e.to_string()))?);
            Ok(0)
        }
        LogCommand::Verify {
            trusted,
            proof,
            log_key,
            home,
        } => {
            if let Some(p) = proof {
                let key_text = match log_key {
                    Some(k) if Path::new(k).is_file() => read_text(Path::new(k), "log key")?,
                    Some(k) => k.clone(),
                    None => read_text(&home.home.join("log/log.pub"), "log key")?,
                };
                let verifier = aigis_sign::note::NoteVerifier::parse(&key_text)?;
                let text = read_text(p, "proof")?;
                if let Ok(ip) = serde_json::from_str::<aigis_sign::tlog::InclusionProof>(&text) {
                    let cp = aigis_sign::tlog::check_inclusion(&ip, &verifier)?;
                    eprintln!(
                        "inclusion proof valid: entry {} is in {} at size {}",
                        ip.index, cp.origin, cp.size
                    );
                } else if let Ok(cp) =
                    serde_json::from_str::<aigis_sign::tlog::ConsistencyProof>(&text)
                {
                    let (o, n) = aigis_sign::tlog::check_consistency(&cp, &verifier)?;
                    eprintln!(
                        "consistency proof valid: {} at size {} extends size {}",
                        n.origin, n.size, o.size
                    );
                } else {
                    return Err(SignError::Malformed(format!(
                        "{}: not an inclusion or consistency proof",
                        p.display()
                    )));
                }
                return Ok(0);
            }
            let log = aigis_sign::tlog::Log::open(&home.home.join("log"))?;
            let t = trusted
                .as_ref()
                .map(|p| read_text(p, "checkpoint"))
                .transpose()?;
            let n = log.verify(t.as_deref())?;
            eprintln!("log intact: {n} entries, every checkpoint matches");
            Ok(0)
        }
        LogCommand::Checkpoint { home } => {
            print!(
                "{}",
                aigis_sign::tlog::Log::open(&home.home.join("log"))?.checkpoint()?
            );
            Ok(0)
        }
        LogCommand::Key { home } => {
            println!("{}", integrity::open_log(&home.home)?.verifier()?);
            Ok(0)
        }
    })();
    r.unwrap_or_else(|e| fail(&e))
}

fn location(reg: &crate::cli::RegistryArgs) -> RegistryLocation<'_> {
    RegistryLocation {
        home: &reg.home.home,
        index: reg.index.as_deref(),
    }
}

pub fn registry(c: &RegistryCommand) -> u8 {
    let r: Result<u8, SignError> = (|| match c {
        RegistryCommand::Push(a) => {
            let loc = location(&a.reg);
            let signature = match &a.signature {
                None => None,
                Some(s) => Some((
                    read(s, "signature")?,
                    trust(a.key.as_deref(), &a.cert_chain)?,
                )),
            };
            let out = integrity::push(
                &loc,
                &PushRequest {
                    model: &a.model,
                    name: &a.name,
                    version: &a.version,
                    signature,
                    parent: a.parent.as_deref(),
                    force: a.force,
                    fail_on: aigis_core::Severity::Medium,
                },
            )?;
            match out {
                PushOutcome::Stored {
                    record,
                    new_objects,
                    overridden,
                } => {
                    for o in &overridden {
                        eprintln!("warning: forced past: {o}");
                    }
                    eprintln!(
                        "pushed {}@{} ({} files, {new_objects} new, the rest deduplicated), version id {}, log entry {}",
                        record.name,
                        record.version,
                        record.files.len(),
                        record.version_id,
                        record.log_index.unwrap_or_default()
                    );
                    Ok(0)
                }
                PushOutcome::Refused { reasons, log_index } => {
                    eprintln!("push REFUSED (recorded in the log at entry {log_index}):");
                    for r in &reasons {
                        eprintln!("  {r}");
                    }
                    eprintln!(
                        "hint: fix the model or its signature, or pass --force to store it anyway (recorded)"
                    );
                    Ok(1)
                }
            }
        }
        RegistryCommand::List { name, reg, format } => {
            let loc = location(reg);
            let rows = integrity::list(&loc, name.as_deref())?;
            if *format == MachineFormat::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows)
                        .map_err(|e| SignError::Store(e.to_string()))?
                );
            } else {
                for r in rows {
                    println!(
                        "{}@{}\t{}\t{}",
                        r.name,
                        r.version,
                        r.version_id,
                        aigis_sign::registry::rfc3339(r.created)
                    );
                }
            }
            Ok(0)
        }
        RegistryCommand::Show { reference, reg } => {
            let loc = location(reg);
            let rec = integrity::show(&loc, reference)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&rec).map_err(|e| SignError::Store(e.to_string()))?
            );
            Ok(0)
        }
        RegistryCommand::Pull {
            reference,
            dest,
            reg,
        } => {
            let loc = location(reg);
            let rec = integrity::pull(&loc, reference, dest)?;
            eprintln!(
                "pulled {}@{} ({} files, every digest checked) to {}",
                rec.name,
                rec.version,
                rec.files.len(),
                dest.display()
            );
            Ok(0)
        }
        RegistryCommand::Verify {
            reference,
            key,
            cert_chain,
            reg,
        } => {
            let loc = location(reg);
            let t = if key.is_some() || !cert_chain.is_empty() {
                Some(trust(key.as_deref(), cert_chain)?)
            } else {
                None
            };
            let (rec, problems, notes) = integrity::verify_version(&loc, reference, t.as_ref())?;
            for n in &notes {
                eprintln!("  {n}");
            }
            if problems.is_empty() {
                eprintln!(
                    "{}@{} intact: {} files re-hashed",
                    rec.name,
                    rec.version,
                    rec.files.len()
                );
                Ok(0)
            } else {
                eprintln!("{}@{} FAILED:", rec.name, rec.version);
                for p in &problems {
                    eprintln!("  {p}");
                }
                Ok(1)
            }
        }
    })();
    r.unwrap_or_else(|e| fail(&e))
}
