//! `US_BANK_NUMBER`: 8-17 digits, only with an account/bank word nearby.
use super::{Simple, lazy_re};
use crate::RecognizerInfo;

lazy_re!(RE, r"(?-u:\b)[0-9]{8,17}(?-u:\b)");

/// US bank account numbers (context required).
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "us_bank_number",
        entities: &["US_BANK_NUMBER"],
        summary: "8-17 digits, reported only with context",
    },
    re: &RE,
    score: 0.04,
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
    fn accounts() {
        assert_eq!(
            found("US_BANK_NUMBER", "checking account 000123456789"),
            ["000123456789"]
        );
        assert!(found("US_BANK_NUMBER", "invoice 000123456789").is_empty());
    }
}
