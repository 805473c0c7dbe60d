//! The built-in recognizers, one file each. Adding one is one file and one line in [`all`].

use std::sync::LazyLock;

use regex::Regex;

use crate::{Candidate, Recognizer, RecognizerInfo};

/// A recognizer that is one pattern, one fixed score and an optional check on the match: most
/// secret formats and the context-only US identifiers.
pub(crate) struct Simple {
    pub info: RecognizerInfo,
    pub re: &'static LazyLock<Regex>,
    pub score: f32,
    pub validated: bool,
    /// Keeps a match (checksum, placeholder and entropy tests).
    pub keep: fn(&str) -> bool,
    /// See [`Recognizer::anchors`].
    pub anchors: &'static [&'static str],
    /// Fewest ASCII digits a record needs to hold a match.
    pub min_digits: usize,
    /// Shortest run of ASCII letters and digits a match contains.
    pub min_alnum: usize,
}

impl Recognizer for Simple {
    fn info(&self) -> &RecognizerInfo {
        &self.info
    }
    fn anchors(&self) -> &'static [&'static str] {
        self.anchors
    }
    fn applies(&self, f: &crate::Features) -> bool {
        f.digits >= self.min_digits && f.longest_alnum >= self.min_alnum
    }
    fn max_base_score(&self) -> f32 {
        self.score
    }
    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.re.find_iter(text) {
            if (self.keep)(m.as_str()) {
                push(
                    out,
                    self.info.entities[0],
                    m.start(),
                    m.end(),
                    self.score,
                    self.validated,
                );
            }
        }
    }
}

mod aws_access_key;
mod aws_secret_key;
mod credit_card;
mod crypto;
mod date_time;
mod email;
mod generic_secret;
mod github_token;
mod google_api_key;
mod iban;
mod ip_address;
mod jwt;
mod location;
mod medical_license;
mod openai_key;
mod person;
mod phone;
mod private_key;
mod slack_token;
mod stripe_key;
mod uk_nhs;
mod url;
mod us_bank_number;
mod us_driver_license;
mod us_passport;
mod us_ssn;

/// Every built-in recognizer.
pub fn all() -> Vec<&'static dyn Recognizer> {
    vec![
        &email::Email,
        &phone::Phone,
        &credit_card::CreditCard,
        &iban::Iban,
        &us_ssn::UsSsn,
        &us_passport::RECOGNIZER,
        &us_driver_license::RECOGNIZER,
        &us_bank_number::RECOGNIZER,
        &uk_nhs::UkNhs,
        &ip_address::IpAddress,
        &url::Url,
        &crypto::Crypto,
        &date_time::DateTime,
        &medical_license::RECOGNIZER,
        &aws_access_key::RECOGNIZER,
        &aws_secret_key::AwsSecretKey,
        &github_token::RECOGNIZER,
        &slack_token::RECOGNIZER,
        &stripe_key::RECOGNIZER,
        &google_api_key::RECOGNIZER,
        &openai_key::RECOGNIZER,
        &private_key::PrivateKey,
        &jwt::Jwt,
        &generic_secret::GenericSecret,
        &person::Person,
        &location::Location,
    ]
}

/// Declares a lazily compiled regex.
macro_rules! lazy_re {
    ($name:ident, $pat:expr) => {
        static $name: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new($pat)
                .unwrap_or_else(|e| panic!("built-in pattern {}: {e}", stringify!($name)))
        });
    };
}
pub(crate) use lazy_re;

/// Capture groups of every match, found with the fast DFA first and then resolved only over the
/// matched span (captures over a whole record fall back to the slow PikeVM).
pub(crate) fn captures<'t>(
    re: &'t Regex,
    text: &'t str,
) -> impl Iterator<Item = regex::Captures<'t>> + 't {
    re.find_iter(text).filter_map(move |m| {
        let c = re.captures_at(text, m.start())?;
        (c.get(0)?.start() == m.start()).then_some(c)
    })
}

/// Pushes a candidate.
pub(crate) fn push(
    out: &mut Vec<Candidate>,
    kind: &'static str,
    start: usize,
    end: usize,
    score: f32,
    validated: bool,
) {
    out.push(Candidate {
        kind,
        start,
        end,
        score,
        validated,
    });
}

/// ASCII digits of `s`.
pub(crate) fn digits(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).collect()
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::{Analyzer, Options};

    /// The spans of `kind` the full analyzer reports in `text` (as substrings).
    pub fn found(kind: &str, text: &str) -> Vec<String> {
        let a = Analyzer::new(Options::default());
        let chars: Vec<char> = text.chars().collect();
        a.analyze(text, None)
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| chars[e.start..e.end].iter().collect())
            .collect()
    }
}
