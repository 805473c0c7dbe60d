//! Context scoring: words near a candidate (30 characters either side) or in its column name /
//! JSON path raise its score, as Presidio does (+0.35, and at least 0.4) but on both sides, in
//! several languages, and structure-aware; negative words (version, order, invoice, sha…) lower it.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::Candidate;

/// How far around a span context words are looked for, in bytes (about 30 characters).
const WINDOW: usize = 32;
const BOOST: f32 = 0.35;
const FLOOR_WITH_CONTEXT: f32 = 0.4;
const PENALTY: f32 = 0.3;

fn words(kind: &str) -> &'static [&'static str] {
    match kind {
        "PHONE_NUMBER" => &[
            "phone",
            "tel",
            "mobile",
            "cell",
            "call",
            "fax",
            "whatsapp",
            "téléphone",
            "telefon",
            "teléfono",
            "telefone",
            "電話",
        ],
        "US_SSN" => &["ssn", "social security", "social sec"],
        "US_PASSPORT" => &["passport", "passeport", "reisepass", "pasaporte"],
        "US_DRIVER_LICENSE" => &["driver", "driving", "licence", "license", "dl#", "dl no"],
        "US_BANK_NUMBER" => &["account", "acct", "bank", "routing", "checking", "savings"],
        "UK_NHS" => &["nhs", "national health", "health service"],
        "CREDIT_CARD" => &[
            "card",
            "visa",
            "mastercard",
            "amex",
            "cc",
            "credit",
            "payment",
            "carte",
            "karte",
            "tarjeta",
        ],
        "IBAN_CODE" => &["iban", "bank", "account", "konto", "compte", "cuenta"],
        "IP_ADDRESS" => &["ip", "addr", "host", "client", "server", "remote"],
        "DATE_TIME" => &["date", "born", "dob", "birth", "time", "at", "on"],
        "MEDICAL_LICENSE" => &["dea", "license", "medical", "prescriber"],
        "CRYPTO" => &[
            "wallet", "btc", "bitcoin", "eth", "ethereum", "address", "crypto",
        ],
        "SECRET_AWS_SECRET_KEY" | "SECRET_GENERIC" => {
            &["secret", "key", "token", "password", "passwd", "credential"]
        }
        "PERSON" => &[
            "name",
            "names",
            "contact",
            "customer",
            "patient",
            "dear",
            "applicant",
            "employee",
            "user",
            "client",
            "author",
            "signed",
            "sincerely",
            "regards",
            "it's",
            "i'm",
            "i am",
            "holder",
            "owner",
            "manager",
            "nombre",
            "nom",
            "prénom",
            "vorname",
            "nachname",
            "nome",
            "cognome",
            "naam",
            "私は",
            "氏名",
            "名前",
            "姓名",
            "hallo",
            "bonjour",
            "hola",
            "ciao",
        ],
        "LOCATION" => &[
            "city",
            "town",
            "country",
            "state",
            "address",
            "located",
            "lives",
            "live",
            "living",
            "moved",
            "born",
            "from",
            "in",
            "near",
            "resident",
            "region",
            "province",
            "ville",
            "stadt",
            "ciudad",
            "città",
            "cidade",
            "pays",
            "país",
            "wohnort",
            "residence",
            "headquarters",
            "visit",
            "travel",
            "location",
            "place",
        ],
        _ => &[],
    }
}

fn negative(kind: &str) -> &'static [&'static str] {
    match kind {
        "PHONE_NUMBER" | "US_BANK_NUMBER" | "US_PASSPORT" | "US_DRIVER_LICENSE" | "UK_NHS"
        | "US_SSN" | "CREDIT_CARD" => &[
            "order", "invoice", "isbn", "version", "build", "commit", "sha", "serial", "tracking",
            "trace", "ticket", "po #", "sku",
        ],
        "IP_ADDRESS" | "DATE_TIME" => &["version", "v.", "build", "release"],
        _ => &[],
    }
}

/// The text within [`WINDOW`] bytes before and after a span (snapped to character boundaries).
fn window(text: &str, start: usize, end: usize) -> (&str, &str) {
    let mut a = start.saturating_sub(WINDOW);
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (end + WINDOW).min(text.len());
    while !text.is_char_boundary(b) {
        b += 1;
    }
    (&text[a..start], &text[end..b])
}

/// One case-insensitive automaton per word list, built on first use.
struct Lists {
    pos: Vec<Option<AhoCorasick>>,
    neg: Vec<Option<AhoCorasick>>,
}

const KINDS: &[&str] = &[
    "PHONE_NUMBER",
    "US_SSN",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "US_BANK_NUMBER",
    "UK_NHS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "DATE_TIME",
    "MEDICAL_LICENSE",
    "CRYPTO",
    "SECRET_AWS_SECRET_KEY",
    "SECRET_GENERIC",
    "PERSON",
    "LOCATION",
];

fn build(list: &[&str]) -> Option<AhoCorasick> {
    if list.is_empty() {
        return None;
    }
    // A full DFA without a prefilter: windows and cells are short (see `Analyzer::new`).
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .prefilter(false)
        .build(list)
        .ok()
}

static LISTS: LazyLock<Lists> = LazyLock::new(|| Lists {
    pos: KINDS.iter().map(|k| build(words(k))).collect(),
    neg: KINDS.iter().map(|k| build(negative(k))).collect(),
});

/// Does any word of `ac` occur in `hay` as a whole word?
fn any_word(ac: &AhoCorasick, hay: &str) -> bool {
    ac.find_overlapping_iter(hay).any(|m| {
        let ok_before = hay[..m.start()]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let ok_after = hay[m.end()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        // A word that itself ends in punctuation (`dl#`) needs no boundary after it.
        ok_before && (ok_after || !hay[..m.end()].ends_with(char::is_alphanumeric))
    })
}

/// One automaton over every type's positive words, and the type (index into `KINDS`) of each.
static ALL_WORDS: LazyLock<Option<(AhoCorasick, Vec<usize>)>> = LazyLock::new(|| {
    let mut pats = Vec::new();
    let mut kinds = Vec::new();
    for (i, k) in KINDS.iter().enumerate() {
        for w in words(k) {
            pats.push(*w);
            kinds.push(i);
        }
    }
    build(&pats).map(|ac| (ac, kinds))
});

/// The bit of an entity type in [`present`]'s mask (`None` for types without context words).
pub fn kind_bit(kind: &str) -> Option<u64> {
    kind_index(kind).map(|i| 1 << i)
}

/// Which types have a positive context word anywhere in `text` or in `field`, as a bit mask of
/// [`kind_bit`]s. A superset of what [`adjust`] can find in its window, so a recognizer whose
/// candidates need context can be skipped when its type's bit is clear.
pub fn present(text: &str, field: Option<&str>) -> u64 {
    std::iter::once(text)
        .chain(field)
        .fold(0, |mask, hay| mask | present_in(hay))
}

/// Index of `kind` in [`KINDS`].
fn kind_index(kind: &str) -> Option<usize> {
    Some(match kind {
        "PHONE_NUMBER" => 0,
        "US_SSN" => 1,
        "US_PASSPORT" => 2,
        "US_DRIVER_LICENSE" => 3,
        "US_BANK_NUMBER" => 4,
        "UK_NHS" => 5,
        "CREDIT_CARD" => 6,
        "IBAN_CODE" => 7,
        "IP_ADDRESS" => 8,
        "DATE_TIME" => 9,
        "MEDICAL_LICENSE" => 10,
        "CRYPTO" => 11,
        "SECRET_AWS_SECRET_KEY" => 12,
        "SECRET_GENERIC" => 13,
        "PERSON" => 14,
        "LOCATION" => 15,
        _ => return None,
    })
}

/// What a field name (CSV column, JSON path) contributes as context, computed once per field
/// instead of once per cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldWords {
    /// [`present`]'s bits for the field alone.
    present: u64,
    /// Bit `i`: the field holds a whole positive word of `KINDS[i]` (what [`adjust`] checks).
    hits: u64,
}

impl FieldWords {
    /// Scans `field` once.
    pub fn of(field: Option<&str>) -> Self {
        let Some(field) = field else {
            return Self::default();
        };
        let mut hits = 0;
        for (i, ac) in LISTS.pos.iter().enumerate() {
            if ac.as_ref().is_some_and(|ac| any_word(ac, field)) {
                hits |= 1 << i;
            }
        }
        Self {
            present: present_in(field),
            hits,
        }
    }
}

/// [`present`] for one haystack.
fn present_in(hay: &str) -> u64 {
    let Some((ac, kinds)) = &*ALL_WORDS else {
        return u64::MAX;
    };
    let mut mask = 0u64;
    for m in ac.find_overlapping_iter(hay) {
        let before = hay[..m.start()]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        if before {
            mask |= 1 << kinds[m.pattern().as_usize()];
        }
    }
    mask
}

/// [`present`] with the field's part computed beforehand. `features` are the text's: every
/// context word starts with a letter (a unit test checks), so a text with neither an ASCII
/// letter nor a non-ASCII character (a phone number, an amount, a date) holds none and is not
/// searched.
pub(crate) fn present_with(text: &str, field: &FieldWords, features: &crate::Features) -> u64 {
    let in_text = if features.ascii_alpha > 0 || features.non_ascii() {
        present_in(text)
    } else {
        0
    };
    in_text | field.present
}

/// The candidate's score after context.
pub fn adjust(c: &Candidate, text: &str, field: Option<&str>) -> f32 {
    adjust_with(c, text, &FieldWords::of(field))
}

/// [`adjust`] with the field's words found beforehand.
pub(crate) fn adjust_with(c: &Candidate, text: &str, field: &FieldWords) -> f32 {
    let Some(i) = kind_index(c.kind) else {
        return c.score;
    };
    let (before, after) = window(text, c.start, c.end);
    let mut score = c.score;
    // A cell that is all entity has empty windows: no search needed there.
    if let Some(ac) = &LISTS.pos[i]
        && (field.hits & (1 << i) != 0
            || (!before.is_empty() && any_word(ac, before))
            || (!after.is_empty() && any_word(ac, after)))
    {
        score = (score + BOOST).clamp(FLOOR_WITH_CONTEXT, 1.0);
    }
    if let Some(ac) = &LISTS.neg[i]
        && !before.is_empty()
        && any_word(ac, before)
    {
        score = (score - PENALTY).max(0.0);
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`present_with`] skips texts without letters: that is sound only while every context
    /// word starts with a letter (ASCII, or a non-ASCII one such as `電`).
    #[test]
    fn every_context_word_starts_with_a_letter() {
        for k in KINDS {
            for w in words(k) {
                let first = w.chars().next();
                assert!(
                    first.is_some_and(|c| c.is_ascii_alphabetic() || !c.is_ascii()),
                    "{k}: {w:?}"
                );
            }
        }
    }

    #[test]
    fn present_marks_types_with_context_anywhere() {
        let m = present("card 4111, passport 123", Some("phone"));
        for k in ["CREDIT_CARD", "US_PASSPORT", "PHONE_NUMBER"] {
            assert_ne!(m & kind_bit(k).unwrap(), 0, "{k}");
        }
        assert_eq!(m & kind_bit("US_BANK_NUMBER").unwrap(), 0);
        assert_eq!(kind_bit("EMAIL_ADDRESS"), None);
    }

    #[test]
    fn kind_indices_follow_the_list() {
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(kind_index(k), Some(i), "{k}");
        }
        assert_eq!(kind_index("EMAIL_ADDRESS"), None);
    }

    #[test]
    fn field_words_give_what_a_per_cell_search_gives() {
        let c = Candidate {
            kind: "PHONE_NUMBER",
            start: 0,
            end: 10,
            score: 0.3,
            validated: false,
        };
        for field in [
            None,
            Some("phone"),
            Some("telephone"),
            Some("contact.phone"),
            Some("x"),
        ] {
            let fw = FieldWords::of(field);
            assert_eq!(
                adjust_with(&c, "2025550147", &fw).to_bits(),
                adjust(&c, "2025550147", field).to_bits(),
                "{field:?}"
            );
            for text in ["call me", "+44 20 7946 0958", "", "téléphone", "電話 12"] {
                assert_eq!(
                    present_with(text, &fw, &crate::Features::of(text)),
                    present(text, field),
                    "{text:?} {field:?}"
                );
            }
        }
        assert_ne!(FieldWords::of(Some("phone")).hits, 0);
        assert_eq!(
            FieldWords::of(Some("telephone")).hits & 1,
            0,
            "whole words only"
        );
    }

    #[test]
    fn words_match_whole_words() {
        let one = |w: &str| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build([w])
                .unwrap()
        };
        assert!(any_word(&one("ssn"), "my ssn: "));
        assert!(!any_word(&one("at"), "the data was"));
        assert!(any_word(&one("at"), "born at noon"));
        assert!(any_word(&one("電話"), "電話 "));
    }
}
