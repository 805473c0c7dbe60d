//! `SCN104 pickle-unknown-call`: A pickle calls a callable that is not on the allowlist of known-safe ML globals.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN104`.

use aigis_core::{RuleInfo, Severity};

/// `SCN104 pickle-unknown-call`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN104",
    name: "pickle-unknown-call",
    severity: Severity::Medium,
    summary: "A pickle calls a callable that is not on the allowlist of known-safe ML globals.",
    doc: "## What it detects\nA global that is called (by `REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST`, `OBJ`, passed to a higher-order callable, or set into `BUILD` state) and is neither allowlisted nor denylisted.\n\n## Why it matters\nEvery unknown callable runs on load with arguments chosen by the file. Denylists are always incomplete (hundreds of gadgets are known), so aigis decides by allowlist: what real libraries write is known and exact.\n\n## Example\n`__main__.MyModel` instantiated by `NEWOBJ` in a checkpoint saved with `torch.save(model)`.\n\n## Remediation\nSave `state_dict()` instead of whole objects, or export to safetensors. If the class is yours and trusted, allow it: `aigis scan --allow mypkg.models:MyModel`, or suppress the finding with a reason.\n\n## References\n- https://pytorch.org/docs/stable/notes/serialization.html\n",
    cwe: &[502],
};
