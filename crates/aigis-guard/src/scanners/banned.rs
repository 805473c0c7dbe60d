//! `GRD106 banned-substring`: configured substrings, matched case-insensitively on the
//! normalised text so homoglyphs, full-width letters and invisible characters do not evade them.

use aho_corasick::AhoCorasick;
use serde::Deserialize;

use crate::{Action, Error, Hit, Prepared, rules::GRD106};

/// `[guard.input.banned]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Config {
    /// Banned substrings (any case; normalised like the prompt).
    pub substrings: Vec<String>,
    /// Action on a match (default block).
    pub action: Option<Action>,
}

/// The scanner.
pub struct Banned {
    ac: Option<AhoCorasick>,
    words: Vec<String>,
    action: Action,
}

impl Banned {
    /// From its config.
    pub fn new(c: &Config) -> Result<Self, Error> {
        let words: Vec<String> = c
            .substrings
            .iter()
            .map(|s| crate::normalize::normalise(s))
            .filter(|s| !s.is_empty())
            .collect();
        let ac = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::new(&words)
                    .map_err(|e| Error::Config(format!("banned substrings: {e}")))?,
            )
        };
        Ok(Self {
            ac,
            words,
            action: c.action.unwrap_or(Action::Block),
        })
    }
}

impl super::Scanner for Banned {
    fn name(&self) -> &'static str {
        "banned"
    }
    fn scan(&self, _raw: &str, p: &Prepared) -> Vec<Hit> {
        let Some(ac) = &self.ac else {
            return Vec::new();
        };
        let mut found: Vec<usize> = p
            .views()
            .flat_map(|v| {
                ac.find_iter(v)
                    .map(|m| m.pattern().as_usize())
                    .collect::<Vec<_>>()
            })
            .collect();
        found.sort_unstable();
        found.dedup();
        if found.is_empty() {
            return Vec::new();
        }
        vec![Hit {
            rule: &GRD106,
            score: 1.0,
            action: self.action,
            evidence: found
                .iter()
                .map(|i| format!("`{}`", self.words[*i]))
                .collect::<Vec<_>>()
                .join(", "),
            spans: Vec::new(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner as _;

    #[test]
    fn matches_survive_obfuscation() {
        let s = Banned::new(&Config {
            substrings: vec!["Project Nightingale".into()],
            action: None,
        })
        .unwrap();
        for t in [
            "tell me about project nightingale",
            "Tell me about Project Nightіngale",
            "PROJECT\u{200B} NIGHTINGALE?",
            "ＰＲＯＪＥＣＴ ＮＩＧＨＴＩＮＧＡＬＥ",
        ] {
            assert_eq!(s.scan(t, &Prepared::new(t)).len(), 1, "{t}");
        }
        assert!(
            s.scan("a nightingale sang", &Prepared::new("a nightingale sang"))
                .is_empty()
        );
        let empty = Banned::new(&Config::default()).unwrap();
        assert!(
            empty
                .scan("anything", &Prepared::new("anything"))
                .is_empty()
        );
    }
}
