//! Data security for aigis: PII and secret detection (this module), anonymisation and
//! tokenisation ([`anonymize`], keyed by a [`vault`] key) and encryption at rest ([`crypt`]).
//!
//! Detection is a registry of recognizers, one file each under [`recognizers`]. Each proposes
//! candidate spans with a base score, most after a validation (Luhn, mod-97, checksums, entropy);
//! [`Analyzer`] then applies context words (within 30 characters either side; negative words
//! lower the score), resolves overlaps (validated spans win, a span inside a stronger span of
//! another type is dropped) and converts byte offsets to Unicode scalar offsets, the contract of
//! DESIGN.md §3 (Python `str` indices).
#![forbid(unsafe_code)]

pub mod anonymize;
pub mod context;
pub mod crypt;
pub mod dataset;
mod gazetteer;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod recognizers;
pub mod rules;
pub mod stream;
pub mod transform;
pub mod validate;
pub mod vault;

use serde::Serialize;

/// A candidate span found by a recognizer (byte offsets into the text).
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Entity type, e.g. `EMAIL_ADDRESS`.
    pub kind: &'static str,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// Confidence before context, 0..=1.
    pub score: f32,
    /// A checksum or structural validation passed (these win overlaps).
    pub validated: bool,
}

/// One detected entity, with Unicode scalar offsets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entity {
    /// Entity type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Offset of the first character (Unicode scalar values, like Python `str` indices).
    pub start: usize,
    /// Offset one past the last character.
    pub end: usize,
    /// Final confidence, 0..=1, rounded to two decimals.
    pub score: f64,
}

/// A resolved entity with byte offsets (what [`Analyzer::spans`] returns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    /// Entity type.
    pub kind: &'static str,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// Confidence after context, 0..=1.
    pub score: f32,
}

/// What a recognizer is.
#[derive(Debug)]
pub struct RecognizerInfo {
    /// Short name.
    pub name: &'static str,
    /// Entity types it emits.
    pub entities: &'static [&'static str],
    /// One line on how it decides.
    pub summary: &'static str,
}

/// A recognizer: finds candidate spans of its entity types in a text.
pub trait Recognizer: Send + Sync {
    /// Its description.
    fn info(&self) -> &RecognizerInfo;
    /// Appends candidates found in `text`.
    fn find(&self, text: &str, out: &mut Vec<Candidate>);
    /// Whether the record can hold a match at all, from cheap byte statistics (most cells of a
    /// real table have no 7-digit run, no `:`…). Default: always.
    fn applies(&self, features: &Features) -> bool {
        let _ = features;
        true
    }
    /// The highest score a candidate gets without a context word. Below the analyzer's
    /// threshold, the recognizer is skipped for records (and fields) holding no context word of
    /// its types: its candidates could not be reported. Default 1.0 (never skipped).
    fn max_base_score(&self) -> f32 {
        1.0
    }
    /// Literals (ASCII, matched case-insensitively) at least one of which every match contains;
    /// the recognizer is skipped for records that have none. Empty: always run.
    fn anchors(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Byte statistics of a record, computed once before any recognizer runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// ASCII digits.
    pub digits: usize,
    /// Longest run of ASCII letters and digits.
    pub longest_alnum: usize,
    /// Longest run of digits, spaces, dashes, dots, slashes and parentheses containing a digit.
    pub longest_numeric: usize,
    /// Contains `:`.
    pub colon: bool,
    /// Contains `.`.
    pub dot: bool,
    /// Contains an ASCII capital or a non-ASCII byte (names and places need one).
    pub capital_or_unicode: bool,
    /// ASCII capitals.
    pub ascii_upper: usize,
    /// ASCII letters.
    pub ascii_alpha: usize,
    /// Contains `-` or `/` (date separators).
    pub dash_or_slash: bool,
    /// Contains a space.
    pub space: bool,
}

impl Features {
    /// Scans `text` once.
    pub fn of(text: &str) -> Self {
        let mut f = Self::default();
        let (mut alnum, mut numeric, mut numeric_digits) = (0usize, 0usize, 0usize);
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() {
                alnum += 1;
                f.longest_alnum = f.longest_alnum.max(alnum);
            } else {
                alnum = 0;
            }
            f.capital_or_unicode |= b.is_ascii_uppercase() || b >= 0x80;
            f.ascii_upper += usize::from(b.is_ascii_uppercase());
            f.ascii_alpha += usize::from(b.is_ascii_alphabetic());
            f.dash_or_slash |= b == b'-' || b == b'/';
            f.space |= b == b' ';
            if b.is_ascii_digit() {
                f.digits += 1;
                numeric += 1;
                numeric_digits += 1;
            } else if matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+') {
                numeric += 1;
            } else {
                numeric = 0;
                numeric_digits = 0;
            }
            if numeric_digits > 0 {
                f.longest_numeric = f.longest_numeric.max(numeric);
            }
            f.colon |= b == b':';
            f.dot |= b == b'.';
        }
        f
    }
}

/// Detection settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Entities scoring below this are not reported.
    pub min_score: f32,
    /// Only these entity types (empty = all).
    pub entities: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            min_score: 0.4,
            entities: Vec::new(),
        }
    }
}

/// The recognizer chain.
pub struct Analyzer {
    recognizers: Vec<&'static dyn Recognizer>,
    options: Options,
    /// One automaton over every recognizer's anchors, and which recognizer each pattern wakes.
    anchors: Option<aho_corasick::AhoCorasick>,
    anchor_owner: Vec<usize>,
    always: Vec<usize>,
    /// Recognizers that can emit a wanted type (all of them without an entity filter).
    wanted: u64,
}

impl Analyzer {
    /// Every built-in recognizer.
    pub fn new(options: Options) -> Self {
        // A unit test checks there are fewer than 64 recognizers (the run set is a u64).
        let recognizers = recognizers::all();
        debug_assert!(recognizers.len() < 64, "the run set is a u64");
        let mut pats = Vec::new();
        let mut anchor_owner = Vec::new();
        let mut always = Vec::new();
        for (i, r) in recognizers.iter().enumerate() {
            if r.anchors().is_empty() {
                always.push(i);
            }
            for a in r.anchors() {
                pats.push(*a);
                anchor_owner.push(i);
            }
        }
        let wanted = recognizers
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                options.entities.is_empty()
                    || r.info()
                        .entities
                        .iter()
                        .any(|e| options.entities.iter().any(|w| w == e))
            })
            .fold(0u64, |acc, (i, _)| acc | 1 << i);
        let anchors = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&pats)
            .ok();
        Self {
            recognizers,
            options,
            anchors,
            anchor_owner,
            always,
            wanted,
        }
    }

    /// The recognizers in the chain.
    pub fn recognizers(&self) -> impl Iterator<Item = &RecognizerInfo> + '_ {
        self.recognizers.iter().map(|r| r.info())
    }

    /// Entities in `text`, ordered by position. `field_context` is the CSV column name or JSON
    /// path the text came from; it counts as context for every span.
    pub fn analyze(&self, text: &str, field_context: Option<&str>) -> Vec<Entity> {
        to_char_offsets(text, &self.spans(text, field_context))
    }

    /// Like [`Analyzer::analyze`], with byte offsets into `text` (for rewriting it).
    pub fn spans(&self, text: &str, field_context: Option<&str>) -> Vec<Span> {
        let mut cands = Vec::new();
        // Which recognizers run, as a bit set (there are fewer than 64).
        let mut run: u64 = self.always.iter().fold(0, |acc, &i| acc | 1 << i);
        if let Some(ac) = &self.anchors {
            for m in ac.find_overlapping_iter(text) {
                run |= 1 << self.anchor_owner[m.pattern().as_usize()];
            }
        }
        // With an entity filter, recognizers that cannot emit a wanted type do not run.
        run &= self.wanted;
        let features = Features::of(text);
        let _scope = gazetteer::analysis_scope(text);
        // Which types have context words here, computed only if a context-only recognizer
        // would otherwise run.
        let mut context: Option<u64> = None;
        for (i, r) in self.recognizers.iter().enumerate() {
            if run & (1 << i) != 0 && r.applies(&features) {
                if r.max_base_score() < self.options.min_score {
                    let mask =
                        *context.get_or_insert_with(|| context::present(text, field_context));
                    let wanted = r
                        .info()
                        .entities
                        .iter()
                        .filter_map(|k| context::kind_bit(k))
                        .fold(0, |a, b| a | b);
                    if mask & wanted == 0 {
                        continue;
                    }
                }
                r.find(text, &mut cands);
            }
        }
        if !self.options.entities.is_empty() {
            cands.retain(|c| self.options.entities.iter().any(|e| e == c.kind));
        }
        for c in &mut cands {
            c.score = context::adjust(c, text, field_context);
        }
        let kept = resolve(cands);
        let mut out: Vec<Span> = kept
            .into_iter()
            .filter(|c| c.score >= self.options.min_score)
            .map(|c| Span {
                start: c.start,
                end: c.end,
                kind: c.kind,
                score: c.score,
            })
            .collect();
        out.sort_by_key(|e| (e.start, e.end));
        out
    }
}

/// Overlap resolution: validated first, then score, then length; a candidate overlapping an
/// already kept span is dropped (so a URL inside an e-mail, a date inside an IBAN, a phone inside
/// a card number disappear).
fn resolve(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    cands.sort_by(|a, b| {
        b.validated
            .cmp(&a.validated)
            .then(b.score.total_cmp(&a.score))
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Candidate> = Vec::new();
    for c in cands {
        if kept.iter().all(|k| c.end <= k.start || c.start >= k.end) {
            kept.push(c);
        }
    }
    kept
}

/// Converts sorted byte spans to Unicode scalar offsets in one pass.
fn to_char_offsets(text: &str, spans: &[Span]) -> Vec<Entity> {
    if spans.is_empty() {
        // Most records hold nothing: skip the character walk and the map.
        return Vec::new();
    }
    let round = |score: f32| (f64::from(score) * 100.0).round() / 100.0;
    if text.is_ascii() {
        // One byte per character: the offsets are already right.
        return spans
            .iter()
            .map(|s| Entity {
                kind: s.kind,
                start: s.start,
                end: s.end,
                score: round(s.score),
            })
            .collect();
    }
    let mut boundaries: Vec<usize> = spans.iter().flat_map(|s| [s.start, s.end]).collect();
    boundaries.sort_unstable();
    boundaries.dedup();
    let mut map = std::collections::HashMap::with_capacity(boundaries.len());
    let mut next = 0usize;
    let ends = text
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()));
    for (chars, byte) in ends.enumerate() {
        while next < boundaries.len() && boundaries[next] <= byte {
            map.insert(boundaries[next], chars);
            next += 1;
        }
    }
    spans
        .iter()
        .filter_map(|s| {
            Some(Entity {
                kind: s.kind,
                start: *map.get(&s.start)?,
                end: *map.get(&s.end)?,
                score: round(s.score),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(&'static str, String)> {
        let a = Analyzer::new(Options::default());
        let chars: Vec<char> = text.chars().collect();
        a.analyze(text, None)
            .into_iter()
            .map(|e| (e.kind, chars[e.start..e.end].iter().collect()))
            .collect()
    }

    #[test]
    fn registry_fits_the_run_set() {
        assert!(crate::recognizers::all().len() < 64);
    }

    #[test]
    fn offsets_count_unicode_scalars() {
        let text = "😀 ñandú mail: añb@example.com";
        let a = Analyzer::new(Options::default());
        let e = &a.analyze(text, None)[0];
        assert_eq!(e.kind, "EMAIL_ADDRESS");
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(
            chars[e.start..e.end].iter().collect::<String>(),
            "añb@example.com"
        );
    }

    #[test]
    fn overlaps_resolve_to_the_validated_span() {
        // No URL inside the e-mail's domain, no date inside the IBAN.
        assert_eq!(
            kinds("write to jane.doe@example.co.uk today"),
            [("EMAIL_ADDRESS", "jane.doe@example.co.uk".to_string())]
        );
        let got = kinds("IBAN GB82 WEST 1234 5698 7654 32 please");
        assert_eq!(
            got,
            [("IBAN_CODE", "GB82 WEST 1234 5698 7654 32".to_string())]
        );
    }
}

#[cfg(test)]
mod feature_tests {
    use super::Features;

    #[test]
    fn features_count_what_gates_need() {
        let f = Features::of("call (415) 555-0132 at 10:30, v1.2");
        assert_eq!(f.digits, 16);
        assert!(f.colon && f.dot);
        assert_eq!(
            f.longest_numeric,
            " (415) 555-0132 ".len(),
            "separators around the digits count"
        );
        assert_eq!(Features::of("abc DEF123gh").longest_alnum, 8);
    }
}
