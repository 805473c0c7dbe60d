//! `SECRET_GENERIC`: a high-entropy value assigned to a key-like name (`api_key=…`,
//! `"password": "…"`, `token: …`), excluding placeholders, templates and plain words.
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::{lazy_regex, push};
use crate::validate::{entropy, is_placeholder};
use crate::{Candidate, Recognizer, RecognizerInfo};

/// Key-like names. They are also this recognizer's anchors, so records without one skip it.
const KEYS: &[&str] = &[
    "api_key",
    "api-key",
    "apikey",
    "secret",
    "token",
    "password",
    "passwd",
    "pwd",
    "auth_key",
    "auth-key",
    "credential",
    "access_key",
    "access-key",
    "private_key",
    "private-key",
];

/// [`KEYS`] as one case-insensitive automaton, run before any regex.
static KEYWORDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(KEYS)
        .unwrap_or_else(|e| panic!("built-in keyword list: {e}"))
});

// The rest of the key name, the assignment, and the value (anchored after a keyword).
lazy_regex!(
    VALUE,
    r#"^[A-Za-z0-9_.\-]*["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9_\-+/=.~!@#$%^&*]{12,128})"#
);

/// Generic secrets.
pub struct GenericSecret;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "generic_secret",
    entities: &["SECRET_GENERIC"],
    summary: "entropy ≥ 3.5 bits/char after a key-like name",
};

impl Recognizer for GenericSecret {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn anchors(&self) -> &'static [&'static str] {
        KEYS
    }
    fn min_len(&self) -> usize {
        15
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // A key name, `:` or `=`, and a value of 12 characters or more.
        (f.has(b':') || f.has(b'=')) && f.len >= 15
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for k in KEYWORDS.find_iter(text) {
            let mut end = (k.end() + 256).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let Some(c) = VALUE.captures(&text[k.end()..end]) else {
                continue;
            };
            let Some(v) = c.get(1) else { continue };
            let s = v.as_str().trim_end_matches(['"', '\'', ',', ';', '.']);
            let classes = [
                s.bytes().any(|b| b.is_ascii_lowercase()),
                s.bytes().any(|b| b.is_ascii_uppercase()),
                s.bytes().any(|b| b.is_ascii_digit()),
            ]
            .iter()
            .filter(|x| **x)
            .count();
            if entropy(s) >= 3.5 && classes >= 2 && !is_placeholder(s) {
                let start = k.end() + v.start();
                push(out, "SECRET_GENERIC", start, start + s.len(), 0.7, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn generic() {
        assert_eq!(
            found("SECRET_GENERIC", r#"{"db_password": "T7#kq2Lz!9vXw4Rm"}"#),
            ["T7#kq2Lz!9vXw4Rm"]
        );
        assert!(found("SECRET_GENERIC", "password = changeme123456 token: ${TOKEN_FROM_ENV} api_key=your_api_key_here secret=aaaaaaaaaaaaaaaa").is_empty());
    }
}
