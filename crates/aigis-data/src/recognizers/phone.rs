//! `PHONE_NUMBER`: international numbers (`+CC …`, checked against the ITU country-code plan and
//! E.164's 15-digit limit) and North American numbers (NANP: area and exchange codes 2-9, not
//! N11) written with separators. Bare digit runs are not phones.
use super::{digits, lazy_re, push};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_re!(
    INTL,
    r"\+[0-9]{1,3}(?:[ .\-]?\(?[0-9]{1,5}\)?){2,6}(?-u:\b)"
);
lazy_re!(
    NANP,
    r"(?:\([0-9]{3}\)[ \t\r\n]?|(?-u:\b)[0-9]{3}[.\-[ \t\r\n]])[0-9]{3}[.\-[ \t\r\n]][0-9]{4}(?:[ ]?(?:x|ext\.?)[ ]?[0-9]{1,5})?(?-u:\b)"
);
// Ten NANP digits with no separator: a phone only with context (a `phone` column, `call`).
lazy_re!(NANP_BARE, r"(?-u:\b)[2-9][0-9]{2}[2-9][0-9]{6}(?-u:\b)");
// National numbers with a trunk 0 (most of Europe, Japan, the UK, Brazil's long form).
lazy_re!(
    NATIONAL,
    r"(?:\(0[0-9]{1,4}\)[ ]?|(?-u:\b)0[0-9]{1,4}[ .\-/]?)[0-9]{2,4}(?:[ .\-]?[0-9]{2,4}){0,3}(?-u:\b)"
);
// Brazil: two-digit area code, then 4-4 or 5-4 digits.
lazy_re!(
    BRAZIL,
    r"(?:\([1-9][0-9]\)|(?-u:\b)[1-9][0-9]) 9?[0-9]{4}-[0-9]{4}(?-u:\b)"
);

/// ITU-T E.164 country calling codes (1-3 digits) in use.
fn country_code_len(d: &[u8]) -> Option<usize> {
    const ONE: &[u8] = b"17";
    const TWO: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if ONE.contains(&d[0]) {
        return Some(1);
    }
    if d.len() >= 2 && TWO.iter().any(|c| c.as_bytes() == &d[..2]) {
        return Some(2);
    }
    // Three-digit codes: 21x, 22x-29x, 35x, 37x, 38x, 42x, 50x, 59x, 67x-69x, 85x, 88x, 96x-99x.
    if d.len() >= 3 {
        let p = &d[..2];
        let three = [
            b"21", b"22", b"23", b"24", b"25", b"26", b"29", b"35", b"37", b"38", b"42", b"50",
            b"59", b"67", b"68", b"69", b"85", b"88", b"96", b"97", b"99",
        ];
        if three.iter().any(|t| *t == p) {
            return Some(3);
        }
    }
    None
}

fn nanp_ok(d: &[u8]) -> bool {
    d.len() == 10
        && (b'2'..=b'9').contains(&d[0])
        && (b'2'..=b'9').contains(&d[3])
        && !(d[1] == b'1' && d[2] == b'1')
        && !(d[4] == b'1' && d[5] == b'1')
}

/// Phone numbers.
pub struct Phone;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "phone",
    entities: &["PHONE_NUMBER"],
    summary: "+CC plan check, NANP, trunk-0 national and Brazilian forms; bare digits need context",
};

impl Recognizer for Phone {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn min_len(&self) -> usize {
        9
    }
    fn min_digits(&self) -> usize {
        9
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // The shortest form matched (`+CC` and seven national digits) has nine digits; a date
        // (eight) never reaches the patterns.
        f.digits >= 9
    }
    fn find(&self, text: &str, f: &crate::Features, out: &mut Vec<Candidate>) {
        // Each pattern is searched only where the record holds what every match of it holds.
        let intl = f.has(b'+');
        let nanp = f.digits >= 10 && b".- \t\r\n".iter().any(|&b| f.has(b));
        let bare = f.longest_digits >= 10;
        let national = text.as_bytes().contains(&b'0');
        let brazil = f.has(b' ') && f.has(b'-');
        for m in intl.then(|| INTL.find_iter(text)).into_iter().flatten() {
            // More than 15 digits is never a phone number (and more than `Digits` keeps).
            let all = digits(m.as_str());
            let Some(d) = all.all().filter(|d| d.len() <= 15) else {
                continue;
            };
            if let Some(cc) = country_code_len(d) {
                let national = d.len() - cc;
                if (7..=12).contains(&national) && (cc != 1 || nanp_ok(&d[1..])) {
                    push(out, "PHONE_NUMBER", m.start(), m.end(), 0.75, true);
                }
            }
        }
        for m in nanp.then(|| NANP.find_iter(text)).into_iter().flatten() {
            if text[..m.start()].ends_with('+')
                || text[..m.start()].ends_with(|c: char| c.is_ascii_digit() || c == '-')
            {
                continue;
            }
            let d = digits(m.as_str());
            let d = d.first();
            let main = if d.len() > 10 { &d[..10] } else { d };
            if nanp_ok(main) {
                push(out, "PHONE_NUMBER", m.start(), m.end(), 0.5, false);
            }
        }
        let free = |s: usize, e: usize| {
            let before = text[..s].chars().next_back();
            let after = text[e..].chars().next();
            // Not part of a longer number, a version or a decimal.
            let glued_before = before
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '/' | ','));
            let decimal =
                after == Some('.') && text[e + 1..].starts_with(|c: char| c.is_ascii_digit());
            let glued_after = after.is_some_and(|c| matches!(c, '-' | '/' | ','));
            !(glued_before || decimal || glued_after)
        };
        for m in bare
            .then(|| NANP_BARE.find_iter(text))
            .into_iter()
            .flatten()
        {
            if free(m.start(), m.end()) && nanp_ok(m.as_str().as_bytes()) {
                push(out, "PHONE_NUMBER", m.start(), m.end(), 0.3, false);
            }
        }
        for m in national
            .then(|| NATIONAL.find_iter(text))
            .into_iter()
            .flatten()
        {
            let d = digits(m.as_str());
            if (9..=12).contains(&d.count())
                && d.first().get(1) != Some(&b'0')
                && free(m.start(), m.end())
            {
                let grouped = m.as_str().bytes().any(|b| !b.is_ascii_digit());
                push(
                    out,
                    "PHONE_NUMBER",
                    m.start(),
                    m.end(),
                    if grouped { 0.45 } else { 0.3 },
                    false,
                );
            }
        }
        for m in brazil.then(|| BRAZIL.find_iter(text)).into_iter().flatten() {
            if free(m.start(), m.end()) {
                push(out, "PHONE_NUMBER", m.start(), m.end(), 0.45, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn phones() {
        assert_eq!(
            found("PHONE_NUMBER", "call +44 20 7946 0958 or (415) 555-0132"),
            ["+44 20 7946 0958", "(415) 555-0132"]
        );
        assert_eq!(
            found("PHONE_NUMBER", "tel: +33 1 42 68 53 00"),
            ["+33 1 42 68 53 00"]
        );
        // Timestamps, versions, order numbers, dates and invalid plans are not phones.
        assert!(
            found(
                "PHONE_NUMBER",
                "at 2024-05-06 12:30:45, v1.22.3333, order 4155550132, 911-555-0132, +999 123"
            )
            .is_empty()
        );
        assert_eq!(
            found(
                "PHONE_NUMBER",
                "tel. 04 37 47 24 52 / call 0299087513 or 070-2531-5754"
            ),
            ["04 37 47 24 52", "0299087513", "070-2531-5754"]
        );
        assert_eq!(
            found(
                "PHONE_NUMBER",
                "phone (550) 875-2917x0342, ligue 79 4766-1435"
            ),
            ["(550) 875-2917x0342", "79 4766-1435"]
        );
        // Bare digits without context stay below the threshold.
        assert!(found("PHONE_NUMBER", "seq=4155550132 ref 0299087513").is_empty());
    }
}
