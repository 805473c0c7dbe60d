//! `CREDIT_CARD`: 13-19 digits (spaces or dashes between groups), Luhn-valid and in a known
//! issuer range (Visa, Mastercard incl. 2221-2720, Amex, Discover, JCB, UnionPay, Diners).
use super::push;
use crate::validate::{card_brand, luhn};
use crate::{Candidate, Recognizer, RecognizerInfo};

/// What [`card_spans`] finds, as a pattern: the reference its tests compare it with.
#[cfg(test)]
const PATTERN: &str = r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)";

/// Payment card numbers.
pub struct CreditCard;

static INFO: RecognizerInfo = RecognizerInfo {
    name: "credit_card",
    entities: &["CREDIT_CARD"],
    summary: "Luhn + issuer range",
};

impl Recognizer for CreditCard {
    fn info(&self) -> &RecognizerInfo {
        &INFO
    }
    fn min_len(&self) -> usize {
        13
    }
    fn min_digits(&self) -> usize {
        13
    }
    fn applies(&self, f: &crate::Features) -> bool {
        // Thirteen digits or more, spaces and dashes between them: one numeric run.
        f.digits >= 13 && f.longest_numeric >= 13
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        card_spans(text.as_bytes(), |start, end, d| {
            if luhn(d) && card_brand(d).is_some() && !d.iter().all(|c| *c == d[0]) {
                push(out, "CREDIT_CARD", start, end, 1.0, true);
            }
        });
    }
}

/// Calls `found(start, end, digits)` for every match of [`PATTERN`] — 13 to 19 digits with
/// single spaces or dashes between them, ASCII word boundaries at both ends, leftmost first,
/// the longest count whose end is a boundary — in one pass, without a regex (the pattern's
/// DFA is megabytes). The digits come as ASCII bytes.
fn card_spans(t: &[u8], mut found: impl FnMut(usize, usize, &[u8])) {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut p = 0;
    while p < t.len() {
        if !t[p].is_ascii_digit() || (p > 0 && word(t[p - 1])) {
            p += 1;
            continue;
        }
        // The digits from `p`: each step takes the next digit, or a separator and the digit
        // after it (the only way the pattern can go on).
        let mut digits = [0u8; 19];
        let mut ends = [0usize; 19];
        let (mut n, mut i) = (0usize, p);
        loop {
            digits[n] = t[i];
            ends[n] = i + 1;
            n += 1;
            if n == digits.len() {
                break;
            }
            match (t.get(i + 1), t.get(i + 2)) {
                (Some(d), _) if d.is_ascii_digit() => i += 1,
                (Some(b' ' | b'-'), Some(d)) if d.is_ascii_digit() => i += 2,
                _ => break,
            }
        }
        // The most digits (13 or more) after which a word boundary follows.
        let hit = (13..=n)
            .rev()
            .find(|&k| t.get(ends[k - 1]).is_none_or(|&b| !word(b)));
        match hit {
            Some(k) => {
                found(p, ends[k - 1], &digits[..k]);
                p = ends[k - 1];
            }
            None => p += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    fn spans(t: &str) -> Vec<(usize, usize, String)> {
        let mut v = Vec::new();
        super::card_spans(t.as_bytes(), |s, e, d| {
            v.push((s, e, String::from_utf8_lossy(d).into_owned()));
        });
        v
    }

    fn reference(t: &str) -> Vec<(usize, usize, String)> {
        let re = regex::Regex::new(super::PATTERN).unwrap();
        re.find_iter(t)
            .map(|m| {
                let d = m.as_str().bytes().filter(u8::is_ascii_digit).collect();
                (m.start(), m.end(), String::from_utf8(d).unwrap())
            })
            .collect()
    }

    #[test]
    fn scanner_finds_what_the_pattern_finds() {
        for t in [
            "card 4111 1111 1111 1111 ok",
            "4111-1111-1111-1111-2222",
            "41111111111111112222x 4111 1111 1111 1111",
            "x4111111111111111 _4111111111111111 4111111111111111_",
            "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1",
            "4111  1111 1111 1111",
            "é4111111111111111é",
            "",
        ] {
            assert_eq!(spans(t), reference(t), "{t}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn scanner_equals_the_pattern(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "4", "1111", "0", "55", " ", "-", "  ", "x", "_", "é", ".", "411111111",
                ]),
                0..30,
            )
        ) {
            let t = parts.concat();
            proptest::prop_assert_eq!(spans(&t), reference(&t));
        }
    }

    use crate::recognizers::testing::found;
    #[test]
    fn cards() {
        assert_eq!(
            found("CREDIT_CARD", "card 4111 1111 1111 1111 ok"),
            ["4111 1111 1111 1111"]
        );
        assert_eq!(
            found("CREDIT_CARD", "mc 2223003122003222"),
            ["2223003122003222"],
            "2-series Mastercard"
        );
        assert_eq!(
            found("CREDIT_CARD", "amex 3714-496353-98431"),
            ["3714-496353-98431"]
        );
        // Luhn-invalid, unknown range, order numbers.
        assert!(
            found(
                "CREDIT_CARD",
                "4111 1111 1111 1112 or order 1234567812345678"
            )
            .is_empty()
        );
    }
}
