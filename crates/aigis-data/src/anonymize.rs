//! Anonymisation operators and their policy: which operator rewrites which entity type (and,
//! for structured data, which whole column or field), and the reverse for tokens.
//!
//! | operator   | output for `bob@example.com`        | reversible | needs the vault key |
//! |------------|-------------------------------------|------------|---------------------|
//! | `keep`     | `bob@example.com`                   | —          | no                  |
//! | `redact`   | (nothing)                           | no         | no                  |
//! | `replace`  | `<EMAIL_ADDRESS>`                   | no         | no                  |
//! | `mask:N`   | `***@*******.com` keeping the last N letters and digits, separators kept | no | no |
//! | `hash`     | 32 hex digits of HMAC-SHA-256       | no (joins) | yes                 |
//! | `tokenize` | `EMAIL_ADDRESS_<base32 AES-SIV>`    | yes        | yes                 |
//! | `fpe`      | FF1 of the digits/letters, format kept | yes (per column) | yes          |
//!
//! Tokens are found again anywhere in free text by their `TYPE_<base32>` shape and opened only
//! if they authenticate under the key and type. FPE output looks like ordinary data, so it is
//! reversed only where the policy says a column holds it; a span whose digits or letters give
//! fewer than 10^6 values falls back to `tokenize` (FF1 is not secure on smaller domains).

use std::collections::BTreeMap;

use crate::vault::{VaultError, VaultKey};
use crate::{Analyzer, Span};

/// One anonymisation operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Leave the value.
    Keep,
    /// Remove the value.
    Redact,
    /// `<TYPE>`.
    Replace,
    /// Replace letters and digits by `*` except the last `keep`.
    Mask {
        /// Letters and digits left visible at the end.
        keep: usize,
    },
    /// Keyed HMAC-SHA-256.
    Hash,
    /// Deterministic AES-SIV token `TYPE_…`.
    Tokenize,
    /// Format-preserving FF1.
    Fpe,
}

impl std::str::FromStr for Operator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "keep" => Self::Keep,
            "redact" => Self::Redact,
            "replace" => Self::Replace,
            "mask" => Self::Mask { keep: 4 },
            "hash" => Self::Hash,
            "tokenize" => Self::Tokenize,
            "fpe" => Self::Fpe,
            _ => match s.strip_prefix("mask:").map(str::parse) {
                Some(Ok(keep)) => Self::Mask { keep },
                _ => {
                    return Err(format!(
                        "unknown operator `{s}` (one of keep, redact, replace, mask, mask:N, hash, tokenize, fpe)"
                    ));
                }
            },
        })
    }
}

impl Operator {
    /// Whether it needs the vault key.
    pub fn keyed(self) -> bool {
        matches!(self, Self::Hash | Self::Tokenize | Self::Fpe)
    }
}

/// Which operator applies where.
#[derive(Clone, Debug)]
pub struct Policy {
    /// For entity types not listed in `entities`.
    pub default: Operator,
    /// Per entity type.
    pub entities: BTreeMap<String, Operator>,
    /// Whole-cell operators for CSV columns or JSON paths, applied to every value there whatever
    /// is detected in it (the value's type name is the column name).
    pub columns: BTreeMap<String, Operator>,
}

impl Policy {
    /// Every entity rewritten by `default`.
    pub fn new(default: Operator) -> Self {
        Self {
            default,
            entities: BTreeMap::new(),
            columns: BTreeMap::new(),
        }
    }

    /// The operator for an entity type.
    pub fn for_entity(&self, kind: &str) -> Operator {
        self.entities.get(kind).copied().unwrap_or(self.default)
    }

    /// Whether any rule needs the vault key.
    pub fn keyed(&self) -> bool {
        self.default.keyed()
            || self.entities.values().any(|o| o.keyed())
            || self.columns.values().any(|o| o.keyed())
    }
}

/// Counts of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Values rewritten.
    pub rewritten: u64,
    /// `fpe` spans too small for FF1 that were tokenised instead.
    pub fpe_fallbacks: u64,
    /// Tokens or FPE values restored.
    pub restored: u64,
    /// Token-shaped strings that did not open under the key (left as they were).
    pub unopened: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.rewritten += o.rewritten;
        self.fpe_fallbacks += o.fpe_fallbacks;
        self.restored += o.restored;
        self.unopened += o.unopened;
    }
}

/// Detects and rewrites; shared by every worker thread.
pub struct Anonymizer<'a> {
    analyzer: &'a Analyzer,
    policy: Policy,
    key: Option<VaultKey>,
}

impl<'a> Anonymizer<'a> {
    /// Fails when the policy uses a keyed operator and no key is given.
    pub fn new(
        analyzer: &'a Analyzer,
        policy: Policy,
        key: Option<VaultKey>,
    ) -> Result<Self, String> {
        if policy.keyed() && key.is_none() {
            return Err("the policy uses hash, tokenize or fpe, which need a vault key: pass --key FILE or set AIGIS_VAULT_KEY (create one with `aigis data keygen`)".into());
        }
        Ok(Self {
            analyzer,
            policy,
            key,
        })
    }

    /// The policy in use.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn apply(&self, op: Operator, kind: &str, value: &str, out: &mut String, n: &mut Counts) {
        n.rewritten += u64::from(op != Operator::Keep);
        let key = self.key.as_ref();
        match (op, key) {
            (Operator::Keep, _) => out.push_str(value),
            (Operator::Redact, _) => {}
            (Operator::Replace, _) => {
                out.push('<');
                out.push_str(kind);
                out.push('>');
            }
            (Operator::Mask { keep }, _) => mask(value, keep, out),
            (Operator::Hash, Some(k)) => out.push_str(&k.hash(value)),
            (Operator::Tokenize, Some(k)) => out.push_str(&k.tokenize(kind, value)),
            (Operator::Fpe, Some(k)) => {
                if let Ok(v) = k.fpe_encrypt(kind, value) {
                    out.push_str(&v);
                } else {
                    n.fpe_fallbacks += 1;
                    out.push_str(&k.tokenize(kind, value));
                }
            }
            // `new` refuses keyed policies without a key.
            (Operator::Hash | Operator::Tokenize | Operator::Fpe, None) => {
                out.push('<');
                out.push_str(kind);
                out.push('>');
            }
        }
    }

    /// Rewrites every detected entity in `text` by the policy; `field` is the column or JSON
    /// path it came from (context for detection, and a whole-cell rule when the policy has one).
    pub fn anonymize(&self, text: &str, field: Option<&str>, n: &mut Counts) -> String {
        let mut out = String::with_capacity(text.len());
        if let Some((name, op)) =
            field.and_then(|f| self.policy.columns.get_key_value(f).map(|(k, v)| (k, *v)))
        {
            if text.is_empty() {
                return out;
            }
            self.apply(op, name, text, &mut out, n);
            return out;
        }
        let spans: Vec<Span> = self.analyzer.spans(text, field);
        let mut at = 0;
        for s in spans {
            out.push_str(&text[at..s.start]);
            self.apply(
                self.policy.for_entity(s.kind),
                s.kind,
                &text[s.start..s.end],
                &mut out,
                n,
            );
            at = s.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Restores tokens anywhere in `text`, and FPE values when `field` is a column the policy
    /// encrypts with `fpe`. Fails only for a value in an FPE column that cannot be decrypted.
    pub fn detokenize(
        &self,
        text: &str,
        field: Option<&str>,
        n: &mut Counts,
    ) -> Result<String, VaultError> {
        let Some(key) = &self.key else {
            return Ok(text.to_string());
        };
        if let Some((name, op)) =
            field.and_then(|f| self.policy.columns.get_key_value(f).map(|(k, v)| (k, *v)))
        {
            // A whole-cell token (or an FPE value too small for FF1, tokenised instead).
            if let Some(v) = text
                .strip_prefix(name.as_str())
                .and_then(|r| r.strip_prefix('_'))
                .and_then(|body| key.open_token(name, body))
            {
                n.restored += 1;
                return Ok(v);
            }
            if op == Operator::Fpe && !text.is_empty() {
                let v = key.fpe_decrypt(name, text)?;
                n.restored += 1;
                return Ok(v);
            }
        }
        Ok(restore_tokens(key, text, n))
    }
}

/// Replaces every authenticating `TYPE_<base32>` token in `text` by its value.
pub fn restore_tokens(key: &VaultKey, text: &str, n: &mut Counts) -> String {
    static TOKEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        // A 16-byte SIV tag and at least one byte of value: 27 or more base32 characters. ASCII
        // word boundaries, as the analyzer keeps no span glued to an ASCII word character (a
        // token may touch any other character, a letter of another script included).
        regex::Regex::new(r"(?-u:\b)([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_([a-z2-7]{27,})(?-u:\b)")
            .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
    });
    // Cheap check first: most text holds no token.
    if !text.contains('_') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for c in TOKEN.captures_iter(text) {
        let (Some(whole), Some(kind), Some(body)) = (c.get(0), c.get(1), c.get(2)) else {
            continue;
        };
        match key.open_token(kind.as_str(), body.as_str()) {
            Some(v) => {
                out.push_str(&text[at..whole.start()]);
                out.push_str(&v);
                at = whole.end();
                n.restored += 1;
            }
            None => n.unopened += 1,
        }
    }
    out.push_str(&text[at..]);
    out
}

/// `*` for every letter and digit but the last `keep`; other characters stay.
fn mask(value: &str, keep: usize, out: &mut String) {
    let alnum = value.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0;
    for c in value.chars() {
        if c.is_alphanumeric() {
            seen += 1;
            out.push(if seen + keep > alnum { c } else { '*' });
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;
    use proptest::prelude::*;

    fn key() -> VaultKey {
        VaultKey::from_bytes([3; 32])
    }

    fn run(op: &str, text: &str) -> String {
        let a = Analyzer::new(Options::default());
        let k = key();
        let an = Anonymizer::new(&a, Policy::new(op.parse().unwrap()), Some(k)).unwrap();
        an.anonymize(text, None, &mut Counts::default())
    }

    #[test]
    fn operators_rewrite_only_the_entities() {
        let text = "mail añb@example.com, card 4111 1111 1111 1111.";
        assert_eq!(run("redact", text), "mail , card .");
        assert_eq!(
            run("replace", text),
            "mail <EMAIL_ADDRESS>, card <CREDIT_CARD>."
        );
        assert_eq!(
            run("mask:4", text),
            "mail ***@******e.com, card **** **** **** 1111."
        );
        let h = run("hash", text);
        assert!(h.starts_with("mail ") && !h.contains("example"), "{h}");
        assert_eq!(h, run("hash", text), "stable across runs");
        assert_eq!(run("keep", text), text);
    }

    #[test]
    fn tokens_restore_inside_free_text_and_foreign_ones_stay() {
        let a = Analyzer::new(Options::default());
        let an = Anonymizer::new(&a, Policy::new(Operator::Tokenize), Some(key())).unwrap();
        let text = "Écrire à añb@example.com 😀 ou appeler +44 20 7946 0958";
        let mut n = Counts::default();
        let t = an.anonymize(text, None, &mut n);
        assert_eq!(n.rewritten, 2);
        assert!(
            t.contains("EMAIL_ADDRESS_") && t.contains("PHONE_NUMBER_"),
            "{t}"
        );
        // Quoted, in JSON, next to punctuation: still found.
        let wrapped = format!("{{\"note\":\"{t}\"}} and (again: {t}).");
        let mut n = Counts::default();
        let back = an.detokenize(&wrapped, None, &mut n).unwrap();
        assert_eq!(
            back,
            format!("{{\"note\":\"{text}\"}} and (again: {text}).")
        );
        assert_eq!(n.restored, 4);
        // Under another key nothing opens and the text is left as it is.
        let other = Anonymizer::new(
            &a,
            Policy::new(Operator::Tokenize),
            Some(VaultKey::from_bytes([4; 32])),
        )
        .unwrap();
        let mut n = Counts::default();
        assert_eq!(other.detokenize(&t, None, &mut n).unwrap(), t);
        assert_eq!((n.restored, n.unopened), (0, 2));
    }

    #[test]
    fn columns_take_whole_cell_rules_and_fpe_reverses_there() {
        let a = Analyzer::new(Options::default());
        let mut p = Policy::new(Operator::Replace);
        p.columns.insert("account".into(), Operator::Fpe);
        p.columns.insert("pin".into(), Operator::Fpe);
        let an = Anonymizer::new(&a, p, Some(key())).unwrap();
        let mut n = Counts::default();
        let e = an.anonymize("0012-3456-789", Some("account"), &mut n);
        assert_eq!(e.len(), 13);
        assert_ne!(e, "0012-3456-789");
        assert_eq!(
            an.detokenize(&e, Some("account"), &mut n).unwrap(),
            "0012-3456-789"
        );
        // Too small for FF1: tokenised instead, and still reversible.
        let t = an.anonymize("1234", Some("pin"), &mut n);
        assert!(t.starts_with("pin_"), "{t}");
        assert_eq!(n.fpe_fallbacks, 1);
        assert_eq!(an.detokenize(&t, Some("pin"), &mut n).unwrap(), "1234");
        assert_eq!(n.restored, 2);
        // Outside its column the lower-case column token is not touched.
        assert_eq!(an.detokenize(&t, None, &mut n).unwrap(), t);
    }

    #[test]
    fn keyed_policy_without_key_is_refused() {
        let a = Analyzer::new(Options::default());
        let err = Anonymizer::new(&a, Policy::new(Operator::Hash), None)
            .err()
            .unwrap();
        assert!(err.contains("aigis data keygen"), "{err}");
        assert!("mask:x".parse::<Operator>().is_err());
        assert_eq!(
            "mask:2".parse::<Operator>().unwrap(),
            Operator::Mask { keep: 2 }
        );
    }

    #[test]
    fn tokens_next_to_other_scripts_and_glued_spans_round_trip() {
        let a = Analyzer::new(Options::default());
        let an = Anonymizer::new(&a, Policy::new(Operator::Tokenize), Some(key())).unwrap();
        // An address touching a letter of another script is still an address, and its token,
        // touching the same letter, is found again (CI once found this case).
        for text in ["0A::\u{10fe0} x", "\u{10fe0}fe80::1 x", "Ω10.1.2.3Ω"] {
            let mut n = Counts::default();
            let t = an.anonymize(text, None, &mut n);
            assert!(t.contains("IP_ADDRESS_"), "{text:?} -> {t:?}");
            assert_eq!(an.detokenize(&t, None, &mut n).unwrap(), text);
        }
        // Glued to ASCII letters it is part of a longer word, not an address.
        for text in ["g0A::1 x", "0A::1g x", "x_10.1.2.3"] {
            let mut n = Counts::default();
            assert_eq!(an.anonymize(text, None, &mut n), text, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn tokenize_then_detokenize_is_identity(
            user in "[a-z]{1,8}",
            // Any printable text, and printable ASCII alone (more hex and punctuation).
            name in prop_oneof!["\\PC{0,20}", "[ -~]{0,20}"],
            digits in "[0-9]{4}",
        ) {
            let a = Analyzer::new(Options::default());
            let an = Anonymizer::new(&a, Policy::new(Operator::Tokenize), Some(key())).unwrap();
            let text = format!("{name} {user}@example.org card 4111 1111 1111 {digits} {name}");
            let mut n = Counts::default();
            let t = an.anonymize(&text, None, &mut n);
            let mail = format!("{user}@example.org");
            prop_assert!(!t.contains(&mail));
            prop_assert_eq!(an.detokenize(&t, None, &mut n).unwrap(), text);
        }
    }
}
