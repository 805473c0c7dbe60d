//! `SCN004 unsupported-container`: A container or compression aigis cannot open (7z, rar, bzip2, lz4, zstd, unknown zip method).
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN004`.

use aigis_core::{RuleInfo, Severity};

/// `SCN004 unsupported-container`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN004",
    name: "unsupported-container",
    severity: Severity::Medium,
    summary: "A container or compression aigis cannot open (7z, rar, bzip2, lz4, zstd, unknown zip method).",
    doc: "## What it detects\nArchives and compressed streams whose contents aigis does not unpack.\n\n## Why it matters\nOlder scanners unpacked 7z through py7zr and some loaders (joblib with lz4 or bz2) open these formats; a payload inside is invisible unless unpacked (the nullifAI samples used 7z-compressed PyTorch files).\n\n## Example\n`model.pt` that is a 7z archive.\n\n## Remediation\nRepack as zip or uncompressed and scan again.\n\n## References\n- nullifAI: https://www.reversinglabs.com/blog/rl-identifies-malware-ml-model-hosted-on-hugging-face\n",
    cwe: &[],
};
