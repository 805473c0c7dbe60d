//! `GRD109 tool-call-denied`: tool calls in model output to functions the configuration does
//! not let the model call (`[guard.output.tools]`). The gateway withholds the response — whole
//! responses with a 502, streams with an error event before the call is complete — so an
//! agent framework behind the client never runs the call.
//!
//! Names match exactly, or by prefix with a trailing `*` (`delete_*`). With `allow` set, only
//! those names may be called; `deny` always wins. Without either nothing is checked.

use serde::Deserialize;

/// `[guard.output.tools]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Config {
    /// Tool names the model may not call (`*` at the end matches a prefix).
    pub deny: Vec<String>,
    /// When not empty, the only tool names the model may call.
    pub allow: Vec<String>,
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl Config {
    /// Whether any policy is set.
    pub fn is_set(&self) -> bool {
        !self.deny.is_empty() || !self.allow.is_empty()
    }

    /// Whether a call to `name` must be withheld.
    pub fn denies(&self, name: &str) -> bool {
        self.deny.iter().any(|p| matches(p, name))
            || (!self.allow.is_empty() && !self.allow.iter().any(|p| matches(p, name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_allow_and_prefixes() {
        let c = Config {
            deny: vec!["delete_*".into(), "run_shell".into()],
            allow: vec![],
        };
        assert!(c.is_set());
        assert!(c.denies("delete_records") && c.denies("run_shell"));
        assert!(!c.denies("run_shell2") && !c.denies("search_docs") && !c.denies("undelete_x"));
        let c = Config {
            deny: vec!["send_email".into()],
            allow: vec!["search_*".into(), "send_email".into()],
        };
        assert!(!c.denies("search_docs"));
        assert!(c.denies("send_email"), "deny wins over allow");
        assert!(c.denies("transfer_funds"), "not allowed");
        assert!(!Config::default().is_set() && !Config::default().denies("anything"));
    }
}
