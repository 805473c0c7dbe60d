//! Report writers, one file per format. Each takes a finished [`Report`] and returns the text;
//! the caller decides where it goes (stdout or an atomically written file).

mod html;
mod json;
mod sarif;
mod table;

pub use html::{esc as html_escape, html};
pub use json::json;
pub use sarif::sarif;
pub use table::table;

/// The output formats a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Human-readable columns.
    Table,
    /// The stable JSON schema named by the report.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// A self-contained HTML page.
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "html" => Ok(Format::Html),
            _ => Err(format!(
                "unknown format `{s}`; expected table, json, sarif or html"
            )),
        }
    }
}

/// Write `report` in `format`; SARIF and HTML look rule docs up in `rules`.
pub fn render(
    report: &crate::Report,
    format: Format,
    rules: &crate::RuleRegistry,
    tool_version: &str,
) -> String {
    match format {
        Format::Table => table(report),
        Format::Json => json(report),
        Format::Sarif => sarif(report, rules, tool_version),
        Format::Html => html(report, rules, tool_version),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::{FileRecord, Finding, Location, Report, RuleInfo, RuleRegistry, Severity, Verdict};

    pub static R1: RuleInfo = RuleInfo {
        id: "SCN101",
        name: "pickle-dangerous-global",
        severity: Severity::Critical,
        summary: "A pickle imports a known-dangerous callable.",
        doc: "## What it detects\nx\n## Why it matters\nx\n## Example\nx\n## Remediation\nx\n## References\nx\n",
        cwe: &[502],
    };
    pub static R2: RuleInfo = RuleInfo {
        id: "SCN201",
        name: "zip-integrity",
        severity: Severity::Medium,
        summary: "Zip headers disagree.",
        doc: "## What it detects\nx\n## Why it matters\nx\n## Example\nx\n## Remediation\nx\n## References\nx\n",
        cwe: &[],
    };
    pub static LIST: [&RuleInfo; 2] = [&R1, &R2];
    pub fn rules() -> RuleRegistry {
        RuleRegistry::new(&LIST)
    }

    /// A small report with a hostile-looking evidence string (markup, quotes, control chars).
    pub fn sample() -> Report {
        let mut r = Report::new("aigis.scan/v1");
        r.files.push(FileRecord {
            path: "models/evil.pt".into(),
            format: "pytorch-zip".into(),
            bytes: 1234,
            sha256: Some("ab".repeat(32)),
            verdict: Verdict::Clean,
            incomplete: false,
        });
        r.files.push(FileRecord {
            path: "models/ok.safetensors".into(),
            format: "safetensors".into(),
            bytes: 88,
            sha256: None,
            verdict: Verdict::Clean,
            incomplete: false,
        });
        let mut loc = Location::file("models/evil.pt").at(42);
        loc.member = Some("archive/data.pkl".into());
        r.findings.push(
            Finding::new(&R1, "pickle calls posix.system", loc)
                .detail("runs a shell command when loaded")
                .evidence("posix.system('<script>\"&\u{7}')"),
        );
        r.findings.push(Finding::new(
            &R2,
            "CRC mismatch",
            Location::file("models/evil.pt"),
        ));
        r.finish();
        r
    }
}
