//! `sign` and `verify` stages: sign the project's approved models (after scanning them) and record
//! them in the registry and transparency log; refuse to pass a model whose signature or registry
//! record does not match.

use std::path::{Path, PathBuf};

use aigis_core::{Finding, Location, Report};
use aigis_sign::SignError;
use aigis_sign::keys::{Passphrase, SigningKey, VerifyingKey};
use aigis_sign::manifest::{Manifest, WalkOptions, relative_to_model};
use aigis_sign::model::{SignRequest, VerifyOptions, sign_model, verify_model};
use aigis_sign::oms::Trust;
use aigis_sign::rules::{SIG101, SIG102, SIG103, SIG104};
use serde_json::json;

use crate::PipelineError;
use crate::integrity::{self, PushOutcome, PushRequest, RegistryLocation};
use crate::stages::{ProjectContext, Stage};

fn stage_err(stage: &'static str) -> impl Fn(SignError) -> PipelineError {
    move |e| PipelineError::Stage {
        stage,
        message: e.to_string(),
    }
}

fn file_name(model: &str) -> String {
    Path::new(model)
        .file_name()
        .map_or_else(|| "model".to_string(), |n| n.to_string_lossy().into_owned())
}

fn signature_path(ctx: &ProjectContext, dir: &str, model: &str) -> PathBuf {
    ctx.dir.join(dir).join(format!("{}.sig", file_name(model)))
}

fn resolve(ctx: &ProjectContext, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        ctx.dir.join(p)
    }
}

fn read_text(path: &Path) -> Result<String, SignError> {
    String::from_utf8(aigis_sign::read_bounded(path, "file")?)
        .map_err(|_| SignError::Key(format!("{} is not text (PEM expected)", path.display())))
}

/// `sign`: scan, sign, record.
pub(crate) struct SignStage;

impl Stage for SignStage {
    fn name(&self) -> &'static str {
        "sign"
    }

    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError> {
        let err = stage_err("sign");
        let cfg = ctx
            .config
            .sign
            .as_ref()
            .ok_or_else(|| PipelineError::Stage {
                stage: "sign",
                message:
                    "the sign stage needs a [sign] section (models, key); see aigis.example.toml"
                        .into(),
            })?;
        let key_path = resolve(ctx, &cfg.key);
        let pass = std::env::var_os("AIGIS_KEY_PASSPHRASE")
            .map(|v| Passphrase::new(v.into_encoded_bytes()));
        let key = SigningKey::from_pem(
            &read_text(&key_path).map_err(&err)?,
            pass.as_ref(),
            &format!("[sign] key {}", cfg.key),
        )
        .map_err(&err)?;
        let home = ctx.dir.join(&cfg.home);
        let fail_on = ctx.config.policy.fail_on;
        for model in &cfg.models {
            let path = ctx.dir.join(model);
            if !path.exists() {
                return Err(PipelineError::Stage {
                    stage: "sign",
                    message: format!("approved model {model} does not exist"),
                });
            }
            let scan = aigis_scan::scan_paths(
                std::slice::from_ref(&path),
                &aigis_scan::ScanOptions::default(),
                None,
                &|_, _| {},
            );
            if aigis_core::policy::report_exit_code(&scan, fail_on) != 0 {
                let seen: Vec<String> = scan
                    .findings
                    .iter()
                    .filter(|f| f.severity >= fail_on)
                    .take(5)
                    .map(|f| format!("{} {} ({})", f.rule, f.name, f.evidence))
                    .collect();
                report.findings.push(
                    Finding::new(&SIG104, format!("{model} was not signed: its scan found problems"), Location::file(model.clone()))
                        .detail("The sign stage signs only models that pass `aigis scan` at the policy threshold.")
                        .evidence(seen.join("; ")),
                );
                integrity::record(
                    &home,
                    json!({"kind": "sign.refused", "model": model, "findings": seen}),
                )
                .map_err(&err)?;
                continue;
            }
            let sig_path = signature_path(ctx, &cfg.signatures, model);
            if let Some(parent) = sig_path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| PipelineError::Io {
                    op: "creating",
                    path: parent.to_path_buf(),
                    source: e,
                })?;
            }
            let mut walk = WalkOptions::default();
            if let Some(rel) = relative_to_model(&path, &sig_path) {
                walk.ignore_paths.push(rel);
            }
            let signed = sign_model(
                &SignRequest {
                    model: &path,
                    key: &key,
                    chain: None,
                    walk,
                    tensors: true,
                },
                &|_| {},
            )
            .map_err(&err)?;
            let text = signed.bundle.to_json();
            aigis_sign::write_atomic(&sig_path, text.as_bytes(), false).map_err(&err)?;
            integrity::record(
                &home,
                json!({"kind": "sign", "model": model, "version_id": signed.manifest.version_id(),
                       "oms_root": aigis_sign::hex(&signed.manifest.root()), "key_hint": key.verifying_key().hint()}),
            )
            .map_err(&err)?;
            if let Some(version) = &cfg.version {
                let loc = RegistryLocation {
                    home: &home,
                    index: cfg.index.as_deref(),
                };
                let name = format!("{}{}", cfg.registry_prefix, file_name(model));
                push_or_match(
                    &loc,
                    &path,
                    &name,
                    version,
                    text.into_bytes(),
                    &key.verifying_key(),
                    &signed.manifest,
                    model,
                    report,
                )
                .map_err(&err)?;
            }
        }
        Ok(())
    }
}

/// Pushes a signed model, or accepts an existing identical record; an existing record with other
/// content under the same version is a finding.
#[allow(clippy::too_many_arguments)]
fn push_or_match(
    loc: &RegistryLocation<'_>,
    path: &Path,
    name: &str,
    version: &str,
    sig: Vec<u8>,
    vk: &VerifyingKey,
    manifest: &Manifest,
    model: &str,
    report: &mut Report,
) -> Result<(), SignError> {
    if let Ok(rec) = integrity::show(loc, &format!("{name}@{version}")) {
        if rec.version_id != manifest.version_id() {
            report.findings.push(
                Finding::new(
                    &SIG103,
                    format!("{name}@{version} is already in the registry with other content"),
                    Location::file(model),
                )
                .detail("Versions are immutable: bump [sign] version for a new model.")
                .evidence(format!(
                    "recorded {}, now {}",
                    rec.version_id,
                    manifest.version_id()
                )),
            );
        }
        return Ok(());
    }
    let out = integrity::push(
        loc,
        &PushRequest {
            model: path,
            name,
            version,
            signature: Some((sig, Trust::Key(vk.clone()))),
            parent: None,
            force: false,
            fail_on: aigis_core::Severity::Medium,
        },
    )?;
    if let PushOutcome::Refused { reasons, .. } = out {
        report.findings.push(
            Finding::new(
                &SIG104,
                format!("{name}@{version} was not pushed"),
                Location::file(model),
            )
            .evidence(reasons.join("; ")),
        );
    }
    Ok(())
}

/// `verify`: every approved model against its signature (and registry record).
pub(crate) struct VerifyStage;

impl Stage for VerifyStage {
    fn name(&self) -> &'static str {
        "verify"
    }

    fn run(&self, ctx: &ProjectContext, report: &mut Report) -> Result<(), PipelineError> {
        let err = stage_err("verify");
        let cfg = ctx.config.verify.as_ref().ok_or_else(|| PipelineError::Stage {
            stage: "verify",
            message: "the verify stage needs a [verify] section (key or cert-chain); see aigis.example.toml".into(),
        })?;
        let models: Vec<String> = if cfg.models.is_empty() {
            ctx.config
                .sign
                .as_ref()
                .map(|s| s.models.clone())
                .unwrap_or_default()
        } else {
            cfg.models.clone()
        };
        if models.is_empty() {
            return Err(PipelineError::Stage {
                stage: "verify",
                message: "no models to verify: set [verify] models".into(),
            });
        }
        let trust = match (&cfg.key, cfg.cert_chain.is_empty()) {
            (Some(k), true) => {
                let p = resolve(ctx, k);
                Trust::Key(
                    VerifyingKey::from_pem(
                        &read_text(&p).map_err(&err)?,
                        &format!("[verify] key {k}"),
                    )
                    .map_err(&err)?,
                )
            }
            (None, false) => {
                let mut certs = Vec::new();
                for c in &cfg.cert_chain {
                    let p = resolve(ctx, c);
                    certs.extend(
                        aigis_sign::x509::Cert::from_pem_file(&read_text(&p).map_err(&err)?, c)
                            .map_err(&err)?,
                    );
                }
                Trust::Roots(certs)
            }
            _ => {
                return Err(PipelineError::Stage {
                    stage: "verify",
                    message: "[verify] needs exactly one of key or cert-chain".into(),
                });
            }
        };
        let home = ctx.dir.join(&cfg.home);
        for model in &models {
            let path = ctx.dir.join(model);
            let sig_path = signature_path(ctx, &cfg.signatures, model);
            let Ok(bytes) = aigis_sign::read_bounded(&sig_path, "signature") else {
                report.findings.push(
                    Finding::new(
                        &SIG102,
                        format!("{model} has no signature"),
                        Location::file(model.clone()),
                    )
                    .evidence(format!(
                        "{} not found",
                        sig_path
                            .strip_prefix(&ctx.dir)
                            .unwrap_or(&sig_path)
                            .display()
                    )),
                );
                continue;
            };
            let mut opts = VerifyOptions::default();
            if let Some(rel) = relative_to_model(&path, &sig_path) {
                opts.ignore_paths.push(rel);
            }
            let outcome = verify_model(&path, &bytes, &trust, &opts, &|_| {});
            let ok = match &outcome {
                Ok(v) if v.ok() => true,
                Ok(v) => {
                    let mut changes: Vec<String> =
                        v.changes.iter().map(ToString::to_string).collect();
                    for (f, ts) in &v.tensor_changes {
                        changes.push(format!("{f}: tensors {}", ts.join(", ")));
                    }
                    report.findings.push(
                        Finding::new(
                            &SIG101,
                            format!("{model} differs from its signature"),
                            Location::file(model.clone()),
                        )
                        .detail(format!("signed by {}", v.verified.signer))
                        .evidence(changes.join("; ")),
                    );
                    false
                }
                Err(e) if e.exit_code() == 1 => {
                    report.findings.push(
                        Finding::new(
                            &SIG101,
                            format!("{model}: signature does not verify"),
                            Location::file(model.clone()),
                        )
                        .evidence(e.to_string()),
                    );
                    false
                }
                Err(e) => {
                    return Err(PipelineError::Stage {
                        stage: "verify",
                        message: format!("{model}: {e}"),
                    });
                }
            };
            integrity::record(&home, json!({"kind": "verify", "model": model, "ok": ok}))
                .map_err(&err)?;
            if let (Some(version), true) = (&cfg.version, ok) {
                let loc = RegistryLocation {
                    home: &home,
                    index: cfg.index.as_deref(),
                };
                let reference = format!("{}{}@{version}", cfg.registry_prefix, file_name(model));
                let on_disk = Manifest::compute(
                    &path,
                    &WalkOptions {
                        ignore_paths: opts.ignore_paths.clone(),
                        ..WalkOptions::default()
                    },
                    &|_| {},
                )
                .map_err(&err)?;
                match integrity::verify_version(&loc, &reference, Some(&trust)) {
                    Ok((rec, problems, _)) => {
                        let mut problems = problems;
                        if rec.version_id != on_disk.version_id() {
                            problems.push(format!(
                                "recorded {}, on disk {}",
                                rec.version_id,
                                on_disk.version_id()
                            ));
                        }
                        if !problems.is_empty() {
                            report.findings.push(
                                Finding::new(
                                    &SIG103,
                                    format!("{model} does not match registry record {reference}"),
                                    Location::file(model.clone()),
                                )
                                .evidence(problems.join("; ")),
                            );
                        }
                    }
                    Err(e) if matches!(e, SignError::Usage(_)) => report.findings.push(
                        Finding::new(
                            &SIG103,
                            format!("{model}: no registry record {reference}"),
                            Location::file(model.clone()),
                        )
                        .evidence(e.to_string()),
                    ),
                    Err(e) => return Err(err(e)),
                }
            }
        }
        for entry in &cfg.fingerprints {
            check_fingerprint(ctx, entry, report)?;
        }
        Ok(())
    }
}

/// `[[verify.fingerprints]]`: ROB103 when the model's behaviour differs from its fingerprint.
fn check_fingerprint(
    ctx: &ProjectContext,
    entry: &crate::config::FingerprintEntry,
    report: &mut Report,
) -> Result<(), PipelineError> {
    let fail = |message: String| PipelineError::Stage {
        stage: "verify",
        message,
    };
    let read =
        |rel: &str| std::fs::read(ctx.dir.join(rel)).map_err(|e| fail(format!("{rel}: {e}")));
    let session = aigis_robust::onnx::parse(&read(&entry.model)?)
        .and_then(aigis_robust::engine::Session::new)
        .map_err(|e| fail(format!("{}: {e}", entry.model)))?;
    let fp: aigis_robust::fingerprint::Fingerprint =
        serde_json::from_slice(&read(&entry.fingerprint)?).map_err(|e| {
            fail(format!(
                "{}: not an aigis fingerprint ({e})",
                entry.fingerprint
            ))
        })?;
    let probes = match &entry.probes {
        Some(p) => Some(aigis_robust::npz::load_x(p, &read(p)?).map_err(|e| fail(e.to_string()))?),
        None => None,
    };
    let c = aigis_robust::fingerprint::check(&session, &fp, probes.as_ref())
        .map_err(|e| fail(format!("{}: {e}", entry.fingerprint)))?;
    if c.changed {
        report.findings.push(
            Finding::new(
                &aigis_robust::rules::ROB103,
                format!(
                    "{}: decisions agree on {:.2}% of {} inputs ({} changed), largest probability change {:.4}",
                    entry.model,
                    c.agreement * 100.0,
                    fp.decisions.len(),
                    c.changed_decisions,
                    c.max_probability_change
                ),
                Location::file(entry.model.clone()),
            )
            .evidence(format!("fingerprint {} (digest {})", entry.fingerprint, &fp.digest[..16.min(fp.digest.len())])),
        );
    }
    Ok(())
}
