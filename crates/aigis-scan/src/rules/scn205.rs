//! `SCN205 archive-hidden-content`: An archive hides content from some readers: members missing from the central directory, or data before the first member.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN205`.

use aigis_core::{RuleInfo, Severity};

/// `SCN205 archive-hidden-content`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN205",
    name: "archive-hidden-content",
    severity: Severity::High,
    summary: "An archive hides content from some readers: members missing from the central directory, or data before the first member.",
    doc: "## What it detects\nLocal headers not listed in the central directory, and bytes in front of the first zip member (polyglot files).\n\n## Why it matters\nScanners that read the directory never see hidden members, while streaming readers load them; a file that is both a pickle and a zip loads differently in different tools.\n\n## Example\nA pickle with a zip appended (`torch.load` reads the zip, `pickle.load` the pickle).\n\n## Remediation\nDo not load the file. Hidden members and prefixes were scanned; see the other findings.\n\n## References\n- picklescan CVE-2025-1889\n",
    cwe: &[],
};
