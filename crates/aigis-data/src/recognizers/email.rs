//! `EMAIL_ADDRESS`: RFC 5322-ish local part, a dotted domain with an alphabetic TLD.
use super::{lazy_re, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_re!(
    RE,
    r"\b[\p{L}\p{N}][\p{L}\p{N}._%+-]{0,63}@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,24}\b"
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
    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        if !text.contains('@') {
            return;
        }
        for m in RE.find_iter(text) {
            let local = &m.as_str()[..m.as_str().find('@').unwrap_or(0)];
            if local.ends_with('.') || local.contains("..") {
                continue;
            }
            push(out, "EMAIL_ADDRESS", m.start(), m.end(), 0.95, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
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
