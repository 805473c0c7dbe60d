//! `SECRET_JWT`: three base64url segments whose header decodes to JSON with an `alg`.
use base64::Engine as _;

use super::{lazy_regex, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_regex!(
    RE,
    r"(?-u:\b)eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}"
);

/// JSON Web Tokens.
pub struct Jwt;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "jwt",
    entities: &["SECRET_JWT"],
    summary: "header.payload.signature with a JSON header naming alg",
};

impl Recognizer for Jwt {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn anchors(&self) -> &'static [&'static str] {
        &["eyJ"]
    }
    fn min_len(&self) -> usize {
        40
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Three dot-separated segments of at least 11, 11 and 16 characters.
        f.has(b'.') && f.len >= 40
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        if !text.contains("eyJ") {
            return;
        }
        for m in RE.find_iter(text) {
            let header = m.as_str().split('.').next().unwrap_or("");
            let ok = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|v| v.get("alg").is_some());
            if ok {
                push(out, "SECRET_JWT", m.start(), m.end(), 0.9, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn jwts() {
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(found("SECRET_JWT", &format!("Bearer {t}")), [t]);
        assert!(
            found(
                "SECRET_JWT",
                "eyJub3RhbGciOjF9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P"
            )
            .is_empty()
        );
    }
}
