//! `GRD103 prompt-personal-data`: the recognizers of `aigis-data` (the same ones as
//! `aigis pii detect`), secrets excluded (they are `secrets`' job).

use serde::Deserialize;

use crate::{Action, Error, Hit, Prepared, rules::GRD103};

/// `[guard.input.pii]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Config {
    /// Action on a match.
    pub action: Action,
    /// Entity types to look for (default: every non-secret type except `DATE_TIME` and `URL`,
    /// which are everywhere in prompts and rarely personal on their own).
    pub entities: Vec<String>,
    /// Lowest score reported.
    pub min_score: f32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            action: Action::Redact,
            entities: Vec::new(),
            min_score: 0.5,
        }
    }
}

/// The scanner.
pub struct Pii {
    analyzer: aigis_data::Analyzer,
    action: Action,
}

/// Types left out by default.
const QUIET: &[&str] = &["DATE_TIME", "URL"];

impl Pii {
    /// From its config.
    pub fn new(c: &Config) -> Result<Self, Error> {
        let known: Vec<&'static str> = aigis_data::Analyzer::new(aigis_data::Options::default())
            .recognizers()
            .flat_map(|r| r.entities.iter().copied())
            .filter(|e| !e.starts_with("SECRET_"))
            .collect();
        for e in &c.entities {
            if !known.contains(&e.as_str()) {
                return Err(Error::Config(format!(
                    "[guard.input.pii] entities: unknown type `{e}`; see `aigis pii recognizers`"
                )));
            }
        }
        let entities = if c.entities.is_empty() {
            known
                .iter()
                .filter(|e| !QUIET.contains(e))
                .map(|e| (*e).to_string())
                .collect()
        } else {
            c.entities.clone()
        };
        Ok(Self {
            analyzer: aigis_data::Analyzer::new(aigis_data::Options {
                min_score: c.min_score,
                entities,
            }),
            action: c.action,
        })
    }
}

/// One hit for the entities in `raw`, with redaction spans `<TYPE>`.
pub(crate) fn entity_hit(
    analyzer: &aigis_data::Analyzer,
    raw: &str,
    rule: &'static aigis_core::RuleInfo,
    action: Action,
) -> Vec<Hit> {
    let spans = analyzer.spans(raw, None);
    if spans.is_empty() {
        return Vec::new();
    }
    let mut kinds: Vec<&str> = spans.iter().map(|s| s.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    vec![Hit {
        rule,
        score: spans.iter().map(|s| s.score).fold(0.0, f32::max),
        action,
        evidence: kinds.join(", "),
        spans: spans
            .iter()
            .map(|s| (s.start, s.end, format!("<{}>", s.kind)))
            .collect(),
    }]
}

impl super::Scanner for Pii {
    fn name(&self) -> &'static str {
        "pii"
    }
    fn reads_prepared(&self) -> bool {
        false
    }
    fn scan(&self, raw: &str, _p: &Prepared) -> Vec<Hit> {
        entity_hit(&self.analyzer, raw, &GRD103, self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner as _;

    #[test]
    fn finds_and_names_entities_without_values() {
        let s = Pii::new(&Config::default()).unwrap();
        let t = "Call me on +44 20 7946 0958 or write to ann@example.org";
        let h = s.scan(t, &Prepared::new(t));
        assert_eq!(h[0].evidence, "EMAIL_ADDRESS, PHONE_NUMBER");
        assert!(!h[0].evidence.contains("ann@"));
        assert!(
            Pii::new(&Config {
                entities: vec!["SECRET_JWT".into()],
                ..Config::default()
            })
            .is_err()
        );
    }
}
