//! `NumPy` `.npy` (v1-v3). Plain arrays hold only numbers; an object dtype means the data is a
//! pickle (loaded with `allow_pickle=True`), which is scanned.

use aigis_core::Finding;

use super::pickle;
use crate::ctx::{Loc, Sink};
use crate::reader::Cursor;
use crate::rules;

/// A tiny subset of Python literals: enough for an npy header dict.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
    Seq(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Lit> {
        self.ws();
        self.depth += 1;
        if self.depth > 32 {
            return None;
        }
        let c = *self.s.get(self.i)?;
        let v = match c {
            b'\'' | b'"' => {
                self.i += 1;
                let start = self.i;
                while *self.s.get(self.i)? != c {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                    }
                    self.i += 1;
                }
                let v = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Lit::Str(v)
            }
            b'(' | b'[' => {
                self.i += 1;
                let close = if c == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                loop {
                    if self.eat(close) {
                        break;
                    }
                    items.push(self.value()?);
                    if !self.eat(b',') {
                        if !self.eat(close) {
                            return None;
                        }
                        break;
                    }
                }
                Lit::Seq(items)
            }
            b'{' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat(b'}') {
                        break;
                    }
                    let k = self.value()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    let v = self.value()?;
                    items.push((k, v));
                    if !self.eat(b',') {
                        if !self.eat(b'}') {
                            return None;
                        }
                        break;
                    }
                }
                Lit::Dict(items)
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric() || b"-+_".contains(&self.s[self.i]))
                {
                    self.i += 1;
                }
                match &self.s[start..self.i] {
                    b"True" => Lit::Bool(true),
                    b"False" => Lit::Bool(false),
                    b"None" => Lit::None,
                    t => Lit::Int(
                        std::str::from_utf8(t)
                            .ok()?
                            .trim_end_matches('L')
                            .parse()
                            .ok()?,
                    ),
                }
            }
        };
        self.depth -= 1;
        Some(v)
    }
}

/// Parse a Python literal (the npy header).
pub(crate) fn parse_literal(s: &[u8]) -> Option<Lit> {
    let mut p = P { s, i: 0, depth: 0 };
    p.value()
}

/// True when a descr (string or structured list) contains an object field anywhere.
fn has_object(d: &Lit, depth: u32) -> bool {
    if depth > 16 {
        return true;
    }
    match d {
        Lit::Str(s) => s.trim_start_matches(['<', '>', '|', '=']).starts_with('O'),
        // Structured: [(name, type), (name, type, shape), ...]; type may itself be a list.
        Lit::Seq(fields) => fields.iter().any(|f| match f {
            Lit::Seq(parts) => parts.get(1).is_some_and(|t| has_object(t, depth + 1)),
            other => has_object(other, depth + 1),
        }),
        _ => false,
    }
}

/// Scan one `.npy`.
pub(crate) fn scan_npy(sink: &mut Sink, loc: &Loc, data: &[u8], depth: u32) {
    let mut c = Cursor::new(data);
    let header = (|| {
        c.skip(6)?;
        let major = c.u8()?;
        let _minor = c.u8()?;
        let len = if major == 1 {
            u32::from(c.u16_le()?)
        } else {
            c.u32_le()?
        };
        c.take(len as usize)
    })();
    let Ok(header) = header else {
        sink.malformed(loc.whole(), "npy header", "truncated header");
        return;
    };
    let Some(Lit::Dict(items)) = parse_literal(header) else {
        sink.malformed(loc.whole(), "npy header", "header is not a dict literal");
        return;
    };
    let descr = items
        .iter()
        .find(|(k, _)| *k == Lit::Str("descr".into()))
        .map(|(_, v)| v);
    let Some(descr) = descr else {
        sink.malformed(loc.whole(), "npy header", "no descr key");
        return;
    };
    if has_object(descr, 0) {
        sink.push(
            Finding::new(&rules::scn401::RULE, "NumPy array of Python objects: its data is a pickle", loc.whole())
                .detail("np.load needs allow_pickle=True for this file, which runs the pickle below; it was scanned.")
                .evidence(format!("descr {descr:?}")),
        );
        let start = c.pos();
        let ploc = loc.child("<object array pickle>");
        let _ = start;
        pickle::scan_pickle_file(sink, &ploc, c.rest(), depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers_and_finds_objects() {
        let h = b"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
        let Some(Lit::Dict(items)) = parse_literal(h) else {
            panic!()
        };
        assert_eq!(items.len(), 3);
        assert!(!has_object(&items[0].1, 0));
        let s = parse_literal(b"[('O', '<f8'), ('b', '|O', (2,))]").unwrap();
        assert!(
            has_object(&s, 0),
            "the field named O is not an object, the second field is"
        );
        let s = parse_literal(b"[('O', '<f8')]").unwrap();
        assert!(!has_object(&s, 0));
        assert!(parse_literal(&[b'['; 100]).is_none(), "depth is bounded");
        assert!(parse_literal(b"{'a': ").is_none());
    }
}
