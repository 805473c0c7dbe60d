//! `SCN002 unknown-format`: Binary content that matches no known model format.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN002`.

use aigis_core::{RuleInfo, Severity};

/// `SCN002 unknown-format`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN002",
    name: "unknown-format",
    severity: Severity::Medium,
    summary: "Binary content that matches no known model format.",
    doc: "## What it detects\nA binary file (not text, image or PDF) that no aigis parser recognises by content.\n\n## Why it matters\nFormats are detected by content, never by extension: a renamed pickle is still a pickle. A binary that is nothing aigis knows cannot be vouched for, so it is not passed silently (scanners that print 'no issues' for skipped files are a common complaint).\n\n## Example\n`weights.bin` holding an unknown serialisation.\n\n## Remediation\nConvert the artifact to a known format (safetensors preferably), or suppress the finding for that path with a reason.\n\n## References\n- modelscan issue #218 (skipped files reported as clean)\n",
    cwe: &[],
};
