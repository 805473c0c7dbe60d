//! Parquet tables for drift: every leaf column outside a list becomes a column of the
//! [`Table`] (named by its dotted path, `user.age`), its values written as the text the CSV
//! reader would hold, so both formats go through the same type inference and tests — integers
//! in decimal, floats in their shortest round-trip form, booleans as `true`/`false`, DECIMAL
//! values scaled, legacy INT96 timestamps as nanoseconds since the epoch, strings (and binary
//! values that are UTF-8) as they are, and nulls as empty cells (missing). Row groups are read
//! one at a time, each column chunk whole (a row group larger than 2 GiB is refused).
//!
//! The `parquet` crate is trusted less than our own parsers: calls into it run under
//! `catch_unwind`, so a malformed file is an error naming it, never a crash.

use std::fs::File;
use std::path::Path;

use parquet::basic::LogicalType;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType, FixedLenByteArray, Int96};
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::schema::types::ColumnDescriptor;

use super::DriftError;
use super::table::{Column, Table};

/// Largest row group read (uncompressed bytes).
const MAX_ROW_GROUP_BYTES: i64 = 2 << 30;
/// Values read per call.
const BATCH: usize = 64 * 1024;

/// Whether `path` starts with Parquet's magic bytes.
pub fn is_parquet(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| &magic == b"PAR1")
}

/// Reads a Parquet file into a [`Table`].
pub fn read_parquet(path: &Path) -> Result<Table, DriftError> {
    let err = |message: String| DriftError::Read {
        path: path.display().to_string(),
        message,
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(path)))
        .unwrap_or_else(|_| Err("malformed Parquet (the reader failed on it)".into()))
        .map_err(err)
}

fn read(path: &Path) -> Result<Table, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let reader =
        SerializedFileReader::new(file).map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let mut names = Vec::with_capacity(schema.num_columns());
    for i in 0..schema.num_columns() {
        let c = schema.column(i);
        let name = c.path().parts().join(".");
        if c.max_rep_level() > 0 {
            return Err(format!(
                "column `{name}` is a list (repeated values); drift compares flat columns — flatten it or write the table without it"
            ));
        }
        names.push(name);
    }
    if names.is_empty() {
        return Err("no columns".into());
    }
    let mut columns: Vec<Column> = names.iter().map(|_| Column::default()).collect();
    for k in 0..reader.num_row_groups() {
        let rg = reader
            .get_row_group(k)
            .map_err(|e| format!("row group {k}: {e}"))?;
        if rg.metadata().total_byte_size() > MAX_ROW_GROUP_BYTES {
            return Err(format!(
                "row group {k} holds {} bytes; row groups over {} GiB are not read",
                rg.metadata().total_byte_size(),
                MAX_ROW_GROUP_BYTES >> 30
            ));
        }
        let rows = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
        for (i, col) in columns.iter_mut().enumerate() {
            let desc = schema.column(i);
            let before = col.len();
            read_column(rg.as_ref(), i, &desc, col)
                .map_err(|e| format!("column `{}`, row group {k}: {e}", names[i]))?;
            if col.len() - before != rows {
                return Err(format!(
                    "column `{}`, row group {k}: {} values for {rows} rows",
                    names[i],
                    col.len() - before
                ));
            }
        }
    }
    Ok(Table { names, columns })
}

/// Appends one column chunk's cells to `out`.
fn read_column(
    rg: &dyn RowGroupReader,
    i: usize,
    desc: &ColumnDescriptor,
    out: &mut Column,
) -> Result<(), String> {
    let scale = match desc.logical_type_ref() {
        Some(LogicalType::Decimal(d)) => Some(d.scale),
        _ => (desc.converted_type() == parquet::basic::ConvertedType::DECIMAL)
            .then(|| desc.type_scale()),
    };
    let reader = rg.get_column_reader(i).map_err(|e| e.to_string())?;
    match reader {
        ColumnReader::BoolColumnReader(mut r) => cells(&mut r, desc, out, |v: &bool| {
            Ok(if *v { "true" } else { "false" }.into())
        }),
        ColumnReader::Int32ColumnReader(mut r) => cells(&mut r, desc, out, |v: &i32| {
            Ok(decimal_text(i128::from(*v), scale))
        }),
        ColumnReader::Int64ColumnReader(mut r) => cells(&mut r, desc, out, |v: &i64| {
            Ok(decimal_text(i128::from(*v), scale))
        }),
        ColumnReader::Int96ColumnReader(mut r) => cells(&mut r, desc, out, |v: &Int96| {
            // Julian day and nanoseconds of the day, as Impala and old Spark wrote timestamps.
            let d = v.data();
            let nanos_of_day = i128::from(d[0]) | i128::from(d[1]) << 32;
            let day = i128::from(d[2]) - 2_440_588;
            Ok(decimal_text(day * 86_400_000_000_000 + nanos_of_day, None))
        }),
        ColumnReader::FloatColumnReader(mut r) => {
            cells(&mut r, desc, out, |v: &f32| Ok(f64::from(*v).to_string()))
        }
        ColumnReader::DoubleColumnReader(mut r) => {
            cells(&mut r, desc, out, |v: &f64| Ok(v.to_string()))
        }
        ColumnReader::ByteArrayColumnReader(mut r) => cells(&mut r, desc, out, |v: &ByteArray| {
            std::str::from_utf8(v.data())
                .map(str::to_string)
                .map_err(|_| "binary values that are not UTF-8 text".to_string())
        }),
        ColumnReader::FixedLenByteArrayColumnReader(mut r) => {
            cells(&mut r, desc, out, |v: &FixedLenByteArray| {
                let b = v.data();
                match scale {
                    // A DECIMAL: big-endian two's complement, at most 16 bytes here.
                    Some(_) if !b.is_empty() && b.len() <= 16 => {
                        let fill = if b[0] & 0x80 != 0 { 0xff } else { 0 };
                        let mut be = [fill; 16];
                        be[16 - b.len()..].copy_from_slice(b);
                        Ok(decimal_text(i128::from_be_bytes(be), scale))
                    }
                    Some(_) => Err(format!("a {}-byte DECIMAL is too wide", b.len())),
                    // A UUID or another fixed-size value: a category, in hex.
                    None => Ok(aigis_sign::hex(b)),
                }
            })
        }
    }
}

/// An integer as text, divided by 10^`scale` for a DECIMAL (exact digits with the point
/// placed, not a float division).
fn decimal_text(v: i128, scale: Option<i32>) -> String {
    match scale
        .and_then(|s| usize::try_from(s).ok())
        .filter(|&s| s > 0)
    {
        Some(s) => {
            let digits = v.unsigned_abs().to_string();
            let padded = format!("{digits:0>width$}", width = s + 1);
            let (int, frac) = padded.split_at(padded.len() - s);
            let sign = if v < 0 { "-" } else { "" };
            format!("{sign}{int}.{frac}")
        }
        None => v.to_string(),
    }
}

/// Reads every value and definition level of a column chunk, appending one cell per row: the
/// value as `text` makes it, or an empty cell for a null.
fn cells<T: DataType>(
    r: &mut ColumnReaderImpl<T>,
    desc: &ColumnDescriptor,
    out: &mut Column,
    text: impl Fn(&T::T) -> Result<String, String>,
) -> Result<(), String> {
    let max_def = desc.max_def_level();
    let (mut values, mut defs) = (Vec::new(), Vec::new());
    loop {
        values.clear();
        defs.clear();
        let (records, read, levels) = r
            .read_records(BATCH, Some(&mut defs), None, &mut values)
            .map_err(|e| e.to_string())?;
        if records == 0 && read == 0 && levels == 0 {
            return Ok(());
        }
        let mut next = values.iter();
        let mut push = |v: Option<&T::T>| -> Result<(), String> {
            match v {
                Some(v) => out.push(&text(v)?),
                None => out.push(""),
            }
        };
        if max_def == 0 {
            for v in &values {
                push(Some(v))?;
            }
        } else {
            for &d in &defs {
                if d == max_def {
                    let v = next
                        .next()
                        .ok_or_else(|| "fewer values than the levels mark present".to_string())?;
                    push(Some(v))?;
                } else {
                    push(None)?;
                }
            }
        }
    }
}
