use std::fmt::Write;

use crate::Report;

/// Replace control characters so hostile evidence cannot move the cursor or recolour a terminal.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// A plain-text table for terminals: one line per finding, then a summary.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    if report.findings.is_empty() {
        out.push_str("no findings\n");
    } else {
        let _ = writeln!(
            out,
            "{:<9} {:<7} {:<40} FINDING",
            "SEVERITY", "RULE", "LOCATION"
        );
        for f in &report.findings {
            let _ = writeln!(
                out,
                "{:<9} {:<7} {:<40} {}",
                f.severity.as_str(),
                f.rule,
                printable(&f.location.display()),
                printable(&f.title)
            );
            if !f.evidence.is_empty() && f.evidence != f.title {
                let _ = writeln!(out, "{:<58} evidence: {}", "", printable(&f.evidence));
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{}{}{}",
        report.summary(),
        if report.suppressed > 0 {
            format!(", {} suppressed", report.suppressed)
        } else {
            String::new()
        },
        if report.errors.is_empty() {
            String::new()
        } else {
            format!(", {} errors", report.errors.len())
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::sample;

    #[test]
    fn table_strips_control_characters() {
        let t = table(&sample());
        assert!(!t.contains('\u{7}'));
        assert!(t.contains("critical  SCN101"));
        assert!(t.contains("2 files, 2 findings (critical 1, high 0, medium 1"));
    }

    #[test]
    fn table_snapshot() {
        insta::assert_snapshot!(table(&sample()));
    }
}
