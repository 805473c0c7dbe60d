//! `SCN701 onnx-external-data-escape`: An ONNX tensor's external data location escapes the model directory.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN701`.

use aigis_core::{RuleInfo, Severity};

/// `SCN701 onnx-external-data-escape`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN701",
    name: "onnx-external-data-escape",
    severity: Severity::Critical,
    summary: "An ONNX tensor's external data location escapes the model directory.",
    doc: "## What it detects\n`external_data` locations that are absolute, name a drive or stream, contain a NUL, or climb with `..`.\n\n## Why it matters\nonnx and onnxruntime read (and some tools write) the named file (CVE-2022-25882, CVE-2024-27318).\n\n## Example\n`location: \"../../../home/user/.ssh/id_rsa\"`\n\n## Remediation\nKeep external data next to the model with a plain relative name.\n\n## References\n- CVE-2022-25882\n- CVE-2024-27318\n",
    cwe: &[22],
};
