//! `GRD104 prompt-secret`: the `SECRET_*` recognizers of `aigis-data`.

use serde::Deserialize;

use crate::{Action, Hit, Prepared, rules::GRD104};

/// `[guard.input.secrets]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Config {
    /// Action on a match.
    pub action: Action,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            action: Action::Redact,
        }
    }
}

/// The scanner.
pub struct Secrets {
    analyzer: aigis_data::Analyzer,
    action: Action,
}

impl Secrets {
    /// From its config.
    pub fn new(c: &Config) -> Self {
        let entities = aigis_data::Analyzer::new(aigis_data::Options::default())
            .recognizers()
            .flat_map(|r| r.entities.iter().copied())
            .filter(|e| e.starts_with("SECRET_"))
            .map(str::to_string)
            .collect();
        Self {
            analyzer: aigis_data::Analyzer::new(aigis_data::Options {
                entities,
                ..aigis_data::Options::default()
            }),
            action: c.action,
        }
    }
}

impl super::Scanner for Secrets {
    fn name(&self) -> &'static str {
        "secrets"
    }
    fn reads_prepared(&self) -> bool {
        false
    }
    fn scan(&self, raw: &str, _p: &Prepared) -> Vec<Hit> {
        super::pii::entity_hit(&self.analyzer, raw, &GRD104, self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner as _;

    #[test]
    fn real_keys_hit_and_documentation_placeholders_do_not() {
        let s = Secrets::new(&Config::default());
        let t = "deploy with ghp_R8sT2kLm9QwXz4VbN7cJp1HdF6gYe3UaK0oI";
        let h = s.scan(t, &Prepared::new(t));
        assert_eq!(h[0].evidence, "SECRET_GITHUB_TOKEN");
        assert_eq!(h[0].spans[0].2, "<SECRET_GITHUB_TOKEN>");
        let t = "example key AKIAIOSFODNN7EXAMPLE";
        assert!(s.scan(t, &Prepared::new(t)).is_empty());
    }
}
