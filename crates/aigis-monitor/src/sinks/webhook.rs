//! Generic JSON webhook: `{"alerts": […]}` with an HMAC-SHA256 signature of
//! `TIMESTAMP.BODY` in `x-aigis-signature: sha256=HEX` and the timestamp in
//! `x-aigis-timestamp`, so the receiver can check origin and reject replays.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Headers and body of one delivery.
pub fn request(
    alerts: &[Value],
    secret: Option<&[u8]>,
    now_secs: u64,
) -> (Vec<(String, String)>, Vec<u8>) {
    let body = json!({"alerts": alerts}).to_string().into_bytes();
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(key) = secret {
        headers.push(("x-aigis-timestamp".into(), now_secs.to_string()));
        headers.push((
            "x-aigis-signature".into(),
            format!("sha256={}", signature(key, now_secs, &body)),
        ));
    }
    (headers, body)
}

/// Hex HMAC-SHA256 of `TIMESTAMP.BODY` under `key` (what a receiver recomputes).
pub fn signature(key: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    aigis_sign::hex(&mac.finalize().into_bytes())
}
