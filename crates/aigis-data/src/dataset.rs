//! `aigis data scan`: which entity types appear in which column (CSV) or field (JSONL, by dotted
//! path with array indices written `*`) of a dataset, and in how many records — over every
//! record or the first N. Text files have one field, `(line)`.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::Analyzer;
use crate::stream::MAX_RECORD_BYTES;

/// One column or field.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct FieldReport {
    /// Non-empty values seen.
    pub values: u64,
    /// Per entity type, the number of values holding at least one.
    pub entities: BTreeMap<&'static str, u64>,
}

/// One dataset file.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DatasetReport {
    /// The file.
    pub path: String,
    /// `csv`, `jsonl`, `parquet` or `text`.
    pub format: &'static str,
    /// Records read (after sampling).
    pub records: u64,
    /// Whether only the first `sample` records were read.
    pub sampled: bool,
    /// Records skipped as unreadable.
    pub bad_records: u64,
    /// The first problems seen (record number and message), at most 20.
    pub problems: Vec<String>,
    /// Per column or field, in file order for CSV, path order otherwise.
    pub fields: Vec<(String, FieldReport)>,
}

/// The format a path will be read as.
pub fn format_of(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => "csv",
        Some("jsonl" | "ndjson") => "jsonl",
        Some("parquet") => "parquet",
        _ => "text",
    }
}

/// Whether a file is a dataset the scanner reads (by extension).
pub fn is_dataset(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("csv" | "jsonl" | "ndjson" | "txt" | "log" | "parquet")
    )
}

/// Appends the dataset files under `path` (itself if it is a file, whatever its extension),
/// in sorted order, without following symlinks, at most 32 directories deep.
pub fn find(path: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    find_at(path, out, 0)
}

fn find_at(p: &Path, out: &mut Vec<std::path::PathBuf>, depth: u32) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(p)?;
    if meta.is_file() {
        out.push(p.to_path_buf());
    } else if meta.is_dir() && depth < 32 {
        let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(p)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            let m = std::fs::symlink_metadata(&e)?;
            if m.is_dir() || (m.is_file() && is_dataset(&e)) {
                find_at(&e, out, depth + 1)?;
            }
        }
    }
    Ok(())
}

type Hits = Vec<(String, &'static str)>;
/// Fields with a value in one record, and its hits.
type Seen = (Vec<String>, Hits);

fn scan_json(a: &Analyzer, v: &Value, path: &mut String, out: &mut Hits, seen: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() => {
            seen.push(path.clone());
            for e in a.spans(s, Some(path)) {
                out.push((path.clone(), e.kind));
            }
        }
        Value::Array(items) => {
            let len = path.len();
            path.push_str(if path.is_empty() { "*" } else { ".*" });
            for item in items {
                scan_json(a, item, path, out, seen);
            }
            path.truncate(len);
        }
        Value::Object(m) => {
            for (k, item) in m {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                scan_json(a, item, path, out, seen);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Scans one dataset file; `sample` = 0 reads every record.
pub fn scan_file(a: &Analyzer, path: &Path, sample: u64) -> std::io::Result<DatasetReport> {
    let format = format_of(path);
    if format == "parquet" {
        #[cfg(feature = "parquet")]
        return crate::parquet::scan_parquet(a, path, sample);
        #[cfg(not(feature = "parquet"))]
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this build has no Parquet support (feature `parquet` of aigis-data)",
        ));
    }
    let f = std::fs::File::open(path)?;
    let mut report = DatasetReport {
        path: path.display().to_string(),
        format,
        records: 0,
        sampled: false,
        bad_records: 0,
        problems: Vec::new(),
        fields: Vec::new(),
    };
    let limit = if sample == 0 { u64::MAX } else { sample };
    let mut fields: BTreeMap<String, FieldReport> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let problem = |r: &mut DatasetReport, no: u64, msg: String| {
        r.bad_records += 1;
        if r.problems.len() < 20 {
            r.problems.push(format!("record {no}: {msg}"));
        }
    };
    // Each record yields (fields with a value, hits); merged in order.
    let merge = |fields: &mut BTreeMap<String, FieldReport>, seen: Vec<String>, hits: Hits| {
        let mut seen = seen;
        seen.sort();
        seen.dedup();
        for s in seen {
            fields.entry(s).or_default().values += 1;
        }
        let mut hits = hits;
        hits.sort();
        hits.dedup();
        for (field, kind) in hits {
            *fields
                .entry(field)
                .or_default()
                .entities
                .entry(kind)
                .or_default() += 1;
        }
    };
    if format == "csv" {
        let (mut rdr, _, header) =
            crate::stream::open_csv(std::io::BufReader::with_capacity(1 << 20, f))?;
        order.clone_from(&header);
        let mut row = 0u64;
        'outer: loop {
            let mut batch = Vec::new();
            while batch.len() < 4096 {
                if report.records >= limit {
                    report.sampled = true;
                    if !batch.is_empty() {
                        break;
                    }
                    break 'outer;
                }
                let mut rec = csv::ByteRecord::new();
                match rdr.read_byte_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {
                        row += 1;
                        report.records += 1;
                        batch.push((row, rec));
                    }
                    Err(e) => {
                        row += 1;
                        report.records += 1;
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            return Err(std::io::Error::other(e.to_string()));
                        }
                        problem(&mut report, row, format!("malformed CSV row: {e}"));
                    }
                }
            }
            if batch.is_empty() {
                break;
            }
            let results: Vec<(u64, Vec<String>, Hits, Option<String>)> = batch
                .par_iter()
                .map(|(no, rec)| {
                    let (mut seen, mut hits, mut bad) = (Vec::new(), Vec::new(), None);
                    for (i, cell) in rec.iter().enumerate() {
                        let Some(name) = header.get(i) else { continue };
                        match std::str::from_utf8(cell) {
                            Ok("") => {}
                            Ok(t) => {
                                seen.push(name.clone());
                                for e in a.spans(t, Some(name)) {
                                    hits.push((name.clone(), e.kind));
                                }
                            }
                            Err(e) => {
                                bad = Some(format!(
                                    "column `{name}`: invalid UTF-8 at byte {}",
                                    e.valid_up_to()
                                ));
                            }
                        }
                    }
                    (*no, seen, hits, bad)
                })
                .collect();
            for (no, seen, hits, bad) in results {
                if let Some(b) = bad {
                    problem(&mut report, no, b);
                }
                merge(&mut fields, seen, hits);
            }
        }
    } else {
        let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
        let mut line = 0u64;
        'lines: loop {
            let mut batch = Vec::new();
            while batch.len() < 4096 {
                if report.records >= limit {
                    report.sampled = true;
                    if batch.is_empty() {
                        break 'lines;
                    }
                    break;
                }
                let mut buf = Vec::new();
                let k = (&mut reader)
                    .take(MAX_RECORD_BYTES as u64 + 1)
                    .read_until(b'\n', &mut buf)?;
                if k == 0 {
                    break;
                }
                line += 1;
                if buf.len() > MAX_RECORD_BYTES {
                    if buf.last() != Some(&b'\n') {
                        crate::stream::skip_line(&mut reader)?;
                    }
                    report.records += 1;
                    problem(
                        &mut report,
                        line,
                        format!("record longer than {} MiB", MAX_RECORD_BYTES >> 20),
                    );
                    continue;
                }
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if buf.is_empty() {
                    continue;
                }
                report.records += 1;
                batch.push((line, buf));
            }
            if batch.is_empty() {
                break;
            }
            let results: Vec<(u64, Result<Seen, String>)> = batch
                .par_iter()
                .map(|(no, raw)| {
                    let r = std::str::from_utf8(raw)
                        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))
                        .and_then(|t| {
                            let (mut seen, mut hits) = (Vec::new(), Vec::new());
                            if format == "jsonl" {
                                let v: Value = serde_json::from_str(t)
                                    .map_err(|e| format!("not JSON: {e}"))?;
                                scan_json(a, &v, &mut String::new(), &mut hits, &mut seen);
                            } else {
                                seen.push("(line)".to_string());
                                for e in a.spans(t, None) {
                                    hits.push(("(line)".to_string(), e.kind));
                                }
                            }
                            Ok((seen, hits))
                        });
                    (*no, r)
                })
                .collect();
            for (no, r) in results {
                match r {
                    Ok((seen, hits)) => merge(&mut fields, seen, hits),
                    Err(m) => problem(&mut report, no, m),
                }
            }
        }
    }
    // CSV keeps the header's order (every column listed); others sort by path.
    for name in order {
        let f = fields.remove(&name).unwrap_or_default();
        report.fields.push((name, f));
    }
    report.fields.extend(fields);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;

    fn write(name: &str, body: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, body).unwrap();
        (d, p)
    }

    #[test]
    fn csv_counts_values_per_column_and_samples() {
        let a = Analyzer::new(Options::default());
        let (_d, p) = write(
            "c.csv",
            b"id,email,ssn\n1,a@example.com,536-22-1234\n2,,nope\n3,b@example.com c@example.com,\n",
        );
        let r = scan_file(&a, &p, 0).unwrap();
        assert_eq!(r.records, 3);
        assert!(!r.sampled);
        let get = |n: &str| r.fields.iter().find(|f| f.0 == n).unwrap().1.clone();
        assert_eq!(get("email").values, 2);
        assert_eq!(
            get("email").entities["EMAIL_ADDRESS"],
            2,
            "values, not entities"
        );
        assert_eq!(get("ssn").entities["US_SSN"], 1);
        assert!(get("id").entities.is_empty());
        assert_eq!(r.fields[0].0, "id", "header order");
        let s = scan_file(&a, &p, 1).unwrap();
        assert_eq!((s.records, s.sampled), (1, true));
    }

    #[test]
    fn jsonl_paths_and_bad_lines() {
        let a = Analyzer::new(Options::default());
        let (_d, p) = write(
            "c.jsonl",
            b"{\"user\":{\"mail\":\"a@example.com\"},\"turns\":[\"ip 10.0.0.1\",\"ip 10.0.0.2\"]}\n{oops\n\xff\n",
        );
        let r = scan_file(&a, &p, 0).unwrap();
        let get = |n: &str| r.fields.iter().find(|f| f.0 == n).unwrap().1.clone();
        assert_eq!(get("user.mail").entities["EMAIL_ADDRESS"], 1);
        assert_eq!(get("turns.*").entities["IP_ADDRESS"], 1, "one record");
        assert_eq!(r.bad_records, 2);
        assert!(
            r.problems[0].starts_with("record 2: not JSON"),
            "{:?}",
            r.problems
        );
        assert!(r.problems[1].starts_with("record 3: invalid UTF-8 at byte 0"));
    }
}
