//! Pipeline rules of the integrity stages (`aigis rules SIG101`).

use aigis_core::{RuleInfo, Severity};

/// `SIG101 model-signature-invalid`.
pub static SIG101: RuleInfo = RuleInfo {
    id: "SIG101",
    name: "model-signature-invalid",
    severity: Severity::Critical,
    summary: "A model does not match its signature, or the signature does not verify.",
    doc: "## What it detects\nThe `verify` stage checked an approved model against its OMS signature and the signature is invalid (altered statement, wrong key, untrusted certificate chain) or the model differs from what was signed (a changed, added, removed, renamed or swapped file, a new symlink).\n\n## Why it matters\nThe model that would be shipped is not the one that was reviewed and approved: it may have been swapped or tampered with between training and serving.\n\n## Example\n`changed: classifier.safetensors (sha256 4f2a… → 91c0…)`\n\n## Remediation\nFind out why the model changed. If the change is legitimate, have it reviewed and re-signed with the release key; otherwise restore the signed model.\n\n## References\n- OpenSSF Model Signing (OMS) specification v1.0\n- CWE-345: Insufficient Verification of Data Authenticity\n- MITRE ATLAS AML.T0010 (AI supply chain compromise)\n",
    cwe: &[345],
};

/// `SIG102 model-unsigned`.
pub static SIG102: RuleInfo = RuleInfo {
    id: "SIG102",
    name: "model-unsigned",
    severity: Severity::High,
    summary: "An approved model has no signature file.",
    doc: "## What it detects\nA model listed in `[verify] models` has no signature in the signatures directory.\n\n## Why it matters\nWithout a signature nobody can show that the model being served is the one that was approved.\n\n## Example\n`models/classifier.safetensors` with no `signatures/classifier.safetensors.sig`\n\n## Remediation\nSign the model (`aigis sign MODEL --key KEY --signature signatures/NAME.sig`, or the `sign` stage) after review.\n\n## References\n- OpenSSF Model Signing (OMS) specification v1.0\n- CWE-494: Download of Code Without Integrity Check\n",
    cwe: &[494],
};

/// `SIG103 registry-record-mismatch`.
pub static SIG103: RuleInfo = RuleInfo {
    id: "SIG103",
    name: "registry-record-mismatch",
    severity: Severity::Critical,
    summary: "A model differs from its registry record, or the record fails its own checks.",
    doc: "## What it detects\nThe model's files do not hash to the version id recorded in the registry for NAME@VERSION, or the record itself is damaged (missing or corrupted stored files, no transparency-log entry, log entry for another version).\n\n## Why it matters\nThe registry and its log are the audit trail of what was approved; a mismatch means the model or the trail was altered.\n\n## Example\n`demo/classifier@1.0.0: version id sha256:9d… recorded, sha256:01… on disk`\n\n## Remediation\nPush the reviewed model as a new version, or restore the recorded one with `aigis registry pull`. Investigate edits to the registry index.\n\n## References\n- RFC 9162 (Certificate Transparency v2), Merkle tree logs\n- CWE-345: Insufficient Verification of Data Authenticity\n",
    cwe: &[345],
};

/// `SIG104 sign-refused`.
pub static SIG104: RuleInfo = RuleInfo {
    id: "SIG104",
    name: "sign-refused",
    severity: Severity::High,
    summary: "The sign stage refused to sign a model that failed its scan.",
    doc: "## What it detects\nThe `sign` stage scans each approved model first; a model with findings at or above the policy threshold is not signed or pushed, and this finding records the refusal.\n\n## Why it matters\nA signature vouches for a model; signing one that hides code would give a malicious artifact a trusted seal.\n\n## Example\n`models/checkpoint.pt: SCN101 pickle-dangerous-global (posix.system)`\n\n## Remediation\nRemove the dangerous content (re-export as safetensors), or suppress the scan finding with a reason if it is a reviewed false positive.\n\n## References\n- CWE-502: Deserialization of Untrusted Data\n",
    cwe: &[502],
};

/// Every integrity rule.
pub static RULES: &[&RuleInfo] = &[&SIG101, &SIG102, &SIG103, &SIG104];

#[cfg(test)]
mod tests {
    #[test]
    fn rule_docs_have_every_section() {
        for r in super::RULES {
            let problems = aigis_core::check_rule_doc(r);
            assert!(problems.is_empty(), "{}: {problems:?}", r.id);
        }
    }
}
