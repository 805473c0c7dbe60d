//! `URL`: `scheme://…` and `www.…` links, trailing punctuation trimmed. A URL inside an e-mail is
//! removed by overlap resolution (the e-mail is validated).
use super::{lazy_regex, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_regex!(
    RE,
    r#"(?i)(?-u:\b)(?:(?:https?|ftp|wss?)://|www\.)[^[ \t\r\n]<>"'`\]\[{}|\\^]+"#
);

/// URLs.
pub struct Url;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "url",
    entities: &["URL"],
    summary: "scheme:// or www. links",
};

impl Recognizer for Url {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn anchors(&self) -> &'static [&'static str] {
        &["://", "www."]
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // `://` or `www.`.
        f.has(b':') || f.has(b'.')
    }
    fn has_anchor(&self, text: &str, f: &crate::Features) -> Option<bool> {
        // `://` by a vectorised search for the rare `:`, `www.` by looking back from each `.`
        // (cells hold few of either), instead of the shared automaton's walk over every byte.
        let b = text.as_bytes();
        let scheme = f.has(b':')
            && f.has(b'/')
            && memchr::memchr_iter(b':', b).any(|i| b.get(i + 1..i + 3) == Some(b"//"));
        let www = || {
            f.has(b'.')
                && memchr::memchr_iter(b'.', b)
                    .any(|i| i >= 3 && b[i - 3..i].eq_ignore_ascii_case(b"www"))
        };
        Some(scheme || www())
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for m in RE.find_iter(text) {
            let s = m
                .as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
            if s.len() > 8 {
                push(out, "URL", m.start(), m.start() + s.len(), 0.6, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn urls() {
        assert_eq!(
            found("URL", "see https://example.com/a?b=1. Or www.example.org!"),
            ["https://example.com/a?b=1", "www.example.org"]
        );
        assert!(
            found("URL", "mail bob@www.example.com").is_empty(),
            "no URL inside an e-mail"
        );
    }
}
