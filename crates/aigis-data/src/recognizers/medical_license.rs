//! `MEDICAL_LICENSE`: US DEA registration numbers (two letters, seven digits, check digit).
use super::{Simple, lazy_re};
use crate::RecognizerInfo;
use crate::validate::dea;

lazy_re!(
    RE,
    r"(?-u:\b)[ABCDEFGHJKLMPRSTUXabcdefghjklmprstux][A-Za-z9][0-9]{7}(?-u:\b)"
);

/// DEA numbers.
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "medical_license",
        entities: &["MEDICAL_LICENSE"],
        summary: "DEA number check digit",
    },
    re: &RE,
    score: 0.4,
    validated: true,
    keep: |s| dea(s.as_bytes()),
    anchors: &[],
    min_digits: 7,
    min_alnum: 9,
    min_digit_run: 7,
    min_len: 0,
    any_byte: &[],
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn dea_numbers() {
        assert_eq!(found("MEDICAL_LICENSE", "DEA AB1234563"), ["AB1234563"]);
        assert!(found("MEDICAL_LICENSE", "DEA AB1234564").is_empty());
    }
}
