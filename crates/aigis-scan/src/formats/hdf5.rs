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

/// The end (exclusive) of the JSON object starting at `start`, by brace matching.
fn json_end(data: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    for (i, &b) in data[start..].iter().enumerate().take(64 << 20) {
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
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(start + i + 1);
                }
            }
            0 => return None,
            _ => {}
        }
    }
    None
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
    while let Some(p) = find(data, b"{\"class_name\"", from) {
        seen += 1;
        if seen > 256 {
            break;
        }
        if let Some(end) = json_end(data, p) {
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
