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
    /// Appends candidates found in `text`. `features` are its byte statistics, for cheap
    /// gates before each pattern (a pattern that needs a `+` is not searched for without one).
    fn find(&self, text: &str, features: &Features, out: &mut Vec<Candidate>);
    /// Whether the record can hold a match at all, from cheap byte statistics (most cells of a
    /// real table have no 7-digit run, no `:`…). Default: always.
    fn applies(&self, features: &Features) -> bool {
        let _ = features;
        true
    }
    /// Fewest bytes a record needs for [`Recognizer::applies`] to hold (implied by it): shorter
    /// records skip the recognizer without asking. Default 0.
    fn min_len(&self) -> usize {
        0
    }
    /// Fewest ASCII digits a record needs for [`Recognizer::applies`] to hold (implied by it):
    /// records with fewer skip the recognizer without asking. Default 0.
    fn min_digits(&self) -> usize {
        0
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
    /// Whether `text` holds one of [`Recognizer::anchors`], asked only when
    /// [`Recognizer::applies`] holds, for recognizers that can tell more cheaply than the shared
    /// automaton walking every byte (a byte the features saw already, a `memchr` for a rare
    /// byte). It may say `true` without an anchor (a gate only narrows), never `false` with one.
    /// `None`: the automaton decides.
    fn has_anchor(&self, text: &str, features: &Features) -> Option<bool> {
        let _ = (text, features);
        None
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
    /// Longest run of ASCII letters, digits, `/` and `+` (base64 text).
    pub longest_base64: usize,
    /// Longest run of ASCII digits.
    pub longest_digits: usize,
    /// Length in bytes.
    pub len: usize,
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
    /// Class and punctuation bits of the bytes that occur (see [`Features::has`]).
    pub marked: u32,
}

/// Byte classes for [`Features::of`]: bits 0-7 classify, bits 8 and up mark the punctuation
/// that [`Features::has`] can be asked about.
mod class {
    pub const DIGIT: u32 = 1;
    pub const UPPER: u32 = 2;
    pub const LOWER: u32 = 4;
    /// Continues a numeric run: space, `-`, `.`, `/`, `(`, `)`, `+`.
    pub const NUMERIC_SEP: u32 = 8;
    /// `/` and `+`, which continue a base64 run.
    pub const BASE64_EXTRA: u32 = 16;
    /// Not ASCII.
    pub const HIGH: u32 = 32;
    pub const ALNUM: u32 = DIGIT | UPPER | LOWER;
    /// The bytes with a bit of their own, from bit 8 on.
    pub const MARKED: &[u8] = b" -./:+()@_=#,;'\"\t\r\n";
}

/// The [`class`] bits of every byte.
static CLASSES: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            class::DIGIT
        } else if c.is_ascii_uppercase() {
            class::UPPER
        } else if c.is_ascii_lowercase() {
            class::LOWER
        } else if c >= 0x80 {
            class::HIGH
        } else {
            0
        };
        if matches!(c, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+') {
            t[b] |= class::NUMERIC_SEP;
        }
        if matches!(c, b'/' | b'+') {
            t[b] |= class::BASE64_EXTRA;
        }
        let mut k = 0;
        while k < class::MARKED.len() {
            if class::MARKED[k] == c {
                t[b] |= 1 << (8 + k);
            }
            k += 1;
        }
        b += 1;
    }
    t
};

/// The bit of each [`class::MARKED`] byte in [`Features::marked`] (0 for other bytes).
static MARK_BITS: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut k = 0;
    while k < class::MARKED.len() {
        t[class::MARKED[k] as usize] = 1 << (8 + k);
        k += 1;
    }
    t
};

/// Lanes of [`Features::of`]'s packed scan: eight 16-bit lanes, which the compiler keeps in one
/// SSE2 register (`pand`, `paddw`, `pmaxsw` per byte) on every x86-64.
mod lane {
    /// Run lengths: letters and digits, base64, digits, numeric (in that lane order).
    pub const ALNUM: usize = 0;
    pub const BASE64: usize = 1;
    pub const DIGITS: usize = 2;
    pub const NUMERIC: usize = 3;
    /// Counts: digits, capitals, letters.
    pub const N_DIGITS: usize = 4;
    pub const N_UPPER: usize = 5;
    pub const N_ALPHA: usize = 6;
    /// A numeric run without a digit yet: its length minus this, so negative, below every run
    /// that counts.
    pub const NO_DIGIT: i16 = 0x4000;
    /// Longest text the packed scan takes: every length stays below [`NO_DIGIT`].
    pub const MAX_LEN: usize = 0x3fff;
    /// The eight lanes.
    pub type Lanes = [i16; 8];
}

/// Per byte, the step of the packed scan, applied to every lane as `lanes = (lanes & and) + add`:
/// a run lane is kept (`and` all ones) and grows by one on the bytes that continue it, and is
/// reset to zero by the others; a count lane is always kept and adds the byte's count. The
/// numeric lane restarts at `-NO_DIGIT` (a run still without a digit) and a digit clears that
/// bias (`and` = `NO_DIGIT - 1`), so its maximum is the longest numeric run that holds a digit.
/// Two operations per byte on the lanes' dependency chain.
struct Step {
    and: [lane::Lanes; 256],
    add: [lane::Lanes; 256],
}

/// All ones for `true`, for the lane masks.
const fn all(on: bool) -> i16 {
    if on { -1 } else { 0 }
}

static STEP: Step = {
    let mut t = Step {
        and: [[0; 8]; 256],
        add: [[0; 8]; 256],
    };
    let mut b = 0;
    while b < 256 {
        let c = CLASSES[b];
        let digit = c & class::DIGIT != 0;
        let numeric = c & (class::DIGIT | class::NUMERIC_SEP) != 0;
        let alnum = c & class::ALNUM != 0;
        let base64 = c & (class::ALNUM | class::BASE64_EXTRA) != 0;
        let mut and = [-1i16; 8];
        let mut add = [0i16; 8];
        and[lane::ALNUM] = all(alnum);
        add[lane::ALNUM] = alnum as i16;
        and[lane::BASE64] = all(base64);
        add[lane::BASE64] = base64 as i16;
        and[lane::DIGITS] = all(digit);
        add[lane::DIGITS] = digit as i16;
        (and[lane::NUMERIC], add[lane::NUMERIC]) = if digit {
            (lane::NO_DIGIT - 1, 1)
        } else if numeric {
            (-1, 1)
        } else {
            (0, -lane::NO_DIGIT)
        };
        add[lane::N_DIGITS] = digit as i16;
        add[lane::N_UPPER] = (c & class::UPPER != 0) as i16;
        add[lane::N_ALPHA] = (c & (class::UPPER | class::LOWER) != 0) as i16;
        t.and[b] = and;
        t.add[b] = add;
        b += 1;
    }
    t
};

/// The scan of [`Features::of`]: every lane's maximum, and the [`class`] bits seen. All runs,
/// counts and maxima move together in the lanes of one vector: two table rows and a maximum per
/// byte, branch-free. Not inlined: returning every lane keeps the loop one vector wide (the
/// compiler splits it into pieces when some lanes go unused).
#[inline(never)]
fn packed_scan(bytes: &[u8]) -> (lane::Lanes, u32) {
    let mut v: lane::Lanes = [0; 8];
    v[lane::NUMERIC] = -lane::NO_DIGIT;
    let mut best: lane::Lanes = [0; 8];
    let mut seen = 0u32;
    for &b in bytes {
        let b = usize::from(b);
        seen |= CLASSES[b];
        let (and, add) = (&STEP.and[b], &STEP.add[b]);
        for k in 0..8 {
            v[k] = (v[k] & and[k]).wrapping_add(add[k]);
            best[k] = best[k].max(v[k]);
        }
    }
    (best, seen)
}

impl Features {
    /// Scans `text` once.
    pub fn of(text: &str) -> Self {
        if text.len() > lane::MAX_LEN {
            return Self::of_long(text);
        }
        let mut f = Self::default();
        let (best, seen) = packed_scan(text.as_bytes());
        // The maxima and counts are below 2^14 (text length at most `MAX_LEN`) and not negative.
        let get = |x: i16| x.unsigned_abs() as usize;
        f.longest_alnum = get(best[lane::ALNUM]);
        f.longest_base64 = get(best[lane::BASE64]);
        f.longest_digits = get(best[lane::DIGITS]);
        f.longest_numeric = get(best[lane::NUMERIC]);
        // A count's maximum is its final value.
        let (digits, upper, alpha) = (
            get(best[lane::N_DIGITS]),
            get(best[lane::N_UPPER]),
            get(best[lane::N_ALPHA]),
        );
        f.finish(text, digits, upper, alpha, seen)
    }

    /// [`Features::of`] for texts too long for the packed scan: the same figures, one run at a
    /// time.
    fn of_long(text: &str) -> Self {
        let mut f = Self::default();
        // Branch-free: each run length is extended or reset by a mask, its maximum kept.
        let mask = |on: bool| 0usize.wrapping_sub(usize::from(on));
        let (mut alnum, mut base64, mut numeric, mut run_digits) = (0usize, 0usize, 0usize, 0usize);
        let mut numeric_digit = 0usize;
        let (mut digits, mut upper, mut alpha) = (0usize, 0usize, 0usize);
        let mut seen = 0u32;
        for &b in text.as_bytes() {
            let c = CLASSES[usize::from(b)];
            seen |= c;
            digits += (c & class::DIGIT) as usize;
            upper += ((c & class::UPPER) >> 1) as usize;
            alpha += usize::from(c & (class::UPPER | class::LOWER) != 0);
            alnum = (alnum + 1) & mask(c & class::ALNUM != 0);
            f.longest_alnum = f.longest_alnum.max(alnum);
            base64 = (base64 + 1) & mask(c & (class::ALNUM | class::BASE64_EXTRA) != 0);
            f.longest_base64 = f.longest_base64.max(base64);
            let digit = mask(c & class::DIGIT != 0);
            run_digits = (run_digits + 1) & digit;
            f.longest_digits = f.longest_digits.max(run_digits);
            let in_numeric = mask(c & (class::DIGIT | class::NUMERIC_SEP) != 0);
            numeric = (numeric + 1) & in_numeric;
            numeric_digit = (numeric_digit | digit) & in_numeric;
            f.longest_numeric = f.longest_numeric.max(numeric & numeric_digit);
        }
        f.finish(text, digits, upper, alpha, seen)
    }

    /// Fills in the counts and what follows from the byte set.
    fn finish(mut self, text: &str, digits: usize, upper: usize, alpha: usize, seen: u32) -> Self {
        let f = &mut self;
        f.len = text.len();
        f.digits = digits;
        f.ascii_upper = upper;
        f.ascii_alpha = alpha;
        f.marked = seen;
        f.capital_or_unicode = upper > 0 || seen & class::HIGH != 0;
        f.dash_or_slash = f.has(b'-') || f.has(b'/');
        f.space = f.has(b' ');
        f.colon = f.has(b':');
        f.dot = f.has(b'.');
        self
    }

    /// Whether the text holds a non-ASCII character.
    #[inline]
    pub fn non_ascii(&self) -> bool {
        self.marked & class::HIGH != 0
    }

    /// Whether `b`, one of the punctuation bytes the scan marks (space, `-./:+()@_=#,;'"`, tab,
    /// CR, LF), occurs. Always true for other bytes (unknown, so a gate must not skip on it).
    #[inline]
    pub fn has(&self, b: u8) -> bool {
        let bit = MARK_BITS[usize::from(b)];
        bit == 0 || self.marked & bit != 0
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
    /// Recognizers without anchors, and those with anchors, as bit sets.
    always_set: u64,
    anchored_set: u64,
    /// Recognizers that can emit a wanted type (all of them without an entity filter).
    wanted: u64,
    /// Per recognizer, the [`context::kind_bit`]s of its entity types.
    context_bits: Vec<u64>,
    /// By record length (the last entry for every longer record), the recognizers whose
    /// [`Recognizer::min_len`] it reaches, as a bit set: one lookup per record.
    fits_by_len: Vec<u64>,
    /// The same by the record's count of ASCII digits ([`Recognizer::min_digits`]).
    fits_by_digits: Vec<u64>,
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
        // A full DFA without a prefilter: cells are short, and on short haystacks the
        // prefilters' set-up (Rabin-Karp, Teddy) costs more than walking the bytes.
        let anchors = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .prefilter(false)
            .build(&pats)
            .ok();
        let context_bits = recognizers
            .iter()
            .map(|r| {
                r.info()
                    .entities
                    .iter()
                    .filter_map(|k| context::kind_bit(k))
                    .fold(0, |a, b| a | b)
            })
            .collect();
        let always_set = always.iter().fold(0, |acc, &i| acc | 1 << i);
        let anchored_set = !always_set & ((1u64 << recognizers.len()) - 1);
        let min_lens: Vec<usize> = recognizers.iter().map(|r| r.min_len()).collect();
        let fits_by_len = fits_table(&min_lens);
        let fits_by_digits = fits_table(
            &recognizers
                .iter()
                .map(|r| r.min_digits())
                .collect::<Vec<_>>(),
        );
        Self {
            recognizers,
            options,
            anchors,
            anchor_owner,
            always_set,
            anchored_set,
            wanted,
            context_bits,
            fits_by_len,
            fits_by_digits,
        }
    }

    /// The recognizers in the chain.
    pub fn recognizers(&self) -> impl Iterator<Item = &RecognizerInfo> + '_ {
        self.recognizers.iter().map(|r| r.info())
    }

    /// Entities in `text`, ordered by position. `field_context` is the CSV column name or JSON
    /// path the text came from; it counts as context for every span.
    pub fn analyze(&self, text: &str, field_context: Option<&str>) -> Vec<Entity> {
        let mut out = Vec::new();
        self.analyze_into(text, field_context, &mut out);
        out
    }

    /// Like [`Analyzer::analyze`], appending to `out` (no allocation per record once the
    /// thread's buffers have grown).
    pub fn analyze_into(&self, text: &str, field_context: Option<&str>, out: &mut Vec<Entity>) {
        entities_into(text, out, |sc, spans| {
            self.spans_with(text, field_context, sc, spans);
        });
    }

    /// Like [`Analyzer::analyze_into`] for a field resolved once with [`context::FieldWords::of`]
    /// (a table's column: no lookup of its name per cell).
    pub fn analyze_field_into(
        &self,
        text: &str,
        field: &context::FieldWords,
        out: &mut Vec<Entity>,
    ) {
        entities_into(text, out, |sc, spans| self.spans_in(text, field, sc, spans));
    }

    /// Like [`Analyzer::analyze`], with byte offsets into `text` (for rewriting it).
    pub fn spans(&self, text: &str, field_context: Option<&str>) -> Vec<Span> {
        let mut out = Vec::new();
        with_scratch(|sc| self.spans_with(text, field_context, sc, &mut out));
        out
    }

    fn spans_with(
        &self,
        text: &str,
        field_context: Option<&str>,
        sc: &mut Scratch,
        out: &mut Vec<Span>,
    ) {
        // The field's context words, looked up once per distinct field (a CSV column, a JSON
        // path), not once per cell.
        let field = match field_context {
            None => context::FieldWords::default(),
            Some(f) => {
                let i = if let Some(i) = sc.fields.iter().position(|(name, _)| name == f) {
                    i
                } else {
                    if sc.fields.len() >= MAX_CACHED_FIELDS {
                        sc.fields.clear();
                    }
                    sc.fields
                        .push((f.to_string(), context::FieldWords::of(Some(f))));
                    sc.fields.len() - 1
                };
                sc.fields[i].1
            }
        };
        self.spans_in(text, &field, sc, out);
    }

    /// [`Analyzer::spans_with`] once the field's context words are known.
    fn spans_in(
        &self,
        text: &str,
        field: &context::FieldWords,
        sc: &mut Scratch,
        out: &mut Vec<Span>,
    ) {
        let cands = &mut sc.cands;
        cands.clear();
        let features = Features::of(text);
        // Recognizers the record is long enough for (no call needed to rule out the others).
        let lookup = |table: &[u64], n: usize| table.get(n).or(table.last()).copied().unwrap_or(0);
        let fits =
            lookup(&self.fits_by_len, text.len()) & lookup(&self.fits_by_digits, features.digits);
        // Which recognizers run, as a bit set (there are fewer than 64): those without anchors,
        // and those with an anchor in the text, found in one pass, which is skipped when no
        // anchored recognizer could match this record anyway (most table cells).
        let mut run: u64 = self.always_set & fits;
        let anchored = self.anchored_set & self.wanted & fits;
        // Those that apply: some answer for their anchors themselves, the rest share the
        // automaton.
        let mut possible = 0u64;
        let mut automaton = 0u64;
        for i in bits(anchored) {
            let r = self.recognizers[i];
            if r.applies(&features) {
                possible |= 1 << i;
                match r.has_anchor(text, &features) {
                    Some(true) => run |= 1 << i,
                    Some(false) => {}
                    None => automaton |= 1 << i,
                }
            }
        }
        if automaton != 0
            && let Some(ac) = &self.anchors
        {
            for m in ac.find_overlapping_iter(text) {
                run |= (1 << self.anchor_owner[m.pattern().as_usize()]) & automaton;
            }
        }
        // With an entity filter, recognizers that cannot emit a wanted type do not run.
        run &= self.wanted;
        let _scope = gazetteer::analysis_scope(text);
        // Which types have context words here, computed only if a context-only recognizer
        // would otherwise run.
        let mut context: Option<u64> = None;
        // In registry order, as the candidates' order breaks ties in overlap resolution.
        for i in bits(run) {
            let r = self.recognizers[i];
            // Anchored recognizers in the run set were asked already (`possible`).
            if possible & (1 << i) != 0 || r.applies(&features) {
                if r.max_base_score() < self.options.min_score {
                    let mask = *context
                        .get_or_insert_with(|| context::present_with(text, field, &features));
                    if mask & self.context_bits[i] == 0 {
                        continue;
                    }
                }
                r.find(text, &features, cands);
            }
        }
        if !self.options.entities.is_empty() {
            cands.retain(|c| self.options.entities.iter().any(|e| e == c.kind));
        }
        // A span glued to an ASCII letter, digit or `_` is part of a longer word; a token put in
        // its place could not be told from its neighbours by `restore_tokens` either.
        let bytes = text.as_bytes();
        cands.retain(|c| {
            let word = |i: usize| {
                bytes
                    .get(i)
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
            };
            (c.start == 0 || !word(c.start - 1)) && !word(c.end)
        });
        for c in cands.iter_mut() {
            c.score = context::adjust_with(c, text, field);
        }
        resolve(cands, &mut sc.kept);
        let start = out.len();
        out.extend(
            sc.kept
                .iter()
                .filter(|c| c.score >= self.options.min_score)
                .map(|c| Span {
                    start: c.start,
                    end: c.end,
                    kind: c.kind,
                    score: c.score,
                }),
        );
        out[start..].sort_by_key(|e| (e.start, e.end));
    }
}

/// For each count `n` up to the largest minimum (the last entry stands for every larger count),
/// the recognizers whose minimum `n` reaches, as a bit set.
fn fits_table(minimums: &[usize]) -> Vec<u64> {
    let largest = minimums.iter().copied().max().unwrap_or(0);
    (0..=largest)
        .map(|n| {
            minimums
                .iter()
                .enumerate()
                .fold(0u64, |acc, (i, &m)| acc | u64::from(m <= n) << i)
        })
        .collect()
}

/// The indices of the set bits of `set`, lowest first.
fn bits(mut set: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (set != 0).then(|| {
            let i = set.trailing_zeros() as usize;
            set &= set - 1;
            i
        })
    })
}

/// Buffers reused by every analysis on a thread.
#[derive(Default)]
struct Scratch {
    cands: Vec<Candidate>,
    kept: Vec<Candidate>,
    spans: Vec<Span>,
    /// Fields seen lately and their context words.
    fields: Vec<(String, context::FieldWords)>,
}

/// Distinct fields whose context words a thread keeps (a table's columns, a JSONL's paths).
const MAX_CACHED_FIELDS: usize = 64;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The spans `find` appends (in this thread's span buffer) as entities of `text`, appended to
/// `out`.
fn entities_into(
    text: &str,
    out: &mut Vec<Entity>,
    find: impl FnOnce(&mut Scratch, &mut Vec<Span>),
) {
    with_scratch(|sc| {
        let mut spans = std::mem::take(&mut sc.spans);
        spans.clear();
        find(sc, &mut spans);
        to_char_offsets(text, &spans, out);
        sc.spans = spans;
    });
}

/// Runs `f` with this thread's buffers (fresh ones if they are in use further up the stack).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut sc) => f(&mut sc),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Overlap resolution: validated first, then score, then length; a candidate overlapping an
/// already kept span is dropped (so a URL inside an e-mail, a date inside an IBAN, a phone inside
/// a card number disappear).
fn resolve(cands: &mut [Candidate], kept: &mut Vec<Candidate>) {
    kept.clear();
    cands.sort_by(|a, b| {
        b.validated
            .cmp(&a.validated)
            .then(b.score.total_cmp(&a.score))
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    for c in cands.iter() {
        if kept.iter().all(|k| c.end <= k.start || c.start >= k.end) {
            kept.push(c.clone());
        }
    }
}

/// Converts byte spans, sorted by start, to Unicode scalar offsets, appending to `out`: one walk
/// over the text that counts the bytes starting a character between boundaries (no allocation,
/// and no panic on an offset inside a character: it counts as the character it falls in).
fn to_char_offsets(text: &str, spans: &[Span], out: &mut Vec<Entity>) {
    if spans.is_empty() {
        // Most records hold nothing.
        return;
    }
    let round = |score: f32| (f64::from(score) * 100.0).round() / 100.0;
    if text.is_ascii() {
        // One byte per character: the offsets are already right.
        out.extend(spans.iter().map(|s| Entity {
            kind: s.kind,
            start: s.start,
            end: s.end,
            score: round(s.score),
        }));
        return;
    }
    let bytes = text.as_bytes();
    let chars = |from: usize, to: usize| {
        bytes
            .get(from..to)
            .map_or(0, |b| b.iter().filter(|&&c| c & 0xc0 != 0x80).count())
    };
    // (byte, chars before it): the walk only moves forward; a span starting before the last
    // position (overlapping spans) is counted from the text's start.
    let (mut at, mut before) = (0usize, 0usize);
    for s in spans {
        if s.start < at {
            (at, before) = (0, 0);
        }
        before += chars(at, s.start);
        at = s.start;
        let start = before;
        let end = start + chars(s.start, s.end.max(s.start));
        out.push(Entity {
            kind: s.kind,
            start,
            end,
            score: round(s.score),
        });
    }
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
    fn bits_lists_set_bits_in_order() {
        assert_eq!(bits(0b1010_0101).collect::<Vec<_>>(), [0, 2, 5, 7]);
        assert_eq!(bits(0).count(), 0);
        assert_eq!(bits(1 << 63).collect::<Vec<_>>(), [63]);
    }

    #[test]
    fn min_len_is_implied_by_applies() {
        // A record one byte shorter than a recognizer's min_len, made of the bytes its gates
        // look for, must not satisfy `applies`: skipping it by length changes nothing.
        for r in crate::recognizers::all() {
            let n = r.min_len();
            if n == 0 {
                continue;
            }
            for fill in ["1", "A", "a1+/", "@:.=_- ", "Ab1-"] {
                let text: String = fill.chars().cycle().take(n - 1).collect();
                assert!(
                    !r.applies(&Features::of(&text)),
                    "{}: applies to {} bytes, below its min_len {n}",
                    r.info().name,
                    text.len()
                );
            }
        }
    }

    #[test]
    fn min_digits_is_implied_by_applies() {
        // Texts with one digit fewer than a recognizer's min_digits, long and full of what the
        // gates look for otherwise, must not satisfy `applies`.
        for r in crate::recognizers::all() {
            let n = r.min_digits();
            if n == 0 {
                continue;
            }
            for fill in ["A", "a+/", "@:.=_- ", "Ab-", "x.y ", "GB WEST ", "é"] {
                let digits = "1".repeat(n - 1);
                for text in [
                    format!("{digits}{}", fill.repeat(40)),
                    format!("{}{digits}", fill.repeat(40)),
                    digits
                        .chars()
                        .flat_map(|d| std::iter::once(d).chain(fill.chars()))
                        .collect(),
                ] {
                    assert!(
                        !r.applies(&Features::of(&text)),
                        "{}: applies to {text:?} with {} digits, below its min_digits {n}",
                        r.info().name,
                        n - 1
                    );
                }
            }
        }
    }

    /// The shortest forms with the fewest digits each recognizer takes are still found: the
    /// length and digit-count tables skip nothing a gate would let through.
    #[test]
    fn fewest_digit_forms_are_found() {
        use crate::recognizers::testing::found;
        for (kind, text, want) in [
            ("PHONE_NUMBER", "tel +33 1 42 68 53", "+33 1 42 68 53"),
            ("CREDIT_CARD", "card 4222222222222", "4222222222222"),
            ("US_SSN", "ssn 536-22-1234", "536-22-1234"),
            ("UK_NHS", "NHS 943 476 5919", "943 476 5919"),
            ("DATE_TIME", "on 1/2/24", "1/2/24"),
            ("US_BANK_NUMBER", "account 12345678", "12345678"),
            ("US_PASSPORT", "passport A12345678", "A12345678"),
            ("US_DRIVER_LICENSE", "driver license D1234567", "D1234567"),
            ("MEDICAL_LICENSE", "DEA AB1234563", "AB1234563"),
        ] {
            assert_eq!(found(kind, text), [want], "{kind} in {text:?}");
        }
    }

    #[test]
    fn registry_fits_the_run_set() {
        assert!(crate::recognizers::all().len() < 64);
    }

    /// A field resolved once gives what naming it per record gives (context words included).
    #[test]
    fn a_resolved_field_analyses_as_its_name_does() {
        let a = Analyzer::new(Options::default());
        for (field, text) in [
            ("ssn", "078-05-1120"),
            ("phone", "0299087513"),
            ("notes", "call Ana Souza on 0299087513"),
            ("", "ana@example.com"),
        ] {
            let resolved = context::FieldWords::of(Some(field));
            let mut got = Vec::new();
            a.analyze_field_into(text, &resolved, &mut got);
            assert_eq!(got, a.analyze(text, Some(field)), "{field}: {text}");
        }
        // The field counts: bare digits are a phone number only under a phone-like name.
        let mut bare = Vec::new();
        a.analyze_field_into(
            "0299087513",
            &context::FieldWords::of(Some("phone")),
            &mut bare,
        );
        assert_eq!(bare.len(), 1);
        assert!(a.analyze("0299087513", None).is_empty());
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
        assert_eq!(Features::of("k=ab/c+d==").longest_base64, "ab/c+d".len());
        assert_eq!(Features::of("a12b3456c7").longest_digits, 4);
        assert_eq!(Features::of("a12b3456c7").len, 10);
    }

    #[test]
    fn marked_bytes_are_seen_and_others_never_ruled_out() {
        // 'é' is 0xC3 0xA9: it must not look like ')' (0x29).
        let f = Features::of("é+1@x");
        assert!(f.has(b'+') && f.has(b'@') && !f.has(b')') && !f.has(b'-'));
        assert!(f.capital_or_unicode && f.ascii_upper == 0);
        // Bytes the scan does not mark are never ruled out.
        assert!(f.has(b'z') && f.has(b'!'));
        assert!(crate::class::MARKED.len() <= 24, "marks fit in bits 8..32");
    }

    proptest::proptest! {
        /// The packed scan gives exactly what the one-run-at-a-time scan gives.
        #[test]
        fn packed_scan_equals_the_plain_scan(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "0", "42", "a", "Z", "é", "+", "/", " ", "-", ".", "(", "_", "=", ":", "@",
                    "\n", "x9", "  ",
                ]),
                0..80,
            )
        ) {
            let text = parts.concat();
            let (a, b) = (Features::of(&text), Features::of_long(&text));
            proptest::prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }

    proptest::proptest! {
        /// A recognizer's gate (`applies`, from the byte statistics) never rules out a text in
        /// which the recognizer itself finds something: texts of digit runs, capitals,
        /// separators and words that the numeric and identifier patterns match.
        #[test]
        fn gates_never_rule_out_a_match(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "0", "1", "2", "5", "9", "4111", "12345678", "555", "A", "Z", "ab", " ",
                    "-", ".", "/", "(", ")", "+", "@", ":", "_", "é", "Mr", "Anna", "Lee", "Berlin",
                    "x", "GB82", "WEST", "sk_live_", "AKIA", "ghp_", "=",
                ]),
                0..40,
            )
        ) {
            let text = parts.concat();
            let f = Features::of(&text);
            for r in crate::recognizers::all() {
                let mut found = Vec::new();
                r.find(&text, &f, &mut found);
                proptest::prop_assert!(
                    found.is_empty()
                        || (r.applies(&f) && f.len >= r.min_len() && f.digits >= r.min_digits()),
                    "{} finds {:?} in {text:?} but its gate rules the text out",
                    r.info().name,
                    found.iter().map(|c| &text[c.start..c.end]).collect::<Vec<_>>()
                );
            }
        }
    }

    proptest::proptest! {
        /// A recognizer that checks its own anchors never rules out a text holding one (the
        /// automaton's answer: any anchor, ASCII case-insensitive).
        #[test]
        fn own_anchor_checks_never_miss_an_anchor(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "://", ":/", "//", "www.", "WwW.", "ww.", "w", ".", "@", "a", "é", " ", ":",
                    "http", "x@y.io", "/",
                ]),
                0..40,
            )
        ) {
            let text = parts.concat();
            let f = Features::of(&text);
            for r in crate::recognizers::all() {
                if !r.applies(&f) {
                    continue;
                }
                if let Some(answer) = r.has_anchor(&text, &f) {
                    let lower = text.to_ascii_lowercase();
                    let present = r
                        .anchors()
                        .iter()
                        .any(|a| lower.contains(&a.to_ascii_lowercase()));
                    proptest::prop_assert!(answer || !present, "{} on {text:?}", r.info().name);
                }
            }
        }
    }

    proptest::proptest! {
        /// Character offsets of sorted spans (overlapping ones too) equal counting the
        /// characters before each boundary.
        #[test]
        fn char_offsets_count_the_characters_before_each_boundary(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["a", "é", "😀", "中", " ", "7", "ß"]),
                1..40,
            ),
            cuts in proptest::collection::vec((0usize..40, 0usize..8), 0..6),
        ) {
            let text = parts.concat();
            let starts: Vec<usize> = text.char_indices().map(|(b, _)| b).chain([text.len()]).collect();
            let mut spans: Vec<crate::Span> = cuts
                .iter()
                .map(|&(s, len)| {
                    let s = s % starts.len();
                    let e = (s + len).min(starts.len() - 1);
                    crate::Span { kind: "X", start: starts[s], end: starts[e], score: 0.5 }
                })
                .collect();
            spans.sort_by_key(|s| (s.start, s.end));
            let mut out = Vec::new();
            crate::to_char_offsets(&text, &spans, &mut out);
            proptest::prop_assert_eq!(out.len(), spans.len());
            for (e, s) in out.iter().zip(&spans) {
                proptest::prop_assert_eq!(e.start, text[..s.start].chars().count());
                proptest::prop_assert_eq!(e.end, text[..s.end].chars().count());
            }
        }
    }

    #[test]
    fn packed_scan_holds_runs_up_to_its_limit() {
        let long = "7".repeat(crate::lane::MAX_LEN);
        let f = Features::of(&long);
        assert_eq!(
            (f.longest_digits, f.longest_numeric, f.digits),
            (long.len(), long.len(), long.len())
        );
        let longer = format!("{long}7");
        assert_eq!(
            Features::of(&longer).longest_alnum,
            longer.len(),
            "the long path"
        );
    }

    #[test]
    fn numeric_runs_count_only_with_a_digit() {
        assert_eq!(Features::of("a - - b 12 c").longest_numeric, " 12 ".len());
        assert_eq!(Features::of("(  )").longest_numeric, 0);
        assert_eq!(Features::of("tel 555").longest_numeric, " 555".len());
    }
}
