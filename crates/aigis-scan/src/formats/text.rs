//! Text members: JSON configs (Hugging Face `tokenizer_config.json` chat templates, Keras
//! configs) and Jinja templates. Other text is data and needs no check.

use super::{gguf::report_template, keras};
use crate::ctx::{Loc, Sink};

/// UTF-8 without NULs and with few control characters (checked on the first 64 KiB).
pub(crate) fn is_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(64 << 10)];
    let s = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A multi-byte character cut by the window is still text.
        Err(e) if e.error_len().is_none() && e.valid_up_to() + 4 > head.len() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return false,
    };
    let ctrl = s
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c'))
        .count();
    !s.is_empty() && ctrl * 100 <= s.chars().count()
}

pub(crate) fn scan(sink: &mut Sink, loc: &Loc, data: &[u8], name: &str) -> &'static str {
    let text = String::from_utf8_lossy(data);
    let lname = name.to_ascii_lowercase();
    if lname.ends_with(".jinja") || lname.ends_with(".j2") || lname.ends_with(".jinja2") {
        report_template(sink, loc, name, &text);
        return "jinja";
    }
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && data.len() < (256 << 20)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
    {
        check_json(sink, loc, &v);
        return "json";
    }
    "text"
}

/// Chat templates (`chat_template` as a string or a list of `{name, template}`) and Keras
/// model configs inside a JSON document.
pub(crate) fn check_json(sink: &mut Sink, loc: &Loc, v: &serde_json::Value) {
    if let Some(ct) = v.get("chat_template") {
        match ct {
            serde_json::Value::String(t) => report_template(sink, loc, "chat_template", t),
            serde_json::Value::Array(items) => {
                for it in items {
                    if let Some(t) = it.get("template").and_then(|t| t.as_str()) {
                        let n = it.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                        report_template(sink, loc, &format!("chat_template[{n}]"), t);
                    }
                }
            }
            _ => {}
        }
    }
    if v.get("class_name").is_some() && v.get("config").is_some() {
        keras::check_config(sink, loc, v);
    }
}
