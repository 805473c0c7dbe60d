//! `SCN601 tf-file-access-op`: A TensorFlow graph uses ops that read, write or list files.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN601`.

use aigis_core::{RuleInfo, Severity};

/// `SCN601 tf-file-access-op`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN601",
    name: "tf-file-access-op",
    severity: Severity::High,
    summary: "A TensorFlow graph uses ops that read, write or list files.",
    doc: "## What it detects\n`ReadFile`, `WriteFile`, `MatchingFiles`, `ImmutableConst`, summary writers, file-backed datasets and table initialisers in `saved_model.pb` graphs and functions. Checkpoint ops (`SaveV2`, `RestoreV2`, `MergeV2Checkpoints`) are expected and not flagged.\n\n## Why it matters\nServing the model runs the graph: these ops read secrets or write files on the host.\n\n## Example\nA serving signature that returns `tf.io.read_file('/etc/passwd')`.\n\n## Remediation\nRemove the ops from the exported graph.\n\n## References\n- https://www.tensorflow.org/guide/saved_model\n",
    cwe: &[73],
};
