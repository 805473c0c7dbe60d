//! `SECRET_GOOGLE_API_KEY`: `AIza` + 35 characters.
use super::{Simple, lazy_regex};
use crate::RecognizerInfo;
use crate::validate::is_placeholder;

lazy_regex!(RE, r"(?-u:\b)AIza[0-9A-Za-z_\-]{35}(?:(?-u:\b)|$)");

/// Google API keys.
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "google_api_key",
        entities: &["SECRET_GOOGLE_API_KEY"],
        summary: "AIza prefix and length",
    },
    re: &RE,
    score: 0.95,
    validated: true,
    keep: |s| !is_placeholder(&s[4..]),
    anchors: &["AIza"],
    min_digits: 0,
    min_alnum: 0,
    min_digit_run: 0,
    min_len: 39,
    any_byte: b"",
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn keys() {
        assert_eq!(
            found(
                "SECRET_GOOGLE_API_KEY",
                "key=AIzaSyD4kR9pQ2mX7vT1wL8nB3cF6hJ0sE5gYuI"
            ),
            ["AIzaSyD4kR9pQ2mX7vT1wL8nB3cF6hJ0sE5gYuI"]
        );
        assert!(
            found(
                "SECRET_GOOGLE_API_KEY",
                "AIzaXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
            )
            .is_empty()
        );
    }
}
