//! `SCN402 skops-untrusted-type`: A skops file names a type or function outside the known-safe set.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN402`.

use aigis_core::{RuleInfo, Severity};

/// `SCN402 skops-untrusted-type`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN402",
    name: "skops-untrusted-type",
    severity: Severity::Medium,
    summary: "A skops file names a type or function outside the known-safe set.",
    doc: "## What it detects\nTypes, functions and methods named in a `.skops` file's `schema.json` that are not on the allowlist; critical when denylisted.\n\n## Why it matters\nskops refuses untrusted types unless the caller trusts them, and callers often pass `get_untrusted_types()` straight back; a function node naming `posix.system` then runs on load.\n\n## Example\n`{\"__loader__\": \"FunctionNode\", \"content\": {\"module_path\": \"posix\", \"function\": \"system\"}}`\n\n## Remediation\nReview `skops.io.get_untrusted_types()` before trusting anything; never trust process, eval or import functions.\n\n## References\n- https://skops.readthedocs.io/en/stable/persistence.html\n- CVE-2025-54886\n",
    cwe: &[502],
};
