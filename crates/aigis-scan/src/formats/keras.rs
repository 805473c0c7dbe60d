//! Keras: `.keras` v3 zips (`config.json`) and model configs found in legacy `.h5` files.
//! Lambda layers carry marshalled Python bytecode; `module` keys can name any importable
//! module (CVE-2025-1550); some layers fetch or load files (`get_file`: CVE-2025-8747,
//! `TFSMLayer`: CVE-2026-1462).

use aigis_core::{Finding, Severity};
use serde_json::Value;

use crate::ctx::{Loc, Sink};
use crate::lists::Class;
use crate::rules;

pub(crate) fn is_keras_zip(names: &[&str]) -> bool {
    names.contains(&"config.json")
        && (names.contains(&"metadata.json")
            || names.iter().any(|n| n.starts_with("model.weights")))
}

/// Names in marshalled bytecode that mean the lambda reaches the OS or evaluates code.
const DANGEROUS_CODE_NAMES: &[&str] = &[
    "system",
    "popen",
    "Popen",
    "exec",
    "eval",
    "__import__",
    "subprocess",
    "spawn",
    "execv",
    "execve",
    "compile",
    "getattr",
    "open",
    "socket",
    "urlopen",
    "remove",
    "rmtree",
    "__builtins__",
    "globals",
    "check_output",
    "run",
    "call",
    "loads",
];

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Identifier-like strings inside marshalled code (names, attribute names, constants).
fn code_names(code: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for &b in code.iter().chain(std::iter::once(&0)) {
        if b.is_ascii_alphanumeric() || b == b'_' {
            cur.push(b);
        } else {
            if cur.len() >= 3 {
                out.push(String::from_utf8_lossy(&cur).into_owned());
            }
            cur.clear();
        }
    }
    out
}

fn lambda(sink: &mut Sink, loc: &Loc, layer: &str, code_b64: Option<&str>) {
    let names = code_b64
        .and_then(base64_decode)
        .map(|c| code_names(&c))
        .unwrap_or_default();
    let bad: Vec<&String> = names
        .iter()
        .filter(|n| DANGEROUS_CODE_NAMES.contains(&n.as_str()))
        .collect();
    let (sev, title) = if bad.is_empty() {
        (
            Severity::Medium,
            format!("Lambda layer {layer:?} carries Python bytecode"),
        )
    } else {
        (
            Severity::Critical,
            format!("Lambda layer {layer:?} bytecode calls {}", bad[0]),
        )
    };
    sink.push(
        Finding::new(&rules::scn501::RULE, title, loc.whole())
            .severity(sev)
            .detail("Keras deserialises Lambda bytecode with marshal and runs it (CVE-2024-3660); safe_mode is bypassed by .h5 files (CVE-2025-9905).")
            .evidence(if bad.is_empty() {
                names.iter().take(12).cloned().collect::<Vec<_>>().join(" ")
            } else {
                bad.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
            }),
    );
}

fn keras_module(m: &str) -> bool {
    let top = m.split('.').next().unwrap_or(m);
    matches!(
        top,
        "keras" | "tf_keras" | "keras_hub" | "keras_nlp" | "keras_cv"
    ) || m.starts_with("tensorflow.keras")
        || m.starts_with("tensorflow.python.keras")
}

/// Walk a Keras config (any nesting of objects and lists) and report what it would run.
pub(crate) fn check_config(sink: &mut Sink, loc: &Loc, v: &Value) {
    let mut stack: Vec<(&Value, u32)> = vec![(v, 0)];
    let mut visited = 0u32;
    while let Some((node, depth)) = stack.pop() {
        visited += 1;
        if depth > 128 || visited > 1_000_000 {
            sink.limit(loc.whole(), "Keras config nested too deep or too large");
            return;
        }
        match node {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(o) => {
                let class = o.get("class_name").and_then(Value::as_str).unwrap_or("");
                let cfg = o.get("config");
                let name = cfg
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or(class);
                let f = cfg.and_then(|c| c.get("function"));
                // Keras 3 nests the code in a `__lambda__` object, reported when we reach it.
                let nested = f.and_then(|x| x.get("class_name")).and_then(Value::as_str)
                    == Some("__lambda__");
                if class == "Lambda" && !nested {
                    let code = match f {
                        Some(Value::Object(fo)) => fo
                            .get("config")
                            .and_then(|c| c.get("code"))
                            .and_then(Value::as_str),
                        Some(Value::Array(a)) => a.first().and_then(Value::as_str),
                        Some(Value::String(s)) => Some(s.as_str()),
                        _ => None,
                    };
                    lambda(sink, loc, name, code);
                }
                if class == "__lambda__" {
                    let code = cfg.and_then(|c| c.get("code")).and_then(Value::as_str);
                    lambda(sink, loc, name, code);
                }
                if class == "TFSMLayer" {
                    let fp = cfg
                        .and_then(|c| c.get("filepath"))
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    sink.push(
                        Finding::new(&rules::scn503::RULE, "TFSMLayer loads an external SavedModel", loc.whole())
                            .detail("The layer loads (and runs) the SavedModel at its filepath when the model loads (CVE-2026-1462).")
                            .evidence(fp),
                    );
                }
                if let Some(Value::String(m)) = o.get("module") {
                    let fname = cfg.and_then(Value::as_str).unwrap_or(class);
                    if fname == "get_file"
                        || (m.contains("utils") && class == "function" && fname.contains("file"))
                    {
                        sink.push(
                            Finding::new(&rules::scn503::RULE, format!("config references {m}.{fname}"), loc.whole())
                                .detail("keras.utils.get_file downloads and writes files at load time (CVE-2025-8747).")
                                .evidence(format!("{m}.{fname}")),
                        );
                    } else if !keras_module(m) {
                        let class_of = sink
                            .lists
                            .classify(m, if class.is_empty() { fname } else { class });
                        let sev = if matches!(class_of, Class::Denied(_) | Class::Traversal(_)) {
                            Severity::Critical
                        } else {
                            Severity::High
                        };
                        sink.push(
                            Finding::new(&rules::scn502::RULE, format!("config imports {m}.{}", if class.is_empty() { fname } else { class }), loc.whole())
                                .severity(sev)
                                .detail("Keras imports the named module and looks the class or function up in it, even in safe_mode (CVE-2025-1550).")
                                .evidence(format!("module {m:?}, class_name {class:?}")),
                        );
                    }
                }
                stack.extend(o.values().map(|x| (x, depth + 1)));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_names() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert!(base64_decode("!!").is_none());
        assert_eq!(
            code_names(b"\x00system\x01os\x02popen"),
            vec!["system", "popen"]
        );
    }
}
