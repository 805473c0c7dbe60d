//! Splunk HTTP Event Collector: `POST /services/collector/event`, `Authorization: Splunk
//! TOKEN`, one `{"time","host","source","sourcetype","event"}` object per alert, concatenated.

use serde_json::{Value, json};

/// Headers and body of one delivery.
pub fn request(alerts: &[Value], token: &str, host: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let mut body = Vec::new();
    for a in alerts {
        let time = a["time_ms"].as_u64().map_or(0.0, |ms| ms as f64 / 1000.0);
        body.extend_from_slice(
            json!({"time": time, "host": host, "source": "aigis", "sourcetype": "aigis:alert", "event": a})
                .to_string()
                .as_bytes(),
        );
        body.push(b'\n');
    }
    (
        vec![
            ("content-type".into(), "application/json".into()),
            ("authorization".into(), format!("Splunk {token}")),
        ],
        body,
    )
}
