//! The built-in recognizers, one file each. Adding one is one file and one line in [`all`].

use std::sync::LazyLock;

use regex::Regex;
use regex_automata::{Input, dfa::regex::Regex as DfaRegex};

use crate::{Candidate, Recognizer, RecognizerInfo};

/// A built-in pattern. Matches are found with a fully compiled DFA pair (forward for the end,
/// reverse for the start): no per-search cache, pool or prefilter set-up, which cost more than
/// the scan itself on short table cells. Capture groups, and patterns whose DFA would be too
/// large, go to the `regex` engine (reached through `Deref`); both give the same leftmost-first
/// matches.
pub(crate) struct Pattern {
    dfa: Option<DfaRegex>,
    re: Regex,
}

/// Largest DFA (bytes, forward and reverse each) a built-in pattern may compile to.
const DFA_LIMIT: usize = 256 << 10;

impl Pattern {
    /// Compiles `pattern`; a pattern too large for a DFA keeps only the `regex` engine.
    pub(crate) fn new(pattern: &str) -> Result<Self, regex::Error> {
        let re = Regex::new(pattern)?;
        let dense = regex_automata::dfa::dense::Config::new()
            .dfa_size_limit(Some(DFA_LIMIT))
            .determinize_size_limit(Some(DFA_LIMIT));
        let dfa = DfaRegex::builder().dense(dense).build(pattern).ok();
        Ok(Self { dfa, re })
    }

    /// A pattern searched with the `regex` engine only: for the rarely run ones (secrets behind
    /// anchors) and those whose DFA is large or slow to build (Unicode classes, long counted
    /// repetitions), where building a DFA would cost start-up time for little gain.
    pub(crate) fn regex_only(pattern: &str) -> Result<Self, regex::Error> {
        Ok(Self {
            dfa: None,
            re: Regex::new(pattern)?,
        })
    }

    /// Non-overlapping matches, leftmost-first, as [`Regex::find_iter`] gives them.
    pub(crate) fn find_iter<'p, 't>(&'p self, text: &'t str) -> FindIter<'p, 't> {
        FindIter {
            pattern: self,
            text,
            at: 0,
            dfa: self.dfa.is_some(),
        }
    }
}

impl std::ops::Deref for Pattern {
    type Target = Regex;
    fn deref(&self) -> &Regex {
        &self.re
    }
}

/// A match of a [`Pattern`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found<'t> {
    text: &'t str,
    start: usize,
    end: usize,
}

impl<'t> Found<'t> {
    pub(crate) fn start(&self) -> usize {
        self.start
    }
    pub(crate) fn end(&self) -> usize {
        self.end
    }
    pub(crate) fn as_str(&self) -> &'t str {
        &self.text[self.start..self.end]
    }
}

/// Iterator of [`Pattern::find_iter`].
pub(crate) struct FindIter<'p, 't> {
    pattern: &'p Pattern,
    text: &'t str,
    at: usize,
    /// Still on the DFA (it hands over to `regex` if a search ever fails).
    dfa: bool,
}

impl<'t> Iterator for FindIter<'_, 't> {
    type Item = Found<'t>;
    fn next(&mut self) -> Option<Found<'t>> {
        loop {
            // Only an empty match fits in the text's end, and empty matches are skipped: no
            // search from there (a whole-cell match ends there, so this saves a search per cell).
            if self.at >= self.text.len() {
                return None;
            }
            let (start, end) = if let (true, Some(dfa)) = (self.dfa, &self.pattern.dfa) {
                let input = Input::new(self.text).span(self.at..self.text.len());
                // A DFA built without quit bytes does not fail; if it ever did, the `regex`
                // engine finishes the search.
                let Ok(m) = dfa.try_search(&input) else {
                    self.dfa = false;
                    continue;
                };
                (m?.start(), m?.end())
            } else {
                let m = self.pattern.re.find_at(self.text, self.at)?;
                (m.start(), m.end())
            };
            if start == end {
                // No built-in pattern matches the empty string (a test checks); step past one
                // character all the same rather than loop.
                self.at = self.text[end..]
                    .chars()
                    .next()
                    .map_or(self.text.len() + 1, |c| end + c.len_utf8());
                continue;
            }
            self.at = end;
            return Some(Found {
                text: self.text,
                start,
                end,
            });
        }
    }
}

/// A recognizer that is one pattern, one fixed score and an optional check on the match: most
/// secret formats and the context-only US identifiers.
pub(crate) struct Simple {
    pub info: RecognizerInfo,
    pub re: &'static LazyLock<Pattern>,
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
    /// Shortest run of ASCII digits a match contains.
    pub min_digit_run: usize,
    /// Fewest bytes a record needs to hold a match.
    pub min_len: usize,
    /// Punctuation (of those [`crate::Features::has`] marks) a match holds at least one of;
    /// empty for none.
    pub any_byte: &'static [u8],
}

impl Recognizer for Simple {
    fn info(&self) -> &RecognizerInfo {
        &self.info
    }
    fn anchors(&self) -> &'static [&'static str] {
        self.anchors
    }
    fn min_len(&self) -> usize {
        self.min_len
            .max(self.min_digits)
            .max(self.min_alnum)
            .max(self.min_digit_run)
    }
    fn applies(&self, f: &crate::Features) -> bool {
        f.digits >= self.min_digits
            && f.longest_alnum >= self.min_alnum
            && f.longest_digits >= self.min_digit_run
            && f.len >= self.min_len
            && (self.any_byte.is_empty() || self.any_byte.iter().any(|&b| f.has(b)))
    }
    fn min_digits(&self) -> usize {
        self.min_digits.max(self.min_digit_run)
    }
    fn max_base_score(&self) -> f32 {
        self.score
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
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

/// Declares a lazily compiled [`Pattern`].
macro_rules! lazy_re {
    ($name:ident, $pat:expr) => {
        pub(crate) static $name: std::sync::LazyLock<$crate::recognizers::Pattern> =
            std::sync::LazyLock::new(|| {
                $crate::recognizers::Pattern::new($pat)
                    .unwrap_or_else(|e| panic!("built-in pattern {}: {e}", stringify!($name)))
            });
    };
}
pub(crate) use lazy_re;

/// Declares a lazily compiled [`Pattern`] searched by the `regex` engine only (see
/// [`Pattern::regex_only`]).
macro_rules! lazy_regex {
    ($name:ident, $pat:expr) => {
        static $name: std::sync::LazyLock<$crate::recognizers::Pattern> =
            std::sync::LazyLock::new(|| {
                $crate::recognizers::Pattern::regex_only($pat)
                    .unwrap_or_else(|e| panic!("built-in pattern {}: {e}", stringify!($name)))
            });
    };
}
pub(crate) use lazy_regex;

/// Capture groups of every match, found with the fast DFA first and then resolved only over the
/// matched span (captures over a whole record fall back to the slow PikeVM).
pub(crate) fn captures<'t>(
    re: &'t Pattern,
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

/// Digits [`Digits`] keeps (more than any number a recognizer validates).
const DIGITS_KEPT: usize = 32;

/// The ASCII digits of a match, on the stack: how many there are, and the first
/// [`DIGITS_KEPT`] of them.
pub(crate) struct Digits {
    buf: [u8; DIGITS_KEPT],
    count: usize,
}

impl Digits {
    /// The first digits (all of them when [`Digits::all`] is `Some`).
    pub(crate) fn first(&self) -> &[u8] {
        &self.buf[..self.count.min(DIGITS_KEPT)]
    }
    /// Every digit, if there are no more than [`DIGITS_KEPT`].
    pub(crate) fn all(&self) -> Option<&[u8]> {
        (self.count <= DIGITS_KEPT).then(|| self.first())
    }
    /// How many digits there are.
    pub(crate) fn count(&self) -> usize {
        self.count
    }
}

/// ASCII digits of `s` (no allocation: called once per candidate number).
pub(crate) fn digits(s: &str) -> Digits {
    let mut d = Digits {
        buf: [0; DIGITS_KEPT],
        count: 0,
    };
    for b in s.bytes().filter(u8::is_ascii_digit) {
        if let Some(slot) = d.buf.get_mut(d.count) {
            *slot = b;
        }
        d.count += 1;
    }
    d
}

#[cfg(test)]
mod pattern_tests {
    use std::sync::LazyLock;

    use proptest::prelude::*;

    #[test]
    fn digits_count_them_all_and_keep_the_first() {
        let d = super::digits("+1 (415) 555-0132 x9");
        assert_eq!((d.count(), d.first()), (12, &b"141555501329"[..]));
        assert_eq!(d.all(), Some(&b"141555501329"[..]));
        let long = "12-".repeat(20);
        let d = super::digits(&long);
        assert_eq!(d.count(), 40);
        assert_eq!(d.first(), "12".repeat(16).as_bytes());
        assert_eq!(d.all(), None, "more digits than are kept: not all of them");
        assert_eq!(super::digits("no digits").first(), b"");
    }

    use super::*;

    /// Every pattern declared with `lazy_re!` (the DFA ones).
    fn dfa_patterns() -> Vec<(&'static str, &'static LazyLock<Pattern>)> {
        vec![
            ("phone INTL", &phone::INTL),
            ("phone NANP", &phone::NANP),
            ("phone NANP_BARE", &phone::NANP_BARE),
            ("phone NATIONAL", &phone::NATIONAL),
            ("phone BRAZIL", &phone::BRAZIL),
            ("date ISO", &date_time::ISO),
            ("date NUM", &date_time::NUM),
            ("date WORDS", &date_time::WORDS),
            ("ssn", &us_ssn::RE),
            ("nhs", &uk_nhs::RE),
            ("iban", &iban::RE),
            ("ip v4", &ip_address::V4),
            ("ip v6", &ip_address::V6),
            ("bank", &us_bank_number::RE),
            ("passport", &us_passport::RE),
            ("driver", &us_driver_license::RE),
            ("medical", &medical_license::RE),
        ]
    }

    fn spans<'t>(it: impl Iterator<Item = (usize, usize)> + 't) -> Vec<(usize, usize)> {
        it.collect()
    }

    #[test]
    fn dfa_patterns_compile_to_dfas_and_never_match_empty() {
        for (name, p) in dfa_patterns() {
            assert!(p.dfa.is_some(), "{name}: fell back to the regex engine");
            assert!(p.re.find("").is_none(), "{name} matches the empty string");
        }
    }

    #[test]
    fn dfa_matches_equal_regex_matches_on_typical_text() {
        let text = "call +44 20 7946 0958 or (415) 555-0132, 0299087513 / 2025550147; \
            born 1990-02-14T10:30:00Z, 03/04/2021, 5 May 2024; SSN 123-45-6789 NHS 943 476 5919 \
            IBAN GB82 WEST 1234 5698 7654 32 ip 192.168.1.20 fe80::1 acct 12345678901 \
            passport A12345678 DL D1234567 DEA AB1234563 (11) 98765-4321 ñ 😀 0800 123 4567";
        for (name, p) in dfa_patterns() {
            let dfa = spans(p.find_iter(text).map(|m| (m.start(), m.end())));
            let re = spans(p.re.find_iter(text).map(|m| (m.start(), m.end())));
            assert_eq!(dfa, re, "{name}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// The DFA finds exactly the matches the regex engine finds, on text made of what the
        /// patterns look at (digits, separators, letters, non-ASCII).
        #[test]
        fn dfa_matches_equal_regex_matches(
            text in proptest::collection::vec(
                prop::sample::select(vec![
                    "0", "1", "2", "4", "5", "9", "19", "2024", "555", " ", "-", ".", "/", "(",
                    ")", "+", ":", "T", "Z", "x", "GB", "A", "may", "th", ",", "\n", "é", "_",
                ]),
                0..40,
            ).prop_map(|v| v.concat())
        ) {
            for (name, p) in dfa_patterns() {
                let dfa = spans(p.find_iter(&text).map(|m| (m.start(), m.end())));
                let re = spans(p.re.find_iter(&text).map(|m| (m.start(), m.end())));
                prop_assert_eq!(dfa, re, "{}", name);
            }
        }
    }
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
