use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How serious a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; never a problem by itself.
    Info,
    /// Unusual, probably harmless.
    Low,
    /// Needs a human look before the artifact is trusted (the default gate).
    Medium,
    /// Very likely unsafe.
    High,
    /// Known-dangerous: code execution, file system or network access on load.
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name used in configs, CLI flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The SARIF `level` this severity maps to.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::Low | Severity::Medium => "warning",
            Severity::High | Severity::Critical => "error",
        }
    }

    /// The GitHub code-scanning `security-severity` score (0.0-10.0) for this severity.
    pub fn security_score(self) -> &'static str {
        match self {
            Severity::Info => "0.0",
            Severity::Low => "3.0",
            Severity::Medium => "5.5",
            Severity::High => "8.0",
            Severity::Critical => "9.5",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `info`, `low`, `medium`, `high`, `critical`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown severity `{0}`; expected one of info, low, medium, high, critical")]
pub struct ParseSeverityError(pub String);

impl FromStr for Severity {
    type Err = ParseSeverityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseSeverityError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_is_info_to_critical() {
        let mut v = Severity::ALL.to_vec();
        v.reverse();
        v.sort();
        assert_eq!(v, Severity::ALL.to_vec());
        assert!(Severity::Medium > Severity::Low);
    }

    #[test]
    fn parses_case_insensitively_and_rejects_unknown() {
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        let err = "severe".parse::<Severity>().unwrap_err().to_string();
        assert!(err.contains("severe") && err.contains("critical"), "{err}");
    }
}
