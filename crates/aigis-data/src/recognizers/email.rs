//! `EMAIL_ADDRESS`: RFC 5322-ish local part, a dotted domain with an alphabetic TLD.
use super::{lazy_regex, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

// ASCII-only records (the common case) use the DFA-friendly pattern; others the Unicode one,
// written without `\b` (a Unicode word boundary forces the slow PikeVM on non-ASCII text) and
// with the boundaries checked on the match instead.
lazy_regex!(
    ASCII,
    r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?-u:\b)"
);
lazy_regex!(
    RE,
    r"[\p{L}\p{N}][\p{L}\p{N}._%+-]{0,63}@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,24}"
);

/// E-mail addresses.
pub struct Email;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "email",
    entities: &["EMAIL_ADDRESS"],
    summary: "local@domain.tld with a valid domain shape",
};

impl Recognizer for Email {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn anchors(&self) -> &'static [&'static str] {
        &["@"]
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Both patterns need an `@`.
        f.has(b'@')
    }
    fn has_anchor(&self, _text: &str, f: &crate::Features) -> Option<bool> {
        // The anchor is the one byte the features mark.
        Some(f.has(b'@'))
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        if !text.contains('@') {
            return;
        }
        // Search only a window around each `@`: the Unicode pattern is costly over a whole record.
        let mut next_free = 0;
        for (at, _) in text.match_indices('@') {
            if at < next_free {
                continue;
            }
            let mut a = at.saturating_sub(64).max(next_free);
            while !text.is_char_boundary(a) {
                a += 1;
            }
            let mut b = (at + 256).min(text.len());
            while !text.is_char_boundary(b) {
                b -= 1;
            }
            let window = &text[a..b];
            let re: &regex::Regex = if window.is_ascii() { &ASCII } else { &RE };
            for m in re.find_iter(window) {
                let (s, e) = (a + m.start(), a + m.end());
                if s > at || e <= at {
                    continue;
                }
                let word = |c: char| c.is_alphanumeric() || c == '_';
                if text[..s].chars().next_back().is_some_and(word)
                    || text[e..].chars().next().is_some_and(word)
                {
                    continue;
                }
                let local = &text[s..at];
                if !local.ends_with('.') && !local.contains("..") {
                    push(out, "EMAIL_ADDRESS", s, e, 0.95, true);
                    next_free = e;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn unicode_emails_and_their_boundaries() {
        assert_eq!(
            found("EMAIL_ADDRESS", "écrire à añb@exämple.de, 😀 ok"),
            ["añb@exämple.de"]
        );
        // Glued to a word on either side: not an address.
        assert!(found("EMAIL_ADDRESS", "ñ añb@exämple.de2").is_empty());
        // Underscores belong to local parts.
        assert_eq!(
            found("EMAIL_ADDRESS", "ñ x_añb@exämple.de"),
            ["x_añb@exämple.de"]
        );
    }

    #[test]
    fn emails() {
        assert_eq!(
            found("EMAIL_ADDRESS", "mail Jane.Doe+x@mail.example.org."),
            ["Jane.Doe+x@mail.example.org"]
        );
        assert!(
            found(
                "EMAIL_ADDRESS",
                "user@localhost, a@b.c, @handle, x..y@z.com"
            )
            .is_empty()
        );
    }
}
