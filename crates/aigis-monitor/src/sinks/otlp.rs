//! OpenTelemetry logs over OTLP/HTTP with the JSON encoding (`POST …/v1/logs`,
//! `content-type: application/json`): one `resourceLogs` entry whose resource is the gateway
//! (`service.name`), one scope (`aigis`), one log record per alert. Field names are the
//! protobuf JSON mapping's lowerCamelCase, 64-bit integers are decimal strings and enums are
//! numbers, as the OTLP specification requires of JSON payloads. Severity: `WARN` (13) for a
//! warning, `ERROR` (17) for a critical alert. The alert's figures are attributes under
//! `aigis.*`, its ATLAS ids an array in `threat.technique.id`, its sentence the body.

use serde_json::{Value, json};

fn string(key: &str, v: &str) -> Value {
    json!({"key": key, "value": {"stringValue": v}})
}

fn double(key: &str, v: Option<f64>) -> Option<Value> {
    // OTLP's JSON has no NaN or infinity: a non-finite figure is left out.
    v.filter(|x| x.is_finite())
        .map(|x| json!({"key": key, "value": {"doubleValue": x}}))
}

/// One log record for an alert.
pub fn record(a: &Value) -> Value {
    let critical = a["priority"] == "critical";
    let nanos = a["time_ms"]
        .as_u64()
        .map_or(0, |ms| u128::from(ms) * 1_000_000);
    let atlas: Vec<Value> = a["atlas"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(|s| json!({"stringValue": s}))
                .collect()
        })
        .unwrap_or_default();
    let mut attributes = vec![
        string("event.name", "aigis.alert"),
        string("aigis.detector", a["detector"].as_str().unwrap_or("alert")),
        string("aigis.subject", a["subject"].as_str().unwrap_or_default()),
        string(
            "aigis.priority",
            a["priority"].as_str().unwrap_or("warning"),
        ),
    ];
    attributes.extend(
        ["observed", "baseline", "score"]
            .iter()
            .filter_map(|k| double(&format!("aigis.{k}"), a[*k].as_f64())),
    );
    attributes.push(json!({
        "key": "threat.technique.id",
        "value": {"arrayValue": {"values": atlas}},
    }));
    json!({
        "timeUnixNano": nanos.to_string(),
        "observedTimeUnixNano": nanos.to_string(),
        "severityNumber": if critical { 17 } else { 13 },
        "severityText": if critical { "ERROR" } else { "WARN" },
        "eventName": "aigis.alert",
        "body": {"stringValue": a["message"].as_str().unwrap_or_default()},
        "attributes": attributes,
    })
}

/// Headers and body of one delivery (`token`: sent as `authorization: Bearer …`).
pub fn request(
    alerts: &[Value],
    token: Option<&str>,
    service: &str,
) -> (Vec<(String, String)>, Vec<u8>) {
    let body = json!({
        "resourceLogs": [{
            "resource": {"attributes": [string("service.name", service)]},
            "scopeLogs": [{
                "scope": {"name": "aigis", "version": env!("CARGO_PKG_VERSION")},
                "logRecords": alerts.iter().map(record).collect::<Vec<_>>(),
            }],
        }],
    });
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(t) = token {
        headers.push(("authorization".into(), format!("Bearer {t}")));
    }
    (headers, body.to_string().into_bytes())
}

/// The number of records a `200` response says it rejected (`partialSuccess`), with the
/// collector's message: such records must not be retried, only reported.
pub fn rejected(response: &[u8]) -> Option<(u64, String)> {
    let v: Value = serde_json::from_slice(response).ok()?;
    let p = &v["partialSuccess"];
    // int64 in JSON: a string or a number.
    let n = p["rejectedLogRecords"]
        .as_u64()
        .or_else(|| p["rejectedLogRecords"].as_str()?.parse().ok())?;
    (n > 0).then(|| {
        (
            n,
            p["errorMessage"].as_str().unwrap_or_default().to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_figures_are_left_out_and_partial_success_is_read() {
        let r = record(&json!({"detector": "d", "observed": f64::NAN, "baseline": 2.0}));
        let keys: Vec<&str> = r["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap())
            .collect();
        assert!(!keys.contains(&"aigis.observed") && keys.contains(&"aigis.baseline"));
        assert_eq!(r["severityNumber"], 13);
        assert_eq!(
            rejected(br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad"}}"#),
            Some((2, "bad".into()))
        );
        assert_eq!(rejected(br#"{"partialSuccess":{}}"#), None);
        assert_eq!(rejected(b"{}"), None);
        assert_eq!(rejected(b"not json"), None);
    }
}
