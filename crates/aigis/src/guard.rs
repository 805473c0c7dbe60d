//! `aigis guard …` commands.

use std::io::Write;
use std::path::PathBuf;

use aigis_guard::classify::{self, Input};
use aigis_guard::{Chain, ChainConfig};
use anyhow::{Context, Result, anyhow};

use crate::cli::{GuardClassifyArgs, GuardCommand, GuardConfigArgs};
use crate::data::{Output, byte_bar, open_input};

pub fn guard(c: &GuardCommand) -> Result<u8> {
    match c {
        GuardCommand::Classify(a) => classify_cmd(a),
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
