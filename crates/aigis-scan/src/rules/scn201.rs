//! `SCN201 zip-integrity`: Zip headers disagree with each other or with the data.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN201`.

use aigis_core::{RuleInfo, Severity};

/// `SCN201 zip-integrity`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN201",
    name: "zip-integrity",
    severity: Severity::Medium,
    summary: "Zip headers disagree with each other or with the data.",
    doc: "## What it detects\nCRC mismatches, local and central names that differ, duplicate member names, a missing or truncated central directory, entries pointing at no local header.\n\n## Why it matters\nReal writers never produce these. PyTorch (miniz) and Python's `zipfile` react differently, which is how scanners were bypassed (picklescan CVE-2025-10156 bad CRC, CVE-2025-1944 name mismatch, duplicate `data.pkl`).\n\n## Example\nA `data.pkl` whose stored CRC is wrong; torch loads it, `zipfile` refuses it.\n\n## Remediation\nDo not load the file; re-export it.\n\n## References\n- CVE-2025-10156\n- CVE-2025-1944\n- CVE-2025-1945\n",
    cwe: &[],
};
