//! `GRD105 prompt-too-long`: prompts longer than a limit, in characters.

use serde::Deserialize;

use crate::{Action, Hit, Prepared, rules::GRD105};

/// `[guard.input.length]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Config {
    /// Longest prompt accepted, in Unicode characters.
    pub max_chars: usize,
    /// Action on longer prompts.
    pub action: Action,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_chars: 32_768,
            action: Action::Block,
        }
    }
}

/// The scanner.
pub struct Length(Config);

impl Length {
    /// From its config.
    pub fn new(c: &Config) -> Self {
        Self(c.clone())
    }
}

impl super::Scanner for Length {
    fn name(&self) -> &'static str {
        "length"
    }
    fn scan(&self, _raw: &str, p: &Prepared) -> Vec<Hit> {
        if p.chars <= self.0.max_chars {
            return Vec::new();
        }
        vec![Hit {
            rule: &GRD105,
            score: 1.0,
            action: self.0.action,
            evidence: format!("{} characters, limit {}", p.chars, self.0.max_chars),
            spans: Vec::new(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner as _;

    #[test]
    fn limit_is_inclusive() {
        let s = Length::new(&Config {
            max_chars: 5,
            action: Action::Block,
        });
        assert!(s.scan("héllo", &Prepared::new("héllo")).is_empty());
        let hits = s.scan("héllo!", &Prepared::new("héllo!"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].evidence, "6 characters, limit 5");
    }
}
