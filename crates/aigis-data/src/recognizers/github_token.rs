//! `SECRET_GITHUB_TOKEN`: classic (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` + 36) and fine-grained
//! (`github_pat_` + 82) tokens; placeholders and low-entropy bodies excluded.
use super::{Simple, lazy_regex};
use crate::RecognizerInfo;
use crate::validate::{entropy, is_placeholder};

lazy_regex!(
    RE,
    r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})(?-u:\b)"
);

/// GitHub tokens.
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "github_token",
        entities: &["SECRET_GITHUB_TOKEN"],
        summary: "GitHub token prefixes and lengths",
    },
    re: &RE,
    score: 0.95,
    validated: true,
    keep: |s| !is_placeholder(&s[4..]) && entropy(&s[4..]) > 3.5,
    anchors: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
    min_digits: 0,
    min_alnum: 0,
    min_digit_run: 0,
    min_len: 40,
    any_byte: b"_",
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn tokens() {
        assert_eq!(
            found(
                "SECRET_GITHUB_TOKEN",
                "GH_TOKEN=ghp_R8fK2mQ9vL3xT7wN1pZ5sJ4hB6cD0eY2gA8u"
            ),
            ["ghp_R8fK2mQ9vL3xT7wN1pZ5sJ4hB6cD0eY2gA8u"]
        );
        assert!(
            found(
                "SECRET_GITHUB_TOKEN",
                "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            )
            .is_empty()
        );
    }
}
