//! Tables read for drift: each column's cells in one text arena with their end offsets, so a
//! million-row table costs its own size plus four bytes a cell, not an allocation per cell.

use std::path::Path;

use rayon::prelude::*;

use super::DriftError;

/// One column's cells.
#[derive(Debug, Default)]
pub struct Column {
    data: String,
    ends: Vec<u32>,
}

impl Column {
    /// Cells.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the column has no cell.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The cells in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&e| {
            let e = e as usize;
            let s = self.data.get(start..e).unwrap_or_default();
            start = e;
            s
        })
    }

    fn append(&mut self, other: &Column) -> Result<(), String> {
        let base = self.data.len();
        self.data.push_str(&other.data);
        u32::try_from(self.data.len())
            .map_err(|_| "a column holds more than 4 GiB of text".to_string())?;
        self.ends
            .extend(other.ends.iter().map(|&e| e + base as u32));
        Ok(())
    }

    pub(crate) fn push(&mut self, cell: &str) -> Result<(), String> {
        self.data.push_str(cell);
        let end = u32::try_from(self.data.len())
            .map_err(|_| "a column holds more than 4 GiB of text".to_string())?;
        self.ends.push(end);
        Ok(())
    }
}

/// A table: column names (from the header) and their cells.
#[derive(Debug, Default)]
pub struct Table {
    /// Column names, in order.
    pub names: Vec<String>,
    /// Cells, one [`Column`] per name.
    pub columns: Vec<Column>,
}

impl Table {
    /// Rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }
}

/// Reads a CSV file with a header row. Every row must have the header's number of fields and
/// be UTF-8; errors name the line. A file without any `"` cannot hold a quoted line break, so
/// it is cut at line ends into pieces parsed on all cores; other files are read in one pass.
pub fn read_csv(path: &Path) -> Result<Table, DriftError> {
    let err = |message: String| DriftError::Read {
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let header_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(&bytes[..header_end]);
    let header = rdr
        .headers()
        .map_err(|e| err(format!("header: {e}")))?
        .clone();
    if header.is_empty() || header.iter().all(str::is_empty) {
        return Err(err(
            "no header row (the first line names the columns)".into()
        ));
    }
    let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(err(format!("column `{n}` appears twice in the header")));
        }
    }
    let body = &bytes[header_end..];
    let pieces = if body.contains(&b'"') {
        vec![(0, body)]
    } else {
        split_at_lines(body, rayon::current_num_threads() * 4)
    };
    let parsed: Vec<Result<Vec<Column>, String>> = pieces
        .par_iter()
        .map(|(first_line, piece)| parse_piece(piece, names.len(), first_line + 2))
        .collect();
    let mut columns: Vec<Column> = names.iter().map(|_| Column::default()).collect();
    for p in parsed {
        for (all, part) in columns.iter_mut().zip(p.map_err(err)?) {
            all.append(&part).map_err(err)?;
        }
    }
    Ok(Table { names, columns })
}

/// Cuts `body` into about `n` pieces at line ends; each with the number of lines before it.
fn split_at_lines(body: &[u8], n: usize) -> Vec<(usize, &[u8])> {
    let target = (body.len() / n.max(1)).max(1 << 16);
    let mut out = Vec::new();
    let (mut start, mut lines) = (0usize, 0usize);
    while start < body.len() {
        let mut end = (start + target).min(body.len());
        while end < body.len() && body[end - 1] != b'\n' {
            end += 1;
        }
        let piece = &body[start..end];
        out.push((lines, piece));
        lines += memchr::memchr_iter(b'\n', piece).count();
        start = end;
    }
    out
}

/// Parses rows (no header) into columns; `line` is the file line of the first row.
fn parse_piece(piece: &[u8], width: usize, line: usize) -> Result<Vec<Column>, String> {
    let mut columns: Vec<Column> = (0..width).map(|_| Column::default()).collect();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(piece);
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(0, |p| p.line() as usize - 1) + line;
                return Err(match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => format!("line {at}: a field is not UTF-8"),
                    _ => format!("line {at}: {e}"),
                });
            }
        }
        let at = record.position().map_or(0, |p| p.line() as usize - 1) + line;
        if record.len() != width {
            return Err(format!(
                "line {at}: found record with {} fields, but the header has {width}",
                record.len()
            ));
        }
        for (col, cell) in columns.iter_mut().zip(record.iter()) {
            col.push(cell).map_err(|m| format!("line {at}: {m}"))?;
        }
    }
    Ok(columns)
}
