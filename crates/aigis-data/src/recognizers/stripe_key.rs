//! `SECRET_STRIPE_KEY`: secret and restricted keys (`sk_live_`, `rk_live_`, `sk_test_`, …).
//! Publishable keys (`pk_`) are public by design and not reported.
use super::{Simple, lazy_regex};
use crate::RecognizerInfo;
use crate::validate::is_placeholder;

lazy_regex!(
    RE,
    r"(?-u:\b)[sr]k_(?:live|test)_[0-9A-Za-z]{24,99}(?-u:\b)"
);

/// Stripe secret keys.
pub(crate) static RECOGNIZER: Simple = Simple {
    info: RecognizerInfo {
        name: "stripe_key",
        entities: &["SECRET_STRIPE_KEY"],
        summary: "sk_/rk_ live or test keys",
    },
    re: &RE,
    score: 0.95,
    validated: true,
    keep: |s| !is_placeholder(&s[8..]),
    anchors: &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
    min_digits: 0,
    min_alnum: 0,
    min_digit_run: 0,
    min_len: 32,
    any_byte: b"_",
};

#[cfg(test)]
mod tests {
    use crate::recognizers::testing::found;
    #[test]
    fn keys() {
        assert_eq!(
            found(
                "SECRET_STRIPE_KEY",
                "STRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc"
            ),
            ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"]
        );
        assert!(
            found(
                "SECRET_STRIPE_KEY",
                "pk_live_4eC39HqLyjWDarjtT1zdp7dc sk_test_xxxxxxxxxxxxxxxxxxxxxxxx"
            )
            .is_empty()
        );
    }
}
