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

/// A set of built-in lower-case words.
pub(crate) type StaticSet = HashSet<&'static str, std::hash::BuildHasherDefault<WordHasher>>;

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

/// Bits of [`place_flags`].
pub(crate) mod place {
    /// A city of 15,000 people or more.
    pub const CITY: u8 = 1;
    /// A country or US state.
    pub const REGION: u8 = 2;
}

/// Every listed place name, one word or several (by [`word_hash`] of its lower-case form), with
/// its [`place`] bits.
static PLACES: LazyLock<HashIndex> = LazyLock::new(|| HashIndex::new(&place_entries()));

/// [`PLACES`]'s entries.
fn place_entries() -> std::collections::HashMap<u64, u16> {
    let mut m = std::collections::HashMap::<u64, u16>::new();
    for (list, bit) in [
        (include_str!("../data/cities.txt"), place::CITY),
        (include_str!("../data/regions.txt"), place::REGION),
    ] {
        for line in list.lines().filter(|l| !l.is_empty()) {
            *m.entry(word_hash(line.to_lowercase().as_bytes()))
                .or_default() |= u16::from(bit);
        }
    }
    m
}

/// The [`place`] bits of `s` (any case): whether it is a listed city or region.
pub(crate) fn place_flags(s: &str) -> u8 {
    // Only place bits are stored.
    PLACES.get(lower_hash(s)) as u8
}

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
    /// Which short lists hold the word ([`list`] bits).
    pub lists: u8,
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

/// A 64-bit hash of a lower-case word: the lexicon's key (the words themselves are not kept, so
/// a lookup touches one table slot instead of also chasing a pointer to the key). Two different
/// words share a hash with probability about 2^-64 per pair; a collision could only make an
/// unlisted word look listed (a false PERSON/LOCATION cue), never hide a listed one, and a test
/// checks the shipped lists have none among themselves.
pub(crate) fn word_hash(lc: &[u8]) -> u64 {
    hash_chunks(lc, |x| x)
}

/// [`word_hash`] of the lower-case form of ASCII `s`, lower-casing eight bytes at a time (no
/// copy).
fn ascii_word_hash(s: &[u8]) -> u64 {
    hash_chunks(s, ascii_lower_word)
}

/// Bytes `A`-`Z` of `x` (eight bytes, each below 0x80) to lower case, the others unchanged: a
/// byte gets its 0x20 bit where adding 0x3f reaches 0x80 (it is at least `A`) and adding 0x25
/// does not (it is at most `Z`). No carry crosses a byte: each sum stays below 0x100.
#[inline]
fn ascii_lower_word(x: u64) -> u64 {
    const EACH: u64 = 0x0101_0101_0101_0101;
    let at_least_a = x + 0x3f * EACH;
    let past_z = x + 0x25 * EACH;
    x | ((at_least_a & !past_z & (0x80 * EACH)) >> 2)
}

/// Up to eight bytes as a little-endian `u64`, zero-padded.
#[inline]
fn load_le(chunk: &[u8]) -> u64 {
    if let Ok(whole) = <[u8; 8]>::try_from(chunk) {
        return u64::from_le_bytes(whole);
    }
    chunk
        .iter()
        .enumerate()
        .fold(0, |v, (k, &c)| v | u64::from(c) << (8 * k))
}

/// The hash of [`word_hash`] over `s`, each eight-byte chunk (little-endian, zero-padded) passed
/// through `map` first.
#[inline]
fn hash_chunks(s: &[u8], map: impl Fn(u64) -> u64) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64 ^ (s.len() as u64).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    for chunk in s.chunks(8) {
        h = (h ^ map(load_le(chunk))).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^= h >> 29;
    }
    // MurmurHash3's finaliser: every input bit reaches every output bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Values by [`word_hash`] in one flat open-addressing table: each slot a `u64` holding the
/// hash's top 48 bits and a 16-bit value (0 = empty; stored values are never 0), probed linearly
/// from the slot the hash's low bits name. A lookup touches one cache line where a general map
/// reads a control group and then a bucket. It compares 48 bits: an unlisted word matches a
/// slot it probes with probability 2^-48 (a false cue at worst, as for [`word_hash`]), and a
/// test checks no two listed words share their top 48 bits.
pub(crate) struct HashIndex {
    slots: Vec<u64>,
    mask: usize,
}

impl HashIndex {
    /// The table of `entries` (values of 0 are left out: they mean "not listed"), at most half
    /// full.
    fn new(entries: &std::collections::HashMap<u64, u16>) -> Self {
        let len = (entries.len() * 2).next_power_of_two().max(16);
        let mask = len - 1;
        let mut slots = vec![0u64; len];
        for (&hash, &value) in entries.iter().filter(|(_, v)| **v != 0) {
            let mut i = hash as usize & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = (hash & !0xffff) | u64::from(value);
        }
        Self { slots, mask }
    }

    /// The value stored for `hash`, 0 if none.
    #[inline]
    fn get(&self, hash: u64) -> u16 {
        let mut i = hash as usize & self.mask;
        // At most half full: an empty slot always ends the probe.
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return 0;
            }
            if (slot ^ hash) >> 16 == 0 {
                return slot as u16;
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Every listed word (by [`word_hash`] of its lower-case form) with its [`flag`] bits: one
/// lookup per word instead of one per list.
static LEXICON: LazyLock<HashIndex> = LazyLock::new(|| HashIndex::new(&lexicon_entries()));

/// [`LEXICON`]'s entries.
fn lexicon_entries() -> std::collections::HashMap<u64, u16> {
    let mut m = std::collections::HashMap::<u64, u16>::new();
    let mut add =
        |w: &str, f: u16| *m.entry(word_hash(w.to_lowercase().as_bytes())).or_default() |= f;
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
}

/// [`word_hash`] of `s.to_lowercase()`, in a stack buffer when it fits.
fn lower_hash(s: &str) -> u64 {
    if s.is_ascii() {
        return ascii_word_hash(s.as_bytes());
    }
    // Character by character equals `str::to_lowercase` except for a final capital sigma,
    // which that maps by context.
    let mut buf = [0u8; 128];
    let mut len = 0;
    if !s.contains('Σ') {
        // ASCII characters (most of an accented name) skip the case tables.
        let mut put = |c: char| {
            let n = c.len_utf8();
            if len + n > buf.len() {
                len = usize::MAX;
                return false;
            }
            c.encode_utf8(&mut buf[len..]);
            len += n;
            true
        };
        for c in s.chars() {
            let fits = if c.is_ascii() {
                put(c.to_ascii_lowercase())
            } else {
                c.to_lowercase().all(&mut put)
            };
            if !fits {
                break;
            }
        }
        if let Some(lower) = buf.get(..len) {
            return word_hash(lower);
        }
    }
    word_hash(s.to_lowercase().as_bytes())
}

/// The lexicon bits of one word.
pub(crate) fn flags_of(s: &str) -> u16 {
    if s.len() > 64 && !s.is_ascii() {
        return 0;
    }
    LEXICON.get(lower_hash(s))
}

/// Bits of [`Word::lists`]: membership in the short lists of name and place words.
pub(crate) mod list {
    /// A name particle, any case (`van`, `De`).
    pub const PARTICLE: u8 = 1;
    /// A name particle written in lower case exactly as listed.
    pub const PARTICLE_EXACT: u8 = 2;
    /// A word after a name that belongs to it (`Jr`, `PhD`).
    pub const NAME_SUFFIX: u8 = 4;
    /// A word that makes a run an organisation (`Inc`, `University`).
    pub const ORG: u8 = 8;
    /// A first word of place names, not of person names (`Port`, `South`).
    pub const PLACE_START: u8 = 16;
    /// A first word of place names for LOCATION (`North`, `Santa`, `El`).
    pub const PLACE_PREFIX: u8 = 32;
    /// A lower-case word allowed inside a place name, exactly as listed (`de`, `upon`).
    pub const INNER_EXACT: u8 = 64;
}

/// Lower-case particles allowed inside a name (`Ludwig van Beethoven`, `María de la Cruz`).
pub(crate) const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "da", "das", "di", "del", "della", "dos", "du", "la", "le",
    "ten", "ter", "bin", "al", "y",
];
/// Words after a name that belong to it.
pub(crate) const NAME_SUFFIXES: &[&str] = &[
    "jr", "sr", "ii", "iii", "iv", "md", "phd", "dds", "dvm", "esq", "mba", "b.sc", "m.sc",
];
/// Words that make a run an organisation, not a person.
pub(crate) const ORG: &[&str] = &[
    "inc",
    "corp",
    "ltd",
    "llc",
    "gmbh",
    "ag",
    "plc",
    "group",
    "bank",
    "university",
    "company",
    "co",
    "kg",
    "sarl",
    "spa",
    "bv",
    "foundation",
    "institute",
    "hospital",
    "school",
];
/// First words of place names, not of person names (`Port Shannon`, `South Georgia`).
pub(crate) const PLACE_START: &[&str] = &[
    "port", "fort", "lake", "mount", "north", "south", "east", "west", "new", "san", "santa",
    "los", "las", "bad", "sankt", "st",
];
/// First words of place names (LOCATION).
pub(crate) const PLACE_PREFIX: &[&str] = &[
    "north", "south", "east", "west", "new", "lake", "port", "fort", "mount", "saint", "st", "bad",
    "sankt", "san", "santa", "los", "las", "el", "le", "la",
];
/// Lower-case words allowed inside a place name (`Rio de Janeiro`, `Stratford-upon-Avon`).
pub(crate) const INNER: &[&str] = &[
    "de", "do", "da", "of", "on", "am", "an", "der", "sur", "en", "la", "del", "and", "the",
];

/// The short lists by lower-case word, with the [`list`] bits each word has.
static SHORT_LISTS: LazyLock<
    std::collections::HashMap<&'static str, u8, std::hash::BuildHasherDefault<WordHasher>>,
> = LazyLock::new(|| {
    let mut m = std::collections::HashMap::default();
    for (words, bits) in [
        (PARTICLES, list::PARTICLE | list::PARTICLE_EXACT),
        (NAME_SUFFIXES, list::NAME_SUFFIX),
        (ORG, list::ORG),
        (PLACE_START, list::PLACE_START),
        (PLACE_PREFIX, list::PLACE_PREFIX),
        (INNER, list::INNER_EXACT),
    ] {
        for w in words {
            *m.entry(*w).or_default() |= bits;
        }
    }
    m
});

/// Per word length (up to 10), the first letters (bit `c - b'a'`) of short-list words: most
/// words are ruled out by one lookup, without hashing.
static SHORT_FIRST: LazyLock<[u32; 11]> = LazyLock::new(|| {
    let mut t = [0u32; 11];
    for w in SHORT_LISTS.keys() {
        if let (Some(slot), Some(&c)) = (t.get_mut(w.len()), w.as_bytes().first())
            && c.is_ascii_lowercase()
        {
            *slot |= 1 << (c - b'a');
        }
    }
    t
});

/// The [`list`] bits of a word: the `*_EXACT` bits only when it is written as listed (lower
/// case), the others in any ASCII case.
pub(crate) fn list_bits(s: &str) -> u8 {
    let Some(&first) = s.as_bytes().first() else {
        return 0;
    };
    let first = first.to_ascii_lowercase();
    // Longer than every listed word (`university`, `foundation`), or no listed word of this
    // length starts with this letter.
    if s.len() > 10
        || !first.is_ascii_lowercase()
        || SHORT_FIRST[s.len()] & (1 << (first - b'a')) == 0
    {
        return 0;
    }
    if !s.is_ascii() {
        return 0;
    }
    // One probe of the flat table by the lower-case form's hash (no copy, no general map).
    let bits = SHORT_INDEX.get(ascii_word_hash(s.as_bytes())) as u8;
    if bits == 0 || !s.bytes().any(|b| b.is_ascii_uppercase()) {
        bits
    } else {
        bits & !(list::PARTICLE_EXACT | list::INNER_EXACT)
    }
}

/// [`SHORT_LISTS`] by [`word_hash`], as one flat table (see [`HashIndex`]).
static SHORT_INDEX: LazyLock<HashIndex> = LazyLock::new(|| {
    HashIndex::new(
        &SHORT_LISTS
            .iter()
            .map(|(w, &b)| (word_hash(w.as_bytes()), u16::from(b)))
            .collect(),
    )
});

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
    words_into(text, &mut out);
    out
}

/// Splits `text` into words, replacing the contents of `out`.
pub(crate) fn words_into(text: &str, out: &mut Vec<Word>) {
    out.clear();
    if text.is_ascii() {
        ascii_words_into(text, out);
    } else {
        unicode_words_into(text, out);
    }
}

/// [`words_into`] for any text, by characters.
fn unicode_words_into(text: &str, out: &mut Vec<Word>) {
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
            lists: if cjk { 0 } else { list_bits(&text[i..end]) },
        });
    }
}

/// [`words_into`] for ASCII text: the same words, by bytes instead of characters.
fn ascii_words_into(text: &str, out: &mut Vec<Word>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        let cap = b[i].is_ascii_uppercase();
        let mut upper = cap;
        i += 1;
        while i < b.len() {
            if b[i].is_ascii_alphabetic() {
                upper &= !b[i].is_ascii_lowercase();
                i += 1;
            } else if matches!(b[i], b'-' | b'\'')
                && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
            {
                // Only inside a word: the next character must be a letter.
                i += 1;
            } else {
                break;
            }
        }
        let w = &text[start..i];
        out.push(Word {
            start,
            end: i,
            cap,
            upper,
            cjk: false,
            // ASCII already: straight to the ASCII hash (what `flags_of` would pick).
            flags: if cap {
                LEXICON.get(ascii_word_hash(w.as_bytes()))
            } else {
                0
            },
            lists: list_bits(w),
        });
    }
}

/// The record being analysed on this thread: its address and length, and its words once a
/// recognizer asked for them. Set only for the duration of one [`crate::Analyzer::spans`] call,
/// during which the text cannot change, so PERSON and LOCATION share one tokenisation without
/// copying or comparing the text. The word buffer is kept between records (no allocation per
/// record).
#[derive(Default)]
struct Scope {
    ptr: usize,
    len: usize,
    open: bool,
    ready: bool,
    words: Vec<Word>,
}

thread_local! {
    static SCOPE: std::cell::RefCell<Scope> = std::cell::RefCell::new(Scope::default());
}

/// Ends the scope even if a recognizer panics.
pub(crate) struct ScopeGuard(());

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SCOPE.with(|s| {
            let mut s = s.borrow_mut();
            s.open = false;
            s.ready = false;
        });
    }
}

/// Opens the analysis scope of `text` (see [`with_words`]).
pub(crate) fn analysis_scope(text: &str) -> ScopeGuard {
    SCOPE.with(|s| {
        let mut s = s.borrow_mut();
        s.ptr = text.as_ptr() as usize;
        s.len = text.len();
        s.open = true;
        s.ready = false;
    });
    ScopeGuard(())
}

/// Calls `f` with [`words`] of `text`, computed once per analysis scope; outside a scope (or
/// for another text, or re-entered) computed afresh.
pub(crate) fn with_words<R>(text: &str, f: impl FnOnce(&[Word]) -> R) -> R {
    SCOPE.with(|s| {
        let Ok(mut sc) = s.try_borrow_mut() else {
            return f(&words(text));
        };
        if !(sc.open && sc.ptr == text.as_ptr() as usize && sc.len == text.len()) {
            drop(sc);
            return f(&words(text));
        }
        if !sc.ready {
            let mut buf = std::mem::take(&mut sc.words);
            words_into(text, &mut buf);
            sc.words = buf;
            sc.ready = true;
        }
        f(&sc.words)
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
    fn ascii_words_match_the_unicode_tokenizer() {
        for t in [
            "Dear O'Brien-Smith, it's - ok",
            "a-b -c d- 'e' f''g h--i J' K-",
            "MR. JOHN doe-SMITH van der Berg De la Cruz",
            "",
            "x",
            "123 Main St., Port Shannon Inc",
        ] {
            let (mut fast, mut general) = (Vec::new(), Vec::new());
            ascii_words_into(t, &mut fast);
            unicode_words_into(t, &mut general);
            assert_eq!(fast, general, "{t}");
        }
    }

    #[test]
    fn lists_load_and_look_up_in_any_case() {
        assert_ne!(flags_of("smith") & flag::LAST, 0);
        assert_eq!(place_flags("Germany"), place::REGION);
        assert_eq!(place_flags("SÃO PAULO") & place::CITY, place::CITY);
        assert_eq!(place_flags("new york city") & place::CITY, place::CITY);
        assert_eq!(place_flags("Qwertyville"), 0);
        assert!(flags_of("The") & flag::STOP != 0 && flags_of("DR") & flag::TITLE != 0);
        assert!(flags_of("new") >> flag::HEAD_SHIFT >= 3);
        assert_eq!(
            flags_of("JAMES") & (flag::FIRST | flag::LAST),
            flag::FIRST | flag::LAST
        );
        assert_ne!(flags_of("germany") & flag::REGION, 0);
    }

    #[test]
    fn lexicon_hashes_do_not_collide() {
        let mut seen = std::collections::HashMap::new();
        for list in [
            include_str!("../data/first_names.txt"),
            include_str!("../data/last_names.txt"),
            include_str!("../data/cities.txt"),
            include_str!("../data/regions.txt"),
        ] {
            for w in list
                .lines()
                .flat_map(|l| std::iter::once(l).chain(l.split([' ', '-'])))
            {
                let lc = w.to_lowercase();
                let prev = seen.insert(word_hash(lc.as_bytes()), lc.clone());
                assert!(
                    prev.as_ref().is_none_or(|p| *p == lc),
                    "{lc} and {prev:?} share a hash"
                );
            }
        }
        assert!(seen.len() > 60_000);
        // Place names, whole, among themselves.
        let mut places = std::collections::HashMap::new();
        for list in [
            include_str!("../data/cities.txt"),
            include_str!("../data/regions.txt"),
        ] {
            for l in list.lines().filter(|l| !l.is_empty()) {
                let lc = l.to_lowercase();
                let prev = places.insert(word_hash(lc.as_bytes()), lc.clone());
                assert!(prev.as_ref().is_none_or(|p| *p == lc), "{lc} and {prev:?}");
            }
        }
    }

    #[test]
    fn flat_tables_hold_every_entry_and_nothing_else() {
        for (entries, table) in [(lexicon_entries(), &*LEXICON), (place_entries(), &*PLACES)] {
            // Distinct top 48 bits, so no listed word can answer for another.
            let tags: HashSet<u64> = entries.keys().map(|h| h >> 16).collect();
            assert_eq!(tags.len(), entries.len());
            for (&h, &v) in &entries {
                assert_eq!(table.get(h), v);
            }
            // Unlisted hashes (the listed ones with a bit of the tag flipped) find nothing.
            let missing = entries
                .keys()
                .map(|h| h ^ (1 << 40))
                .filter(|h| !tags.contains(&(h >> 16)))
                .take(10_000);
            for h in missing {
                assert_eq!(table.get(h), 0, "{h:x}");
            }
        }
        // Sparse enough that every probe meets an empty slot.
        assert!(LEXICON.slots.len() >= 2 * lexicon_entries().len());
        let small = HashIndex::new(&[(5u64 << 16 | 3, 7u16), (9, 0)].into_iter().collect());
        assert_eq!(
            (small.get(5 << 16 | 3), small.get(9), small.get(3)),
            (7, 0, 0)
        );
    }

    #[test]
    fn eight_byte_lower_casing_equals_the_byte_by_byte_one() {
        // Every ASCII byte in every position, and mixed words.
        for b in 0u8..0x80 {
            for k in 0..8 {
                let x = u64::from(b) << (8 * k) | 0x4141_4141_4141_4141 & !(0xff << (8 * k));
                let want = u64::from_le_bytes(x.to_le_bytes().map(|c| c.to_ascii_lowercase()));
                assert_eq!(ascii_lower_word(x), want, "byte {b:#x} at {k}");
            }
        }
        assert_eq!(load_le(b"abc"), 0x63_62_61);
        assert_eq!(load_le(b"abcdefgh"), u64::from_le_bytes(*b"abcdefgh"));
    }

    proptest::proptest! {
        /// The hash of any word's lower-case form, however it is computed (ASCII fast path,
        /// character tables, the final-sigma fallback), is the hash of `str::to_lowercase`.
        #[test]
        fn lower_hashes_equal_hashes_of_to_lowercase(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "Z", "é", "É", "İ", "Σ", "ς", "ß", "ẞ", "Ǆ", "ǅ", "Å", "Ω", "ﬀ", "-",
                    "'", "Straße", "ÖSTERREICH", "x", "Ⅻ",
                ]),
                0..40,
            )
        ) {
            let w = parts.concat();
            proptest::prop_assert_eq!(lower_hash(&w), word_hash(w.to_lowercase().as_bytes()), "{}", w);
        }
    }

    #[test]
    fn ascii_hashes_equal_hashes_of_the_lower_case_form() {
        for w in [
            "Smith",
            "SMITH",
            "smith",
            "McDonald-Smith",
            "a",
            "",
            "ABCDEFGHIJKLMNOPQ",
        ] {
            assert_eq!(
                ascii_word_hash(w.as_bytes()),
                word_hash(w.to_ascii_lowercase().as_bytes()),
                "{w}"
            );
        }
        assert_ne!(flags_of("SmItH") & flag::LAST, 0);
        for w in [
            "São",
            "ÉLODIE",
            "Straße",
            "ΟΔΥΣΣΕΑΣ",
            "İstanbul",
            "Ǆemal",
            &"É".repeat(70),
        ] {
            assert_eq!(lower_hash(w), word_hash(w.to_lowercase().as_bytes()), "{w}");
        }
    }

    #[test]
    fn short_list_table_equals_the_map_in_every_case() {
        // The flat table answers what the map answers, for every listed word in lower case,
        // capitals and title case (the `_EXACT` bits only as listed), and for their prefixes.
        for (w, &bits) in SHORT_LISTS.iter() {
            let title: String = w
                .chars()
                .enumerate()
                .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
                .collect();
            for form in [w.to_string(), w.to_uppercase(), title] {
                let want = if form == *w {
                    bits
                } else {
                    bits & !(list::PARTICLE_EXACT | list::INNER_EXACT)
                };
                assert_eq!(list_bits(&form), want, "{form}");
            }
            for cut in 1..w.len() {
                let prefix = &w[..cut];
                let want = SHORT_LISTS.get(prefix).copied().unwrap_or(0);
                assert_eq!(list_bits(prefix), want, "{prefix}");
            }
        }
        let tags: std::collections::HashSet<u64> = SHORT_LISTS
            .keys()
            .map(|w| word_hash(w.as_bytes()) >> 16)
            .collect();
        assert_eq!(
            tags.len(),
            SHORT_LISTS.len(),
            "two short-list words share a tag"
        );
    }

    #[test]
    fn short_list_bits_follow_the_lists_and_their_case_rules() {
        for (words, bit) in [
            (PARTICLES, list::PARTICLE),
            (NAME_SUFFIXES, list::NAME_SUFFIX),
            (ORG, list::ORG),
            (PLACE_START, list::PLACE_START),
            (PLACE_PREFIX, list::PLACE_PREFIX),
        ] {
            for w in words {
                assert_ne!(list_bits(w) & bit, 0, "{w}");
                assert_ne!(list_bits(&w.to_uppercase()) & bit, 0, "{w} in capitals");
            }
        }
        assert_eq!(list_bits("de") & list::INNER_EXACT, list::INNER_EXACT);
        assert_eq!(
            list_bits("De") & (list::INNER_EXACT | list::PARTICLE_EXACT),
            0
        );
        assert_eq!(list_bits("De") & list::PARTICLE, list::PARTICLE);
        assert_eq!(list_bits("Smith"), 0);
        assert_eq!(list_bits("universities"), 0);
        assert_eq!(list_bits(""), 0);
        assert_eq!(list_bits("1st"), 0);
        assert_eq!(list_bits("élan"), 0);
    }

    #[test]
    fn cached_words_never_go_stale() {
        let a = String::from("Anna Lee in Paris");
        {
            let _scope = analysis_scope(&a);
            assert_eq!(with_words(&a, <[Word]>::to_vec), words(&a));
            assert_eq!(
                with_words(&a, <[Word]>::to_vec),
                words(&a),
                "second call, from the cache"
            );
            let b = String::from("Bob Stone at Rome");
            assert_eq!(
                with_words(&b, <[Word]>::to_vec),
                words(&b),
                "another text in the scope"
            );
        }
        // The scope is over: a new text at the same address is tokenised afresh.
        let mut c = a;
        c.replace_range(0..4, "Dora");
        assert_eq!(with_words(&c, <[Word]>::to_vec), words(&c));
        {
            // A new scope on the changed text at the same address does not reuse old words.
            let _scope = analysis_scope(&c);
            assert_eq!(with_words(&c, <[Word]>::to_vec), words(&c));
        }
    }
}
