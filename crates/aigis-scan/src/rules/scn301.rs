//! `SCN301 torchscript-code`: A TorchScript archive: loading it runs its compiled code.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN301`.

use aigis_core::{RuleInfo, Severity};

/// `SCN301 torchscript-code`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN301",
    name: "torchscript-code",
    severity: Severity::Info,
    summary: "A TorchScript archive: loading it runs its compiled code.",
    doc: "## What it detects\nZip checkpoints with `code/` and `constants.pkl`: TorchScript modules.\n\n## Why it matters\n`torch.load` hands TorchScript archives to `torch.jit.load` even with `weights_only=True` (CVE-2025-32434): the model's code runs, within TorchScript's operator set.\n\n## Example\nA model saved with `torch.jit.save`.\n\n## Remediation\nLoad TorchScript only from trusted, signed sources.\n\n## References\n- CVE-2025-32434\n",
    cwe: &[94],
};
