//! Elasticsearch / OpenSearch `_bulk`: NDJSON of an `index` action line and the document per
//! alert; the response's per-item `errors` flag is checked by the dispatcher.

use serde_json::{Value, json};

/// Headers and body of one delivery (the URL is the cluster's `…/_bulk`).
pub fn request(
    alerts: &[Value],
    index: &str,
    token: Option<&str>,
) -> (Vec<(String, String)>, Vec<u8>) {
    let mut body = Vec::new();
    for a in alerts {
        body.extend_from_slice(json!({"index": {"_index": index}}).to_string().as_bytes());
        body.push(b'\n');
        body.extend_from_slice(ecs(a).to_string().as_bytes());
        body.push(b'\n');
    }
    let mut headers = vec![(
        "content-type".to_string(),
        "application/x-ndjson".to_string(),
    )];
    if let Some(t) = token {
        headers.push(("authorization".into(), format!("ApiKey {t}")));
    }
    (headers, body)
}

/// The ECS alert document of an alert (as `detect::schema::ecs_alert`, from its JSON form).
fn ecs(a: &Value) -> Value {
    let ms = a["time_ms"].as_u64().unwrap_or(0);
    json!({
        "@timestamp": crate::detect::schema::rfc3339(ms),
        "ecs": {"version": "9.0.0"},
        "event": {
            "kind": "alert",
            "category": ["intrusion_detection"],
            "type": ["indicator"],
            "action": a["detector"],
            "severity": if a["priority"] == "critical" { 99 } else { 47 },
            "module": "aigis",
            "dataset": "aigis.detect",
        },
        "rule": {"name": a["detector"], "ruleset": "aigis-detectors"},
        "message": a["message"],
        "threat": {"framework": "MITRE ATLAS", "technique": {"id": a["atlas"]}},
        "labels": {"aigis_subject": a["subject"]},
        "aigis": {"observed": a["observed"], "baseline": a["baseline"], "score": a["score"]},
    })
}
