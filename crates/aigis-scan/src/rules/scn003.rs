//! `SCN003 scan-limit-exceeded`: A safety limit (depth, size, time, count) stopped the scan of part of the input.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN003`.

use aigis_core::{RuleInfo, Severity};

/// `SCN003 scan-limit-exceeded`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN003",
    name: "scan-limit-exceeded",
    severity: Severity::Medium,
    summary: "A safety limit (depth, size, time, count) stopped the scan of part of the input.",
    doc: "## What it detects\nNesting deeper than `max_depth`, more decompressed data than the budget, too many archive entries or pickle values, or a file that took longer than the time budget.\n\n## Why it matters\nLimits keep a hostile file from exhausting the scanner; what lies beyond a limit was not examined, so the file cannot be called clean.\n\n## Example\nA zip nested 20 levels deep; a pickle whose memo grows past 64 million values.\n\n## Remediation\nInspect the file by hand. If it is legitimately large, raise the limit in `aigis.toml` under `[scan]`.\n\n## References\n- CWE-400: Uncontrolled Resource Consumption\n",
    cwe: &[400],
};
