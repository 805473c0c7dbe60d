//! `SCN203 archive-bomb`: An archive member or compressed stream expands beyond the safety limits.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN203`.

use aigis_core::{RuleInfo, Severity};

/// `SCN203 archive-bomb`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN203",
    name: "archive-bomb",
    severity: Severity::High,
    summary: "An archive member or compressed stream expands beyond the safety limits.",
    doc: "## What it detects\nDecompressed size over `max_member_bytes`, or a compression ratio over `max_ratio` for a member past 8 MiB (checked while inflating, so a bomb costs a few megabytes).\n\n## Why it matters\nDecompression bombs exhaust memory or disk in whatever unpacks them; model files never compress this well.\n\n## Example\nA 40 KiB member that inflates to 4 GiB.\n\n## Remediation\nDo not unpack the file.\n\n## References\n- CWE-409: Improper Handling of Highly Compressed Data\n",
    cwe: &[409, 400],
};
