//! `SCN401 numpy-object-array`: A NumPy array of Python objects: its data is a pickle.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN401`.

use aigis_core::{RuleInfo, Severity};

/// `SCN401 numpy-object-array`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN401",
    name: "numpy-object-array",
    severity: Severity::Low,
    summary: "A NumPy array of Python objects: its data is a pickle.",
    doc: "## What it detects\n`.npy` headers (also inside `.npz`) whose dtype has an object (`O`) field.\n\n## Why it matters\nLoading it needs `allow_pickle=True`, which runs the embedded pickle (CVE-2019-6446); the pickle itself is scanned and reported by the pickle rules.\n\n## Example\n`np.save('a.npy', np.array([obj], dtype=object))`\n\n## Remediation\nStore numeric arrays, or save objects some other way.\n\n## References\n- CVE-2019-6446\n",
    cwe: &[502],
};
