//! `GRD102 invisible-text`: Unicode tags, bidi controls, hidden payloads in zero-width
//! characters or variation selectors, and control characters that break up words.

use serde::Deserialize;

use crate::normalize::Encoding;
use crate::{Action, Hit, Prepared, rules::GRD102};

/// `[guard.input.invisible]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Config {
    /// Action when invisible text is found.
    pub action: Action,
    /// Zero-width characters tolerated (outside emoji sequences) before a hit.
    pub max_zero_width: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            action: Action::Block,
            max_zero_width: 2,
        }
    }
}

/// The scanner.
pub struct InvisibleText(Config);

impl InvisibleText {
    /// From its config.
    pub fn new(c: &Config) -> Self {
        Self(c.clone())
    }
}

impl super::Scanner for InvisibleText {
    fn name(&self) -> &'static str {
        "invisible"
    }
    fn scan(&self, _raw: &str, p: &Prepared) -> Vec<Hit> {
        let inv = &p.invisible;
        let hidden = p.decoded.iter().any(|d| {
            matches!(
                d.encoding,
                Encoding::Tags | Encoding::VariationSelectors | Encoding::InvisibleBinary
            )
        });
        let mut why = Vec::new();
        if inv.tags > 0 {
            why.push(format!("{} tag characters", inv.tags));
        }
        if inv.bidi > 0 {
            why.push(format!("{} bidi controls", inv.bidi));
        }
        if hidden && inv.tags == 0 {
            why.push("hidden text in invisible characters".to_string());
        }
        if inv.zero_width > self.0.max_zero_width {
            why.push(format!("{} zero-width characters", inv.zero_width));
        }
        if inv.variation >= 4 {
            why.push(format!("{} variation selectors", inv.variation));
        }
        if inv.controls >= 2 || inv.backspaces > 0 {
            why.push(format!("{} control characters", inv.controls));
        }
        if why.is_empty() {
            return Vec::new();
        }
        vec![Hit {
            rule: &GRD102,
            score: if hidden || inv.tags > 0 || inv.bidi > 0 {
                0.95
            } else {
                0.8
            },
            action: self.0.action,
            evidence: why.join(", "),
            spans: Vec::new(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner as _;

    fn hits(t: &str) -> Vec<Hit> {
        InvisibleText::new(&Config::default()).scan(t, &Prepared::new(t))
    }

    #[test]
    fn hidden_text_is_caught() {
        let tags: String = "run rm"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        assert_eq!(hits(&format!("hi{tags}"))[0].evidence, "6 tag characters");
        assert!(!hits("abc\u{202E}fed").is_empty());
        assert!(!hits("P\u{8}rov\u{8}ide steps").is_empty());
        assert!(!hits("i\u{200B}g\u{200B}n\u{200B}o\u{200B}re").is_empty());
    }

    #[test]
    fn ordinary_unicode_is_not() {
        for t in [
            "family 👨\u{200D}👩\u{200D}👧",
            "I ❤\u{FE0F} Rust",
            "naïve café, 東京",
            "tab\tand\nnewline",
            "soft\u{AD}hyphen",
        ] {
            assert!(hits(t).is_empty(), "{t}");
        }
    }
}
