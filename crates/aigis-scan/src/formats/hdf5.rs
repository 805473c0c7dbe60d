//! HDF5 (legacy Keras `.h5`). Rather than a full HDF5 parser, find the `model_config`
//! attribute's JSON by its signature: small attributes are stored contiguously, and the JSON
//! is self-delimiting. Weight-only files carry no config and pass.

use super::keras::check_config;
use crate::ctx::{Loc, Sink};

const SIG: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Offset of the HDF5 superblock signature (0, or after a user block of 512·2ⁿ bytes).
pub(crate) fn signature_offset(data: &[u8]) -> Option<usize> {
    let mut off = 0;
    while off + 8 <= data.len() && off <= (1 << 20) {
        if &data[off..off + 8] == SIG {
            return Some(off);
        }
        off = if off == 0 { 512 } else { off * 2 };
    }
    None
}

/// Find `needle` in `hay` starting at `from`.
pub(crate) fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let p = hay[i..=(hay.len() - needle.len())]
            .iter()
            .position(|&b| b == first)?;
        i += p;
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The end (exclusive) of the JSON object starting at `start`, by brace matching, looking at
/// no more than `limit` bytes. Also returns how many bytes were looked at.
fn json_end(data: &[u8], start: usize, limit: usize) -> (Option<usize>, usize) {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    let mut seen = 0;
    for (i, &b) in data[start..].iter().enumerate().take(limit) {
        seen = i + 1;
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' => depth += 1,
            b'}' => {
                let Some(d) = depth.checked_sub(1) else {
                    return (None, seen);
                };
                depth = d;
                if depth == 0 {
                    return (Some(start + i + 1), seen);
                }
            }
            0 => return (None, seen),
            _ => {}
        }
    }
    (None, seen)
}

pub(crate) fn scan(sink: &mut Sink, loc: &Loc, data: &[u8]) -> &'static str {
    if scan_embedded_keras(sink, loc, data) {
        "keras-h5"
    } else {
        "hdf5"
    }
}

/// Find Keras model configs stored as JSON inside a binary container (HDF5 attributes,
/// `keras_metadata.pb`) and check them. True when one was found.
pub(crate) fn scan_embedded_keras(sink: &mut Sink, loc: &Loc, data: &[u8]) -> bool {
    let mut found = false;
    let mut from = 0;
    let mut seen = 0;
    // One budget for all candidates: hostile files full of unbalanced `{"class_name"` prefixes
    // must not cost 256 scans of 64 MiB each.
    let mut budget: usize = 64 << 20;
    while let Some(p) = find(data, b"{\"class_name\"", from) {
        seen += 1;
        if seen > 256 || budget == 0 {
            break;
        }
        let (end, examined) = json_end(data, p, budget);
        budget = budget.saturating_sub(examined);
        if let Some(end) = end {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data[p..end]) {
                found = true;
                check_config(sink, loc, &v);
            }
            from = end;
        } else {
            from = p + 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_end_respects_its_limit_and_reports_what_it_read() {
        let d = br#"xx{"class_name": "A", "config": {"b": "}"}}tail"#;
        let (end, seen) = json_end(d, 2, 1 << 20);
        assert_eq!(
            &d[2..end.unwrap()],
            br#"{"class_name": "A", "config": {"b": "}"}}"#
        );
        assert_eq!(seen, end.unwrap() - 2);
        assert_eq!(json_end(d, 2, 5), (None, 5));
        assert_eq!(json_end(b"{\0}", 0, 100), (None, 2));
    }

    #[test]
    fn a_stray_prefix_before_the_real_config_does_not_hide_it() {
        let mut d = b"{\"class_name\"\0 padding".to_vec();
        d.extend_from_slice(
            br#"{"class_name": "Lambda", "config": {"name": "l", "function": "YWJj"}}"#,
        );
        let lists = crate::lists::Lists::builtin();
        let opts = crate::ctx::ScanOptions::default();
        let mut sink = Sink::new(&opts, lists);
        assert!(scan_embedded_keras(&mut sink, &Loc::new("m.h5"), &d));
        assert_eq!(sink.findings[0].rule, "SCN501");
    }
}
