//! `SECRET_SLACK_TOKEN`: `xox[baprs]-` tokens and incoming-webhook URLs.
use super::{Simple, lazy_regex};
use crate::RecognizerInfo;
use crate::validate::is_placeholder;

lazy_regex!(
    RE,
    r"(?-u:\b)(?:xox[baprs]-[0-9]{8,13}-[0-9A-Za-z-]{8,}|https://hooks\.slack\.com/services/T[A-Z0-9]{8,}/B[A-Z0-9]{8,}/[A-Za-z0-9]{20,})"
);

/// Slack tokens and webhooks.
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "slack_token",
        entities: &["SECRET_SLACK_TOKEN"],
        summary: "xox?- tokens, hooks.slack.com webhooks",
    },
    re: &RE,
    score: 0.95,
    validated: true,
    keep: |s| !is_placeholder(s),
    anchors: &["xox", "hooks.slack.com"],
    min_digits: 0,
    min_alnum: 0,
    min_digit_run: 0,
    min_len: 20,
    any_byte: b"-:",
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn tokens() {
        assert_eq!(
            found(
                "SECRET_SLACK_TOKEN",
                "xoxb-263594206564-2343594206574-FGqddMF8t08v8N7Oq4i57vs1"
            ),
            ["xoxb-263594206564-2343594206574-FGqddMF8t08v8N7Oq4i57vs1"]
        );
        assert!(found("SECRET_SLACK_TOKEN", "xoxb-your-token-here").is_empty());
    }
}
