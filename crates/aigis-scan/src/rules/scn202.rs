//! `SCN202 zip-encrypted`: A zip member is encrypted and cannot be inspected.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN202`.

use aigis_core::{RuleInfo, Severity};

/// `SCN202 zip-encrypted`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN202",
    name: "zip-encrypted",
    severity: Severity::Medium,
    summary: "A zip member is encrypted and cannot be inspected.",
    doc: "## What it detects\nA member with the encryption flag set.\n\n## Why it matters\nIts contents cannot be checked; model archives are never encrypted member by member.\n\n## Example\nA `.pt` archive whose `data.pkl` has flag bit 0 set.\n\n## Remediation\nObtain an unencrypted copy.\n\n## References\n- APPNOTE.TXT 4.4.4 general purpose bit flag\n",
    cwe: &[],
};
