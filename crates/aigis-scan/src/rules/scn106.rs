//! `SCN106 pickle-attribute-injection`: A pickle's BUILD rewrites an imported object or injects a special attribute.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN106`.

use aigis_core::{RuleInfo, Severity};

/// `SCN106 pickle-attribute-injection`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN106",
    name: "pickle-attribute-injection",
    severity: Severity::Critical,
    summary: "A pickle's BUILD rewrites an imported object or injects a special attribute.",
    doc: "## What it detects\n`BUILD` applied to a global (class, function or module) rather than to a fresh instance, or `BUILD` state that sets a dunder attribute such as `__setstate__` or `__reduce__`.\n\n## Why it matters\nSetting attributes on a class rewrites it for the whole process; installing `__setstate__` on an instance makes the next `BUILD` call an attacker-chosen function without any `REDUCE` opcode.\n\n## Example\n`BUILD` with state `{'__setstate__': os.system}` followed by `BUILD` with state `'id'`.\n\n## Remediation\nDo not load the file.\n\n## References\n- Trail of Bits, Sleepy Pickle\n- fickling documentation\n",
    cwe: &[502, 915],
};
