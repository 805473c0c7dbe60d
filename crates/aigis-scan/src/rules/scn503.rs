//! `SCN503 keras-dangerous-reference`: A Keras config uses a layer or function that loads or downloads files.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN503`.

use aigis_core::{RuleInfo, Severity};

/// `SCN503 keras-dangerous-reference`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN503",
    name: "keras-dangerous-reference",
    severity: Severity::High,
    summary: "A Keras config uses a layer or function that loads or downloads files.",
    doc: "## What it detects\nReferences to `keras.utils.get_file` and `TFSMLayer`.\n\n## Why it matters\n`get_file` downloads and writes files while the model loads (CVE-2025-8747); `TFSMLayer` loads and runs an external SavedModel (CVE-2026-1462).\n\n## Example\n`{\"class_name\": \"TFSMLayer\", \"config\": {\"filepath\": \"/tmp/evil\"}}`\n\n## Remediation\nRemove the reference; ship the data with the model.\n\n## References\n- CVE-2025-8747\n- CVE-2026-1462\n",
    cwe: &[494],
};
