//! `UK_NHS`: ten digits (3-3-4 groups allowed) with a valid mod-11 check digit.
use super::{digits, lazy_re, push};
use crate::validate::uk_nhs;
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_re!(RE, r"(?-u:\b)[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?-u:\b)");

/// NHS numbers.
pub struct UkNhs;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "uk_nhs",
    entities: &["UK_NHS"],
    summary: "mod-11 check digit",
};

impl Recognizer for UkNhs {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn min_len(&self) -> usize {
        10
    }
    fn min_digits(&self) -> usize {
        10
    }
    fn applies(&self, f: &crate::Features) -> bool {
        f.digits >= 10 && f.longest_numeric >= 10
    }
    fn max_base_score(&self) -> f32 {
        // 0.7 needs "NHS" before the number, which is one of its context words.
        0.3
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for m in RE.find_iter(text) {
            if digits(m.as_str()).all().is_some_and(uk_nhs) {
                // A 1-in-11 checksum is weak evidence on its own; with "NHS" just before it, it
                // is the number the text says it is and wins over phone shapes.
                let mut a = m.start().saturating_sub(24);
                while !text.is_char_boundary(a) {
                    a -= 1;
                }
                let cue = text[a..m.start()].to_ascii_lowercase().contains("nhs");
                push(
                    out,
                    "UK_NHS",
                    m.start(),
                    m.end(),
                    if cue { 0.7 } else { 0.3 },
                    cue,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn nhs() {
        assert_eq!(found("UK_NHS", "NHS number 943 476 5919"), ["943 476 5919"]);
        assert!(found("UK_NHS", "NHS number 943 476 5918").is_empty());
    }
}
