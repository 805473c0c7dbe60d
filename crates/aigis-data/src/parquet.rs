//! Parquet input (feature `parquet`): detection, dataset scans and anonymisation column by
//! column. Every string column (`BYTE_ARRAY` with a UTF-8/string annotation, at any nesting
//! depth) is read one row group at a time with its definition and repetition levels, so memory
//! is bounded by one row group's strings, and the row a value belongs to is known from the
//! repetition levels. Rewriting copies every column chunk's values and levels unchanged except
//! the string values, so the output has the same schema, row groups, nesting and nulls.
//!
//! The `parquet` crate is trusted less than our own parsers: calls into it run under
//! `catch_unwind` so a malformed file is an error, never a crash.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::column::reader::ColumnReader;
use parquet::data_type::{self as dt, ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnDescriptor;
use rayon::prelude::*;

use crate::Analyzer;
use crate::anonymize::{Anonymizer, Counts};
use crate::dataset::{DatasetReport, FieldReport};
use crate::stream::{BadRecord, ColumnSummary, Stats};
use crate::transform::{Direction, Totals};

/// Largest row group read (uncompressed bytes); bigger ones are refused rather than loaded.
const MAX_ROW_GROUP_BYTES: i64 = 2 << 30;
/// Values read per call.
const CHUNK: usize = 64 * 1024;

fn err(m: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, m.into())
}

/// Runs `f`, turning a panic inside the parquet crate into an error naming the file.
fn guarded<T>(path: &Path, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(err(format!(
            "{}: malformed Parquet (the reader failed on it)",
            path.display()
        )))
    })
}

fn open(path: &Path) -> std::io::Result<SerializedFileReader<File>> {
    let f = File::open(path)?;
    SerializedFileReader::new(f).map_err(|e| err(format!("not a readable Parquet file: {e}")))
}

/// Whether a leaf column holds text.
fn is_string(c: &ColumnDescriptor) -> bool {
    c.physical_type() == PhysicalType::BYTE_ARRAY
        && (matches!(
            c.logical_type_ref(),
            Some(LogicalType::String | LogicalType::Json | LogicalType::Enum)
        ) || matches!(
            c.converted_type(),
            ConvertedType::UTF8 | ConvertedType::JSON | ConvertedType::ENUM
        ))
}

/// The dotted path of a leaf column (`user.email`, `tags.list.element`).
fn name(c: &ColumnDescriptor) -> String {
    c.path().parts().join(".")
}

/// One string column chunk of a row group: values, their levels, and each value's row.
struct Chunk {
    values: Vec<ByteArray>,
    def: Vec<i16>,
    rep: Vec<i16>,
    /// Row (within the row group) of each present value.
    rows: Vec<usize>,
    /// Rows the levels describe (nulls included).
    row_count: usize,
}

fn read_chunk(
    rg: &dyn RowGroupReader,
    i: usize,
    desc: &ColumnDescriptor,
) -> std::io::Result<Chunk> {
    let ColumnReader::ByteArrayColumnReader(mut r) = rg
        .get_column_reader(i)
        .map_err(|e| err(format!("column `{}`: {e}", name(desc))))?
    else {
        return Err(err(format!("column `{}` is not BYTE_ARRAY", name(desc))));
    };
    let (values, def, rep) = read_all(&mut r, desc)?;
    let max_def = desc.max_def_level();
    let mut rows = Vec::with_capacity(values.len());
    let mut row = 0usize;
    let flat = desc.max_rep_level() == 0;
    let n = if desc.max_def_level() == 0 {
        values.len()
    } else {
        def.len()
    };
    for k in 0..n {
        if !flat && k > 0 && rep.get(k) == Some(&0) {
            row += 1;
        }
        if max_def == 0 || def.get(k) == Some(&max_def) {
            rows.push(row);
        }
        if flat {
            row += 1;
        }
    }
    if rows.len() != values.len() {
        return Err(err(format!(
            "column `{}`: {} values but levels mark {} present",
            name(desc),
            values.len(),
            rows.len()
        )));
    }
    let row_count = if n == 0 {
        0
    } else if flat {
        row
    } else {
        row + 1
    };
    Ok(Chunk {
        values,
        def,
        rep,
        rows,
        row_count,
    })
}

/// A column chunk's values, definition levels and repetition levels.
type Levels<V> = (Vec<V>, Vec<i16>, Vec<i16>);

/// Every value and level of one column chunk (a chunk is bounded by the row-group check).
fn read_all<T: dt::DataType>(
    r: &mut parquet::column::reader::ColumnReaderImpl<T>,
    desc: &ColumnDescriptor,
) -> std::io::Result<Levels<T::T>> {
    let (mut values, mut def, mut rep) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let (records, vals, levels) = r
            .read_records(CHUNK, Some(&mut def), Some(&mut rep), &mut values)
            .map_err(|e| err(format!("column `{}`: {e}", name(desc))))?;
        if records == 0 && vals == 0 && levels == 0 {
            return Ok((values, def, rep));
        }
    }
}

/// The string columns to analyse (all, or those named in `only`), as (leaf index, path).
fn selected(
    reader: &SerializedFileReader<File>,
    only: &[String],
) -> std::io::Result<Vec<(usize, String)>> {
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let all: Vec<(usize, String)> = (0..schema.num_columns())
        .filter(|&i| is_string(&schema.column(i)))
        .map(|i| (i, name(&schema.column(i))))
        .collect();
    for c in only {
        if !all.iter().any(|(_, n)| n == c) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "no string column `{c}` in the Parquet schema (string columns: {})",
                    all.iter()
                        .map(|(_, n)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|(_, n)| only.is_empty() || only.contains(n))
        .collect())
}

fn check_size(rg: &dyn RowGroupReader, k: usize) -> std::io::Result<()> {
    if rg.metadata().total_byte_size() > MAX_ROW_GROUP_BYTES {
        return Err(err(format!(
            "row group {k} holds {} bytes; row groups over {} GiB are not read",
            rg.metadata().total_byte_size(),
            MAX_ROW_GROUP_BYTES >> 30
        )));
    }
    Ok(())
}

/// `aigis pii detect` over a Parquet file: one JSON line per row with entities, ids counted
/// from 1 across row groups, each entity naming its column; plus the per-column summary.
pub fn detect_parquet<W: Write>(
    analyzer: &Analyzer,
    path: &Path,
    columns: &[String],
    mut out: W,
    mut bad: impl FnMut(&BadRecord),
) -> std::io::Result<(Stats, ColumnSummary)> {
    guarded(path, || {
        let reader = open(path)?;
        let cols = selected(&reader, columns)?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let mut stats = Stats::default();
        let mut summary = ColumnSummary::new();
        for (_, n) in &cols {
            summary.entry(n.clone()).or_default();
        }
        let mut base = 0u64;
        for k in 0..reader.num_row_groups() {
            let rg = reader
                .get_row_group(k)
                .map_err(|e| err(format!("row group {k}: {e}")))?;
            check_size(rg.as_ref(), k)?;
            let claimed = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
            // Rows with entities only: the row count in the metadata is the file's word, not a
            // size to allocate.
            let mut per_row: BTreeMap<usize, Vec<(usize, crate::Entity)>> = BTreeMap::new();
            let mut seen_rows = 0usize;
            for (ci, (leaf, cname)) in cols.iter().enumerate() {
                let chunk = read_chunk(rg.as_ref(), *leaf, &schema.column(*leaf))?;
                seen_rows = seen_rows.max(chunk.row_count);
                let found: Vec<(usize, Result<Vec<crate::Entity>, usize>)> = chunk
                    .values
                    .par_iter()
                    .zip(chunk.rows.par_iter())
                    .map(|(v, &row)| match std::str::from_utf8(v.data()) {
                        Ok(t) => (row, Ok(analyzer.analyze(t, Some(cname)))),
                        Err(e) => (row, Err(e.valid_up_to())),
                    })
                    .collect();
                for (row, r) in found {
                    match r {
                        Ok(ents) if !ents.is_empty() => {
                            per_row
                                .entry(row)
                                .or_default()
                                .extend(ents.into_iter().map(|e| (ci, e)));
                        }
                        Ok(_) => {}
                        Err(at) => {
                            stats.bad_records += 1;
                            bad(&BadRecord {
                                line: base + row as u64 + 1,
                                message: format!("column `{cname}`: invalid UTF-8 at byte {at}"),
                            });
                        }
                    }
                }
            }
            // The string columns' levels say how many rows there are; a header claiming more
            // (hostile or damaged) is reported, not believed.
            let nrows = if cols.is_empty() { claimed } else { seen_rows };
            if !cols.is_empty() && claimed != seen_rows {
                stats.bad_records += 1;
                bad(&BadRecord {
                    line: base + 1,
                    message: format!(
                        "row group {k} claims {claimed} rows, its string columns hold {seen_rows}"
                    ),
                });
            }
            for row in 0..nrows {
                let ents = per_row.remove(&row).unwrap_or_default();
                stats.records += 1;
                stats.entities += ents.len() as u64;
                stats.records_with_entities += u64::from(!ents.is_empty());
                let list: Vec<serde_json::Value> = ents
                    .iter()
                    .map(|(ci, e)| {
                        *summary
                            .entry(cols[*ci].1.clone())
                            .or_default()
                            .entry(e.kind)
                            .or_default() += 1;
                        serde_json::json!({"type": e.kind, "start": e.start, "end": e.end,
                            "score": e.score, "column": cols[*ci].1})
                    })
                    .collect();
                let line = serde_json::json!({"id": base + row as u64 + 1, "entities": list});
                writeln!(out, "{line}")?;
            }
            base += nrows as u64;
        }
        stats.bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        out.flush()?;
        Ok((stats, summary))
    })
}

/// `aigis data scan` over a Parquet file (`sample` rows, 0 = all; whole row groups are read).
pub fn scan_parquet(a: &Analyzer, path: &Path, sample: u64) -> std::io::Result<DatasetReport> {
    guarded(path, || {
        let reader = open(path)?;
        let cols = selected(&reader, &[])?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let mut fields: BTreeMap<String, FieldReport> = BTreeMap::new();
        let mut report = DatasetReport {
            path: path.display().to_string(),
            format: "parquet",
            records: 0,
            sampled: false,
            bad_records: 0,
            problems: Vec::new(),
            fields: Vec::new(),
        };
        for k in 0..reader.num_row_groups() {
            if sample > 0 && report.records >= sample {
                report.sampled = true;
                break;
            }
            let rg = reader
                .get_row_group(k)
                .map_err(|e| err(format!("row group {k}: {e}")))?;
            check_size(rg.as_ref(), k)?;
            let nrows = u64::try_from(rg.metadata().num_rows()).unwrap_or(0);
            let limit = if sample > 0 {
                sample - report.records
            } else {
                u64::MAX
            };
            for (leaf, cname) in &cols {
                let chunk = read_chunk(rg.as_ref(), *leaf, &schema.column(*leaf))?;
                let hits: Vec<(usize, Option<Vec<&'static str>>)> = chunk
                    .values
                    .par_iter()
                    .zip(chunk.rows.par_iter())
                    .filter(|(_, row)| (**row as u64) < limit)
                    .map(|(v, &row)| match std::str::from_utf8(v.data()) {
                        Ok("") => (row, Some(Vec::new())),
                        Ok(t) => {
                            let mut kinds: Vec<&'static str> =
                                a.spans(t, Some(cname)).iter().map(|s| s.kind).collect();
                            kinds.sort_unstable();
                            kinds.dedup();
                            (row, Some(kinds))
                        }
                        Err(_) => (row, None),
                    })
                    .collect();
                let f = fields.entry(cname.clone()).or_default();
                // A row counts once per type even when a repeated column holds several values.
                let mut seen = std::collections::BTreeSet::<(usize, &'static str)>::new();
                let mut valued = std::collections::BTreeSet::<usize>::new();
                for (row, kinds) in hits {
                    if let Some(kinds) = kinds {
                        valued.insert(row);
                        for kind in kinds {
                            seen.insert((row, kind));
                        }
                    } else {
                        report.bad_records += 1;
                        if report.problems.len() < 20 {
                            report.problems.push(format!(
                                "record {}: column `{cname}`: invalid UTF-8",
                                report.records + row as u64 + 1
                            ));
                        }
                    }
                }
                f.values += valued.len() as u64;
                for (_, kind) in seen {
                    *f.entities.entry(kind).or_default() += 1;
                }
            }
            report.records += nrows.min(limit);
        }
        for (_, n) in &cols {
            let f = fields.remove(n).unwrap_or_default();
            report.fields.push((n.clone(), f));
        }
        Ok(report)
    })
}

/// Rewrites a Parquet file into `out`: every selected string column anonymised or
/// detokenised, everything else copied value for value, with the same schema and row groups.
pub fn transform_parquet<W: Write + Send>(
    an: &Anonymizer<'_>,
    dir: Direction,
    input: &Path,
    columns: &[String],
    out: W,
    mut bad: impl FnMut(&BadRecord),
) -> std::io::Result<Totals> {
    guarded(input, || {
        let reader = open(input)?;
        let cols = selected(&reader, columns)?;
        let meta = reader.metadata();
        let schema = meta.file_metadata().schema_descr_ptr();
        let codec = if meta.num_row_groups() > 0 && meta.row_group(0).num_columns() > 0 {
            meta.row_group(0).column(0).compression()
        } else {
            parquet::basic::Compression::SNAPPY
        };
        let props = Arc::new(WriterProperties::builder().set_compression(codec).build());
        let mut writer = SerializedFileWriter::new(out, schema.root_schema_ptr(), props)
            .map_err(|e| err(e.to_string()))?;
        let mut t = Totals::default();
        let mut base = 0u64;
        for k in 0..reader.num_row_groups() {
            let rg = reader
                .get_row_group(k)
                .map_err(|e| err(format!("row group {k}: {e}")))?;
            check_size(rg.as_ref(), k)?;
            let nrows = u64::try_from(rg.metadata().num_rows()).unwrap_or(0);
            let mut rgw = writer.next_row_group().map_err(|e| err(e.to_string()))?;
            let mut leaf = 0usize;
            while let Some(mut col) = rgw.next_column().map_err(|e| err(e.to_string()))? {
                let desc = schema.column(leaf);
                match cols.iter().find(|(i, _)| *i == leaf) {
                    Some((_, cname)) => {
                        let chunk = read_chunk(rg.as_ref(), leaf, &desc)?;
                        let results: Vec<(Result<ByteArray, String>, Counts)> = chunk
                            .values
                            .par_iter()
                            .map(|v| {
                                let mut n = Counts::default();
                                let r = std::str::from_utf8(v.data())
                                    .map_err(|e| {
                                        format!("invalid UTF-8 at byte {}", e.valid_up_to())
                                    })
                                    .and_then(|s| match dir {
                                        Direction::Anonymize => {
                                            Ok(an.anonymize(s, Some(cname), &mut n))
                                        }
                                        Direction::Detokenize => an
                                            .detokenize(s, Some(cname), &mut n)
                                            .map_err(|e| e.to_string()),
                                    })
                                    .map(|s| ByteArray::from(s.into_bytes()));
                                (r, n)
                            })
                            .collect();
                        let mut values = Vec::with_capacity(results.len());
                        for ((r, n), row) in results.into_iter().zip(&chunk.rows) {
                            t.counts += n;
                            match r {
                                Ok(v) => values.push(v),
                                Err(message) => {
                                    // Never copied through unscanned: the value becomes empty.
                                    t.bad_records += 1;
                                    bad(&BadRecord {
                                        line: base + *row as u64 + 1,
                                        message: format!(
                                            "column `{cname}`: {message}; written empty"
                                        ),
                                    });
                                    values.push(ByteArray::from(Vec::new()));
                                }
                            }
                        }
                        let def = (desc.max_def_level() > 0).then_some(chunk.def.as_slice());
                        let rep = (desc.max_rep_level() > 0).then_some(chunk.rep.as_slice());
                        col.typed::<ByteArrayType>()
                            .write_batch(&values, def, rep)
                            .map_err(|e| err(e.to_string()))?;
                    }
                    None => copy_column(rg.as_ref(), leaf, &desc, &mut col)?,
                }
                col.close().map_err(|e| err(e.to_string()))?;
                leaf += 1;
            }
            rgw.close().map_err(|e| err(e.to_string()))?;
            t.records += nrows;
            base += nrows;
        }
        writer.close().map_err(|e| err(e.to_string()))?;
        Ok(t)
    })
}

/// Copies one column chunk's values and levels unchanged.
fn copy_column(
    rg: &dyn RowGroupReader,
    leaf: usize,
    desc: &ColumnDescriptor,
    col: &mut parquet::file::writer::SerializedColumnWriter<'_>,
) -> std::io::Result<()> {
    let reader = rg
        .get_column_reader(leaf)
        .map_err(|e| err(format!("column `{}`: {e}", name(desc))))?;
    let def_on = desc.max_def_level() > 0;
    let rep_on = desc.max_rep_level() > 0;
    macro_rules! copy {
        ($r:ident, $t:ty) => {{
            let mut r = $r;
            let (values, def, rep) = read_all(&mut r, desc)?;
            col.typed::<$t>()
                .write_batch(
                    &values,
                    def_on.then_some(def.as_slice()),
                    rep_on.then_some(rep.as_slice()),
                )
                .map_err(|e| err(e.to_string()))?;
        }};
    }
    match reader {
        ColumnReader::BoolColumnReader(r) => copy!(r, dt::BoolType),
        ColumnReader::Int32ColumnReader(r) => copy!(r, dt::Int32Type),
        ColumnReader::Int64ColumnReader(r) => copy!(r, dt::Int64Type),
        ColumnReader::Int96ColumnReader(r) => copy!(r, dt::Int96Type),
        ColumnReader::FloatColumnReader(r) => copy!(r, dt::FloatType),
        ColumnReader::DoubleColumnReader(r) => copy!(r, dt::DoubleType),
        ColumnReader::ByteArrayColumnReader(r) => copy!(r, dt::ByteArrayType),
        ColumnReader::FixedLenByteArrayColumnReader(r) => copy!(r, dt::FixedLenByteArrayType),
    }
    Ok(())
}
