use serde_json::{Value, json};

use crate::{Report, RuleRegistry};

/// A stable, non-cryptographic fingerprint (FNV-1a 64) so code-scanning tools can match a
/// finding across runs.
fn fingerprint(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The report as SARIF 2.1.0, accepted by GitHub code scanning.
///
/// Only the rules that fired are listed in `tool.driver.rules`. Archive members and byte
/// offsets go into the message and the result's `properties`, since SARIF regions address the
/// outer file.
pub fn sarif(report: &Report, rules: &RuleRegistry, tool_version: &str) -> String {
    let mut ids: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    ids.sort_unstable();
    ids.dedup();
    let rule_objs: Vec<Value> = ids
        .iter()
        .map(|id| {
            let info = rules.find(id);
            let mut tags = vec![json!("security")];
            if let Some(i) = info {
                tags.extend(i.cwe.iter().map(|c| json!(format!("external/cwe/cwe-{c}"))));
            }
            json!({
                "id": id,
                "name": info.map_or(*id, |i| i.name),
                "shortDescription": {"text": info.map_or("", |i| i.summary)},
                "fullDescription": {"text": info.map_or("", |i| i.summary)},
                "help": {
                    "text": info.map_or("", |i| i.doc),
                    "markdown": info.map_or("", |i| i.doc),
                },
                "defaultConfiguration": {"level": info.map_or("warning", |i| i.severity.sarif_level())},
                "properties": {
                    "tags": tags,
                    "security-severity": info.map_or("5.0", |i| i.severity.security_score()),
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let idx = ids.iter().position(|i| *i == f.rule).unwrap_or(0);
            let mut text = f.title.clone();
            if let Some(m) = &f.location.member {
                text.push_str(&format!(" (in {m})"));
            }
            if !f.evidence.is_empty() {
                text.push_str(&format!(": {}", f.evidence));
            }
            let mut props = serde_json::Map::new();
            props.insert("severity".into(), json!(f.severity));
            if let Some(m) = &f.location.member {
                props.insert("member".into(), json!(m));
            }
            if let Some(o) = f.location.offset {
                props.insert("byteOffset".into(), json!(o));
            }
            if !f.detail.is_empty() {
                props.insert("detail".into(), json!(f.detail));
            }
            json!({
                "ruleId": f.rule,
                "ruleIndex": idx,
                "level": f.severity.sarif_level(),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&f.location.path)},
                        "region": {"startLine": f.location.line.unwrap_or(1)},
                    }
                }],
                "partialFingerprints": {
                    "aigisFindingHash/v1": fingerprint(&[
                        f.rule,
                        &f.location.path,
                        f.location.member.as_deref().unwrap_or(""),
                        &f.evidence,
                    ]),
                },
                "properties": props,
            })
        })
        .collect();
    let artifacts: Vec<Value> = report
        .files
        .iter()
        .map(|f| {
            let mut a = json!({"location": {"uri": uri(&f.path)}, "length": f.bytes});
            if let Some(h) = &f.sha256 {
                a["hashes"] = json!({"sha-256": h});
            }
            a
        })
        .collect();
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            json!({
                "level": "error",
                "message": {"text": format!("{}: {}", e.path, e.message)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&e.path)}}}],
            })
        })
        .collect();
    let v = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "aigis",
                "version": tool_version,
                "semanticVersion": tool_version,
                "informationUri": "https://example.invalid/aigis",
                "rules": rule_objs,
            }},
            "artifacts": artifacts,
            "results": results,
            "invocations": [{
                "executionSuccessful": report.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
        }],
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// A relative URI reference for a path: forward slashes, percent-encoding what a URI cannot hold.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::{rules, sample};

    #[test]
    fn sarif_is_valid_against_the_official_schema() {
        let schema: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/sarif-schema-2.1.0.json"))
                .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let doc: Value = serde_json::from_str(&sarif(&sample(), &rules(), "0.1.0")).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        // And a broken document is rejected, so the check above can fail.
        let mut bad = doc.clone();
        bad["runs"][0]["results"][0]["level"] = json!("catastrophic");
        assert!(!validator.is_valid(&bad));
    }

    #[test]
    fn sarif_lists_fired_rules_with_cwe_tags() {
        let doc: Value = serde_json::from_str(&sarif(&sample(), &rules(), "0.1.0")).unwrap();
        let run = &doc["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["properties"]["tags"][1],
            "external/cwe/cwe-502"
        );
        assert_eq!(run["results"][0]["ruleId"], "SCN101");
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(
            run["results"][0]["properties"]["member"],
            "archive/data.pkl"
        );
    }

    #[test]
    fn uri_escapes_spaces_and_percent() {
        assert_eq!(uri("a b/c%d\\e"), "a%20b/c%25d/e");
    }

    #[test]
    fn sarif_snapshot() {
        insta::assert_snapshot!(sarif(&sample(), &rules(), "0.1.0"));
    }
}
