//! `SCN105 pickle-unknown-import`: A pickle imports a global that is not on the allowlist but never calls it.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN105`.

use aigis_core::{RuleInfo, Severity};

/// `SCN105 pickle-unknown-import`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN105",
    name: "pickle-unknown-import",
    severity: Severity::Low,
    summary: "A pickle imports a global that is not on the allowlist but never calls it.",
    doc: "## What it detects\nA non-allowlisted global that is imported but not called.\n\n## Why it matters\nImporting a module runs its top-level code, and an imported callable can still be reached by other means; it is a weak signal worth a look.\n\n## Example\n`GLOBAL mylib.config CONSTANT` stored in a dict.\n\n## Remediation\nReview the module; allow it with `--allow module:name` if it is trusted.\n\n## References\n- https://docs.python.org/3/library/pickle.html#restricting-globals\n",
    cwe: &[502],
};
