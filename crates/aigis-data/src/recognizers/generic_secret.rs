//! `SECRET_GENERIC`: a high-entropy value assigned to a key-like name (`api_key=…`,
//! `"password": "…"`, `token: …`), excluding placeholders, templates and plain words.
use super::{lazy_re, push};
use crate::validate::{entropy, is_placeholder};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_re!(
    RE,
    r#"(?i)\b[\w.-]*(?:api[_-]?key|secret|token|passw(?:or)?d|pwd|auth[_-]?key|credential|access[_-]?key|private[_-]?key)[\w.-]*["']?\s*[:=]\s*["']?([A-Za-z0-9_\-+/=.~!@#$%^&*]{12,128})"#
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
    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for c in super::captures(&RE, text) {
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
                push(
                    out,
                    "SECRET_GENERIC",
                    v.start(),
                    v.start() + s.len(),
                    0.7,
                    false,
                );
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
