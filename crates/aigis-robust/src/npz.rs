//! `.npz` archives (NumPy's zip of `.npy` arrays, stored or deflated) and `.npy` arrays of
//! float32/float64/int32/int64, read with bounded sizes: `x` as `f32`, `y` as `i64`.

use std::io::Read as _;

use crate::{Error, Tensor, elements};

/// An array's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Floating point (float32, or float64 narrowed).
    F32(Vec<f32>),
    /// Integers (int32 or int64).
    I64(Vec<i64>),
}

/// One array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub values: Values,
}

fn bad(file: &str, m: impl std::fmt::Display) -> Error {
    Error::Data {
        file: file.to_string(),
        message: m.to_string(),
    }
}

/// Parse one `.npy` array.
pub fn parse_npy(name: &str, b: &[u8]) -> Result<Array, Error> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad(name, "not a .npy array (no \\x93NUMPY magic)"));
    }
    let (hlen, start): (usize, usize) = match b[6] {
        1 => (usize::from(u16::from_le_bytes([b[8], b[9]])), 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(bad(name, format!("unsupported .npy version {v}"))),
    };
    let header = b
        .get(start..start.saturating_add(hlen))
        .ok_or_else(|| bad(name, "truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad(name, "header is not text"))?;
    let field = |k: &str| -> Option<&str> {
        let i = header.find(&format!("'{k}':"))? + k.len() + 3;
        Some(header[i..].trim_start())
    };
    let descr = field("descr")
        .and_then(|s| s.strip_prefix('\''))
        .and_then(|s| s.split('\'').next())
        .ok_or_else(|| bad(name, "no descr in the header"))?;
    if field("fortran_order").is_some_and(|s| s.starts_with("True")) {
        return Err(bad(
            name,
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray",
        ));
    }
    let shape_s = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(name, "no shape in the header"))?;
    let shape: Vec<usize> = shape_s
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(name, format!("shape value {s:?}")))
        })
        .collect::<Result<_, _>>()?;
    let n = elements(&shape)?;
    let data = &b[start + hlen..];
    let need = |size: usize| -> Result<&[u8], Error> {
        n.checked_mul(size)
            .and_then(|len| data.get(..len))
            .ok_or_else(|| {
                bad(
                    name,
                    format!("{n} values of {descr} need more bytes than the file has"),
                )
            })
    };
    let values = match descr {
        "<f4" => Values::F32(
            need(4)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        "<f8" => Values::F32(
            need(8)?
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
        ),
        "<i8" => Values::I64(
            need(8)?
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        "<i4" => Values::I64(
            need(4)?
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
        ),
        d => {
            return Err(bad(
                name,
                format!("dtype {d} is not supported (use float32 x and int64 y)"),
            ));
        }
    };
    Ok(Array { shape, values })
}

fn u16_at(b: &[u8], i: usize) -> Option<usize> {
    b.get(i..i + 2)
        .map(|s| usize::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], i: usize) -> Option<usize> {
    b.get(i..i + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

/// The members of an `.npz` (a zip archive) by name, without the `.npy` suffix.
pub fn parse_npz(file: &str, b: &[u8]) -> Result<Vec<(String, Array)>, Error> {
    let tail = b.len().saturating_sub(65_557);
    let eocd = (tail..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| bad(file, "not an .npz (no zip end record)"))?;
    let count = u16_at(b, eocd + 10).ok_or_else(|| bad(file, "truncated end record"))?;
    let mut pos = u32_at(b, eocd + 16).ok_or_else(|| bad(file, "truncated end record"))?;
    let mut out = Vec::new();
    for _ in 0..count {
        let h = b
            .get(pos..pos + 46)
            .ok_or_else(|| bad(file, "truncated central directory"))?;
        if h[..4] != [0x50, 0x4b, 0x01, 0x02] {
            return Err(bad(file, "bad central directory entry"));
        }
        let method = u16_at(h, 10).unwrap_or(0);
        let csize = u32_at(h, 20).unwrap_or(0);
        let usize_ = u32_at(h, 24).unwrap_or(0);
        let (nl, el, cl) = (
            u16_at(h, 28).unwrap_or(0),
            u16_at(h, 30).unwrap_or(0),
            u16_at(h, 32).unwrap_or(0),
        );
        let local = u32_at(h, 42).unwrap_or(0);
        let name = b
            .get(pos + 46..pos + 46 + nl)
            .ok_or_else(|| bad(file, "truncated name"))?;
        let name = String::from_utf8_lossy(name).into_owned();
        pos += 46 + nl + el + cl;
        if csize == 0xFFFF_FFFF || usize_ == 0xFFFF_FFFF {
            return Err(bad(
                file,
                format!("member {name}: ZIP64 archives are not supported"),
            ));
        }
        if usize_ > crate::MAX_ELEMENTS * 8 {
            return Err(bad(file, format!("member {name} is too large")));
        }
        let lh = b
            .get(local..local + 30)
            .ok_or_else(|| bad(file, "truncated local header"))?;
        let start = local + 30 + u16_at(lh, 26).unwrap_or(0) + u16_at(lh, 28).unwrap_or(0);
        let data = b
            .get(start..start + csize)
            .ok_or_else(|| bad(file, format!("member {name} is truncated")))?;
        let raw = match method {
            0 => data.to_vec(),
            8 => {
                let mut v = Vec::with_capacity(usize_.min(1 << 24));
                flate2::read::DeflateDecoder::new(data)
                    .take(usize_ as u64 + 1)
                    .read_to_end(&mut v)
                    .map_err(|e| bad(file, format!("member {name}: {e}")))?;
                if v.len() != usize_ {
                    return Err(bad(
                        file,
                        format!("member {name}: size differs from the directory"),
                    ));
                }
                v
            }
            m => {
                return Err(bad(
                    file,
                    format!("member {name}: compression method {m} is not supported"),
                ));
            }
        };
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        out.push((key.clone(), parse_npy(&format!("{file}!{name}"), &raw)?));
    }
    Ok(out)
}

/// `x` (as `f32`) of an `.npz` (probes need no labels).
pub fn load_x(file: &str, b: &[u8]) -> Result<Tensor, Error> {
    let (_, x) = parse_npz(file, b)?
        .into_iter()
        .find(|(k, _)| k == "x")
        .ok_or_else(|| bad(file, "no array `x`"))?;
    let data = match x.values {
        Values::F32(v) => v,
        Values::I64(v) => v.into_iter().map(|i| i as f32).collect(),
    };
    Tensor::new(x.shape, data)
}

/// Labelled data from CSV rows `label,f0,f1,…` (DESIGN.md §3's other input format): one
/// sample per row, every row the same width; a first row whose label is not an integer is a
/// header and skipped. `x` is `[N, F]` (see [`crate::engine::Session::fit_input`] for image
/// models).
pub fn load_csv(file: &str, b: &[u8]) -> Result<(Tensor, Vec<i64>), Error> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(b);
    let (mut data, mut y) = (Vec::new(), Vec::new());
    let mut width = None;
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(file, format!("line {}: {e}", i + 1)))?;
        let Some(first) = rec.get(0) else { continue };
        let label = match first.parse::<i64>() {
            Ok(l) => l,
            Err(_) if i == 0 => continue,
            Err(_) => {
                return Err(bad(
                    file,
                    format!("line {}: label `{first}` is not an integer", i + 1),
                ));
            }
        };
        let n = rec.len() - 1;
        if n == 0 {
            return Err(bad(
                file,
                format!("line {}: a label without features", i + 1),
            ));
        }
        if *width.get_or_insert(n) != n {
            return Err(bad(
                file,
                format!(
                    "line {}: {n} features, earlier rows have {}",
                    i + 1,
                    width.unwrap_or(0)
                ),
            ));
        }
        for (j, f) in rec.iter().skip(1).enumerate() {
            let v: f32 = f.parse().map_err(|_| {
                bad(
                    file,
                    format!("line {}, column {}: `{f}` is not a number", i + 1, j + 2),
                )
            })?;
            data.push(v);
        }
        if data.len() > crate::MAX_ELEMENTS {
            return Err(bad(file, "more values than the engine accepts"));
        }
        y.push(label);
    }
    let Some(width) = width else {
        return Err(bad(file, "no data rows (label,f0,f1,…)"));
    };
    Ok((Tensor::new(vec![y.len(), width], data)?, y))
}

/// Whether a data file name means CSV rows (`.csv`, any case).
pub fn is_csv(file: &str) -> bool {
    file.to_ascii_lowercase().ends_with(".csv")
}

/// Labelled data from an `.npz` or, when the name ends in `.csv`, CSV rows.
pub fn load_labelled(file: &str, b: &[u8]) -> Result<(Tensor, Vec<i64>), Error> {
    if is_csv(file) {
        load_csv(file, b)
    } else {
        load_xy(file, b)
    }
}

/// `x` (as `f32`) and `y` (as `i64` labels) of an `.npz`, with matching first dimensions.
pub fn load_xy(file: &str, b: &[u8]) -> Result<(Tensor, Vec<i64>), Error> {
    let mut x = None;
    let mut y = None;
    for (k, a) in parse_npz(file, b)? {
        match (k.as_str(), a.values) {
            ("x", Values::F32(v)) => x = Some(Tensor::new(a.shape, v)?),
            ("x", Values::I64(v)) => {
                x = Some(Tensor::new(
                    a.shape,
                    v.into_iter().map(|i| i as f32).collect(),
                )?);
            }
            ("y", Values::I64(v)) => y = Some(v),
            ("y", Values::F32(_)) => return Err(bad(file, "y must hold integer labels")),
            _ => {}
        }
    }
    let x = x.ok_or_else(|| bad(file, "no array `x`"))?;
    let y = y.ok_or_else(|| bad(file, "no array `y`"))?;
    if x.shape.first() != Some(&y.len()) {
        return Err(bad(
            file,
            format!("x has {:?} rows, y has {}", x.shape.first(), y.len()),
        ));
    }
    Ok((x, y))
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn csv_rows_with_or_without_a_header() {
        let (x, y) = load_csv("d.csv", b"label,a,b\n1,0.5,0.25\n0, 1 ,0\n").expect("parses");
        assert_eq!(x.shape, vec![2, 2]);
        assert_eq!(x.data, vec![0.5, 0.25, 1.0, 0.0]);
        assert_eq!(y, vec![1, 0]);
        let (x, _) = load_csv("d.csv", b"3,1,2,3\n").expect("no header");
        assert_eq!(x.shape, vec![1, 3]);
        assert!(load_labelled("D.CSV", b"3,1\n").is_ok(), "by extension");
    }

    #[test]
    fn bad_csv_is_named_by_line_and_column() {
        for (text, want) in [
            (&b"1,0.5\n2,0.5,0.5\n"[..], "line 2"),
            (b"1,0.5\nx,0.5\n", "label `x`"),
            (b"1,0.5,zz\n", "column 3"),
            (b"label,a\n", "no data rows"),
            (b"1\n", "without features"),
            (b"", "no data rows"),
        ] {
            let e = load_csv("d.csv", text).expect_err("refused");
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }
}
