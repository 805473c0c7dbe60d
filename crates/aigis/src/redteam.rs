//! `aigis redteam`: build the target and the cases from the flags, run the harness with a
//! progress bar, write the report, map the gate to the exit code.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aigis_redteam::config::{self, RunConfig};
use aigis_redteam::harness;
use aigis_redteam::probes::{self, Selection};
use aigis_redteam::report::{self, Gate, Report};
use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::json;

use crate::cli::{MachineFormat, OutFormat, RedteamArgs, RedteamCommand, TargetKind};
use crate::commands::emit;

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn redteam(a: &RedteamArgs) -> Result<u8> {
    match &a.command {
        Some(RedteamCommand::List { format }) => Ok(list(*format)),
        Some(RedteamCommand::Diff {
            before,
            after,
            tolerance,
            format,
        }) => diff(before, after, *tolerance, *format),
        Some(RedteamCommand::Target { listen, hardened }) => serve_target(listen, *hardened),
        None => run(a),
    }
}

/// The run the flags describe.
fn config(a: &RedteamArgs) -> Result<RunConfig> {
    let kind = match a.target {
        Some(TargetKind::Openai) => config::TargetKind::Openai,
        Some(TargetKind::Http) => config::TargetKind::Http,
        Some(TargetKind::Command) => config::TargetKind::Command,
        None => bail!("give --target openai|http|command (or a subcommand: list, diff, target)"),
    };
    let mut c = RunConfig::new(kind);
    c.base_url.clone_from(&a.base_url);
    c.model.clone_from(&a.model);
    c.api_key_env.clone_from(&a.api_key_env);
    c.max_tokens = a.max_tokens;
    c.temperature = a.temperature;
    c.stream = a.stream;
    c.url.clone_from(&a.url);
    c.request_template.clone_from(&a.request_template);
    c.response_selector.clone_from(&a.response_selector);
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| anyhow!("--header {h:?}: write it as `Name: value`"))?;
        c.headers.insert(k.trim().to_string(), v.trim().to_string());
    }
    if let Some(p) = &a.command_program {
        c.command.push(p.clone());
        c.command.extend(a.command_args.iter().cloned());
    }
    c.system_prompt.clone_from(&a.system_prompt);
    c.probes.clone_from(&a.probes);
    c.buffs.clone_from(&a.buffs);
    c.max_per_probe = a.max_per_probe;
    c.probe_files.clone_from(&a.probe_files);
    c.generations = a.generations;
    c.concurrency = a.concurrency;
    c.rate = a.rate;
    c.timeout_secs = a.timeout;
    c.retries = a.retries;
    c.seed = a.seed;
    c.ca_file.clone_from(&a.ca_file);
    c.cache.clone_from(&a.cache);
    c.no_cache = a.no_cache;
    c.judge_base_url.clone_from(&a.judge_base_url);
    c.judge_model.clone_from(&a.judge_model);
    c.judge_api_key_env.clone_from(&a.judge_api_key_env);
    Ok(c)
}

/// `$XDG_CACHE_HOME/aigis/redteam.sqlite` (or `~/.cache/…`).
fn default_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("aigis").join("redteam.sqlite"))
}

fn run(a: &RedteamArgs) -> Result<u8> {
    let gate = Gate::parse(&a.fail_on).map_err(|e| anyhow!("{e}"))?;
    let cfg = config(a)?;
    let base = Path::new(".");
    // Check everything that can be checked before any request goes out.
    let cases = cfg.cases(base).map_err(|e| anyhow!("{e}"))?;
    let total = cases.len() * a.generations.max(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} attacks {pos}/{len} {wide_bar} {elapsed} (eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let pb = bar.clone();
    let progress = Arc::new(move |p: harness::Progress| {
        if let Some(b) = &pb {
            b.set_position(p.done as u64);
            b.set_message(format!("{} successful", p.successes));
        }
    });
    let (tx, rx) = tokio::sync::watch::channel(false);
    let result = rt.block_on(async {
        let stopper = tokio::spawn(async move {
            crate::guard::shutdown_signal().await;
            eprintln!("aigis redteam: stopping; the report will be marked incomplete");
            let _ = tx.send(true);
        });
        let r = config::run_cases(&cfg, base, cases, default_cache(), progress, rx).await;
        stopper.abort();
        r
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let result = result.map_err(|e| anyhow!("{e}"))?;
    let settings = json!({
        "probes": a.probes, "buffs": a.buffs, "max_per_probe": a.max_per_probe,
        "fail_on": a.fail_on, "judge": a.judge_model,
    });
    if let Some(p) = &a.attempts_log {
        aigis_pipeline::fsutil::write_atomic(p, report::attempts_jsonl(&result).as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let rep = report::build(&result, &gate, VERSION, settings);
    let text = match a.format {
        OutFormat::Table => rep.to_table(),
        OutFormat::Json => rep.to_json(),
        OutFormat::Html => rep.to_html(),
        OutFormat::Sarif => aigis_core::render::sarif(
            &rep.to_core(&aigis_pipeline::rules()),
            &aigis_pipeline::rules(),
            VERSION,
        ),
    };
    emit(&text, a.output.as_deref())?;
    if a.format != OutFormat::Table || a.output.is_some() {
        eprintln!(
            "aigis redteam: {} attempts, {} successful ({:.1}%), {} blocked, {} without answer{}",
            rep.attempts,
            rep.successes,
            rep.attack_success_rate * 100.0,
            rep.blocked,
            rep.errors,
            rep.incomplete_reason
                .as_ref()
                .map(|r| format!("; INCOMPLETE: {r}"))
                .unwrap_or_default()
        );
    }
    Ok(exit_code(&rep))
}

fn exit_code(rep: &Report) -> u8 {
    if rep.failed() {
        1
    } else if rep.complete {
        0
    } else {
        2
    }
}

fn list(format: MachineFormat) -> u8 {
    let mut fams = Vec::new();
    for f in probes::FAMILIES {
        let Ok(file) = probes::parse(f.name, f.data) else {
            continue;
        };
        let prompts: usize = probes::build(&Selection {
            probes: vec![f.name.to_string()],
            ..Selection::default()
        })
        .map_or(0, |c| c.len());
        fams.push(json!({
            "family": f.name, "rule": f.rule.id, "name": f.rule.name, "owasp": f.owasp,
            "atlas": f.atlas, "probes": file.probe.iter().map(|p| &p.name).collect::<Vec<_>>(),
            "prompts": prompts, "source": file.source, "licence": file.licence,
        }));
    }
    let buffs: Vec<_> = aigis_redteam::buffs::BUFFS
        .iter()
        .map(|b| json!({"name": b.name, "about": b.about}))
        .collect();
    let text = match format {
        MachineFormat::Json => {
            format!("{}\n", json!({"families": fams, "buffs": buffs}))
        }
        MachineFormat::Table => {
            let mut s = format!(
                "{:<26} {:<7} {:<12} {:<26} {:>7}  probes\n",
                "family", "rule", "owasp", "atlas", "prompts"
            );
            for f in &fams {
                let join = |k: &str| {
                    f[k].as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default()
                };
                s.push_str(&format!(
                    "{:<26} {:<7} {:<12} {:<26} {:>7}  {}\n",
                    f["family"].as_str().unwrap_or(""),
                    f["rule"].as_str().unwrap_or(""),
                    join("owasp"),
                    join("atlas"),
                    f["prompts"],
                    join("probes")
                ));
            }
            s.push_str("\nbuffs (--buffs):\n");
            for b in aigis_redteam::buffs::BUFFS {
                s.push_str(&format!("  {:<14} {}\n", b.name, b.about));
            }
            s
        }
    };
    print!("{text}");
    0
}

fn diff(before: &PathBuf, after: &PathBuf, tolerance: f64, format: MachineFormat) -> Result<u8> {
    if !(0.0..=1.0).contains(&tolerance) {
        bail!("--tolerance {tolerance}: give a rate from 0 to 1");
    }
    let load = |p: &PathBuf| -> Result<Report> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        Report::from_json(&p.display().to_string(), &text).map_err(|e| anyhow!("{e}"))
    };
    let (a, b) = (load(before)?, load(after)?);
    if a.target != b.target {
        eprintln!(
            "aigis redteam diff: note: the reports are of different targets ({} vs {})",
            a.target, b.target
        );
    }
    let changes = report::diff(&a, &b, tolerance);
    let regressions = changes.iter().filter(|c| c.regression).count();
    match format {
        MachineFormat::Table => print!("{}", report::diff_table(&changes)),
        MachineFormat::Json => println!(
            "{}",
            json!({"schema": "aigis.redteam.diff/v1", "before": {"attack_success_rate": a.attack_success_rate, "complete": a.complete},
                   "after": {"attack_success_rate": b.attack_success_rate, "complete": b.complete},
                   "regressions": regressions, "changes": changes})
        ),
    }
    if regressions > 0 {
        eprintln!("aigis redteam diff: {regressions} regressions");
        return Ok(1);
    }
    Ok(0)
}

fn serve_target(listen: &str, hardened: bool) -> Result<u8> {
    let addr: std::net::SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?}: give an address such as 127.0.0.1:8000"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        eprintln!(
            "aigis redteam target: {} reference target on http://{}/v1 (model aigis-vulnerable-1)",
            if hardened { "hardened" } else { "VULNERABLE" },
            l.local_addr()?
        );
        aigis_redteam::vulnerable::serve(
            l,
            aigis_redteam::vulnerable::Behaviour { hardened },
            crate::guard::shutdown_signal(),
        )
        .await
        .context("serving")?;
        Ok(0)
    })
}
