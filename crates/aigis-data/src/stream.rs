//! Streaming detection over text and JSONL: bounded batches of records analysed on every core,
//! written in input order, with bounded memory per record.

use std::io::{BufRead, Write};

use rayon::prelude::*;
use serde_json::{Value, json};

use crate::Analyzer;

/// Longest record read; longer lines are reported and skipped without being held in memory.
pub const MAX_RECORD_BYTES: usize = 64 << 20;
/// Records per parallel batch (and at most this many bytes).
const BATCH_RECORDS: usize = 8192;
const BATCH_BYTES: usize = 32 << 20;

/// How to read records.
#[derive(Clone, Debug)]
pub enum Input {
    /// Each line is a record; its id is the line number (from 1).
    Lines,
    /// Each line is a JSON object; the text is at `field` (a dotted path, default `text`), the id
    /// is the object's `id` when present, else the line number.
    Jsonl {
        /// Dotted path to the text (`message.content`, `turns.0.text`).
        field: String,
    },
}

/// Totals of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records read.
    pub records: u64,
    /// Records with at least one entity.
    pub records_with_entities: u64,
    /// Entities reported.
    pub entities: u64,
    /// Records skipped (invalid UTF-8, not JSON, no text field, too long).
    pub bad_records: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// A record that could not be analysed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
    /// Line number (from 1).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// Walks a dotted path through objects and arrays.
pub fn field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| match cur {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// One output entity; `column` only for CSV.
#[derive(serde::Serialize)]
struct OutEntity<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    start: usize,
    end: usize,
    score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<&'a str>,
}

/// One output line, serialised in the worker threads.
#[derive(serde::Serialize)]
struct OutLine<'a, I: serde::Serialize> {
    id: I,
    entities: Vec<OutEntity<'a>>,
}

fn line<I: serde::Serialize>(id: I, entities: Vec<OutEntity<'_>>) -> String {
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_string(&OutLine { id, entities }).unwrap_or_default()
}

fn out_entity(e: &crate::Entity, column: Option<&'static str>) -> OutEntity<'static> {
    OutEntity {
        kind: e.kind,
        start: e.start,
        end: e.end,
        score: e.score,
        column,
    }
}

/// `score` as serde_json writes it, for the 101 values a rounded score can take.
static SCORES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    (0..=100)
        .map(|k| serde_json::to_string(&(f64::from(k) / 100.0)).unwrap_or_default())
        .collect()
});

/// Appends one output line, `{"id":…,"entities":[…]}` and a newline, byte for byte what
/// serialising [`OutLine`] gives, without building it. `column` is already a JSON string.
fn write_line<'e>(
    buf: &mut Vec<u8>,
    id: u64,
    entities: impl Iterator<Item = (&'e crate::Entity, Option<&'e str>)>,
) {
    buf.extend_from_slice(b"{\"id\":");
    push_decimal(buf, id);
    buf.extend_from_slice(b",\"entities\":[");
    for (n, (e, column)) in entities.enumerate() {
        if n > 0 {
            buf.push(b',');
        }
        // Entity names are ASCII identifiers: nothing to escape.
        buf.extend_from_slice(b"{\"type\":\"");
        buf.extend_from_slice(e.kind.as_bytes());
        buf.extend_from_slice(b"\",\"start\":");
        push_decimal(buf, e.start as u64);
        buf.extend_from_slice(b",\"end\":");
        push_decimal(buf, e.end as u64);
        buf.extend_from_slice(b",\"score\":");
        let k = (e.score * 100.0).round();
        // -0.0 (written "-0.0") and anything not a whole hundredth take the general path.
        if k.is_sign_positive() && k <= 100.0 && (k / 100.0).to_bits() == e.score.to_bits() {
            buf.extend_from_slice(SCORES[k as usize].as_bytes());
        } else {
            let _ = serde_json::to_writer(&mut *buf, &e.score);
        }
        if let Some(c) = column {
            buf.extend_from_slice(b",\"column\":");
            buf.extend_from_slice(c.as_bytes());
        }
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}\n");
}

/// Appends `n` in decimal (what `write!` would, without the formatting machinery).
fn push_decimal(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

enum Outcome {
    Line(String, u64),
    Bad(BadRecord),
}

fn analyse(analyzer: &Analyzer, input: &Input, line_no: u64, raw: &[u8]) -> Outcome {
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t,
        Err(e) => {
            return Outcome::Bad(BadRecord {
                line: line_no,
                message: format!("invalid UTF-8 at byte {} of the record", e.valid_up_to()),
            });
        }
    };
    let (id, body, ctx): (Value, String, Option<&str>) = match input {
        Input::Lines => (json!(line_no), text.to_string(), None),
        Input::Jsonl { field: path } => {
            let v: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    return Outcome::Bad(BadRecord {
                        line: line_no,
                        message: format!("not JSON: {e}"),
                    });
                }
            };
            let Some(t) = field(&v, path).and_then(Value::as_str) else {
                return Outcome::Bad(BadRecord {
                    line: line_no,
                    message: format!("no string at `{path}`"),
                });
            };
            (
                v.get("id").cloned().unwrap_or(json!(line_no)),
                t.to_string(),
                Some(path.as_str()),
            )
        }
    };
    let entities = analyzer.analyze(&body, ctx);
    let n = entities.len() as u64;
    Outcome::Line(
        line(&id, entities.iter().map(|e| out_entity(e, None)).collect()),
        n,
    )
}

/// A reader that fails once more than [`MAX_RECORD_BYTES`] pass without a newline, so a CSV
/// file with a gigabyte-long row (the CSV parser buffers a whole record) is refused with a
/// clear error instead of filling memory. Quoted fields may hold newlines; they reset the count
/// too, which only makes the bound looser, never wrong.
pub struct LineBound<R> {
    inner: R,
    since_newline: usize,
    offset: u64,
}

impl<R> LineBound<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            since_newline: 0,
            offset: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for LineBound<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        // Only the run continuing from the previous read and the run at the end can exceed
        // the cap: a read is far shorter than it.
        let (head, tail) = match (memchr::memchr(b'\n', chunk), memchr::memrchr(b'\n', chunk)) {
            (Some(first), Some(last)) => (first, n - last - 1),
            _ => (n, self.since_newline + n),
        };
        let longest = if head == n {
            tail
        } else {
            (self.since_newline + head).max(tail)
        };
        if longest > MAX_RECORD_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a record longer than {} MiB ends after byte {}; refusing to buffer it",
                    MAX_RECORD_BYTES >> 20,
                    self.offset + n as u64
                ),
            ));
        }
        self.since_newline = tail;
        self.offset += n as u64;
        Ok(n)
    }
}

/// A CSV reader (rows may have varying lengths; records over [`MAX_RECORD_BYTES`] refused) and
/// its header, raw and as names.
pub(crate) type CsvReader<R> = csv::Reader<LineBound<R>>;

/// Opens `reader` as CSV and reads its header.
pub(crate) fn open_csv<R: std::io::Read>(
    reader: R,
) -> std::io::Result<(CsvReader<R>, csv::ByteRecord, Vec<String>)> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(LineBound::new(reader));
    let raw = rdr
        .byte_headers()
        .map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("CSV header: {e}"))
        })?
        .clone();
    let names = raw
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    Ok((rdr, raw, names))
}

/// The positions of `columns` in `header` (every column when empty), or an error naming the
/// missing one and listing the header.
pub(crate) fn column_indices(header: &[String], columns: &[String]) -> std::io::Result<Vec<usize>> {
    if columns.is_empty() {
        return Ok((0..header.len()).collect());
    }
    columns
        .iter()
        .map(|c| {
            header.iter().position(|h| h == c).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "no column `{c}` in the CSV header (columns: {})",
                        header.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Consumes the rest of a line without keeping it; returns the bytes skipped.
pub fn skip_line<R: BufRead>(reader: &mut R) -> std::io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(skipped);
        }
        let (used, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(p) => (p + 1, true),
            None => (chunk.len(), false),
        };
        reader.consume(used);
        skipped += used as u64;
        if done {
            return Ok(skipped);
        }
    }
}

/// Reads records from `input`, writes one JSON line per good record to `out`, calls `bad` for
/// each skipped record. Memory is bounded by the batch size and [`MAX_RECORD_BYTES`].
pub fn detect<R: BufRead, W: Write>(
    analyzer: &Analyzer,
    mut reader: R,
    input: &Input,
    mut out: W,
    mut bad: impl FnMut(&BadRecord),
    mut progress: impl FnMut(u64),
) -> std::io::Result<Stats> {
    let mut stats = Stats::default();
    let mut line_no = 0u64;
    loop {
        let mut batch: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut batch_bytes = 0;
        let mut eof = false;
        while batch.len() < BATCH_RECORDS && batch_bytes < BATCH_BYTES {
            let mut buf = Vec::new();
            let n = std::io::Read::take(&mut reader, MAX_RECORD_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)?;
            if n == 0 {
                eof = true;
                break;
            }
            line_no += 1;
            stats.bytes += n as u64;
            if buf.last() != Some(&b'\n') && buf.len() > MAX_RECORD_BYTES {
                // Skip the rest of this oversized line without keeping it.
                let skipped = skip_line(&mut reader)?;
                stats.bytes += skipped;
                stats.records += 1;
                stats.bad_records += 1;
                bad(&BadRecord {
                    line: line_no,
                    message: format!("record longer than {} MiB; skipped", MAX_RECORD_BYTES >> 20),
                });
                continue;
            }
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            if buf.is_empty() && matches!(input, Input::Jsonl { .. }) {
                continue;
            }
            batch_bytes += buf.len();
            batch.push((line_no, buf));
        }
        let results: Vec<Outcome> = batch
            .par_iter()
            .map(|(n, raw)| analyse(analyzer, input, *n, raw))
            .collect();
        for r in results {
            stats.records += 1;
            match r {
                Outcome::Line(l, n) => {
                    stats.entities += n;
                    stats.records_with_entities += u64::from(n > 0);
                    out.write_all(l.as_bytes())?;
                    out.write_all(b"\n")?;
                }
                Outcome::Bad(b) => {
                    stats.bad_records += 1;
                    bad(&b);
                }
            }
        }
        progress(stats.bytes);
        if eof {
            break;
        }
    }
    out.flush()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;

    fn run(input: &Input, data: &[u8]) -> (String, Stats, Vec<BadRecord>) {
        let a = Analyzer::new(Options::default());
        let mut out = Vec::new();
        let mut bads = Vec::new();
        let s = detect(&a, data, input, &mut out, |b| bads.push(b.clone()), |_| {}).unwrap();
        (String::from_utf8(out).unwrap(), s, bads)
    }

    #[test]
    fn jsonl_records_keep_ids_and_report_bad_lines() {
        let data = b"{\"id\":\"a\",\"msg\":{\"text\":\"mail bob@example.com\"}}\nnot json\n{\"id\":7,\"msg\":{}}\n\xff\xfe\n{\"msg\":{\"text\":\"nothing\"}}\n";
        let (out, s, bads) = run(
            &Input::Jsonl {
                field: "msg.text".into(),
            },
            data,
        );
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["id"], "a");
        assert_eq!(lines[0]["entities"][0]["type"], "EMAIL_ADDRESS");
        assert_eq!(lines[0]["entities"][0]["start"], 5);
        assert_eq!(lines[1]["id"], 5, "line number when there is no id");
        assert_eq!(s.records, 5);
        assert_eq!(s.bad_records, 3);
        let msgs: Vec<String> = bads
            .iter()
            .map(|b| format!("{}: {}", b.line, b.message))
            .collect();
        assert!(msgs[0].starts_with("2: not JSON"), "{msgs:?}");
        assert!(msgs[1].starts_with("3: no string"), "{msgs:?}");
        assert!(
            msgs[2].starts_with("4: invalid UTF-8 at byte 0"),
            "{msgs:?}"
        );
    }

    #[test]
    fn decimals_are_written_as_format_writes_them() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            push_decimal(&mut buf, n);
            assert_eq!(buf, n.to_string().as_bytes());
        }
    }

    #[test]
    fn hand_written_lines_match_serde_byte_for_byte() {
        let mut scores: Vec<f64> = (0..=100).map(|k| f64::from(k) / 100.0).collect();
        scores.extend([0.285, 1.5, -0.0, 1e-7, 0.333_333]);
        for score in scores {
            let e = crate::Entity {
                kind: "US_SSN",
                start: 3,
                end: 14,
                score,
            };
            let column = "we\"ird\\ name\u{1}é";
            let column_json = serde_json::to_string(column).unwrap();
            let mut mine = Vec::new();
            write_line(
                &mut mine,
                42,
                [(&e, Some(column_json.as_str())), (&e, None)].into_iter(),
            );
            let theirs = line(
                42u64,
                vec![
                    OutEntity {
                        column: Some(column),
                        ..out_entity(&e, None)
                    },
                    out_entity(&e, None),
                ],
            ) + "\n";
            assert_eq!(String::from_utf8(mine).unwrap(), theirs, "score {score}");
        }
        let mut empty = Vec::new();
        write_line(&mut empty, 7, std::iter::empty());
        assert_eq!(empty, b"{\"id\":7,\"entities\":[]}\n");
    }

    #[test]
    fn plain_lines_and_order_is_kept_across_batches() {
        let mut data = Vec::new();
        for i in 0..20_000 {
            data.extend_from_slice(format!("row {i} card 4111 1111 1111 1111\n").as_bytes());
        }
        let (out, s, _) = run(&Input::Lines, &data);
        assert_eq!(s.records, 20_000);
        assert_eq!(s.entities, 20_000);
        for (i, l) in out.lines().enumerate() {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["id"], i as u64 + 1);
        }
    }
}

/// A CSV row: its number and its raw fields (UTF-8 is checked by the workers).
type CsvRow = (u64, csv::ByteRecord);

/// What the CSV reader thread sends.
enum CsvMsg {
    Batch(Vec<CsvRow>, u64),
    Bad(BadRecord),
    Fatal(std::io::Error),
}
/// Rows per unit of parallel work in a CSV batch.
const CSV_CHUNK_ROWS: usize = 256;

/// What a worker produces for a run of CSV rows: their output lines, totals, per-(column
/// index, type) counts and problems.
#[derive(Default)]
struct CsvChunk {
    out: Vec<u8>,
    rows: u64,
    entities: u64,
    rows_with_entities: u64,
    counts: Vec<(usize, &'static str, u64)>,
    problems: Vec<BadRecord>,
}

/// What the analysis thread passes on: a batch's results, or a reader message, in input order.
enum Analysed {
    Batch(Vec<CsvChunk>, u64),
    Bad(BadRecord),
    Fatal(std::io::Error),
}

/// Analyses one batch of rows on the pool. Rows go in chunks: each chunk writes its lines into
/// one buffer and counts its entities by (column index, type), so the serial part is a few large
/// writes.
fn analyse_csv_batch(
    analyzer: &Analyzer,
    batch: &[CsvRow],
    selected: &[usize],
    header_ref: &[String],
    column_json: &[String],
) -> Vec<CsvChunk> {
    // Each column's context words, resolved once per batch instead of looked up per cell.
    let fields: Vec<crate::context::FieldWords> = header_ref
        .iter()
        .map(|h| crate::context::FieldWords::of(Some(h)))
        .collect();
    let fields = &fields;
    batch
        .par_chunks(CSV_CHUNK_ROWS)
        .map(|rows| {
            let mut chunk = CsvChunk::default();
            // Room for the chunk's lines up front (about as many bytes as the rows hold, times
            // three, at most 4 MiB: a few huge rows need not produce much), so the buffer is not
            // regrown line by line.
            let expected: usize = rows.iter().map(|(_, r)| r.as_slice().len() * 3 + 32).sum();
            chunk.out.reserve(expected.min(4 << 20));
            let mut found = Vec::new();
            let mut entities = Vec::new();
            for (row, record) in rows {
                found.clear();
                // One UTF-8 check for the whole row: fields split at ASCII bytes, so
                // every field of a valid row is valid; only a bad row is checked by field.
                let whole = std::str::from_utf8(record.as_slice()).ok();
                for &i in selected {
                    let Some(cell) = record.get(i) else { continue };
                    let text = match (whole, record.range(i)) {
                        // Field bounds sit next to ASCII bytes: always char boundaries.
                        (Some(w), Some(r)) => w.get(r).ok_or(()),
                        _ => Err(()),
                    }
                    .or_else(|()| std::str::from_utf8(cell));
                    match text {
                        Ok(text) => {
                            entities.clear();
                            analyzer.analyze_field_into(text, &fields[i], &mut entities);
                            found.extend(entities.drain(..).map(|e| (i, e)));
                        }
                        Err(e) => chunk.problems.push(BadRecord {
                            line: *row,
                            message: format!(
                                "column `{}`: invalid UTF-8 at byte {}",
                                header_ref[i],
                                e.valid_up_to()
                            ),
                        }),
                    }
                }
                write_line(
                    &mut chunk.out,
                    *row,
                    found
                        .iter()
                        .map(|(i, e)| (e, Some(column_json[*i].as_str()))),
                );
                chunk.rows += 1;
                chunk.entities += found.len() as u64;
                chunk.rows_with_entities += u64::from(!found.is_empty());
                for (i, e) in &found {
                    match chunk
                        .counts
                        .iter_mut()
                        .find(|(c, k, _)| c == i && *k == e.kind)
                    {
                        Some((_, _, n)) => *n += 1,
                        None => chunk.counts.push((*i, e.kind, 1)),
                    }
                }
            }
            chunk
        })
        .collect()
}

/// Per-column counts of entity types (CSV).
pub type ColumnSummary =
    std::collections::BTreeMap<String, std::collections::BTreeMap<&'static str, u64>>;

/// Streams a CSV file with a header row: every cell of the selected columns (all when
/// `columns` is empty) is analysed with its column name as context. Writes one JSON line per
/// row, `{"id": row, "entities": [{…, "column": name}]}`, and returns the per-column summary.
/// Rows are numbered from 1 after the header; malformed rows are reported and skipped.
pub fn detect_csv<R: std::io::Read + Send, W: Write>(
    analyzer: &Analyzer,
    reader: R,
    columns: &[String],
    mut out: W,
    mut bad: impl FnMut(&BadRecord),
    mut progress: impl FnMut(u64),
) -> std::io::Result<(Stats, ColumnSummary)> {
    let (mut rdr, _, header) = open_csv(reader)?;
    let selected = column_indices(&header, columns)?;
    let mut stats = Stats::default();
    let mut summary = ColumnSummary::new();
    for &i in &selected {
        summary.entry(header[i].clone()).or_default();
    }
    // A reader thread parses the next batch while the pool analyses this one.
    let (tx, rx) = std::sync::mpsc::sync_channel::<CsvMsg>(2);
    let header_ref = &header;
    // Column names as JSON strings, escaped once.
    let column_json: Vec<String> = header
        .iter()
        .map(|h| serde_json::to_string(h).unwrap_or_default())
        .collect();
    let column_json = &column_json;
    let result: std::io::Result<()> = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut row_no = 0u64;
            // Each record starts with room for the previous one (rows of a table are alike), so
            // it is not regrown field by field.
            let (mut last_bytes, mut last_fields) = (0usize, 0usize);
            loop {
                let mut batch: Vec<CsvRow> = Vec::with_capacity(BATCH_RECORDS);
                let mut batch_bytes = 0usize;
                let mut eof = false;
                while batch.len() < BATCH_RECORDS && batch_bytes < BATCH_BYTES {
                    let mut record = csv::ByteRecord::with_capacity(last_bytes, last_fields);
                    match rdr.read_byte_record(&mut record) {
                        Ok(false) => {
                            eof = true;
                            break;
                        }
                        Ok(true) => {
                            row_no += 1;
                            batch_bytes += record.as_slice().len();
                            // A little over the last row's size, capped: one long row does not
                            // make every later record large.
                            last_bytes = (record.as_slice().len() + 64).min(64 << 10);
                            last_fields = record.len().min(1024);
                            batch.push((row_no, record));
                        }
                        Err(e) => {
                            row_no += 1;
                            if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                                let _ =
                                    tx.send(CsvMsg::Fatal(std::io::Error::other(e.to_string())));
                                return;
                            }
                            let bad = BadRecord {
                                line: row_no,
                                message: format!("malformed CSV row: {e}"),
                            };
                            if tx.send(CsvMsg::Bad(bad)).is_err() {
                                return;
                            }
                        }
                    }
                }
                if tx
                    .send(CsvMsg::Batch(batch, rdr.position().byte()))
                    .is_err()
                    || eof
                {
                    return;
                }
            }
        });
        // An analysis thread hands each batch to the pool while this thread writes the
        // previous batch's output, so the cores do not wait for the writes.
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Analysed>(2);
        let selected = &selected;
        let analysis = scope.spawn(move || {
            for msg in rx {
                let next = match msg {
                    CsvMsg::Batch(batch, position) => Analysed::Batch(
                        analyse_csv_batch(analyzer, &batch, selected, header_ref, column_json),
                        position,
                    ),
                    CsvMsg::Bad(b) => Analysed::Bad(b),
                    CsvMsg::Fatal(e) => Analysed::Fatal(e),
                };
                if done_tx.send(next).is_err() {
                    return;
                }
            }
        });
        for msg in done_rx {
            let (results, position) = match msg {
                Analysed::Batch(r, p) => (r, p),
                Analysed::Bad(b) => {
                    stats.records += 1;
                    stats.bad_records += 1;
                    bad(&b);
                    continue;
                }
                Analysed::Fatal(e) => return Err(e),
            };
            for chunk in results {
                // Problems are reported per chunk, in row order within it; a chunk is a few
                // hundred rows, so a message may follow later rows' output lines.
                stats.records += chunk.rows;
                stats.entities += chunk.entities;
                stats.records_with_entities += chunk.rows_with_entities;
                for p in chunk.problems {
                    stats.bad_records += 1;
                    bad(&p);
                }
                for (i, kind, n) in chunk.counts {
                    // Every selected column has an entry (made above).
                    if let Some(m) = summary.get_mut(&header_ref[i]) {
                        *m.entry(kind).or_default() += n;
                    }
                }
                out.write_all(&chunk.out)?;
            }
            stats.bytes = position;
            progress(position);
        }
        // Joined by hand: a handle's join waits for the thread itself to end (its thread-local
        // storage freed), where the scope's own join waits only for the closure to return.
        for thread in [reader, analysis] {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Ok(())
    });
    result?;
    out.flush()?;
    Ok((stats, summary))
}

#[cfg(test)]
mod csv_tests {
    use super::*;
    use crate::Options;

    #[test]
    fn csv_rows_longer_than_the_cap_are_refused_not_buffered() {
        let a = Analyzer::new(Options::default());
        // A 65 MiB quoted field on one line: the reader stops at the cap.
        let mut data = b"a,b\n1,\"".to_vec();
        data.resize(data.len() + MAX_RECORD_BYTES + 10, b'x');
        data.extend_from_slice(b"\"\n");
        let err = detect_csv(&a, data.as_slice(), &[], std::io::sink(), |_| {}, |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("longer than 64 MiB"), "{err}");
    }

    /// Over several batches, every row's entities are those of its own cells, long rows
    /// included, and the row numbers stay in order.
    #[test]
    fn csv_rows_across_batches_report_only_their_own_cells() {
        let a = Analyzer::new(Options::default());
        let cells = |i: usize| -> (String, String) {
            match i % 5 {
                0 => (format!("a{i}@example.com"), "call +44 20 7946 0958".into()),
                1 => (String::new(), String::new()),
                2 => ("x".repeat(5000 + i % 7), "4111111111111111".into()),
                3 => ("Jane Doe".into(), "plain".into()),
                _ => (format!("{i}"), "x".into()),
            }
        };
        let rows = BATCH_RECORDS * 2 + 123;
        let mut data = String::from("a,b\n");
        for i in 0..rows {
            let (x, y) = cells(i);
            data.push_str(&format!("{x},{y}\n"));
        }
        let mut out = Vec::new();
        let (s, _) = detect_csv(&a, data.as_bytes(), &[], &mut out, |_| {}, |_| {}).unwrap();
        assert_eq!(s.records, rows as u64);
        let text = String::from_utf8(out).unwrap();
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["id"], i as u64 + 1);
            let (x, y) = cells(i);
            let want: Vec<(String, String)> = [("a", &x), ("b", &y)]
                .iter()
                .flat_map(|(col, cell)| {
                    a.analyze(cell, Some(col))
                        .into_iter()
                        .map(move |e| (e.kind.to_string(), col.to_string()))
                })
                .collect();
            let got: Vec<(String, String)> = v["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["type"].as_str().unwrap().to_string(),
                        e["column"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(got, want, "row {}", i + 1);
            n += 1;
        }
        assert_eq!(n, rows);
    }

    #[test]
    fn csv_cells_use_column_names_as_context_and_are_summarised() {
        let a = Analyzer::new(Options::default());
        let data = "id,ssn,notes\n1,536221234,\"call +44 20 7946 0958, \"\"urgent\"\"\"\n2,123,plain\n3,536221234\n";
        let mut out = Vec::new();
        let mut bads = Vec::new();
        let (s, summary) = detect_csv(
            &a,
            data.as_bytes(),
            &[],
            &mut out,
            |b| bads.push(b.clone()),
            |_| {},
        )
        .unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(s.records, 3);
        // The bare 9 digits are an SSN only because the column is called `ssn`.
        assert_eq!(lines[0]["entities"][0]["type"], "US_SSN");
        assert_eq!(lines[0]["entities"][0]["column"], "ssn");
        assert_eq!(lines[0]["entities"][1]["type"], "PHONE_NUMBER");
        assert_eq!(summary["ssn"]["US_SSN"], 2);
        assert_eq!(summary["notes"]["PHONE_NUMBER"], 1);
        assert!(summary["id"].is_empty());
        let only = detect_csv(
            &a,
            data.as_bytes(),
            &["nope".to_string()],
            Vec::new(),
            |_| {},
            |_| {},
        );
        assert!(only.unwrap_err().to_string().contains("no column `nope`"));
    }
}
