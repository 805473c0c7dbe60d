//! `aigis guard …` commands.

use std::io::Write;
use std::path::PathBuf;

use aigis_guard::classify::{self, Input};
use aigis_guard::{Chain, ChainConfig};
use anyhow::{Context, Result, anyhow};

use crate::cli::{
    GuardClassifyArgs, GuardCommand, GuardConfigArgs, GuardKeysCommand, GuardServeArgs,
};
use crate::data::{Output, byte_bar, open_input};

pub fn guard(c: &GuardCommand) -> Result<u8> {
    match c {
        GuardCommand::Classify(a) => classify_cmd(a),
        GuardCommand::Serve(a) => serve(a),
        GuardCommand::Keys(k) => keys(k),
        GuardCommand::Quarantine(a) => admin(
            &a.admin,
            "POST",
            None,
            Some(serde_json::json!({"target": a.target, "reason": a.reason})),
        ),
        GuardCommand::Release(a) => admin(&a.admin, "DELETE", Some(&a.target), None),
        GuardCommand::Scanners(a) => {
            let chain = build_chain(a)?;
            let mut out = std::io::stdout().lock();
            for name in chain.names() {
                writeln!(out, "{name}")?;
            }
            Ok(0)
        }
    }
}

/// The input chain of `--config`'s `[guard.input]`, or the built-in one.
fn build_chain(a: &GuardConfigArgs) -> Result<Chain> {
    let config = match &a.config {
        Some(path) => aigis_pipeline::Config::load(path)?.guard.input,
        None => ChainConfig::default(),
    };
    Chain::new(&config).map_err(|e| anyhow!("{e}"))
}

fn classify_cmd(a: &GuardClassifyArgs) -> Result<u8> {
    let chain = build_chain(&a.config)?;
    let text = match a.input_format.as_deref() {
        Some(f) => f == "text",
        None => a.input.extension().is_some_and(|e| e == "txt"),
    };
    let input = if text {
        Input::Lines
    } else {
        Input::Jsonl {
            field: a.text_field.clone(),
        }
    };
    let (reader, total) = open_input(&a.input)?;
    let bar = byte_bar(total, a.quiet, "guard");
    let out_path = a.output.clone().unwrap_or_else(|| PathBuf::from("-"));
    let mut sink = Output::create(&out_path, false)?;
    let shown = a.input.display().to_string();
    let result = classify::classify(
        &chain,
        reader,
        &input,
        &mut sink,
        |b| eprintln!("warning: {shown}:{}: {}; skipped", b.line, b.message),
        |n| {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        },
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // On error the output is dropped uncommitted: no partial file.
    let stats = result.with_context(|| format!("reading {shown}"))?;
    sink.commit(&out_path)?;
    if !a.quiet {
        eprintln!(
            "aigis guard: {} prompts, {} blocked, {} flagged, {} skipped",
            stats.records, stats.blocked, stats.flagged, stats.bad
        );
    }
    // As `aigis pii detect`: findings first, then unreadable lines (warned above).
    Ok(if stats.blocked + stats.flagged > 0 {
        1
    } else if stats.bad > 0 {
        2
    } else {
        0
    })
}

fn serve(a: &GuardServeArgs) -> Result<u8> {
    let config = aigis_pipeline::Config::load(&a.config)?;
    let Some(serve) = config.guard.serve else {
        anyhow::bail!(
            "{} has no [guard.serve] section\nhint: see aigis.example.toml for the gateway's keys and routes",
            a.config.display()
        );
    };
    let chain = Chain::new(&config.guard.input).map_err(|e| anyhow!("{e}"))?;
    let output =
        aigis_guard::output::OutputGuard::new(&config.guard.output).map_err(|e| anyhow!("{e}"))?;
    let base = a
        .config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let bound = aigis_guard::gateway::bind(&serve, chain, output, &base)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        eprintln!(
            "aigis guard: listening on http://{} ({} routes)",
            bound.local_addr()?,
            serve.routes.len()
        );
        if let Some(a) = bound.tls_addr() {
            eprintln!("aigis guard: listening on https://{a}");
        }
        bound.serve(shutdown_signal()).await.context("serving")?;
        eprintln!("aigis guard: stopped");
        Ok::<u8, anyhow::Error>(0)
    })
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn keys(k: &GuardKeysCommand) -> Result<u8> {
    use aigis_guard::keys::KeyStore;
    let open = |p: &std::path::Path| KeyStore::open(p).map_err(|e| anyhow!("{e}"));
    match k {
        GuardKeysCommand::Create {
            name,
            routes,
            store,
        } => {
            let s = open(&store.store)?;
            let (key, info) = s.create(name, routes).map_err(|e| anyhow!("{e}"))?;
            println!("{key}");
            eprintln!(
                "aigis guard: created key {} for `{}` (routes: {}); it is shown only now",
                info.id,
                info.name,
                if info.routes.is_empty() {
                    "all".to_string()
                } else {
                    info.routes.join(", ")
                }
            );
        }
        GuardKeysCommand::List { store } => {
            let s = open(&store.store)?;
            let mut out = std::io::stdout().lock();
            for key in s.list().map_err(|e| anyhow!("{e}"))? {
                writeln!(
                    out,
                    "{}  {:<8}  {:<20}  routes={}",
                    key.id,
                    if key.revoked.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    key.name,
                    if key.routes.is_empty() {
                        "*".to_string()
                    } else {
                        key.routes.join(",")
                    }
                )?;
            }
        }
        GuardKeysCommand::Revoke {
            id,
            store,
            url,
            admin_token,
        } => {
            open(&store.store)?.revoke(id).map_err(|e| anyhow!("{e}"))?;
            eprintln!("aigis guard: revoked key {id}");
            if let Some(url) = url {
                let Some(token) = admin_token else {
                    anyhow::bail!(
                        "--url needs the admin token (--admin-token or $AIGIS_ADMIN_TOKEN)"
                    );
                };
                let a = crate::cli::GuardAdminArgs {
                    url: url.clone(),
                    admin_token: token.clone(),
                };
                return admin(
                    &a,
                    "POST",
                    None,
                    Some(serde_json::json!({"target": format!("key:{id}"), "reason": "revoked"})),
                );
            }
        }
    }
    Ok(0)
}

/// One call to a running gateway's admin API; prints its answer.
fn admin(
    a: &crate::cli::GuardAdminArgs,
    method: &str,
    target: Option<&str>,
    body: Option<serde_json::Value>,
) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (status, text) = rt
        .block_on(aigis_guard::killswitch::admin_call(
            &a.url,
            &a.admin_token,
            method,
            target,
            body,
        ))
        .map_err(|e| anyhow!("{e}"))?;
    if (200..300).contains(&status) {
        println!("{text}");
        Ok(0)
    } else {
        anyhow::bail!("the gateway answered {status}: {text}")
    }
}

pub fn audit(c: &crate::cli::AuditCommand) -> Result<u8> {
    use aigis_sign::note::{LogKey, NoteVerifier};
    match c {
        crate::cli::AuditCommand::Keygen { name, output } => {
            let key = LogKey::generate(name).map_err(|e| anyhow!("{e}"))?;
            aigis_core::fsutil::write_atomic(output, key.to_private_string().as_bytes(), true)
                .with_context(|| format!("writing {}", output.display()))?;
            let mut public = output.as_os_str().to_owned();
            public.push(".pub");
            let public = std::path::PathBuf::from(public);
            aigis_core::fsutil::write_atomic(
                &public,
                format!("{}\n", key.verifier()).as_bytes(),
                false,
            )
            .with_context(|| format!("writing {}", public.display()))?;
            eprintln!(
                "aigis audit: key {} (private, 0600) and verifier {}",
                output.display(),
                public.display()
            );
            Ok(0)
        }
        crate::cli::AuditCommand::Verify { log, key } => {
            let text = std::fs::read_to_string(key)
                .with_context(|| format!("reading {}", key.display()))?;
            let verifier = NoteVerifier::parse(text.trim())
                .map_err(|e| anyhow!("{}: not an audit verifier key: {e}", key.display()))?;
            let shown = log.to_string_lossy();
            let r = if shown.starts_with("postgres://") || shown.starts_with("postgresql://") {
                // The chain whose log_id is the key's name: one per gateway node.
                aigis_monitor::audit_pg::verify_postgres(&shown, &verifier)
                    .map_err(|e| anyhow!("{e}"))?
            } else {
                if !log.exists() {
                    anyhow::bail!("{}: no such audit log", log.display());
                }
                aigis_monitor::audit::verify(log, &verifier)
            };
            if r.records == 0 && r.checkpoints == 0 && r.problem.is_none() {
                eprintln!(
                    "aigis audit: {} holds no record of log `{}`",
                    aigis_monitor::audit_pg::redact_url(&shown),
                    verifier.name()
                );
            }
            match r.problem {
                None => {
                    eprintln!(
                        "audit log intact: {} records, {} checkpoints (the last covers {} records)",
                        r.records, r.checkpoints, r.covered
                    );
                    Ok(0)
                }
                Some(p) => {
                    println!("{}: {p}", aigis_monitor::audit_pg::redact_url(&shown));
                    Ok(1)
                }
            }
        }
    }
}
