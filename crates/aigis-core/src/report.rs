use serde::Serialize;

use crate::{Finding, Severity};

/// What a file was judged to be, from its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Verdict {
    /// Nothing at medium or above, and fully parsed.
    Clean,
    /// A medium finding.
    Suspicious,
    /// A high or critical finding.
    Unsafe,
    /// Could not be fully parsed (and nothing high or critical was seen before the failure).
    Error,
}

/// One examined file.
#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    /// Path as given or relative to the project.
    pub path: String,
    /// Detected format (`pickle`, `pytorch-zip`, `numpy`, …), by content.
    pub format: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex SHA-256 of the whole file, when computed.
    pub sha256: Option<String>,
    /// Verdict from the findings on this file.
    pub verdict: Verdict,
    /// True when some part of the file could not be parsed or was skipped by a budget.
    #[serde(skip)]
    pub incomplete: bool,
}

/// An operational error on one input (unreadable file, …): aigis could not check it.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorRecord {
    /// The input.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// The result of one run: what was examined, what was found, what could not be checked.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Schema id of the JSON form, e.g. `aigis.scan/v1`.
    pub schema: &'static str,
    /// Examined files.
    pub files: Vec<FileRecord>,
    /// Findings after suppressions, sorted by path, member, offset, rule.
    pub findings: Vec<Finding>,
    /// Inputs that could not be checked.
    pub errors: Vec<ErrorRecord>,
    /// Findings removed by suppressions.
    #[serde(skip)]
    pub suppressed: usize,
    /// Wall time of the run in milliseconds (not part of the stable schema; kept for humans).
    #[serde(skip)]
    pub elapsed_ms: u128,
}

impl Report {
    /// An empty report for `schema`.
    pub fn new(schema: &'static str) -> Self {
        Report {
            schema,
            files: Vec::new(),
            findings: Vec::new(),
            errors: Vec::new(),
            suppressed: 0,
            elapsed_ms: 0,
        }
    }

    /// Sort findings and files into a stable order and recompute every file's verdict.
    pub fn finish(&mut self) {
        // By file, most severe first, then position inside the file.
        self.findings.sort_by(|a, b| {
            (
                &a.location.path,
                std::cmp::Reverse(a.severity),
                &a.location,
                a.rule,
                &a.evidence,
            )
                .cmp(&(
                    &b.location.path,
                    std::cmp::Reverse(b.severity),
                    &b.location,
                    b.rule,
                    &b.evidence,
                ))
        });
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        // Worst severity per path in one pass (a directory scan has many files and findings).
        let mut worst_by_path: std::collections::HashMap<&str, Severity> =
            std::collections::HashMap::new();
        for x in &self.findings {
            let w = worst_by_path
                .entry(x.location.path.as_str())
                .or_insert(x.severity);
            *w = (*w).max(x.severity);
        }
        for f in &mut self.files {
            let worst = worst_by_path.get(f.path.as_str()).copied();
            f.verdict = verdict_for(worst, f.incomplete);
        }
    }

    /// The highest severity among the findings.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// One line for humans: `N files, M findings (critical …, high …, medium …, low …, info …)`.
    pub fn summary(&self) -> String {
        let c = self.counts();
        format!(
            "{} files, {} findings (critical {}, high {}, medium {}, low {}, info {})",
            self.files.len(),
            self.findings.len(),
            c[4],
            c[3],
            c[2],
            c[1],
            c[0]
        )
    }

    /// Count of findings per severity, lowest first.
    pub fn counts(&self) -> [usize; 5] {
        let mut c = [0; 5];
        for f in &self.findings {
            c[f.severity as usize] += 1;
        }
        c
    }
}

/// The verdict for a file whose worst finding is `worst`.
pub fn verdict_for(worst: Option<Severity>, incomplete: bool) -> Verdict {
    match worst {
        Some(s) if s >= Severity::High => Verdict::Unsafe,
        _ if incomplete => Verdict::Error,
        Some(Severity::Medium) => Verdict::Suspicious,
        _ => Verdict::Clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_design() {
        assert_eq!(verdict_for(None, false), Verdict::Clean);
        assert_eq!(verdict_for(Some(Severity::Low), false), Verdict::Clean);
        assert_eq!(
            verdict_for(Some(Severity::Medium), false),
            Verdict::Suspicious
        );
        assert_eq!(verdict_for(Some(Severity::Medium), true), Verdict::Error);
        assert_eq!(verdict_for(Some(Severity::Critical), true), Verdict::Unsafe);
        assert_eq!(verdict_for(None, true), Verdict::Error);
    }
}
