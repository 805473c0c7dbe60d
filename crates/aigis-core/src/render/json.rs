use serde_json::{Map, Value, json};

use crate::Report;

/// The report as JSON in its schema (`aigis.scan/v1` for scans; see DESIGN.md §3).
///
/// Findings are flat objects (`path`, `member`, `rule`, `name`, `severity`, `title`,
/// `detail`, `evidence`) with `offset` added when a byte offset is known.
pub fn json(report: &Report) -> String {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut m = Map::new();
            m.insert("path".into(), json!(f.location.path));
            if let Some(member) = &f.location.member {
                m.insert("member".into(), json!(member));
            }
            m.insert("rule".into(), json!(f.rule));
            m.insert("name".into(), json!(f.name));
            m.insert("severity".into(), json!(f.severity));
            m.insert("title".into(), json!(f.title));
            m.insert("detail".into(), json!(f.detail));
            m.insert("evidence".into(), json!(f.evidence));
            if let Some(o) = f.location.offset {
                m.insert("offset".into(), json!(o));
            }
            if let Some(l) = f.location.line {
                m.insert("line".into(), json!(l));
            }
            Value::Object(m)
        })
        .collect();
    let v = json!({
        "schema": report.schema,
        "files": report.files,
        "findings": findings,
        "errors": report.errors,
    });
    // Serialising a Value built from strings and numbers cannot fail.
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::sample;

    #[test]
    fn json_matches_schema_shape() {
        let v: Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(v["schema"], "aigis.scan/v1");
        assert_eq!(v["files"][0]["verdict"], "unsafe");
        assert_eq!(v["files"][1]["verdict"], "clean");
        assert!(v["files"][1]["sha256"].is_null());
        let f = &v["findings"][0];
        assert_eq!(f["rule"], "SCN101");
        assert_eq!(f["member"], "archive/data.pkl");
        assert_eq!(f["severity"], "critical");
        assert_eq!(f["offset"], 42);
        assert!(v["errors"].as_array().unwrap().is_empty());
    }

    #[test]
    fn json_snapshot() {
        insta::assert_snapshot!(json(&sample()));
    }
}
