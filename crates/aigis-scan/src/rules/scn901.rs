//! `SCN901 safetensors-invalid-header`: A safetensors header is invalid.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN901`.

use aigis_core::{RuleInfo, Severity};

/// `SCN901 safetensors-invalid-header`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN901",
    name: "safetensors-invalid-header",
    severity: Severity::High,
    summary: "A safetensors header is invalid.",
    doc: "## What it detects\nHeader JSON that does not parse, unknown dtypes, shapes that disagree with offsets, overlapping tensors, offsets past the data.\n\n## Why it matters\nsafetensors is the safe format because it holds no code; a malformed header is either damage or an attempt on parsers that are less careful than the reference one.\n\n## Example\nTwo tensors whose `data_offsets` overlap.\n\n## Remediation\nRe-export the file with the safetensors library.\n\n## References\n- https://github.com/huggingface/safetensors\n",
    cwe: &[20],
};
