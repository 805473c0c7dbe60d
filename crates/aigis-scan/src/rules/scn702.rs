//! `SCN702 onnx-nonstandard-domain`: An ONNX model uses operators from a non-standard domain.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN702`.

use aigis_core::{RuleInfo, Severity};

/// `SCN702 onnx-nonstandard-domain`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN702",
    name: "onnx-nonstandard-domain",
    severity: Severity::Low,
    summary: "An ONNX model uses operators from a non-standard domain.",
    doc: "## What it detects\nOperators outside the ONNX, ONNX-ML, training and Microsoft domains; high for Python operators (onnxruntime-extensions `PyOp`).\n\n## Why it matters\nCustom operators need native or Python code registered at load time, outside the model's checks.\n\n## Example\n`domain: \"ai.onnx.contrib\", op_type: \"PyOp\"`\n\n## Remediation\nUse standard operators, or review the custom operator library.\n\n## References\n- https://onnxruntime.ai/docs/reference/operators/add-custom-op.html\n",
    cwe: &[],
};
