//! Context scoring: words near a candidate (30 characters either side) or in its column name /
//! JSON path raise its score, as Presidio does (+0.35, and at least 0.4) but on both sides, in
//! several languages, and structure-aware; negative words (version, order, invoice, sha…) lower it.

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

fn window(text: &str, start: usize, end: usize) -> (String, String) {
    let mut a = start.saturating_sub(WINDOW);
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (end + WINDOW).min(text.len());
    while !text.is_char_boundary(b) {
        b += 1;
    }
    (text[a..start].to_lowercase(), text[end..b].to_lowercase())
}

/// The candidate's score after context.
pub fn adjust(c: &Candidate, text: &str, field: Option<&str>) -> f32 {
    let pos = words(c.kind);
    let neg = negative(c.kind);
    if pos.is_empty() && neg.is_empty() {
        return c.score;
    }
    let (before, after) = window(text, c.start, c.end);
    let field = field.map(str::to_lowercase).unwrap_or_default();
    let near = |w: &str| {
        contains_word(&before, w)
            || contains_word(&after, w)
            || (!field.is_empty() && contains_word(&field, w.trim_end_matches(['#', '.'])))
    };
    let mut score = c.score;
    if pos.iter().any(|w| near(w)) {
        score = (score + BOOST).clamp(FLOOR_WITH_CONTEXT, 1.0);
    }
    if neg.iter().any(|w| contains_word(&before, w)) {
        score = (score - PENALTY).max(0.0);
    }
    score
}

/// `w` occurs in `hay` with no letter or digit directly before or after it (so `at` does not
/// match inside `data`, while `ssn:` and `SSN#` still count).
pub fn contains_word(hay: &str, w: &str) -> bool {
    if w.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = hay[from..].find(w) {
        let s = from + i;
        let e = s + w.len();
        let ok_before = hay[..s]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let ok_after = hay[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if ok_before && ok_after {
            return true;
        }
        from = s + hay[s..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_whole_words() {
        assert!(contains_word("my ssn: ", "ssn"));
        assert!(!contains_word("the data was", "at"));
        assert!(contains_word("born at noon", "at"));
        assert!(contains_word("電話 ", "電話"));
    }
}
