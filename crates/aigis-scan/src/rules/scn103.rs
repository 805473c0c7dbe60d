//! `SCN103 pickle-attribute-traversal`: A pickle resolves a dotted or special name that walks into dangerous attributes.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN103`.

use aigis_core::{RuleInfo, Severity};

/// `SCN103 pickle-attribute-traversal`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN103",
    name: "pickle-attribute-traversal",
    severity: Severity::Critical,
    summary: "A pickle resolves a dotted or special name that walks into dangerous attributes.",
    doc: "## What it detects\nProtocol 4 dotted names resolved attribute by attribute: a step through a dunder (`__builtins__`, `__globals__`, `__class__`, `__subclasses__`) or through a module attribute that reaches a denylisted callable (`pathlib` then `os.system`).\n\n## Why it matters\nA name like `numpy.__builtins__.eval` starts in an allowed module and ends in code execution; allowlists keyed on the module alone are bypassed this way.\n\n## Example\n`STACK_GLOBAL('pathlib', 'os.system')`\n\n## Remediation\nDo not load the file.\n\n## References\n- picklescan bypass reports (dotted names)\n- modelscan issue #330\n",
    cwe: &[502, 94],
};
