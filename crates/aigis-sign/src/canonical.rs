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
                // Serialising a string cannot fail.
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
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
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
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
