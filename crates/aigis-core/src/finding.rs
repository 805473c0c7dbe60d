use serde::Serialize;

use crate::{RuleInfo, Severity};

/// Where a finding was made.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// The file, as given on the command line or relative to the project directory.
    pub path: String,
    /// An entry inside an archive, `!`-separated when archives nest (`outer.zip!inner/data.pkl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Byte offset inside the file or member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 1-based line, for text inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Location {
    /// A location naming a whole file.
    pub fn file(path: impl Into<String>) -> Self {
        Location {
            path: path.into(),
            member: None,
            offset: None,
            line: None,
        }
    }

    /// The same location at a byte offset.
    #[must_use]
    pub fn at(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// `path`, `path!member`, and `@offset` when known: for humans.
    pub fn display(&self) -> String {
        let mut s = self.path.clone();
        if let Some(m) = &self.member {
            s.push('!');
            s.push_str(m);
        }
        if let Some(o) = self.offset {
            s.push_str(&format!("@{o}"));
        }
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
        }
        s
    }
}

/// One thing a rule found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `SCN101`.
    pub rule: &'static str,
    /// Kebab-case rule name, e.g. `pickle-dangerous-global`.
    pub name: &'static str,
    /// Severity of this finding (usually the rule's, sometimes raised or lowered by context).
    pub severity: Severity,
    /// One line saying what was found.
    pub title: String,
    /// Why it matters here and what to do; may be empty.
    pub detail: String,
    /// Where.
    pub location: Location,
    /// The exact thing seen (a global's name, an op type, a path), kept short.
    pub evidence: String,
    /// CWE ids of the rule, for SARIF tags.
    #[serde(skip)]
    pub cwe: &'static [u32],
}

impl Finding {
    /// A finding of `rule` at its default severity.
    pub fn new(rule: &'static RuleInfo, title: impl Into<String>, location: Location) -> Self {
        Finding {
            rule: rule.id,
            name: rule.name,
            severity: rule.severity,
            title: title.into(),
            detail: String::new(),
            location,
            evidence: String::new(),
            cwe: rule.cwe,
        }
    }

    /// Set the severity.
    #[must_use]
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }

    /// Set the detail text.
    #[must_use]
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = d.into();
        self
    }

    /// Set the evidence, truncated to 300 characters so a hostile input cannot flood reports.
    #[must_use]
    pub fn evidence(mut self, e: impl AsRef<str>) -> Self {
        self.evidence = truncate(e.as_ref(), 300);
        self
    }
}

/// Cut `s` to at most `max` characters, marking the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_bounded() {
        static R: RuleInfo = RuleInfo {
            id: "SCN000",
            name: "t",
            severity: Severity::Low,
            summary: "",
            doc: "",
            cwe: &[],
        };
        let f = Finding::new(&R, "t", Location::file("a")).evidence("x".repeat(10_000));
        assert_eq!(f.evidence.chars().count(), 301);
    }

    #[test]
    fn location_display_names_member_and_offset() {
        let mut l = Location::file("m.pt").at(17);
        l.member = Some("archive/data.pkl".into());
        assert_eq!(l.display(), "m.pt!archive/data.pkl@17");
    }
}
