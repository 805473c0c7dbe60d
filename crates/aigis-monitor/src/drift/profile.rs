//! Reference profiles: what drift needs of a reference table, computed once and stored, so a
//! scheduled comparison reads only the current window. Exact, not a sketch: a numeric column
//! keeps its values sorted, a text column its distinct values with their counts, so every test
//! and effect size is the one the table itself gives (the tests compare the two reports).
//!
//! File layout (little-endian): `AIGISDP1`, a `u32` header length, a JSON header (`version`,
//! `rows`, `source`, and per column `name`, `kind` = `numbers` | `text`, `missing`, `len`),
//! then each column's block in header order — `len` finite `f64`s in ascending order, or `len`
//! entries of `u32` byte length, UTF-8 bytes and `u64` count (distinct values, ascending). Every
//! length is checked against the bytes left before anything is allocated; a file that breaks
//! any rule (order, finiteness, counts adding up) is refused with what was wrong.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::table::{Column, Table};
use super::{DriftError, Values, parse_side, sort_numbers};

const MAGIC: &[u8; 8] = b"AIGISDP1";
/// Largest header read.
const MAX_HEADER: usize = 16 << 20;

/// One column of a profile.
#[derive(Clone, Debug, PartialEq)]
pub enum ProfileValues {
    /// Every non-empty cell a number: the finite ones, sorted.
    Numbers(Vec<f64>),
    /// Text: distinct trimmed values and how often each occurs, sorted by value.
    Text(Vec<(String, u64)>),
}

/// A profiled column.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileColumn {
    /// Its name.
    pub name: String,
    /// Empty cells, NaN and infinities.
    pub missing: usize,
    /// The values.
    pub values: ProfileValues,
}

/// A reference profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Rows of the profiled table.
    pub rows: usize,
    /// The file it was computed from (informational).
    pub source: String,
    /// Columns, in the table's order.
    pub columns: Vec<ProfileColumn>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    rows: usize,
    source: String,
    columns: Vec<HeaderColumn>,
}

#[derive(Serialize, Deserialize)]
struct HeaderColumn {
    name: String,
    kind: String,
    missing: usize,
    len: usize,
}

/// A column as drift reads it (the same parse as a comparison): numbers when every non-empty
/// cell is one (non-finite ones counted as missing), else text.
fn profile_column(name: &str, cells: &Column) -> ProfileColumn {
    let side = parse_side(cells);
    let values = match side.values {
        Values::Numbers(v) => ProfileValues::Numbers(sort_numbers(v)),
        Values::Text(t) => {
            let mut counts: std::collections::BTreeMap<&str, u64> =
                std::collections::BTreeMap::new();
            for v in t {
                *counts.entry(v).or_default() += 1;
            }
            ProfileValues::Text(
                counts
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            )
        }
        // A table's cells are never counted already.
        Values::Counted(c) => ProfileValues::Text(c.to_vec()),
    };
    ProfileColumn {
        name: name.to_string(),
        missing: side.missing,
        values,
    }
}

impl Profile {
    /// The profile of `table` (its columns profiled on all cores).
    pub fn of(table: &Table, source: &str) -> Self {
        use rayon::prelude::*;
        let columns = table
            .names
            .par_iter()
            .zip(table.columns.par_iter())
            .map(|(n, c)| profile_column(n, c))
            .collect();
        Self {
            rows: table.rows(),
            source: source.to_string(),
            columns,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            version: 1,
            rows: self.rows,
            source: self.source.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| HeaderColumn {
                    name: c.name.clone(),
                    kind: match c.values {
                        ProfileValues::Numbers(_) => "numbers",
                        ProfileValues::Text(_) => "text",
                    }
                    .into(),
                    missing: c.missing,
                    len: match &c.values {
                        ProfileValues::Numbers(v) => v.len(),
                        ProfileValues::Text(v) => v.len(),
                    },
                })
                .collect(),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(12 + json.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&json);
        for c in &self.columns {
            match &c.values {
                ProfileValues::Numbers(v) => {
                    for x in v {
                        out.extend_from_slice(&x.to_le_bytes());
                    }
                }
                ProfileValues::Text(v) => {
                    for (s, n) in v {
                        out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(0).to_le_bytes());
                        out.extend_from_slice(s.as_bytes());
                        out.extend_from_slice(&n.to_le_bytes());
                    }
                }
            }
        }
        out
    }

    /// Reads [`Profile::to_bytes`] output, checking every rule of the format.
    pub fn from_bytes(b: &[u8]) -> Result<Self, String> {
        let mut r = Reader { b, at: 0 };
        if r.take(8)? != MAGIC {
            return Err("not an aigis drift profile (no AIGISDP1 header)".into());
        }
        let hlen = r.u32()? as usize;
        if hlen > MAX_HEADER {
            return Err(format!("header of {hlen} bytes; at most {MAX_HEADER}"));
        }
        let header: Header =
            serde_json::from_slice(r.take(hlen)?).map_err(|e| format!("header: {e}"))?;
        if header.version != 1 {
            return Err(format!(
                "profile version {} (this aigis reads version 1)",
                header.version
            ));
        }
        let mut columns = Vec::with_capacity(header.columns.len().min(4096));
        for h in &header.columns {
            let bad = |m: String| format!("column `{}`: {m}", h.name);
            if columns.iter().any(|c: &ProfileColumn| c.name == h.name) {
                return Err(bad("appears twice".into()));
            }
            let values = match h.kind.as_str() {
                "numbers" => {
                    let raw =
                        r.take(h.len.checked_mul(8).ok_or_else(|| bad("too long".into()))?)?;
                    let v: Vec<f64> = raw
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                        .collect();
                    if v.iter().any(|x| !x.is_finite()) {
                        return Err(bad("a value is not finite".into()));
                    }
                    if v.windows(2).any(|w| w[0] > w[1]) {
                        return Err(bad("values are not in ascending order".into()));
                    }
                    ProfileValues::Numbers(v)
                }
                "text" => {
                    let mut v: Vec<(String, u64)> = Vec::new();
                    for _ in 0..h.len {
                        let n = r.u32()? as usize;
                        let s = std::str::from_utf8(r.take(n)?)
                            .map_err(|_| bad("a value is not UTF-8".into()))?;
                        let count = r.u64()?;
                        if count == 0 || s.is_empty() {
                            return Err(bad("an empty value or a zero count".into()));
                        }
                        if v.last().is_some_and(|(p, _)| p.as_str() >= s) {
                            return Err(bad("values are not distinct and ascending".into()));
                        }
                        v.push((s.to_string(), count));
                    }
                    ProfileValues::Text(v)
                }
                other => return Err(bad(format!("unknown kind `{other}`"))),
            };
            let present = match &values {
                ProfileValues::Numbers(v) => v.len() as u64,
                ProfileValues::Text(v) => v
                    .iter()
                    .try_fold(0u64, |a, (_, n)| a.checked_add(*n))
                    .unwrap_or(u64::MAX),
            };
            // Finite numbers or text values, plus missing ones, are the rows (a numeric
            // column's non-finite cells count as missing).
            if present.saturating_add(h.missing as u64) != header.rows as u64 {
                return Err(bad(format!(
                    "{present} values and {} missing do not make the profile's {} rows",
                    h.missing, header.rows
                )));
            }
            columns.push(ProfileColumn {
                name: h.name.clone(),
                missing: h.missing,
                values,
            });
        }
        if r.at != b.len() {
            return Err(format!("{} bytes after the last column", b.len() - r.at));
        }
        Ok(Self {
            rows: header.rows,
            source: header.source,
            columns,
        })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| format!("truncated: {n} bytes wanted at byte {}", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "truncated")?,
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "truncated")?,
        ))
    }
}

/// Whether `path` starts with a profile's magic bytes.
pub fn is_profile(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| &magic == MAGIC)
}

/// Reads a profile file.
pub fn read_profile(path: &Path) -> Result<Profile, DriftError> {
    let err = |message: String| DriftError::Read {
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    Profile::from_bytes(&bytes).map_err(err)
}
