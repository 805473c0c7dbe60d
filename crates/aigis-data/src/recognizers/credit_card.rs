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
        for m in RE.find_iter(text) {
            let d = digits(m.as_str());
            if luhn(&d) && card_brand(&d).is_some() && !d.iter().all(|c| *c == d[0]) {
                push(out, "CREDIT_CARD", m.start(), m.end(), 1.0, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
