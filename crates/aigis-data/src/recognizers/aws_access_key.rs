//! `SECRET_AWS_ACCESS_KEY`: AWS access key ids (`AKIA`/`ASIA`/… + 16 base-32 characters);
//! documentation examples such as `AKIAIOSFODNN7EXAMPLE` are not reported.
use super::{Simple, lazy_regex};
use crate::RecognizerInfo;
use crate::validate::is_placeholder;

lazy_regex!(
    RE,
    r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}(?-u:\b)"
);

/// AWS access key ids.
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "aws_access_key",
        entities: &["SECRET_AWS_ACCESS_KEY"],
        summary: "AWS key-id prefix and base-32 alphabet",
    },
    re: &RE,
    score: 0.95,
    validated: true,
    keep: |s| !is_placeholder(s),
    anchors: &[
        "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA",
    ],
    min_digits: 0,
    min_alnum: 20,
    min_digit_run: 0,
    min_len: 0,
    any_byte: &[],
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn keys() {
        assert_eq!(
            found("SECRET_AWS_ACCESS_KEY", "id=AKIAZ7VRSQ5TKL4MNP2Q"),
            ["AKIAZ7VRSQ5TKL4MNP2Q"]
        );
        assert!(
            found(
                "SECRET_AWS_ACCESS_KEY",
                "AKIAIOSFODNN7EXAMPLE AKIA1234567890123456"
            )
            .is_empty()
        );
    }
}
