//! `US_DRIVER_LICENSE`: common state formats (a letter and 7-12 digits, or 7-9 digits), only with a
//! licence word nearby; never on any short alphanumeric run (Presidio's known false positives).
use super::{Simple, lazy_re};
use crate::RecognizerInfo;

lazy_re!(RE, r"(?-u:\b)(?:[A-Z][0-9]{7,12}|[0-9]{7,9})(?-u:\b)");

/// US driver licence numbers (context required).
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "us_driver_license",
        entities: &["US_DRIVER_LICENSE"],
        summary: "state formats, reported only with context",
    },
    re: &RE,
    score: 0.04,
    validated: false,
    keep: |_| true,
    anchors: &[],
    min_digits: 7,
    min_alnum: 0,
    min_digit_run: 7,
    min_len: 0,
    any_byte: &[],
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn licences() {
        assert_eq!(
            found("US_DRIVER_LICENSE", "driver license D1234567"),
            ["D1234567"]
        );
        assert!(found("US_DRIVER_LICENSE", "public policy D1234567 build 1234567").is_empty());
    }
}
