//! `SCN302 torchscript-dangerous-call`: TorchScript code calls operators that read or write files or load libraries.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN302`.

use aigis_core::{RuleInfo, Severity};

/// `SCN302 torchscript-dangerous-call`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN302",
    name: "torchscript-dangerous-call",
    severity: Severity::High,
    summary: "TorchScript code calls operators that read or write files or load libraries.",
    doc: "## What it detects\nCalls such as `torch.from_file`, `aten::save`, `torch.load` or `torch.ops.load_library` in a TorchScript archive's code.\n\n## Why it matters\nThese operators reach the file system or load native code when the model runs.\n\n## Example\n`torch.from_file(\"/etc/passwd\", ...)` in `code/__torch__.py`.\n\n## Remediation\nDo not run the model.\n\n## References\n- CVE-2025-32434\n",
    cwe: &[94, 73],
};
