//! `SECRET_OPENAI_KEY`: legacy keys (`sk-` + 20 + `T3BlbkFJ` + 20) and project/service keys
//! (`sk-proj-`, `sk-svcacct-`, `sk-admin-` + 40 or more).
use super::{Simple, lazy_regex};
use crate::RecognizerInfo;
use crate::validate::{entropy, is_placeholder};

lazy_regex!(
    RE,
    r"(?-u:\b)sk-(?:[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200})(?-u:\b)"
);

/// OpenAI API keys.
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "openai_key",
        entities: &["SECRET_OPENAI_KEY"],
        summary: "sk- legacy marker or sk-proj-/svcacct-/admin- keys",
    },
    re: &RE,
    score: 0.95,
    validated: true,
    keep: |s| !is_placeholder(s) && entropy(s) > 4.0,
    anchors: &["sk-"],
    min_digits: 0,
    min_alnum: 0,
    min_digit_run: 0,
    min_len: 43,
    any_byte: b"-",
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn keys() {
        let k = "sk-proj-Q7vN2kR8mT4xL1pW9sJ3hB6cF0dY5gE2aU8iO4tZ1rK7nM3vC9qX6wP2lS5jH0b";
        assert_eq!(
            found("SECRET_OPENAI_KEY", &format!("OPENAI_API_KEY={k}")),
            [k]
        );
        assert!(
            found(
                "SECRET_OPENAI_KEY",
                "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            )
            .is_empty()
        );
    }
}
