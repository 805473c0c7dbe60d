//! `SCN102 pickle-dynamic-import`: A pickle imports a name computed at load time.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN102`.

use aigis_core::{RuleInfo, Severity};

/// `SCN102 pickle-dynamic-import`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN102",
    name: "pickle-dynamic-import",
    severity: Severity::Critical,
    summary: "A pickle imports a name computed at load time.",
    doc: "## What it detects\n`STACK_GLOBAL` whose module or name operand is not a literal string but the result of a call, or an `EXT` code resolved through the copyreg registry.\n\n## Why it matters\nScanners that read import names statically see nothing; the name is produced by running code while loading. No legitimate library writes this.\n\n## Example\n`STACK_GLOBAL` over the result of `_codecs.decode('bf', 'rot13')`.\n\n## Remediation\nDo not load the file.\n\n## References\n- The Art of Hide and Seek (arXiv 2508.19774)\n",
    cwe: &[502, 94],
};
