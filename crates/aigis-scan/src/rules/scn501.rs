//! `SCN501 keras-lambda`: A Keras model carries a Lambda layer's Python bytecode.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN501`.

use aigis_core::{RuleInfo, Severity};

/// `SCN501 keras-lambda`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN501",
    name: "keras-lambda",
    severity: Severity::Medium,
    summary: "A Keras model carries a Lambda layer's Python bytecode.",
    doc: "## What it detects\nLambda layers in `.keras` `config.json` or legacy `.h5` model configs; critical when the bytecode names process, file or eval functions.\n\n## Why it matters\nKeras unmarshals the bytecode and runs it when building the model; legacy `.h5` ignores `safe_mode` (CVE-2024-3660, CVE-2025-9905).\n\n## Example\n`Lambda(lambda x: __import__('os').system('id') or x)`\n\n## Remediation\nReplace Lambda layers with registered custom layers in code you control.\n\n## References\n- CVE-2024-3660\n- CVE-2025-9905\n",
    cwe: &[94],
};
