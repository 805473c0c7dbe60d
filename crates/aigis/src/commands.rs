//! One function per command: resolve settings, call the library, print, return the exit code.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use aigis_core::render::{self, Format};
use aigis_core::{Report, policy};
use aigis_pipeline::fsutil::write_atomic;
use anyhow::{Context, Result, bail};

use crate::cli::{Cli, Command, OutFormat, RulesArgs, RunArgs, ScanArgs};

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Scan(a) => scan(&a),
        Command::Run(a) => run(&a),
        Command::Rules(a) => rules(&a),
        Command::Keygen(a) => Ok(crate::integrity::keygen(&a)),
        Command::Sign(a) => Ok(crate::integrity::sign(&a)),
        Command::Verify(a) => Ok(crate::integrity::verify(&a)),
        Command::Log(c) => Ok(crate::integrity::log(&c)),
        Command::Registry(c) => Ok(crate::integrity::registry(&c)),
        Command::Pii(c) => crate::data::pii(&c),
        Command::Data(c) => crate::data::data(&c),
        Command::Guard(c) => crate::guard::guard(&c),
        Command::Audit(c) => crate::guard::audit(&c),
        Command::Monitor(crate::cli::MonitorCommand::Drift(a)) => crate::monitor::drift(&a),
        Command::Monitor(crate::cli::MonitorCommand::Profile(a)) => crate::monitor::profile(&a),
        Command::Monitor(crate::cli::MonitorCommand::Detect(a)) => crate::monitor::detect(&a),
        Command::Monitor(crate::cli::MonitorCommand::Events(a)) => crate::monitor::events(&a),
        Command::Incident(c) => crate::monitor::incident(&c),
        Command::Redteam(a) => crate::redteam::redteam(&a),
        Command::Robust(c) => crate::robust::robust(&c),
        Command::Fingerprint(a) => crate::robust::fingerprint(&a),
    }
}

fn fmt(f: OutFormat) -> Format {
    match f {
        OutFormat::Table => Format::Table,
        OutFormat::Json => Format::Json,
        OutFormat::Sarif => Format::Sarif,
        OutFormat::Html => Format::Html,
    }
}

pub(crate) fn emit(text: &str, output: Option<&std::path::Path>) -> Result<()> {
    if let Some(p) = output {
        write_atomic(p, text.as_bytes()).with_context(|| format!("writing {}", p.display()))
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .context("writing to stdout")?;
        out.flush().context("writing to stdout")
    }
}

fn scan(a: &ScanArgs) -> Result<u8> {
    let mut opts = aigis_scan::ScanOptions {
        digest: !a.no_digest,
        max_depth: a.max_depth,
        time_budget: Duration::from_secs(a.timeout),
        ..Default::default()
    };
    for s in &a.allow {
        match aigis_pipeline::parse_allow(s) {
            Some(pair) => opts.extra_allow.push(pair),
            None => {
                bail!("--allow {s:?} is not module:name\nhint: e.g. --allow mypkg.models:MyModel")
            }
        }
    }
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning {pos}/{len} files {wide_bar} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let tick = |n: usize, total: usize| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(n as u64);
        }
    };
    let report = aigis_scan::scan_paths(&a.paths, &opts, None, &tick);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let text = render::render(&report, fmt(a.format), &aigis_pipeline::rules(), VERSION);
    emit(&text, a.output.as_deref())?;
    for e in &report.errors {
        eprintln!(
            "error: {}: {}\nhint: check the path and its permissions; unreadable inputs make the scan exit 2",
            e.path, e.message
        );
    }
    if !a.quiet && a.format != OutFormat::Table {
        eprint!("{}", summary_line(&report));
    }
    Ok(exit_code(&report, a.fail_on))
}

/// 1 for findings at or above the threshold (never masked by errors elsewhere), else 2 when
/// some input could not be read, else 0.
fn exit_code(report: &Report, fail_on: aigis_core::Severity) -> u8 {
    if policy::report_exit_code(report, fail_on) == 1 {
        1
    } else if !report.errors.is_empty() {
        2
    } else {
        0
    }
}

fn summary_line(r: &Report) -> String {
    format!(
        "aigis: {}, {} errors, {} ms\n",
        r.summary(),
        r.errors.len(),
        r.elapsed_ms
    )
}

fn run(a: &RunArgs) -> Result<u8> {
    if matches!(a.format, OutFormat::Sarif | OutFormat::Html) {
        bail!(
            "aigis run prints table or json; the HTML and JSON reports are written to the project directory"
        );
    }
    let opts = aigis_pipeline::RunOptions {
        out_dir: a.out.clone(),
        fail_on: a.fail_on,
        today: None,
    };
    let outcome = aigis_pipeline::run(&a.dir, &opts)
        .with_context(|| format!("running the pipeline in {}", a.dir.display()))?;
    let text = render::render(
        &outcome.report,
        fmt(a.format),
        &aigis_pipeline::rules(),
        VERSION,
    );
    emit(&text, None)?;
    let stages: Vec<String> = outcome
        .stages
        .iter()
        .map(|(n, ms)| format!("{n} {ms} ms"))
        .collect();
    eprintln!("aigis run: stages: {}", stages.join(", "));
    for w in &outcome.written {
        eprintln!("aigis run: wrote {}", w.display());
    }
    if outcome.exit_code == 1 {
        eprintln!(
            "aigis run: FAILED: findings at or above `{}` (see above)",
            outcome.fail_on
        );
    } else if !outcome.report.errors.is_empty() {
        for e in &outcome.report.errors {
            eprintln!("error: {}: {}", e.path, e.message);
        }
        eprintln!("aigis run: some inputs could not be read");
        return Ok(2);
    } else {
        eprintln!(
            "aigis run: passed (no findings at or above `{}`)",
            outcome.fail_on
        );
    }
    Ok(outcome.exit_code as u8)
}

fn rules(a: &RulesArgs) -> Result<u8> {
    let reg = aigis_pipeline::rules();
    let json = a.format == OutFormat::Json;
    match &a.rule {
        Some(key) => {
            let Some(r) = reg.find(key) else {
                bail!("no rule {key:?}\nhint: `aigis rules` lists them all");
            };
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(r)?), None)?;
            } else {
                emit(
                    &format!(
                        "{} {} ({})\n{}\n\n{}",
                        r.id, r.name, r.severity, r.summary, r.doc
                    ),
                    None,
                )?;
            }
        }
        None => {
            if json {
                emit(
                    &format!("{}\n", serde_json::to_string_pretty(reg.all())?),
                    None,
                )?;
            } else {
                let mut s = String::new();
                for r in reg.all() {
                    s.push_str(&format!(
                        "{:<7} {:<9} {:<30} {}\n",
                        r.id,
                        r.severity.as_str(),
                        r.name,
                        r.summary
                    ));
                }
                emit(&s, None)?;
            }
        }
    }
    Ok(0)
}
