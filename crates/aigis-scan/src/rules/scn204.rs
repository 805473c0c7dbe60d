//! `SCN204 archive-path-traversal`: An archive member's name or link escapes the extraction directory.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN204`.

use aigis_core::{RuleInfo, Severity};

/// `SCN204 archive-path-traversal`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN204",
    name: "archive-path-traversal",
    severity: Severity::High,
    summary: "An archive member's name or link escapes the extraction directory.",
    doc: "## What it detects\nMember names that are absolute, contain `..`, a drive letter or a NUL, and tar members that are links.\n\n## Why it matters\nTools that extract model archives (Keras, custom loaders) write wherever the name points.\n\n## Example\n`../../.bashrc` inside a `.keras` zip.\n\n## Remediation\nDo not extract the archive.\n\n## References\n- CWE-22: Path Traversal\n",
    cwe: &[22],
};
