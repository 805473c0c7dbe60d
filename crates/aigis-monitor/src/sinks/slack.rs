//! Slack-compatible incoming webhook (also Mattermost, Rocket.Chat): `{"text": …}`, one line
//! per alert.

use serde_json::{Value, json};

/// Headers and body of one delivery.
pub fn request(alerts: &[Value]) -> (Vec<(String, String)>, Vec<u8>) {
    let lines: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                ":rotating_light: *{}* {}",
                a["detector"].as_str().unwrap_or("alert"),
                a["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    (
        vec![("content-type".into(), "application/json".into())],
        json!({"text": lines.join("\n")}).to_string().into_bytes(),
    )
}
