//! Canonical JSON: object keys sorted by code point, no whitespace, integers only. Used wherever
//! aigis needs the same bytes for the same content (signed payloads, registry ids, log leaves).

use serde_json::Value;

/// Serialises `v` canonically.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str(out, k);
                out.push(':');
                write(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::String(v) => push_str(out, v),
        other => out.push_str(&other.to_string()),
    }
}

/// Appends `s` as a JSON string literal, escaped exactly as serde_json does (`"`, `\\`, the
/// short escapes `\b \f \n \r \t`, other control characters as `\u00xx`).
pub fn push_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0x00..=0x1f => Some(""),
            _ => None,
        };
        if let Some(e) = esc {
            out.push_str(&s[start..i]);
            if e.is_empty() {
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            } else {
                out.push_str(e);
            }
            start = i + 1;
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strings_escape_exactly_like_serde_json(s in "\\PC*|[\\x00-\\x1f\"\\\\]*") {
            let mut out = String::new();
            super::push_str(&mut out, &s);
            prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn sorts_keys_recursively_and_compacts() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"b": [ {"z":1,"a":"é\n"} ], "a": null, "B": true}"#).unwrap();
        assert_eq!(
            super::to_string(&v),
            r#"{"B":true,"a":null,"b":[{"a":"é\n","z":1}]}"#
        );
    }
}
