//! Word lists and a word tokenizer for the PERSON and LOCATION recognizers. The lists are
//! shipped in `data/` (US Census names, GeoNames places; see `data/README.md`), compiled into
//! the binary and loaded into hash sets on first use (about 10 ms, once per process).

use std::collections::HashSet;
use std::sync::LazyLock;

/// A fast, non-cryptographic hash for short words (the sets are built from shipped data, not
/// from input, so hash flooding is not a concern; SipHash was a tenth of detection time).
#[derive(Clone, Copy, Default)]
pub(crate) struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A set of lower-case words.
pub(crate) type WordSet = HashSet<String, std::hash::BuildHasherDefault<WordHasher>>;
/// A set of built-in lower-case words.
pub(crate) type StaticSet = HashSet<&'static str, std::hash::BuildHasherDefault<WordHasher>>;

fn set(text: &'static str) -> WordSet {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Lower-cases ASCII `s` into `buf` (no allocation); `None` if it is not short ASCII.
pub(crate) fn ascii_lower<'b>(s: &str, buf: &'b mut [u8; 32]) -> Option<&'b str> {
    if s.len() > 32 || !s.is_ascii() {
        return None;
    }
    let b = &mut buf[..s.len()];
    b.copy_from_slice(s.as_bytes());
    b.make_ascii_lowercase();
    std::str::from_utf8(b).ok()
}

/// Countries and US states.
pub(crate) static REGIONS: LazyLock<WordSet> =
    LazyLock::new(|| set(include_str!("../data/regions.txt")));
/// Cities of 15,000 people or more.
pub(crate) static CITIES: LazyLock<WordSet> =
    LazyLock::new(|| set(include_str!("../data/cities.txt")));

/// Capitalised words that start sentences, label fields or name things and are never a name on
/// their own (lower case). A run of capitalised words is cut at them.
pub(crate) static STOP: LazyLock<StaticSet> = LazyLock::new(|| {
    [
        "a",
        "about",
        "account",
        "address",
        "after",
        "all",
        "also",
        "an",
        "and",
        "any",
        "api",
        "app",
        "applicant",
        "april",
        "are",
        "as",
        "at",
        "august",
        "auth",
        "bank",
        "be",
        "because",
        "before",
        "best",
        "bill",
        "born",
        "but",
        "by",
        "call",
        "can",
        "card",
        "city",
        "client",
        "contact",
        "country",
        "customer",
        "date",
        "dear",
        "december",
        "do",
        "donations",
        "driver",
        "e-mail",
        "email",
        "error",
        "example",
        "february",
        "file",
        "for",
        "friday",
        "from",
        "good",
        "he",
        "hello",
        "her",
        "hey",
        "hi",
        "his",
        "how",
        "i",
        "iban",
        "if",
        "in",
        "info",
        "invoice",
        "is",
        "it",
        "its",
        "january",
        "july",
        "june",
        "just",
        "license",
        "mail",
        "march",
        "may",
        "monday",
        "my",
        "name",
        "new",
        "nhs",
        "no",
        "not",
        "note",
        "november",
        "now",
        "number",
        "october",
        "of",
        "ok",
        "on",
        "or",
        "order",
        "our",
        "passport",
        "patient",
        "phone",
        "please",
        "profile",
        "reach",
        "re",
        "regards",
        "release",
        "reply",
        "saturday",
        "see",
        "september",
        "she",
        "sincerely",
        "so",
        "ssn",
        "street",
        "subject",
        "sunday",
        "tel",
        "temperature",
        "thank",
        "thanks",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "thursday",
        "to",
        "today",
        "tracking",
        "tuesday",
        "user",
        "visit",
        "warning",
        "we",
        "wednesday",
        "what",
        "when",
        "where",
        "who",
        "why",
        "will",
        "with",
        "yes",
        "you",
        "your",
    ]
    .into_iter()
    .collect()
});

/// Titles that announce a name (compared in lower case, without a trailing dot).
pub(crate) static TITLES: LazyLock<StaticSet> = LazyLock::new(|| {
    [
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "herr", "frau", "hr", "fr",
        "mme", "mlle", "m", "monsieur", "madame", "sr", "sra", "srta", "don", "doña", "sig",
        "sig.ra", "signor", "signora", "dott", "dhr", "mevr", "rev",
    ]
    .into_iter()
    .collect()
});

/// Lower-case particles allowed inside a name (`Ludwig van Beethoven`, `María de la Cruz`).
pub(crate) const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "da", "das", "di", "del", "della", "dos", "du", "la", "le",
    "ten", "ter", "bin", "al", "y",
];

/// A word: letters with inner `-`, `'` or `’` (`O'Brien`, `Stey-Albers`), byte offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub start: usize,
    pub end: usize,
    /// First letter upper case.
    pub cap: bool,
    /// Every letter upper case.
    pub upper: bool,
    /// Han, Hiragana or Katakana.
    pub cjk: bool,
    /// What the lexicon knows of the word ([`flag`] bits), looked up once at tokenisation;
    /// 0 for words that do not start with a capital.
    pub flags: u16,
}

/// Bits of [`Word::flags`].
pub(crate) mod flag {
    /// A Census first name.
    pub const FIRST: u16 = 1;
    /// A Census surname.
    pub const LAST: u16 = 2;
    /// A one-word city.
    pub const CITY: u16 = 4;
    /// A one-word country or US state.
    pub const REGION: u16 = 8;
    /// A stop word.
    pub const STOP: u16 = 16;
    /// A title (`Dr`, `Frau`).
    pub const TITLE: u16 = 32;
    /// The most words of a known place starting with this word, in bits 8..12.
    pub const HEAD_SHIFT: u16 = 8;
}

type Lexicon = std::collections::HashMap<String, u16, std::hash::BuildHasherDefault<WordHasher>>;

/// Every listed word with its [`flag`] bits: one lookup per word instead of one per list.
static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut m = Lexicon::default();
    let mut add = |w: &str, f: u16| *m.entry(w.to_lowercase()).or_default() |= f;
    for w in include_str!("../data/first_names.txt").lines() {
        add(w, flag::FIRST);
    }
    for w in include_str!("../data/last_names.txt").lines() {
        add(w, flag::LAST);
    }
    let mut heads: std::collections::HashMap<String, u16> = std::collections::HashMap::new();
    for (list, f) in [
        (include_str!("../data/cities.txt"), flag::CITY),
        (include_str!("../data/regions.txt"), flag::REGION),
    ] {
        for line in list.lines() {
            let n = line.split([' ', '-']).count();
            if n == 1 {
                add(line, f);
            } else {
                let head = line.split([' ', '-']).next().unwrap_or("").to_lowercase();
                let n = u16::try_from(n.min(15)).unwrap_or(15);
                let e = heads.entry(head).or_default();
                *e = (*e).max(n);
            }
        }
    }
    for (head, n) in heads {
        add(&head, n << flag::HEAD_SHIFT);
    }
    for w in STOP.iter() {
        add(w, flag::STOP);
    }
    for w in TITLES.iter() {
        add(w, flag::TITLE);
    }
    m
});

/// The lexicon bits of one word.
pub(crate) fn flags_of(s: &str) -> u16 {
    let mut buf = [0u8; 32];
    match ascii_lower(s, &mut buf) {
        Some(k) => LEXICON.get(k).copied().unwrap_or(0),
        None if s.len() <= 64 => LEXICON.get(&s.to_lowercase()).copied().unwrap_or(0),
        None => 0,
    }
}

/// 0 for other scripts, 1 Han, 2 Hiragana, 3 Katakana: a word never spans two classes, so
/// `私は佐藤` splits into `私`, `は`, `佐藤`.
fn cjk_class(c: char) -> u8 {
    match c as u32 {
        0x3040..=0x309F => 2,
        0x30A0..=0x30FF => 3,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF => 1,
        _ => 0,
    }
}

/// Splits `text` into words.
pub(crate) fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::with_capacity(text.len() / 6 + 1);
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if !c.is_alphabetic() {
            continue;
        }
        let class = cjk_class(c);
        let cjk = class != 0;
        let cap = c.is_uppercase();
        let mut upper = cap;
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = it.peek() {
            if d.is_alphabetic() && cjk_class(d) == class {
                upper &= !d.is_lowercase();
                end = j + d.len_utf8();
                it.next();
            } else if matches!(d, '-' | '\'' | '’') && !cjk {
                // Only inside a word: the next character must be a letter.
                let mut look = it.clone();
                look.next();
                match look.peek() {
                    Some(&(_, e)) if e.is_alphabetic() && cjk_class(e) == 0 => {
                        it.next();
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        out.push(Word {
            start: i,
            end,
            cap,
            upper,
            cjk,
            // Only capitalised words start or continue names and places; the rest need no
            // lookup (particles and inner words are compared as strings).
            flags: if cjk || !cap {
                0
            } else {
                flags_of(&text[i..end])
            },
        });
    }
    out
}

/// Whether `s` (any case) is in `set`, without allocating for ASCII input up to 32 bytes.
pub(crate) fn contains(set: &WordSet, s: &str) -> bool {
    let mut buf = [0u8; 32];
    match ascii_lower(s, &mut buf) {
        Some(k) => set.contains(k),
        None => set.contains(&s.to_lowercase()),
    }
}

/// The record being analysed on this thread: its address and length, and its words once a
/// recognizer asked for them. Set only for the duration of one [`crate::Analyzer::spans`] call,
/// during which the text cannot change, so PERSON and LOCATION share one tokenisation without
/// copying or comparing the text.
struct Scope {
    ptr: usize,
    len: usize,
    words: Option<Vec<Word>>,
}

thread_local! {
    static SCOPE: std::cell::RefCell<Option<Scope>> = const { std::cell::RefCell::new(None) };
}

/// Ends the scope even if a recognizer panics.
pub(crate) struct ScopeGuard(());

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SCOPE.with(|s| *s.borrow_mut() = None);
    }
}

/// Opens the analysis scope of `text` (see [`words_cached`]).
pub(crate) fn analysis_scope(text: &str) -> ScopeGuard {
    SCOPE.with(|s| {
        *s.borrow_mut() = Some(Scope {
            ptr: text.as_ptr() as usize,
            len: text.len(),
            words: None,
        });
    });
    ScopeGuard(())
}

/// [`words`] of `text`, computed once per analysis scope; outside a scope (or for another
/// text) computed afresh.
pub(crate) fn words_cached(text: &str) -> Vec<Word> {
    SCOPE.with(|s| {
        let mut s = s.borrow_mut();
        match s.as_mut() {
            Some(sc) if sc.ptr == text.as_ptr() as usize && sc.len == text.len() => {
                sc.words.get_or_insert_with(|| words(text)).clone()
            }
            _ => words(text),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_inner_hyphens_and_apostrophes() {
        let t = "Dear O'Brien-Smith, it's 佐藤 陽子 - ok";
        let w: Vec<&str> = words(t).iter().map(|w| &t[w.start..w.end]).collect();
        assert_eq!(w, ["Dear", "O'Brien-Smith", "it's", "佐藤", "陽子", "ok"]);
        assert!(words(t)[3].cjk && !words(t)[1].upper);
    }

    #[test]
    fn lists_load_and_look_up_in_any_case() {
        assert_ne!(flags_of("smith") & flag::LAST, 0);
        assert!(contains(&REGIONS, "Germany") && contains(&CITIES, "São Paulo"));
        assert!(!contains(&CITIES, "Qwertyville"));
        assert!(flags_of("The") & flag::STOP != 0 && flags_of("DR") & flag::TITLE != 0);
        assert!(flags_of("new") >> flag::HEAD_SHIFT >= 3);
        assert_eq!(
            flags_of("JAMES") & (flag::FIRST | flag::LAST),
            flag::FIRST | flag::LAST
        );
        assert_ne!(flags_of("germany") & flag::REGION, 0);
    }

    #[test]
    fn cached_words_never_go_stale() {
        let a = String::from("Anna Lee in Paris");
        {
            let _scope = analysis_scope(&a);
            assert_eq!(words_cached(&a), words(&a));
            assert_eq!(words_cached(&a), words(&a), "second call, from the cache");
            let b = String::from("Bob Stone at Rome");
            assert_eq!(words_cached(&b), words(&b), "another text in the scope");
        }
        // The scope is over: a new text at the same address is tokenised afresh.
        let mut c = a;
        c.replace_range(0..4, "Dora");
        assert_eq!(words_cached(&c), words(&c));
    }
}
