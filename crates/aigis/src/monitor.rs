//! `aigis monitor`: batch drift.

use std::collections::HashMap;
use std::fmt::Write as _;

use aigis_monitor::detect::schema;
use aigis_monitor::drift::{self, Correction};
use anyhow::{Context, Result, anyhow};

use crate::cli::{CorrectionArg, DetectArgs, DriftArgs, EventSchema, EventsArgs, MachineFormat};

/// `aigis monitor profile`.
pub fn profile(a: &crate::cli::ProfileArgs) -> Result<u8> {
    let table = drift::read_table(&a.reference).map_err(|e| anyhow!("{e}"))?;
    let source = a
        .reference
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let p = drift::Profile::of(&table, &source);
    let bytes = p.to_bytes();
    aigis_core::fsutil::write_atomic(&a.output, &bytes, false)
        .map_err(|e| anyhow!("{}: {e}", a.output.display()))?;
    eprintln!(
        "aigis monitor profile: {} rows x {} columns of {} -> {} ({} bytes)",
        p.rows,
        p.columns.len(),
        a.reference.display(),
        a.output.display(),
        bytes.len()
    );
    Ok(0)
}

/// `aigis monitor drift`.
pub fn drift(a: &DriftArgs) -> Result<u8> {
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        anyhow::bail!(
            "--alpha {}: give a level between 0 and 1, e.g. 0.05",
            a.alpha
        );
    }
    if a.min_effect.is_some_and(|e| !e.is_finite() || e < 0.0) {
        anyhow::bail!("--min-effect: give a non-negative number");
    }
    let types = match &a.schema {
        Some(p) => drift::read_schema(p).map_err(|e| anyhow!("{e}"))?,
        None => HashMap::new(),
    };
    let options = drift::Options {
        alpha: a.alpha,
        correction: match a.correction {
            CorrectionArg::Bonferroni => Correction::Bonferroni,
            CorrectionArg::Fdr => Correction::Fdr,
            CorrectionArg::None => Correction::None,
        },
        min_effect: a.min_effect,
        min_rows: a.min_rows.max(1),
        types,
    };
    let report =
        drift::compare_files(&a.reference, &a.current, &options).map_err(|e| anyhow!("{e}"))?;
    let text = match a.format {
        MachineFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        MachineFormat::Table => table(&report),
    };
    match &a.output {
        Some(p) => aigis_core::fsutil::write_atomic(p, text.as_bytes(), false)
            .with_context(|| format!("writing {}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(u8::from(report.dataset_drift))
}

fn num(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(v) if v != 0.0 && v.abs() < 1e-3 => format!("{v:.2e}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn table(r: &drift::Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<12} {:<5} {:>10} {:>10} {:>10} {:>8}  drift",
        "column", "type", "test", "statistic", "p-value", "effect", "psi"
    );
    for c in &r.columns {
        let kind = format!("{:?}", c.kind).to_lowercase();
        let effect = c.effect.as_ref().map(|e| match c.effect_metric {
            Some("wasserstein_normed") => e.wasserstein_normed.unwrap_or_default(),
            _ => e.js_distance,
        });
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:<5} {:>10} {:>10} {:>10} {:>8}  {}{}",
            c.name,
            kind,
            c.test,
            num(c.statistic),
            num(c.p_value),
            num(effect),
            num(c.effect.as_ref().map(|e| e.psi)),
            if c.drift { "DRIFT" } else { "-" },
            c.reason
                .as_ref()
                .map(|m| format!("  ({m})"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "\n{} of {} tested columns drifted (alpha {}, {}{}); effect: normed Wasserstein for numbers, Jensen-Shannon distance (base 2) otherwise.\ndataset drift: {}",
        r.drifted_columns,
        r.tested_columns,
        r.alpha,
        format!("{:?}", r.correction).to_lowercase(),
        r.min_effect
            .map(|m| format!(", minimum effect {m}"))
            .unwrap_or_default(),
        if r.dataset_drift { "yes" } else { "no" }
    );
    out
}

/// `aigis monitor detect`: the detectors over an audit log, in record order.
/// Calls `f` with every decision record of the log (sealed segments first); returns the
/// events read and the lines skipped (checkpoints, other records).
fn each_event(
    log: &std::path::Path,
    mut f: impl FnMut(&aigis_monitor::detect::Event),
) -> Result<(u64, u64)> {
    use std::io::BufRead;
    let mut files = aigis_monitor::audit::segments(log);
    if log.exists() {
        files.push(log.to_path_buf());
    }
    if files.is_empty() {
        anyhow::bail!("{}: no such audit log", log.display());
    }
    let (mut events, mut skipped) = (0u64, 0u64);
    for p in &files {
        let file = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.with_context(|| format!("reading {}", p.display()))?;
            match serde_json::from_str(&line)
                .ok()
                .and_then(|v| aigis_monitor::detect::Event::from_record(&v))
            {
                Some(e) => {
                    f(&e);
                    events += 1;
                }
                None => skipped += 1,
            }
        }
    }
    Ok((events, skipped))
}

/// `aigis monitor events`: decision records in a SIEM or telemetry schema.
pub fn events(a: &EventsArgs) -> Result<u8> {
    use std::io::Write as _;
    if a.schema == EventSchema::Native {
        anyhow::bail!("--schema native: the audit log already is that; choose ocsf, ecs or otel");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = None;
    let (n, skipped) = each_event(&a.log, |e| {
        let v = match a.schema {
            EventSchema::Ocsf => schema::ocsf_api_activity(e),
            EventSchema::Ecs => schema::ecs_event(e),
            EventSchema::Otel | EventSchema::Native => schema::otel_attributes(e),
        };
        if failed.is_none()
            && let Err(err) = writeln!(out, "{v}")
        {
            failed = Some(err);
        }
    })?;
    if let Some(e) = failed {
        return Err(e).context("writing stdout");
    }
    out.flush().context("writing stdout")?;
    eprintln!("aigis monitor: {n} decision records converted, {skipped} other lines skipped");
    Ok(0)
}

/// The detectors (thresholds from `config`'s `[monitor.detect]`) over an audit log: the
/// alerts, the events read and the lines skipped.
fn replay(
    log: &std::path::Path,
    config: Option<&std::path::Path>,
) -> Result<(Vec<aigis_monitor::detect::Alert>, u64, u64)> {
    use aigis_monitor::detect::{DetectConfig, Detectors};
    let cfg = match config {
        Some(p) => aigis_pipeline::Config::load(p)?.monitor.detect,
        None => DetectConfig::default(),
    };
    if cfg.window_secs == 0 || !(cfg.alpha > 0.0 && cfg.alpha <= 1.0) {
        anyhow::bail!("[monitor.detect]: window-secs must be positive and alpha in (0, 1]");
    }
    let mut d = Detectors::new(&cfg).map_err(|e| anyhow::anyhow!("[monitor.detect] {e}"))?;
    let mut alerts = Vec::new();
    let mut last = 0u64;
    let (events, skipped) = each_event(log, |e| {
        last = last.max(e.time_ms);
        d.observe(e, &mut alerts);
    })?;
    d.flush(last.saturating_add(cfg.window_secs * 1000), &mut alerts);
    Ok((alerts, events, skipped))
}

pub fn detect(a: &DetectArgs) -> Result<u8> {
    if a.schema == EventSchema::Otel {
        anyhow::bail!(
            "--schema otel describes decisions (aigis monitor events); alerts: native, ocsf or ecs"
        );
    }
    let (alerts, events, skipped) = replay(&a.log, a.config.as_deref())?;
    let mut out = String::new();
    match a.format {
        MachineFormat::Json => {
            for al in &alerts {
                let v = match a.schema {
                    EventSchema::Ocsf => schema::ocsf_detection_finding(al),
                    EventSchema::Ecs => schema::ecs_alert(al),
                    EventSchema::Native | EventSchema::Otel => serde_json::to_value(al)?,
                };
                let _ = writeln!(out, "{v}");
            }
        }
        MachineFormat::Table => {
            for al in &alerts {
                let _ = writeln!(
                    out,
                    "{:<9} {:<18} {}  [{}]",
                    format!("{:?}", al.priority).to_lowercase(),
                    al.detector,
                    al.message,
                    al.atlas.join(", ")
                );
            }
        }
    }
    print!("{out}");
    eprintln!(
        "aigis monitor: {events} events, {} alerts{}",
        alerts.len(),
        if skipped > 0 {
            format!(", {skipped} lines that are not decision records skipped")
        } else {
            String::new()
        }
    );
    Ok(u8::from(!alerts.is_empty()))
}

/// `aigis incident …`.
pub fn incident(c: &crate::cli::IncidentCommand) -> Result<u8> {
    use crate::cli::IncidentCommand as C;
    use aigis_monitor::incident::IncidentStore;
    // A SQLite file, or a `postgres://` URL (the store the gateway's replicas share).
    let open = |p: &std::path::Path| -> Result<IncidentStore> {
        let location = p.to_string_lossy();
        if aigis_monitor::incident::is_postgres(&location) {
            return IncidentStore::open_location(&location, std::path::Path::new("."))
                .map_err(|e| anyhow!("{e}"));
        }
        if !p.exists() {
            anyhow::bail!(
                "{}: no incident store (the gateway's [guard.serve] incidents)",
                p.display()
            );
        }
        IncidentStore::open(p).map_err(|e| anyhow!("{e}"))
    };
    let ms = |t: i64| schema::rfc3339(u64::try_from(t).unwrap_or(0));
    match c {
        C::List {
            store,
            all,
            schema: crate::cli::IncidentSchema::Ocsf,
            assignee_group,
            ..
        } => {
            let s = open(store)?;
            for i in s.list(*all).map_err(|e| anyhow!("{e}"))? {
                let (_, timeline) = s.show(i.id).map_err(|e| anyhow!("{e}"))?;
                println!(
                    "{}",
                    schema::ocsf_incident_finding(&i, &timeline, assignee_group)
                );
            }
            Ok(0)
        }
        C::Show {
            id,
            store,
            schema: crate::cli::IncidentSchema::Ocsf,
            assignee_group,
            ..
        } => {
            let (inc, timeline) = open(store)?.show(*id).map_err(|e| anyhow!("{e}"))?;
            println!(
                "{}",
                schema::ocsf_incident_finding(&inc, &timeline, assignee_group)
            );
            Ok(0)
        }
        C::Timeline { id, store, format } => {
            let (_, timeline) = open(store)?.show(*id).map_err(|e| anyhow!("{e}"))?;
            for e in &timeline {
                match format {
                    MachineFormat::Json => println!("{}", serde_json::to_string(e)?),
                    MachineFormat::Table => {
                        println!("{}  {:<8} {}", ms(e.time_ms), e.kind, e.detail);
                    }
                }
            }
            Ok(0)
        }
        C::List {
            store, all, format, ..
        } => {
            let list = open(store)?.list(*all).map_err(|e| anyhow!("{e}"))?;
            match format {
                MachineFormat::Json => println!("{}", serde_json::to_string_pretty(&list)?),
                MachineFormat::Table => {
                    for i in &list {
                        println!(
                            "{:>5}  {:<12} {:<9} {:<18} {:<24} {}",
                            i.id,
                            i.status,
                            i.priority,
                            i.detector,
                            i.subject,
                            ms(i.updated_ms)
                        );
                    }
                    eprintln!("{} incidents", list.len());
                }
            }
            Ok(0)
        }
        C::Show {
            id, store, format, ..
        } => {
            let (inc, timeline) = open(store)?.show(*id).map_err(|e| anyhow!("{e}"))?;
            match format {
                MachineFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"incident": inc, "timeline": timeline})
                    )?
                ),
                MachineFormat::Table => {
                    println!(
                        "incident {} — {} ({}, {})\n{}\n",
                        inc.id, inc.subject, inc.status, inc.priority, inc.title
                    );
                    for e in &timeline {
                        println!("{}  {:<8} {}", ms(e.time_ms), e.kind, e.detail);
                    }
                }
            }
            Ok(0)
        }
        C::Replay { log, store, config } => {
            let (alerts, events, _) = replay(log, config.as_deref())?;
            let mut s =
                IncidentStore::open_location(&store.to_string_lossy(), std::path::Path::new("."))
                    .map_err(|e| anyhow!("{e}"))?;
            let mut opened = 0;
            for a in &alerts {
                let (id, new) = s.record_alert(a).map_err(|e| anyhow!("{e}"))?;
                if new {
                    opened += 1;
                    println!("{id}\t{}\t{}", a.detector, a.subject);
                }
            }
            eprintln!(
                "aigis incident: {events} events replayed, {} alerts, {opened} incidents opened in {}",
                alerts.len(),
                store.display()
            );
            Ok(u8::from(!alerts.is_empty()))
        }
        C::Ack { id, store, note } => {
            open(store)?
                .set_status(*id, "acknowledged", note)
                .map_err(|e| anyhow!("{e}"))?;
            eprintln!("incident {id} acknowledged");
            Ok(0)
        }
        C::Resolve { id, store, note } => {
            open(store)?
                .set_status(*id, "resolved", note)
                .map_err(|e| anyhow!("{e}"))?;
            eprintln!("incident {id} resolved");
            Ok(0)
        }
    }
}
