//! `SCN107 pickle-extension-code`: A pickle imports through copyreg extension codes (EXT1/EXT2/EXT4).
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN107`.

use aigis_core::{RuleInfo, Severity};

/// `SCN107 pickle-extension-code`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN107",
    name: "pickle-extension-code",
    severity: Severity::High,
    summary: "A pickle imports through copyreg extension codes (EXT1/EXT2/EXT4).",
    doc: "## What it detects\n`EXT1`, `EXT2` or `EXT4` opcodes, which resolve a global through the loading process's copyreg extension registry.\n\n## Why it matters\nWhat gets imported is not named in the file, so no scanner can vouch for it; ML libraries never use extension codes.\n\n## Example\n`\\x82\\x01` (EXT1 code 1).\n\n## Remediation\nDo not load the file.\n\n## References\n- https://docs.python.org/3/library/copyreg.html\n",
    cwe: &[502],
};
