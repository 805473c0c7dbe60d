//! `aigis pii …` commands.

use std::io::{BufReader, BufWriter, IsTerminal, Write};

use aigis_data::stream::{self, Input};
use aigis_data::{Analyzer, Options};
use anyhow::{Context, Result, bail};

use crate::cli::{PiiCommand, PiiDetectArgs};

pub fn pii(c: &PiiCommand) -> Result<u8> {
    match c {
        PiiCommand::Detect(a) => detect(a),
        PiiCommand::Recognizers => {
            let a = Analyzer::new(Options::default());
            let mut out = std::io::stdout().lock();
            for r in a.recognizers() {
                writeln!(
                    out,
                    "{:<18} {:<24} {}",
                    r.name,
                    r.entities.join(","),
                    r.summary
                )?;
            }
            Ok(0)
        }
    }
}

fn detect(a: &PiiDetectArgs) -> Result<u8> {
    if !(0.0..=1.0).contains(&a.min_score) {
        bail!("--min-score {} is outside 0..1", a.min_score);
    }
    let analyzer = Analyzer::new(Options {
        min_score: a.min_score,
        entities: a.entities.clone(),
    });
    let ext = a
        .input
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = a.input_format.clone().unwrap_or_else(|| {
        if a.text_field.is_some() || ext == "jsonl" || ext == "ndjson" {
            "jsonl".into()
        } else if ext == "csv" {
            "csv".into()
        } else {
            "text".into()
        }
    });
    if format != "csv" && !a.column.is_empty() {
        bail!("--column applies to CSV input; this input is read as {format}");
    }
    let input = match format.as_str() {
        "jsonl" => Input::Jsonl {
            field: a.text_field.clone().unwrap_or_else(|| "text".into()),
        },
        _ => Input::Lines,
    };
    let stdin = a.input.as_os_str() == "-";
    let (reader, total): (Box<dyn std::io::BufRead + Send>, u64) = if stdin {
        (
            Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
            0,
        )
    } else {
        let f = std::fs::File::open(&a.input)
            .with_context(|| format!("opening {}", a.input.display()))?;
        let len = f.metadata().map_or(0, |m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, f)), len)
    };
    let bar = (!a.quiet && total > 0 && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} pii {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    // Output goes to a temporary file beside the target and is renamed only on success.
    let tmp = a.output.as_deref().map(aigis_core::fsutil::temp_beside);
    let sink: Box<dyn Write> = match &tmp {
        Some(t) => Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(t).with_context(|| format!("creating {}", t.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock())),
    };
    let mut bad_shown = 0;
    let on_bad = |b: &stream::BadRecord| {
        bad_shown += 1;
        if bad_shown <= 20 {
            eprintln!(
                "warning: {}: record {}: {}",
                a.input.display(),
                b.line,
                b.message
            );
        }
    };
    let on_progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let mut summary = None;
    let result = if format == "csv" {
        stream::detect_csv(&analyzer, reader, &a.column, sink, on_bad, on_progress).map(
            |(s, sum)| {
                summary = Some(sum);
                s
            },
        )
    } else {
        stream::detect(&analyzer, reader, &input, sink, on_bad, on_progress)
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let stats = match result {
        Ok(s) => s,
        Err(e) => {
            if let Some(t) = &tmp {
                let _ = std::fs::remove_file(t);
            }
            return Err(e).context(format!("reading {}", a.input.display()));
        }
    };
    if let (Some(t), Some(o)) = (&tmp, &a.output) {
        // Durable before it becomes visible, like every atomic write here.
        std::fs::File::open(t)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(t, o))
            .with_context(|| format!("writing {}", o.display()))?;
    }
    if let (Some(sum), false) = (&summary, a.quiet) {
        eprintln!("{:<24} entities", "column");
        for (col, counts) in sum {
            let list: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
            eprintln!(
                "{col:<24} {}",
                if list.is_empty() {
                    "-".to_string()
                } else {
                    list.join(", ")
                }
            );
        }
    }
    if !a.quiet {
        eprintln!(
            "aigis pii: {} records, {} with entities, {} entities, {} skipped",
            stats.records, stats.records_with_entities, stats.entities, stats.bad_records
        );
    }
    Ok(if stats.entities > 0 {
        1
    } else if stats.bad_records > 0 {
        2
    } else {
        0
    })
}
