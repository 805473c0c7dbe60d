//! `SCN602 tf-python-op`: A TensorFlow graph calls Python through PyFunc.
//!
//! The full text (what it detects, why it matters, an example, remediation, references) is
//! [`RULE`]`.doc`, shown by `aigis rules SCN602`.

use aigis_core::{RuleInfo, Severity};

/// `SCN602 tf-python-op`.
pub static RULE: RuleInfo = RuleInfo {
    id: "SCN602",
    name: "tf-python-op",
    severity: Severity::Critical,
    summary: "A TensorFlow graph calls Python through PyFunc.",
    doc: "## What it detects\n`PyFunc`, `EagerPyFunc` and `PyFuncStateless` ops.\n\n## Why it matters\nThey call a Python function registered in the loading process; a graph that needs one cannot be run safely elsewhere.\n\n## Example\n`tf.py_function` inside a saved signature.\n\n## Remediation\nRewrite the function with TensorFlow ops.\n\n## References\n- https://www.tensorflow.org/api_docs/python/tf/py_function\n",
    cwe: &[94],
};
