//! Rules of the `data` stage (`aigis rules PII101`): what a dataset scan turns into findings.

use std::collections::BTreeMap;

use aigis_core::{Finding, Location, RuleInfo, Severity};

use crate::dataset::DatasetReport;

/// `PII101 dataset-secret`.
pub static PII101: RuleInfo = RuleInfo {
    id: "PII101",
    name: "dataset-secret",
    severity: Severity::Critical,
    summary: "A dataset holds credentials: cloud keys, tokens, private keys.",
    doc: "## What it detects\nThe `data` stage found `SECRET_*` entities (AWS, GitHub, Slack, Stripe, Google, OpenAI keys, private keys, JWTs, high-entropy values next to key-like names) in a column or field of a dataset, more often than the configured threshold.\n\n## Why it matters\nA model trained on credentials can repeat them to anyone who asks; a dataset shared with them leaks them directly.\n\n## Example\n`data/logs.jsonl: field request.headers.authorization: SECRET_JWT in 212 of 10000 records`\n\n## Remediation\nRevoke the credentials, then remove or tokenise them (`aigis data redact` / `aigis data tokenize`) before the data is used.\n\n## References\n- CWE-798: Use of Hard-coded Credentials\n- OWASP Top 10 for LLM Applications 2025, LLM02 Sensitive Information Disclosure\n",
    cwe: &[798],
};

/// `PII102 dataset-sensitive-identifier`.
pub static PII102: RuleInfo = RuleInfo {
    id: "PII102",
    name: "dataset-sensitive-identifier",
    severity: Severity::High,
    summary: "A dataset holds financial or national identifiers (cards, IBANs, SSNs, passports).",
    doc: "## What it detects\nCredit card numbers, IBANs, US SSNs, passports, driver licences, bank numbers, UK NHS numbers, medical licences or crypto wallet addresses in a column or field, more often than the configured threshold.\n\n## Why it matters\nThese identifiers enable fraud and identity theft and fall under PCI DSS, GDPR and HIPAA; a model can memorise and reveal them.\n\n## Example\n`data/customers.csv: column card: CREDIT_CARD in 48 of 50 records`\n\n## Remediation\nDrop the column if it is not needed, otherwise tokenise or format-preserve-encrypt it (`aigis data tokenize`), keeping the vault key away from the training environment.\n\n## References\n- CWE-359: Exposure of Private Personal Information to an Unauthorized Actor\n- PCI DSS v4.0 requirement 3\n",
    cwe: &[359],
};

/// `PII103 dataset-personal-data`.
pub static PII103: RuleInfo = RuleInfo {
    id: "PII103",
    name: "dataset-personal-data",
    severity: Severity::Medium,
    summary: "A dataset holds personal contact data: e-mails, phone numbers, names, places, IPs.",
    doc: "## What it detects\nE-mail addresses, phone numbers, person names, locations or IP addresses in a column or field, more often than the configured threshold.\n\n## Why it matters\nPersonal data in training sets is a GDPR/CCPA liability and a memorisation risk; it should be there only with a legal basis and minimised.\n\n## Example\n`data/customers.csv: column email: EMAIL_ADDRESS in 50 of 50 records`\n\n## Remediation\nReplace, mask or tokenise the values (`aigis data redact --operator EMAIL_ADDRESS=tokenize`), or raise the threshold for the column in `[data.allow]` with a reason if it is expected.\n\n## References\n- CWE-359: Exposure of Private Personal Information to an Unauthorized Actor\n- GDPR Article 5(1)(c), data minimisation\n",
    cwe: &[359],
};

/// `PII104 dataset-unreadable-records`.
pub static PII104: RuleInfo = RuleInfo {
    id: "PII104",
    name: "dataset-unreadable-records",
    severity: Severity::Low,
    summary: "Some records of a dataset could not be read, so they were not checked.",
    doc: "## What it detects\nRecords with invalid UTF-8, JSONL lines that are not JSON, malformed CSV rows or records over 64 MiB.\n\n## Why it matters\nAn unreadable record was not scanned: it may hold exactly the data the gate is meant to stop, and other tools may read it differently.\n\n## Example\n`data/chat.jsonl: 3 unreadable records (record 17: not JSON: EOF while parsing)`\n\n## Remediation\nFix or drop the records; re-encode the file as UTF-8.\n\n## References\n- CWE-20: Improper Input Validation\n",
    cwe: &[20],
};

/// Every data rule.
pub static RULES: &[&RuleInfo] = &[&PII101, &PII102, &PII103, &PII104];

/// The rule an entity type falls under; `None` for types not reported by default
/// (`DATE_TIME`, `URL`: common and rarely personal on their own).
pub fn rule_for(kind: &str) -> Option<&'static RuleInfo> {
    match kind {
        k if k.starts_with("SECRET_") => Some(&PII101),
        "CREDIT_CARD" | "IBAN_CODE" | "US_SSN" | "US_PASSPORT" | "US_DRIVER_LICENSE"
        | "US_BANK_NUMBER" | "UK_NHS" | "MEDICAL_LICENSE" | "CRYPTO" => Some(&PII102),
        "EMAIL_ADDRESS" | "PHONE_NUMBER" | "PERSON" | "LOCATION" | "IP_ADDRESS" => Some(&PII103),
        _ => None,
    }
}

/// Findings for one dataset: one per (column, entity type) whose count of records exceeds the
/// threshold in `allow` (keyed by `TYPE` or `column:TYPE`; default 0), and one for unreadable
/// records.
pub fn findings(r: &DatasetReport, allow: &BTreeMap<String, u64>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (field, f) in &r.fields {
        for (&kind, &n) in &f.entities {
            let Some(rule) = rule_for(kind) else { continue };
            let limit = allow
                .get(&format!("{field}:{kind}"))
                .or_else(|| allow.get(kind))
                .copied()
                .unwrap_or(0);
            if n <= limit {
                continue;
            }
            let what = if r.format == "csv" { "column" } else { "field" };
            out.push(
                Finding::new(
                    rule,
                    format!("{kind} in {what} `{field}`: {n} of {} records", r.records),
                    Location {
                        member: Some(field.clone()),
                        ..Location::file(r.path.clone())
                    },
                )
                .detail(format!(
                    "{n} of {} non-empty values hold {kind} (threshold {limit}){}",
                    f.values,
                    if r.sampled {
                        "; the file was sampled"
                    } else {
                        ""
                    }
                ))
                .evidence(kind),
            );
        }
    }
    if r.bad_records > 0 {
        out.push(
            Finding::new(
                &PII104,
                format!("{} unreadable records", r.bad_records),
                Location::file(r.path.clone()),
            )
            .detail(r.problems.join("; "))
            .evidence(r.problems.first().cloned().unwrap_or_default()),
        );
    }
    out
}

/// The report verdict of a scanned dataset: unsafe for high or critical findings, suspicious
/// for medium, error when records were unreadable, else clean.
pub fn verdict(r: &DatasetReport, found: &[Finding]) -> aigis_core::Verdict {
    use aigis_core::Verdict;
    match found.iter().map(|f| f.severity).max() {
        Some(Severity::High | Severity::Critical) => Verdict::Unsafe,
        Some(Severity::Medium) => Verdict::Suspicious,
        _ if r.bad_records > 0 => Verdict::Error,
        _ => Verdict::Clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::FieldReport;

    #[test]
    fn rule_docs_have_every_section() {
        for r in RULES {
            let problems = aigis_core::check_rule_doc(r);
            assert!(problems.is_empty(), "{}: {problems:?}", r.id);
        }
    }

    #[test]
    fn thresholds_by_type_and_column() {
        let mut f = FieldReport {
            values: 10,
            ..Default::default()
        };
        f.entities.insert("EMAIL_ADDRESS", 3);
        f.entities.insert("DATE_TIME", 9);
        f.entities.insert("SECRET_JWT", 1);
        let r = DatasetReport {
            path: "d.csv".into(),
            format: "csv",
            records: 10,
            sampled: false,
            bad_records: 0,
            problems: vec![],
            fields: vec![("mail".into(), f)],
        };
        let ids = |allow: &BTreeMap<String, u64>| -> Vec<&str> {
            findings(&r, allow).iter().map(|f| f.rule).collect()
        };
        assert_eq!(ids(&BTreeMap::new()), ["PII103", "PII101"]);
        let allow: BTreeMap<String, u64> = [("EMAIL_ADDRESS".to_string(), 3)].into();
        assert_eq!(ids(&allow), ["PII101"]);
        let allow: BTreeMap<String, u64> = [
            ("EMAIL_ADDRESS".to_string(), 0),
            ("mail:EMAIL_ADDRESS".to_string(), 5),
        ]
        .into();
        assert_eq!(ids(&allow), ["PII101"], "column key wins over type key");
        let fs = findings(&r, &BTreeMap::new());
        assert_eq!(
            fs[0].title,
            "EMAIL_ADDRESS in column `mail`: 3 of 10 records"
        );
        assert_eq!(fs[0].location.member.as_deref(), Some("mail"));
    }
}
