//! `SCN108 pickle-malformed-stream`: A pickle stream is malformed or truncated.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN108`.

use aigis_core::{RuleInfo, Severity};

/// `SCN108 pickle-malformed-stream`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN108",
    name: "pickle-malformed-stream",
    severity: Severity::Medium,
    summary: "A pickle stream is malformed or truncated.",
    doc: "## What it detects\nAn invalid opcode, a stack underflow, a memo key that does not exist, a length past the end, or a stream without `STOP`.\n\n## Why it matters\nPython executes every opcode before the damage: a payload placed before a deliberate error runs, while scanners that give up on parse errors see nothing (nullifAI). What was seen before the damage is reported by the other rules.\n\n## Example\n`cposix\\nsystem\\n(S'id'\\ntR` followed by the byte 0xff.\n\n## Remediation\nDo not load the file; re-export it from its source.\n\n## References\n- nullifAI\n- modelscan issue #356 (fail closed on parse errors)\n",
    cwe: &[502],
};
