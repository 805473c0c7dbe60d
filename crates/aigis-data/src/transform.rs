//! Streaming rewrite of text, JSONL and CSV: anonymise or detokenise every record on every core,
//! written in input order in the input's own format (CSV keeps its header and column order,
//! JSONL its key order and untouched fields).
//!
//! A record that cannot be read safely (invalid UTF-8, not JSON, a malformed CSV row) is never
//! copied through unscanned: it is reported and dropped (a text line is written empty so line
//! numbers still match).

use std::io::{BufRead, Read, Write};

use rayon::prelude::*;
use serde_json::Value;

use crate::anonymize::{Anonymizer, Counts};
use crate::stream::{BadRecord, MAX_RECORD_BYTES, skip_line};

/// Which way to rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Detect and apply the policy's operators.
    Anonymize,
    /// Restore tokens (and FPE columns).
    Detokenize,
}

/// Record format.
#[derive(Clone, Debug)]
pub enum Format {
    /// A record per line.
    Lines,
    /// A JSON object per line: rewrite the strings at these dotted paths, or every string value
    /// (with its path as context) when empty.
    Jsonl(Vec<String>),
    /// CSV with a header: rewrite these columns, or all when empty.
    Csv(Vec<String>),
}

/// Totals of one rewrite.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Records read.
    pub records: u64,
    /// Records dropped (reported through the callback).
    pub bad_records: u64,
    /// Operator counts.
    pub counts: Counts,
}

const BATCH: usize = 4096;

/// A line read (its bytes and whether it ended in a newline) or why it was not.
type Pending = Result<(Vec<u8>, bool), String>;
/// A rewritten line and its newline flag, or why it was dropped.
type Done = Result<(String, bool), String>;

fn rewrite(
    an: &Anonymizer<'_>,
    dir: Direction,
    text: &str,
    field: Option<&str>,
    n: &mut Counts,
) -> Result<String, String> {
    match dir {
        Direction::Anonymize => Ok(an.anonymize(text, field, n)),
        Direction::Detokenize => an.detokenize(text, field, n).map_err(|e| e.to_string()),
    }
}

/// Rewrites every string in `v` (selected by `paths`, or all), with its dotted path as context.
fn rewrite_json(
    an: &Anonymizer<'_>,
    dir: Direction,
    v: &mut Value,
    path: &mut String,
    paths: &[String],
    n: &mut Counts,
) -> Result<(), String> {
    match v {
        Value::String(s) if paths.is_empty() || paths.iter().any(|p| p == path) => {
            *s = rewrite(an, dir, s, Some(path.as_str()), n)?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&i.to_string());
                let r = rewrite_json(an, dir, item, path, paths, n);
                path.truncate(len);
                r?;
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let r = rewrite_json(an, dir, item, path, paths, n);
                path.truncate(len);
                r?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn one_line(
    an: &Anonymizer<'_>,
    dir: Direction,
    format: &Format,
    raw: &[u8],
    n: &mut Counts,
) -> Result<String, String> {
    let text = std::str::from_utf8(raw)
        .map_err(|e| format!("invalid UTF-8 at byte {} of the record", e.valid_up_to()))?;
    match format {
        Format::Jsonl(paths) => {
            let mut v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
            rewrite_json(an, dir, &mut v, &mut String::new(), paths, n)?;
            serde_json::to_string(&v).map_err(|e| e.to_string())
        }
        _ => rewrite(an, dir, text, None, n),
    }
}

/// Rewrites text or JSONL records from `reader` into `out`.
pub fn transform_lines<R: BufRead, W: Write>(
    an: &Anonymizer<'_>,
    dir: Direction,
    format: &Format,
    mut reader: R,
    mut out: W,
    mut bad: impl FnMut(&BadRecord),
    mut progress: impl FnMut(u64),
) -> std::io::Result<Totals> {
    let mut t = Totals::default();
    let mut line_no = 0u64;
    let mut bytes = 0u64;
    loop {
        let mut batch: Vec<(u64, Pending)> = Vec::new();
        let mut eof = false;
        while batch.len() < BATCH {
            let mut buf = Vec::new();
            let k = (&mut reader)
                .take(MAX_RECORD_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)?;
            if k == 0 {
                eof = true;
                break;
            }
            line_no += 1;
            bytes += k as u64;
            if buf.last() != Some(&b'\n') && buf.len() > MAX_RECORD_BYTES {
                bytes += skip_line(&mut reader)?;
                batch.push((
                    line_no,
                    Err(format!("record longer than {} MiB", MAX_RECORD_BYTES >> 20)),
                ));
                continue;
            }
            let newline = buf.last() == Some(&b'\n');
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            batch.push((line_no, Ok((buf, newline))));
        }
        let results: Vec<(u64, Done, Counts)> = batch
            .into_par_iter()
            .map(|(no, rec)| {
                let mut n = Counts::default();
                let r = rec.and_then(|(raw, nl)| {
                    if raw.is_empty() {
                        return Ok((String::new(), nl));
                    }
                    one_line(an, dir, format, &raw, &mut n).map(|s| (s, nl))
                });
                (no, r, n)
            })
            .collect();
        for (no, r, n) in results {
            t.records += 1;
            t.counts += n;
            match r {
                Ok((s, nl)) => {
                    out.write_all(s.as_bytes())?;
                    if nl {
                        out.write_all(b"\n")?;
                    }
                }
                Err(message) => {
                    t.bad_records += 1;
                    bad(&BadRecord { line: no, message });
                    if matches!(format, Format::Lines) {
                        out.write_all(b"\n")?;
                    }
                }
            }
        }
        progress(bytes);
        if eof {
            break;
        }
    }
    out.flush()?;
    Ok(t)
}

/// Rewrites a CSV file with a header row; the output has the same header and columns.
pub fn transform_csv<R: Read, W: Write>(
    an: &Anonymizer<'_>,
    dir: Direction,
    columns: &[String],
    reader: R,
    out: W,
    mut bad: impl FnMut(&BadRecord),
    mut progress: impl FnMut(u64),
) -> std::io::Result<Totals> {
    let (mut rdr, header, names) = crate::stream::open_csv(reader)?;
    let mut wtr = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let mut selected = vec![false; names.len()];
    for i in crate::stream::column_indices(&names, columns)? {
        selected[i] = true;
    }
    if header.is_empty() {
        // An empty file stays empty (the CSV writer would turn an empty header into `""`).
        return Ok(Totals::default());
    }
    wtr.write_byte_record(&header)?;
    let mut t = Totals::default();
    let mut row = 0u64;
    loop {
        let mut batch: Vec<(u64, csv::ByteRecord)> = Vec::new();
        let mut eof = false;
        while batch.len() < BATCH {
            let mut rec = csv::ByteRecord::new();
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => {
                    eof = true;
                    break;
                }
                Ok(true) => {
                    row += 1;
                    batch.push((row, rec));
                }
                Err(e) => {
                    row += 1;
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        return Err(std::io::Error::other(e.to_string()));
                    }
                    t.records += 1;
                    t.bad_records += 1;
                    bad(&BadRecord {
                        line: row,
                        message: format!("malformed CSV row: {e}"),
                    });
                }
            }
        }
        let results: Vec<(u64, Result<Vec<String>, String>, Counts)> = batch
            .into_par_iter()
            .map(|(no, rec)| {
                let mut n = Counts::default();
                let r = rec
                    .iter()
                    .enumerate()
                    .map(|(i, cell)| {
                        let name = names.get(i).map(String::as_str);
                        let text = std::str::from_utf8(cell).map_err(|e| {
                            format!(
                                "column `{}`: invalid UTF-8 at byte {}",
                                name.unwrap_or("?"),
                                e.valid_up_to()
                            )
                        })?;
                        if selected.get(i).copied().unwrap_or(false) {
                            rewrite(an, dir, text, name, &mut n)
                        } else {
                            Ok(text.to_string())
                        }
                    })
                    .collect();
                (no, r, n)
            })
            .collect();
        for (no, r, n) in results {
            t.records += 1;
            t.counts += n;
            match r {
                Ok(cells) => wtr.write_record(&cells)?,
                Err(message) => {
                    t.bad_records += 1;
                    bad(&BadRecord { line: no, message });
                }
            }
        }
        progress(rdr.position().byte());
        if eof {
            break;
        }
    }
    wtr.flush()?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::{Operator, Policy};
    use crate::vault::VaultKey;
    use crate::{Analyzer, Options};

    fn an(a: &Analyzer, p: Policy) -> Anonymizer<'_> {
        Anonymizer::new(a, p, Some(VaultKey::from_bytes([9; 32]))).unwrap()
    }

    fn csv_run(
        an: &Anonymizer<'_>,
        dir: Direction,
        input: &str,
    ) -> (String, Totals, Vec<BadRecord>) {
        let mut out = Vec::new();
        let mut bads = Vec::new();
        let t = transform_csv(
            an,
            dir,
            &[],
            input.as_bytes(),
            &mut out,
            |b| bads.push(b.clone()),
            |_| {},
        )
        .unwrap();
        (String::from_utf8(out).unwrap(), t, bads)
    }

    #[test]
    fn csv_round_trip_keeps_header_quoting_and_joins() {
        let a = Analyzer::new(Options::default());
        let mut p = Policy::new(Operator::Tokenize);
        p.columns.insert("account".into(), Operator::Fpe);
        let an = an(&a, p);
        let input = "id,email,account,note\n1,bob@example.com,12345678,\"hi, \"\"bob\"\" at bob@example.com\"\n2,bob@example.com,87654321,none\n";
        let (anon, t, bads) = csv_run(&an, Direction::Anonymize, input);
        assert!(bads.is_empty());
        assert_eq!(t.records, 2);
        assert!(!anon.contains("bob@example.com"), "{anon}");
        assert!(anon.starts_with("id,email,account,note\n"));
        let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(anon.as_bytes())
            .records()
            .map(Result::unwrap)
            .collect();
        // Deterministic: the same e-mail gives the same token in every row (joins work).
        assert_eq!(&rows[0][1], &rows[1][1]);
        assert!(
            rows[0][3].contains(&rows[0][1]),
            "token inside free text too"
        );
        assert_eq!(rows[0][2].len(), 8);
        assert!(rows[0][2].bytes().all(|b| b.is_ascii_digit()));
        let (back, t, _) = csv_run(&an, Direction::Detokenize, &anon);
        assert_eq!(back, input);
        assert_eq!(
            t.counts.restored, 5,
            "2 e-mail cells, 2 accounts, 1 e-mail in the note"
        );
    }

    #[test]
    fn empty_inputs_give_empty_outputs() {
        let a = Analyzer::new(Options::default());
        let an = an(&a, Policy::new(Operator::Replace));
        let (out, t, _) = csv_run(&an, Direction::Anonymize, "");
        assert_eq!((out.as_str(), t.records), ("", 0));
        let mut out = Vec::new();
        transform_lines(
            &an,
            Direction::Anonymize,
            &Format::Jsonl(vec![]),
            &b""[..],
            &mut out,
            |_| {},
            |_| {},
        )
        .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn csv_bad_rows_are_dropped_not_copied() {
        let a = Analyzer::new(Options::default());
        let an = an(&a, Policy::new(Operator::Replace));
        let mut input = b"a,b\n1,x@example.com\n2,".to_vec();
        input.extend_from_slice(b"\xff bob@example.com\n3,ok\n");
        let mut out = Vec::new();
        let mut bads = Vec::new();
        let t = transform_csv(
            &an,
            Direction::Anonymize,
            &[],
            input.as_slice(),
            &mut out,
            |b| bads.push(b.clone()),
            |_| {},
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "a,b\n1,<EMAIL_ADDRESS>\n3,ok\n");
        assert_eq!(t.bad_records, 1);
        assert_eq!(bads[0].line, 2);
        assert!(
            bads[0]
                .message
                .contains("column `b`: invalid UTF-8 at byte 0")
        );
    }

    #[test]
    fn jsonl_rewrites_strings_by_path_and_keeps_the_rest() {
        let a = Analyzer::new(Options::default());
        let an = an(&a, Policy::new(Operator::Tokenize));
        let input = "{\"z\":1,\"user\":{\"email\":\"añb@example.com\"},\"msgs\":[\"call +44 20 7946 0958 😀\"]}\nnot json\n\n";
        let mut out = Vec::new();
        let mut bads = Vec::new();
        let t = transform_lines(
            &an,
            Direction::Anonymize,
            &Format::Jsonl(vec![]),
            input.as_bytes(),
            &mut out,
            |b| bads.push(b.clone()),
            |_| {},
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("{\"z\":1,\"user\":{\"email\":\"EMAIL_ADDRESS_"),
            "{out}"
        );
        assert!(out.contains("PHONE_NUMBER_"));
        assert_eq!(t.bad_records, 1);
        assert_eq!(bads[0].line, 2);
        let mut back = Vec::new();
        transform_lines(
            &an,
            Direction::Detokenize,
            &Format::Jsonl(vec![]),
            out.as_bytes(),
            &mut back,
            |_| {},
            |_| {},
        )
        .unwrap();
        let first = input.lines().next().unwrap();
        assert_eq!(String::from_utf8(back).unwrap(), format!("{first}\n\n"));
        // Only the selected path is touched.
        let mut out = Vec::new();
        transform_lines(
            &an,
            Direction::Anonymize,
            &Format::Jsonl(vec!["msgs.0".into()]),
            first.as_bytes(),
            &mut out,
            |_| {},
            |_| {},
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("añb@example.com") && !out.contains("7946"),
            "{out}"
        );
    }

    #[test]
    fn text_lines_keep_line_numbers_and_final_newline() {
        let a = Analyzer::new(Options::default());
        let an = an(&a, Policy::new(Operator::Replace));
        let input = b"a x@example.com\n\xff\nlast 10.1.2.3";
        let mut out = Vec::new();
        let t = transform_lines(
            &an,
            Direction::Anonymize,
            &Format::Lines,
            &input[..],
            &mut out,
            |_| {},
            |_| {},
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a <EMAIL_ADDRESS>\n\nlast <IP_ADDRESS>"
        );
        assert_eq!((t.records, t.bad_records), (3, 1));
    }
}
