//! `SCN005 symlink-escape`: A symbolic link in the scanned tree points outside it.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN005`.

use aigis_core::{RuleInfo, Severity};

/// `SCN005 symlink-escape`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN005",
    name: "symlink-escape",
    severity: Severity::High,
    summary: "A symbolic link in the scanned tree points outside it.",
    doc: "## What it detects\nLinks inside a model directory whose target lies outside the scanned directory, or nowhere.\n\n## Why it matters\nLoaders follow links: ONNX external data and tokenizer files read through a link reach files the model should never see (CVE-2026-27489 class).\n\n## Example\n`model.onnx.data -> /home/user/.ssh/id_rsa`\n\n## Remediation\nReplace the link with the file it should be, or remove it.\n\n## References\n- CVE-2026-27489\n- CWE-59: Link Following\n",
    cwe: &[59],
};
