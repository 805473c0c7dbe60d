//! `SECRET_AWS_SECRET_KEY`: 40-character secret access keys next to an AWS secret name
//! (`aws_secret_access_key = …`), with an entropy floor; documentation examples excluded.
use super::{lazy_regex, push};
use crate::validate::{entropy, is_placeholder};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_regex!(
    RE,
    r#"(?i)aws.{0,20}?secret.{0,20}?["'=:[ \t\r\n]]+([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#
);

/// AWS secret access keys.
pub struct AwsSecretKey;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "aws_secret_key",
    entities: &["SECRET_AWS_SECRET_KEY"],
    summary: "40 base64 characters after an AWS secret name",
};

impl Recognizer for AwsSecretKey {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn anchors(&self) -> &'static [&'static str] {
        &["aws"]
    }
    fn min_len(&self) -> usize {
        40
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Forty base64 characters in a row.
        f.longest_base64 >= 40
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        for c in super::captures(&RE, text) {
            if let Some(k) = c.get(1)
                && entropy(k.as_str()) > 4.0
                && !is_placeholder(k.as_str())
            {
                push(out, "SECRET_AWS_SECRET_KEY", k.start(), k.end(), 0.9, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn secrets() {
        assert_eq!(
            found(
                "SECRET_AWS_SECRET_KEY",
                "aws_secret_access_key = Zq8rT1vN4kP9sW2xL7cY0bH3mJ6fD5gA8eU1iO4t"
            ),
            ["Zq8rT1vN4kP9sW2xL7cY0bH3mJ6fD5gA8eU1iO4t"]
        );
        assert!(
            found(
                "SECRET_AWS_SECRET_KEY",
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            )
            .is_empty()
        );
    }
}
