//! `CREDIT_CARD`: 13-19 digits (spaces or dashes between groups), Luhn-valid and in a known
//! issuer range (Visa, Mastercard incl. 2221-2720, Amex, Discover, JCB, UnionPay, Diners).
use super::{digits, lazy_regex, push};
use crate::validate::{card_brand, luhn};
use crate::{Candidate, Recognizer, RecognizerInfo};

lazy_regex!(RE, r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)");

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
    fn applies(&self, f: &crate::Features) -> bool {
        // Thirteen digits or more, spaces and dashes between them: one numeric run.
        f.digits >= 13 && f.longest_numeric >= 13
    }
    fn find(&self, text: &str, _f: &crate::Features, out: &mut Vec<Candidate>) {
        if longest_card_run(text) < 13 {
            return;
        }
        for m in RE.find_iter(text) {
            let d = digits(m.as_str());
            if luhn(&d) && card_brand(&d).is_some() && !d.iter().all(|c| *c == d[0]) {
                push(out, "CREDIT_CARD", m.start(), m.end(), 1.0, true);
            }
        }
    }
}

/// The most digits in a run of digits separated by single spaces or dashes: a card number is
/// such a run of 13 to 19 digits, so a record without one is not searched.
fn longest_card_run(text: &str) -> usize {
    let (mut best, mut digits, mut after_sep) = (0usize, 0usize, false);
    for &b in text.as_bytes() {
        if b.is_ascii_digit() {
            digits += 1;
            after_sep = false;
            best = best.max(digits);
        } else if matches!(b, b' ' | b'-') && digits > 0 && !after_sep {
            after_sep = true;
        } else {
            // Any other byte, a second separator in a row, or a separator before any digit:
            // the run ends.
            digits = 0;
            after_sep = false;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    #[test]
    fn card_runs_count_digits_across_single_separators() {
        use super::longest_card_run as r;
        assert_eq!(r("4111 1111-1111 1111"), 16);
        assert_eq!(r("+1-929-708-1003x390"), 11);
        assert_eq!(r("4111  1111 1111 1111"), 12, "two spaces end a run");
        assert_eq!(r("- 12"), 2);
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
