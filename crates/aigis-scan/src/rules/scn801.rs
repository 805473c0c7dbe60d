//! `SCN801 chat-template-injection`: A chat template reaches Python internals (server-side template injection).
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN801`.

use aigis_core::{RuleInfo, Severity};

/// `SCN801 chat-template-injection`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN801",
    name: "chat-template-injection",
    severity: Severity::Critical,
    summary: "A chat template reaches Python internals (server-side template injection).",
    doc: "## What it detects\nJinja chat templates (GGUF `tokenizer.chat_template*`, `tokenizer_config.json`, `.jinja` files) that read dunder attributes, build dunder names from strings, use the `attr` filter, or include other templates.\n\n## Why it matters\nInference servers render chat templates with user text; a template that reaches `__globals__` runs code on the server (CVE-2024-34359, CVE-2026-5760).\n\n## Example\n`{{ cycler.__init__.__globals__.os.popen('id').read() }}`\n\n## Remediation\nUse the template shipped by the model's authors; rendering should use a sandboxed environment.\n\n## References\n- CVE-2024-34359\n- CVE-2026-5760\n",
    cwe: &[1336, 94],
};
