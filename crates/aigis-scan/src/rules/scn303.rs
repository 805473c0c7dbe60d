//! `SCN303 torch-storage-mismatch`: A tensor storage in a torch zip is smaller than the size its pickle declares.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN303`.

use aigis_core::{RuleInfo, Severity};

/// `SCN303 torch-storage-mismatch`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN303",
    name: "torch-storage-mismatch",
    severity: Severity::Medium,
    summary: "A tensor storage in a torch zip is smaller than the size its pickle declares.",
    doc: "## What it detects\nA `data/<key>` member with fewer bytes than element count times element size.\n\n## Why it matters\nLoaders trusting the declared size read out of bounds (the CVE-2026-24747 class).\n\n## Example\nA FloatStorage of 1,000,000 elements backed by 16 bytes.\n\n## Remediation\nRe-export the checkpoint.\n\n## References\n- CVE-2026-24747\n",
    cwe: &[787],
};
