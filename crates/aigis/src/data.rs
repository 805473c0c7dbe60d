//! `aigis pii …` commands.

use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use aigis_core::fsutil::{AtomicFile, write_atomic};
use aigis_core::render::{self, Format};
use aigis_data::anonymize::{Anonymizer, Operator};
use aigis_data::stream::{self, Input};
use aigis_data::transform::{self, Direction};
use aigis_data::vault::VaultKey;
use aigis_data::{Analyzer, Options, crypt, dataset};
use anyhow::{Context, Result, bail};

use crate::cli::{
    AnonymizeArgs, DataCommand, DataKeygenArgs, DataScanArgs, DecryptArgs, EncryptArgs, OutFormat,
    PiiCommand, PiiDetectArgs,
};

const VERSION: &str = env!("CARGO_PKG_VERSION");

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
    let format = record_format(
        &a.input,
        a.input_format.as_deref(),
        a.text_field.is_some(),
        !a.column.is_empty(),
    )?;
    if format == "parquet" {
        return detect_parquet(a, &analyzer);
    }
    let input = match format.as_str() {
        "jsonl" => Input::Jsonl {
            field: a.text_field.clone().unwrap_or_else(|| "text".into()),
        },
        _ => Input::Lines,
    };
    let (reader, total) = open_input(&a.input)?;
    let bar = byte_bar(total, a.quiet, "pii");
    // Output goes to a temporary file beside the target and is renamed only on success.
    let out_path = a.output.clone().unwrap_or_else(|| PathBuf::from("-"));
    let mut sink = Output::create(&out_path, false)?;
    let on_bad = warn_bad(&a.input, "");
    let on_progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let mut summary = None;
    let result = if format == "csv" {
        stream::detect_csv(&analyzer, reader, &a.column, &mut sink, on_bad, on_progress).map(
            |(s, sum)| {
                summary = Some(sum);
                s
            },
        )
    } else {
        stream::detect(&analyzer, reader, &input, &mut sink, on_bad, on_progress)
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // On error the output is dropped uncommitted: no partial file.
    let stats = result.with_context(|| format!("reading {}", a.input.display()))?;
    sink.commit(&out_path)?;
    if let (Some(sum), false) = (&summary, a.quiet) {
        summary_table(sum);
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

/// The record format: `--input-format`, else from the extension (`.csv`, `.jsonl`/`.ndjson`,
/// `.parquet`), else JSONL when a JSON path was given, else text. `--column` needs CSV or Parquet.
fn record_format(
    input: &Path,
    explicit: Option<&str>,
    json_path_given: bool,
    columns_given: bool,
) -> Result<String> {
    let ext = input
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = explicit.map_or_else(
        || {
            if json_path_given || ext == "jsonl" || ext == "ndjson" {
                "jsonl".to_string()
            } else if ext == "csv" || ext == "parquet" {
                ext.clone()
            } else {
                "text".to_string()
            }
        },
        str::to_string,
    );
    if format != "csv" && format != "parquet" && columns_given {
        bail!("--column applies to CSV and Parquet input; this input is read as {format}");
    }
    Ok(format)
}

/// Prints the first 20 unreadable records of `input` as warnings on stderr.
fn warn_bad<'a>(input: &'a Path, suffix: &'a str) -> impl FnMut(&stream::BadRecord) + 'a {
    let mut shown = 0u32;
    move |b| {
        shown += 1;
        if shown <= 20 {
            eprintln!(
                "warning: {}: record {}: {}{suffix}",
                input.display(),
                b.line,
                b.message
            );
        }
    }
}

/// A byte progress bar on stderr when it is a terminal and the size is known.
pub(crate) fn byte_bar(total: u64, quiet: bool, label: &str) -> Option<indicatif::ProgressBar> {
    (!quiet && total > 0 && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{spinner}} {label} {{bytes}}/{{total_bytes}} {{wide_bar}} {{bytes_per_sec}} {{eta}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

/// Opens `path` (`-` = stdin) with its size when known.
pub(crate) fn open_input(path: &Path) -> Result<(Box<dyn std::io::BufRead + Send>, u64)> {
    if path.as_os_str() == "-" {
        return Ok((
            Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
            0,
        ));
    }
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = f.metadata().map_or(0, |m| m.len());
    Ok((Box::new(BufReader::with_capacity(1 << 20, f)), len))
}

/// An output that is either stdout or a file that appears only on [`Output::commit`].
pub(crate) enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File(AtomicFile),
}

impl Output {
    pub(crate) fn create(path: &Path, private: bool) -> Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(Self::Stdout(BufWriter::with_capacity(
                1 << 20,
                std::io::stdout(),
            )));
        }
        AtomicFile::create(path, private)
            .map(Self::File)
            .with_context(|| format!("creating {}", path.display()))
    }

    pub(crate) fn commit(self, path: &Path) -> Result<()> {
        match self {
            Self::Stdout(mut w) => w.flush().context("writing to stdout"),
            Self::File(f) => f
                .commit()
                .with_context(|| format!("writing {}", path.display())),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Stdout(w) => w.write(buf),
            Self::File(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Stdout(w) => w.flush(),
            Self::File(f) => f.flush(),
        }
    }
}

pub fn data(c: &DataCommand) -> Result<u8> {
    match c {
        DataCommand::Scan(a) => data_scan(a),
        DataCommand::Redact(a) => anonymize(a, Direction::Anonymize, Operator::Replace),
        DataCommand::Tokenize(a) => anonymize(a, Direction::Anonymize, Operator::Tokenize),
        DataCommand::Detokenize(a) => anonymize(a, Direction::Detokenize, Operator::Keep),
        DataCommand::Keygen(a) => data_keygen(a),
        DataCommand::Encrypt(a) => encrypt(a),
        DataCommand::Decrypt(a) => decrypt(a),
    }
}

fn split_pair<'a>(s: &'a str, flag: &str, shape: &str) -> Result<(&'a str, &'a str)> {
    s.split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| anyhow::anyhow!("{flag} {s:?} is not {shape}"))
}

fn data_scan(a: &DataScanArgs) -> Result<u8> {
    if !(0.0..=1.0).contains(&a.min_score) {
        bail!("--min-score {} is outside 0..1", a.min_score);
    }
    let mut allow = std::collections::BTreeMap::new();
    for s in &a.allow {
        let (k, v) = split_pair(s, "--allow", "TYPE=N or column:TYPE=N")?;
        let n: u64 = v
            .parse()
            .with_context(|| format!("--allow {s:?}: {v:?} is not a count"))?;
        allow.insert(k.to_string(), n);
    }
    let analyzer = Analyzer::new(Options {
        min_score: a.min_score,
        entities: Vec::new(),
    });
    let mut files = Vec::new();
    for p in &a.paths {
        dataset::find(p, &mut files).with_context(|| format!("reading {}", p.display()))?;
    }
    let mut report = aigis_core::Report::new("aigis.data-scan/v1");
    let mut datasets = Vec::new();
    let started = std::time::Instant::now();
    // One step per file; the bar stays off when stderr is not a terminal.
    let bar = (files.len() > 1 && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(files.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} data scan {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    for f in &files {
        if let Some(b) = &bar {
            b.set_message(f.display().to_string());
        }
        let result = dataset::scan_file(&analyzer, f, a.sample);
        if let Some(b) = &bar {
            b.inc(1);
        }
        match result {
            Ok(r) => {
                let found = aigis_data::rules::findings(&r, &allow);
                report.files.push(aigis_core::FileRecord {
                    path: r.path.clone(),
                    format: format!("dataset/{}", r.format),
                    bytes: std::fs::metadata(f).map_or(0, |m| m.len()),
                    sha256: None,
                    verdict: aigis_data::rules::verdict(&r, &found),
                    incomplete: r.bad_records > 0,
                });
                report.findings.extend(found);
                datasets.push(r);
            }
            Err(e) => report.errors.push(aigis_core::ErrorRecord {
                path: f.display().to_string(),
                message: e.to_string(),
            }),
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    report.elapsed_ms = started.elapsed().as_millis();
    let mut out = std::io::stdout().lock();
    match a.format {
        OutFormat::Json => {
            let v = serde_json::json!({
                "schema": "aigis.data-scan/v1",
                "datasets": datasets,
                "findings": report.findings,
                "errors": report.errors,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        OutFormat::Table => {
            for d in &datasets {
                writeln!(
                    out,
                    "{} ({}, {} records{}{})",
                    d.path,
                    d.format,
                    d.records,
                    if d.sampled { ", sampled" } else { "" },
                    if d.bad_records > 0 {
                        format!(", {} unreadable", d.bad_records)
                    } else {
                        String::new()
                    }
                )?;
                for (name, f) in &d.fields {
                    let list: Vec<String> =
                        f.entities.iter().map(|(k, n)| format!("{k} {n}")).collect();
                    writeln!(
                        out,
                        "  {name:<28} {:>8} values  {}",
                        f.values,
                        if list.is_empty() {
                            "-".to_string()
                        } else {
                            list.join(", ")
                        }
                    )?;
                }
            }
            writeln!(out)?;
            out.write_all(
                render::render(&report, Format::Table, &aigis_pipeline::rules(), VERSION)
                    .as_bytes(),
            )?;
        }
        f => {
            let fmt = if f == OutFormat::Sarif {
                Format::Sarif
            } else {
                Format::Html
            };
            out.write_all(
                render::render(&report, fmt, &aigis_pipeline::rules(), VERSION).as_bytes(),
            )?;
        }
    }
    for e in &report.errors {
        eprintln!("error: {}: {}", e.path, e.message);
    }
    if !report.errors.is_empty() {
        return Ok(2);
    }
    Ok(u8::from(
        aigis_core::policy::report_exit_code(&report, a.fail_on) != 0,
    ))
}

/// The vault key from `--key FILE`, the config's key, or `$AIGIS_VAULT_KEY`.
fn vault_key(flag: Option<&Path>, from_config: Option<PathBuf>) -> Result<Option<VaultKey>> {
    let path = flag.map(Path::to_path_buf).or(from_config);
    if let Some(p) = path {
        let meta = std::fs::metadata(&p).with_context(|| format!("vault key {}", p.display()))?;
        if meta.len() > 4096 {
            bail!(
                "vault key {} is {} bytes; a key file is one short line",
                p.display(),
                meta.len()
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "warning: vault key {} is readable by other users; chmod 600 it",
                    p.display()
                );
            }
        }
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?,
        );
        return VaultKey::parse(&text)
            .map(Some)
            .with_context(|| format!("vault key {}", p.display()));
    }
    match std::env::var("AIGIS_VAULT_KEY") {
        Ok(v) => {
            let v = zeroize::Zeroizing::new(v);
            VaultKey::parse(&v).map(Some).context("$AIGIS_VAULT_KEY")
        }
        Err(_) => Ok(None),
    }
}

fn anonymize(a: &AnonymizeArgs, dir: Direction, fallback: Operator) -> Result<u8> {
    if !(0.0..=1.0).contains(&a.min_score) {
        bail!("--min-score {} is outside 0..1", a.min_score);
    }
    // Config: --config, else ./aigis.toml when present.
    let config_path = a
        .config
        .clone()
        .or_else(|| Some(PathBuf::from("aigis.toml")).filter(|p| p.is_file()));
    let (cfg, cfg_dir) = match &config_path {
        Some(p) => (
            aigis_pipeline::Config::load(p)?.data.anonymize,
            p.parent().map(Path::to_path_buf).unwrap_or_default(),
        ),
        None => (aigis_pipeline::AnonymizeConfig::default(), PathBuf::new()),
    };
    let mut policy = cfg.policy(fallback).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(d) = &a.default {
        policy.default = d
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--default: {e}"))?;
    }
    for s in &a.operator {
        let (k, v) = split_pair(s, "--operator", "TYPE=OP")?;
        let op = v
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--operator {s}: {e}"))?;
        policy.entities.insert(k.to_string(), op);
    }
    for s in &a.column_operator {
        let (k, v) = split_pair(s, "--column-operator", "NAME=OP")?;
        let op = v
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--column-operator {s}: {e}"))?;
        policy.columns.insert(k.to_string(), op);
    }
    let key = vault_key(a.key.as_deref(), cfg.key.as_ref().map(|k| cfg_dir.join(k)))?;
    if dir == Direction::Detokenize && key.is_none() {
        bail!(
            "detokenize needs the vault key the data was tokenised with: pass --key FILE or set AIGIS_VAULT_KEY"
        );
    }
    let analyzer = Analyzer::new(Options {
        min_score: a.min_score,
        entities: Vec::new(),
    });
    let an = Anonymizer::new(&analyzer, policy, key).map_err(|e| anyhow::anyhow!(e))?;
    let format = record_format(
        &a.input,
        a.input_format.as_deref(),
        !a.text_field.is_empty(),
        !a.column.is_empty(),
    )?;
    if format == "parquet" {
        return anonymize_parquet(a, &an, dir);
    }
    if format != "jsonl" && !a.text_field.is_empty() {
        bail!("--text-field applies to JSONL input; this input is read as {format}");
    }
    let (reader, total) = open_input(&a.input)?;
    let label = if dir == Direction::Anonymize {
        "anonymise"
    } else {
        "detokenise"
    };
    let bar = byte_bar(total, a.quiet, label);
    let mut out = Output::create(&a.output, false)?;
    let on_bad = warn_bad(&a.input, " (dropped from the output)");
    let on_progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let result = match format.as_str() {
        "csv" => {
            transform::transform_csv(&an, dir, &a.column, reader, &mut out, on_bad, on_progress)
        }
        "jsonl" => transform::transform_lines(
            &an,
            dir,
            &transform::Format::Jsonl(a.text_field.clone()),
            reader,
            &mut out,
            on_bad,
            on_progress,
        ),
        _ => transform::transform_lines(
            &an,
            dir,
            &transform::Format::Lines,
            reader,
            &mut out,
            on_bad,
            on_progress,
        ),
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // On error `out` is dropped uncommitted: no partial output file.
    let t = result.with_context(|| format!("reading {}", a.input.display()))?;
    out.commit(&a.output)?;
    if !a.quiet {
        let c = &t.counts;
        if dir == Direction::Anonymize {
            eprintln!(
                "aigis data: {} records, {} values rewritten{}, {} dropped",
                t.records,
                c.rewritten,
                if c.fpe_fallbacks > 0 {
                    format!(" ({} too small for FPE were tokenised)", c.fpe_fallbacks)
                } else {
                    String::new()
                },
                t.bad_records
            );
        } else {
            eprintln!(
                "aigis data: {} records, {} values restored, {} token-shaped strings did not open under this key, {} dropped",
                t.records, c.restored, c.unopened, t.bad_records
            );
        }
    }
    Ok(if t.bad_records > 0 { 2 } else { 0 })
}

fn data_keygen(a: &DataKeygenArgs) -> Result<u8> {
    if a.out.exists() {
        bail!("{} exists; refusing to overwrite a key", a.out.display());
    }
    if a.age {
        let (text, public) = crypt::new_identity();
        write_atomic(&a.out, text.as_bytes(), true)
            .with_context(|| format!("writing {}", a.out.display()))?;
        println!("{public}");
        eprintln!(
            "wrote age identity {} (mode 0600); public key above",
            a.out.display()
        );
    } else {
        let k = VaultKey::generate();
        write_atomic(&a.out, k.encode().as_bytes(), true)
            .with_context(|| format!("writing {}", a.out.display()))?;
        eprintln!(
            "wrote vault key {} (id {}, mode 0600)",
            a.out.display(),
            k.id()
        );
    }
    Ok(0)
}

/// A passphrase from FILE (first line) or, for `-`, from $AIGIS_AGE_PASSPHRASE.
fn passphrase(p: &Path) -> Result<age::secrecy::SecretString> {
    let text = if p.as_os_str() == "-" {
        zeroize::Zeroizing::new(
            std::env::var("AIGIS_AGE_PASSPHRASE")
                .context("--passphrase-file - reads $AIGIS_AGE_PASSPHRASE, which is not set")?,
        )
    } else {
        zeroize::Zeroizing::new(
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
    };
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        bail!("the passphrase is empty");
    }
    Ok(age::secrecy::SecretString::from(line.to_string()))
}

fn encrypt(a: &EncryptArgs) -> Result<u8> {
    let recipients = if let Some(p) = &a.passphrase_file {
        crypt::Recipients::Passphrase(passphrase(p)?)
    } else {
        let mut list = a.recipient.clone();
        for f in &a.recipients_file {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            list.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        crypt::parse_recipients(&list)?
    };
    let (reader, _) = open_input(&a.input)?;
    let mut out = Output::create(&a.output, false)?;
    crypt::encrypt(&recipients, a.armor, reader, &mut out)
        .with_context(|| format!("encrypting {}", a.input.display()))?;
    out.commit(&a.output)?;
    Ok(0)
}

fn decrypt(a: &DecryptArgs) -> Result<u8> {
    if a.output.as_os_str() == "-" {
        bail!(
            "decrypt writes to a file only (-o FILE), so plaintext appears only after the whole input authenticated"
        );
    }
    let ids = match (&a.identity, &a.passphrase_file) {
        (_, Some(p)) => crypt::Identities::Passphrase(passphrase(p)?),
        (Some(i), None) => {
            let f = std::fs::File::open(i)
                .with_context(|| format!("opening identity {}", i.display()))?;
            crypt::read_identities(BufReader::new(f.take(1 << 20)))
                .with_context(|| format!("identity {}", i.display()))?
        }
        (None, None) => bail!("pass --identity FILE or --passphrase-file FILE"),
    };
    let (reader, _) = open_input(&a.input)?;
    // Private: the plaintext may be exactly what encryption protected.
    let mut out = Output::create(&a.output, true)?;
    match crypt::decrypt(&ids, reader, &mut out) {
        Ok(_) => {
            out.commit(&a.output)?;
            Ok(0)
        }
        Err(e) => {
            drop(out);
            eprintln!("error: {}: {e}", a.input.display());
            Ok(1)
        }
    }
}

fn summary_table(sum: &aigis_data::stream::ColumnSummary) {
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

#[cfg(feature = "parquet")]
fn detect_parquet(a: &PiiDetectArgs, analyzer: &Analyzer) -> Result<u8> {
    if a.input.as_os_str() == "-" {
        bail!("Parquet is read from a file (its footer is at the end), not from stdin");
    }
    let out_path = a.output.clone().unwrap_or_else(|| PathBuf::from("-"));
    let mut sink = Output::create(&out_path, false)?;
    let (stats, sum) = aigis_data::parquet::detect_parquet(
        analyzer,
        &a.input,
        &a.column,
        &mut sink,
        warn_bad(&a.input, ""),
    )
    .with_context(|| format!("reading {}", a.input.display()))?;
    sink.commit(&out_path)?;
    if !a.quiet {
        summary_table(&sum);
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

#[cfg(not(feature = "parquet"))]
fn detect_parquet(_: &PiiDetectArgs, _: &Analyzer) -> Result<u8> {
    bail!("this aigis was built without Parquet support (feature `parquet`)")
}

#[cfg(feature = "parquet")]
fn anonymize_parquet(a: &AnonymizeArgs, an: &Anonymizer<'_>, dir: Direction) -> Result<u8> {
    if a.input.as_os_str() == "-" || a.output.as_os_str() == "-" {
        bail!("Parquet is read from and written to files (-o FILE), not stdin/stdout");
    }
    let mut out = AtomicFile::create(&a.output, false)
        .with_context(|| format!("creating {}", a.output.display()))?;
    // On error `out` is dropped uncommitted: no partial output file.
    let t = aigis_data::parquet::transform_parquet(
        an,
        dir,
        &a.input,
        &a.column,
        &mut out,
        warn_bad(&a.input, ""),
    )
    .with_context(|| format!("reading {}", a.input.display()))?;
    out.commit()
        .with_context(|| format!("writing {}", a.output.display()))?;
    if !a.quiet {
        eprintln!(
            "aigis data: {} records, {} values rewritten, {} restored, {} unreadable values written empty",
            t.records, t.counts.rewritten, t.counts.restored, t.bad_records
        );
    }
    Ok(if t.bad_records > 0 { 2 } else { 0 })
}

#[cfg(not(feature = "parquet"))]
fn anonymize_parquet(_: &AnonymizeArgs, _: &Anonymizer<'_>, _: Direction) -> Result<u8> {
    bail!("this aigis was built without Parquet support (feature `parquet`)")
}
