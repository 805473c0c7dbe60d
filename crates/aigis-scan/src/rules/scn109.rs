//! `SCN109 pickle-stacked-data`: More data (another pickle, or other bytes) follows the end of a pickle.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN109`.

use aigis_core::{RuleInfo, Severity};

/// `SCN109 pickle-stacked-data`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN109",
    name: "pickle-stacked-data",
    severity: Severity::Low,
    summary: "More data (another pickle, or other bytes) follows the end of a pickle.",
    doc: "## What it detects\nBytes after a pickle's `STOP` in a raw pickle file: another pickle (each is scanned) or trailing data.\n\n## Why it matters\nLoaders that call `pickle.load` repeatedly (legacy PyTorch, custom loaders) run stacked pickles; scanners that stop at the first `STOP` miss them.\n\n## Example\nTwo pickles concatenated in one `.pkl`.\n\n## Remediation\nRe-export the model; a single object needs a single pickle.\n\n## References\n- fickling documentation (stacked pickles)\n",
    cwe: &[502],
};
