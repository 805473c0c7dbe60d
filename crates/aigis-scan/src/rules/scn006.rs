//! `SCN006 native-executable`: A native executable or shared library among the model files.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN006`.

use aigis_core::{RuleInfo, Severity};

/// `SCN006 native-executable`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN006",
    name: "native-executable",
    severity: Severity::High,
    summary: "A native executable or shared library among the model files.",
    doc: "## What it detects\nELF, PE and Mach-O binaries found among the scanned files or inside archives.\n\n## Why it matters\nNative code runs with full privileges once a loader or a custom-operator registry loads it; model artifacts should not need any, and when they do (custom ops) it must be reviewed and signed like any software.\n\n## Example\n`custom_ops.so` inside a model repository.\n\n## Remediation\nRemove it, or build it yourself from reviewed source and suppress the finding with a reason.\n\n## References\n- CWE-829: Inclusion of Functionality from Untrusted Control Sphere\n",
    cwe: &[829],
};
