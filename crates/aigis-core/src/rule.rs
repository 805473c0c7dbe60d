use serde::Serialize;

use crate::Severity;

/// The documentation and defaults of one rule. Each rule lives in its own file in the crate
/// that raises it and is listed once in that crate's registry.
#[derive(Debug, Serialize)]
pub struct RuleInfo {
    /// Stable id: three capital letters for the area (`SCN`, `PII`, `SIG`, `GRD`, `MON`, `PRB`,
    /// `ROB`, `PIP`) and three digits. Never reused.
    pub id: &'static str,
    /// Kebab-case name.
    pub name: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// One-line summary.
    pub summary: &'static str,
    /// Markdown with the sections `## What it detects`, `## Why it matters`, `## Example`,
    /// `## Remediation`, `## References`.
    pub doc: &'static str,
    /// CWE ids this rule maps to.
    pub cwe: &'static [u32],
}

/// The section headings every rule doc must carry, in order.
pub const DOC_SECTIONS: [&str; 5] = [
    "## What it detects",
    "## Why it matters",
    "## Example",
    "## Remediation",
    "## References",
];

/// Check that a rule's id, name and doc follow the conventions; returns the problems found.
pub fn check_rule_doc(rule: &RuleInfo) -> Vec<String> {
    let mut problems = Vec::new();
    let id = rule.id.as_bytes();
    let id_ok = id.len() == 6
        && id[..3].iter().all(u8::is_ascii_uppercase)
        && id[3..].iter().all(u8::is_ascii_digit);
    if !id_ok {
        problems.push(format!(
            "{}: id must be three capitals and three digits",
            rule.id
        ));
    }
    let name_ok = !rule.name.is_empty()
        && rule
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        problems.push(format!(
            "{}: name `{}` is not kebab-case",
            rule.id, rule.name
        ));
    }
    let mut last = 0;
    for sec in DOC_SECTIONS {
        match rule.doc.find(sec) {
            Some(pos) if pos >= last => last = pos,
            Some(_) => problems.push(format!("{}: section `{sec}` is out of order", rule.id)),
            None => problems.push(format!("{}: missing section `{sec}`", rule.id)),
        }
    }
    if rule.summary.is_empty() {
        problems.push(format!("{}: empty summary", rule.id));
    }
    problems
}

/// A read-only view over every rule aigis knows, sorted by id.
#[derive(Debug, Clone, Copy)]
pub struct RuleRegistry {
    rules: &'static [&'static RuleInfo],
}

impl RuleRegistry {
    /// Wrap a static list of rules (which must be sorted by id; see [`RuleRegistry::problems`]).
    pub const fn new(rules: &'static [&'static RuleInfo]) -> Self {
        RuleRegistry { rules }
    }

    /// All rules.
    pub fn all(&self) -> &'static [&'static RuleInfo] {
        self.rules
    }

    /// Find a rule by id (`SCN101`) or name (`pickle-dangerous-global`), case-insensitively.
    pub fn find(&self, key: &str) -> Option<&'static RuleInfo> {
        self.rules
            .iter()
            .copied()
            .find(|r| r.id.eq_ignore_ascii_case(key) || r.name.eq_ignore_ascii_case(key))
    }

    /// Every convention broken by the list: duplicate ids or names, unsorted ids, bad docs.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in self.rules.windows(2) {
            if w[0].id >= w[1].id {
                out.push(format!(
                    "rules not sorted or duplicated: {} then {}",
                    w[0].id, w[1].id
                ));
            }
        }
        let mut names: Vec<_> = self.rules.iter().map(|r| r.name).collect();
        names.sort_unstable();
        for w in names.windows(2) {
            if w[0] == w[1] {
                out.push(format!("duplicate rule name {}", w[0]));
            }
        }
        for r in self.rules {
            out.extend(check_rule_doc(r));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static GOOD: RuleInfo = RuleInfo {
        id: "SCN001",
        name: "good-rule",
        severity: Severity::Low,
        summary: "s",
        doc: "## What it detects\n## Why it matters\n## Example\n## Remediation\n## References\n",
        cwe: &[],
    };
    static BAD: RuleInfo = RuleInfo {
        id: "scn1",
        name: "Bad Rule",
        severity: Severity::Low,
        summary: "",
        doc: "## Why it matters\n",
        cwe: &[],
    };

    #[test]
    fn good_doc_passes_and_bad_doc_lists_every_problem() {
        assert!(check_rule_doc(&GOOD).is_empty());
        let p = check_rule_doc(&BAD);
        assert!(p.iter().any(|m| m.contains("three capitals")));
        assert!(p.iter().any(|m| m.contains("kebab")));
        assert!(p.iter().any(|m| m.contains("What it detects")));
        assert!(p.iter().any(|m| m.contains("empty summary")));
    }

    #[test]
    fn registry_detects_unsorted_and_finds_by_name() {
        static LIST: [&RuleInfo; 2] = [&GOOD, &GOOD];
        let reg = RuleRegistry::new(&LIST);
        assert!(reg.problems().iter().any(|p| p.contains("duplicated")));
        assert_eq!(reg.find("GOOD-RULE").map(|r| r.id), Some("SCN001"));
        assert!(reg.find("nope").is_none());
    }
}
