//! `SCN001 malformed-file`: A file or member could not be fully parsed.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN001`.

use aigis_core::{RuleInfo, Severity};

/// `SCN001 malformed-file`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN001",
    name: "malformed-file",
    severity: Severity::Medium,
    summary: "A file or member could not be fully parsed.",
    doc: "## What it detects\nA model file, archive member or header that aigis could not parse to the end: truncated data, lengths that run past the end, damaged structure.\n\n## Why it matters\nLoaders are more forgiving than parsers: PyTorch runs a pickle up to the point where it breaks (the nullifAI technique), and a scanner that skips what it cannot parse reports a dangerous file as clean. aigis fails closed: the file's verdict is `error` and the finding counts against `--fail-on`.\n\n## Example\nA GGUF file whose metadata count claims more entries than the file holds; an `.npy` header cut short.\n\n## Remediation\nRe-export the model with the library that made it. If the file comes from outside, do not load it.\n\n## References\n- nullifAI: https://www.reversinglabs.com/blog/rl-identifies-malware-ml-model-hosted-on-hugging-face\n",
    cwe: &[],
};
