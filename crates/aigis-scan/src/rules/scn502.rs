//! `SCN502 keras-untrusted-module`: A Keras config names a module outside Keras.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN502`.

use aigis_core::{RuleInfo, Severity};

/// `SCN502 keras-untrusted-module`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN502",
    name: "keras-untrusted-module",
    severity: Severity::High,
    summary: "A Keras config names a module outside Keras.",
    doc: "## What it detects\n`module` keys in a Keras config that are not `keras`, `keras.src.*`, `tf_keras`, `keras_hub` and the like; critical for denylisted modules.\n\n## Why it matters\nKeras imports the module and looks the name up in it during deserialisation, even in `safe_mode` (CVE-2025-1550).\n\n## Example\n`{\"module\": \"os\", \"class_name\": \"system\", ...}`\n\n## Remediation\nUse only Keras classes or your own registered ones; review custom modules.\n\n## References\n- CVE-2025-1550\n",
    cwe: &[94, 470],
};
