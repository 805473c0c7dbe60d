use std::fmt::Write;

use crate::{Report, RuleRegistry, Verdict};

/// Escape text for HTML element content and attribute values (control characters become
/// U+FFFD).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// A self-contained HTML page (no scripts, no external resources) for people and archives.
pub fn html(report: &Report, rules: &RuleRegistry, tool_version: &str) -> String {
    let mut o = String::new();
    o.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    o.push_str("<title>aigis report</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;width:100%;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.critical{background:#f8d0d0}.high{background:#fbe0c8}.medium{background:#fdf3c4}.low{background:#e6f0fa}\
.info{background:#f4f4f4}code{word-break:break-all}</style></head><body>\n");
    let _ = writeln!(
        o,
        "<h1>aigis report</h1>\n<p>aigis {} &middot; schema <code>{}</code></p>",
        esc(tool_version),
        esc(report.schema)
    );
    let _ = writeln!(
        o,
        "<p>{}; {} suppressed; {} errors.</p>",
        esc(&report.summary()),
        report.suppressed,
        report.errors.len()
    );
    o.push_str("<h2>Findings</h2>\n");
    if report.findings.is_empty() {
        o.push_str("<p>No findings.</p>\n");
    } else {
        o.push_str("<table><tr><th>Severity</th><th>Rule</th><th>Location</th><th>Finding</th><th>Evidence</th></tr>\n");
        for f in &report.findings {
            let summary = rules.find(f.rule).map_or("", |r| r.summary);
            let _ = writeln!(
                o,
                "<tr class=\"{sev}\"><td>{sev}</td><td title=\"{sum}\"><code>{id}</code> {name}</td><td><code>{loc}</code></td><td>{title}<br><small>{detail}</small></td><td><code>{ev}</code></td></tr>",
                sev = f.severity.as_str(),
                sum = esc(summary),
                id = esc(f.rule),
                name = esc(f.name),
                loc = esc(&f.location.display()),
                title = esc(&f.title),
                detail = esc(&f.detail),
                ev = esc(&f.evidence),
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("<h2>Files</h2>\n<table><tr><th>Path</th><th>Format</th><th>Bytes</th><th>Verdict</th><th>SHA-256</th></tr>\n");
    for f in &report.files {
        let verdict = match f.verdict {
            Verdict::Clean => "clean",
            Verdict::Suspicious => "suspicious",
            Verdict::Unsafe => "unsafe",
            Verdict::Error => "error",
        };
        let _ = writeln!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&f.path),
            esc(&f.format),
            f.bytes,
            verdict,
            esc(f.sha256.as_deref().unwrap_or("")),
        );
    }
    o.push_str("</table>\n");
    if !report.errors.is_empty() {
        o.push_str("<h2>Errors</h2>\n<ul>\n");
        for e in &report.errors {
            let _ = writeln!(
                o,
                "<li><code>{}</code>: {}</li>",
                esc(&e.path),
                esc(&e.message)
            );
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::{rules, sample};

    #[test]
    fn html_escapes_hostile_evidence() {
        let h = html(&sample(), &rules(), "0.1.0");
        assert!(!h.contains("<script>"));
        assert!(h.contains("&lt;script&gt;&quot;&amp;"));
        assert!(h.contains("class=\"critical\""));
        assert!(h.contains("models/ok.safetensors"));
    }
}
