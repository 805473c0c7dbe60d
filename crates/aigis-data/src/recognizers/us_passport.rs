//! `US_PASSPORT`: nine digits (or a letter and eight digits, next-generation books); only with
//! a passport word nearby (base score 0.05).
use super::{Simple, lazy_re};
use crate::RecognizerInfo;

lazy_re!(RE, r"(?-u:\b)(?:[A-Z][0-9]{8}|[0-9]{9})(?-u:\b)");

/// US passport numbers (context required).
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "us_passport",
        entities: &["US_PASSPORT"],
        summary: "9 characters, reported only with context",
    },
    re: &RE,
    score: 0.05,
    validated: false,
    keep: |_| true,
    anchors: &[],
    min_digits: 8,
    min_alnum: 0,
    min_digit_run: 8,
    min_len: 0,
    any_byte: &[],
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn passports() {
        assert_eq!(
            found("US_PASSPORT", "passport number A12345678"),
            ["A12345678"]
        );
        assert!(found("US_PASSPORT", "ref A12345678").is_empty());
    }
}
