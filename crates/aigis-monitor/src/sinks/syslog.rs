//! Syslog (RFC 5424) over UDP, TCP with octet-counting framing (RFC 6587), or TLS (RFC 5425:
//! the same framing inside a TLS session, the server's certificate checked against the public
//! roots and the sink's `ca-file`): one message per alert, facility 13 (log audit), severity 4 (warning) or 2 (critical), MSGID the detector,
//! the alert's fields as structured data under `aigis@32473` (the documentation enterprise
//! number of RFC 5612 — replace it with your own PEN if your collector keys on it).

use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// SD-PARAM value escaping: `"`, `\` and `]` get a backslash.
fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 5424 header fields allow printable US-ASCII only, at most `max` characters.
fn header_field(s: &str, max: usize) -> String {
    let f: String = s.chars().filter(char::is_ascii_graphic).take(max).collect();
    if f.is_empty() { "-".into() } else { f }
}

/// One RFC 5424 message for an alert.
pub fn message(a: &Value, hostname: &str) -> String {
    let severity = if a["priority"] == "critical" { 2 } else { 4 };
    let pri = 13 * 8 + severity;
    let ms = a["time_ms"].as_u64().unwrap_or(0);
    let atlas: Vec<&str> = a["atlas"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let num = |k: &str| a[k].as_f64().map_or_else(String::new, |x| format!("{x}"));
    format!(
        "<{pri}>1 {} {} aigis - {} [aigis@32473 subject=\"{}\" observed=\"{}\" baseline=\"{}\" score=\"{}\" atlas=\"{}\"] {}",
        crate::detect::schema::rfc3339(ms),
        header_field(hostname, 255),
        header_field(a["detector"].as_str().unwrap_or("alert"), 32),
        sd_escape(a["subject"].as_str().unwrap_or_default()),
        num("observed"),
        num("baseline"),
        num("score"),
        sd_escape(&atlas.join(",")),
        a["message"].as_str().unwrap_or_default()
    )
}

/// Octet-counting frames (`LEN SP MSG`) of the alerts' messages.
fn frames(alerts: &[Value], hostname: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    for a in alerts {
        let m = message(a, hostname);
        buf.extend_from_slice(format!("{} {m}", m.len()).as_bytes());
    }
    buf
}

/// Sends the alerts to `host:port` over `udp`, `tcp` or `tls` (trusting what `tls` trusts).
pub async fn send(
    scheme: &str,
    addr: &str,
    alerts: &[Value],
    hostname: &str,
    tls: &std::sync::Arc<rustls::ClientConfig>,
) -> Result<(), String> {
    match scheme {
        "udp" => {
            let sock = tokio::net::UdpSocket::bind("0.0.0.0:0")
                .await
                .map_err(|e| e.to_string())?;
            sock.connect(addr).await.map_err(|e| e.to_string())?;
            for a in alerts {
                sock.send(message(a, hostname).as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        "tcp" => {
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            s.write_all(&frames(alerts, hostname))
                .await
                .map_err(|e| e.to_string())?;
            s.shutdown().await.map_err(|e| e.to_string())
        }
        "tls" => {
            // The certificate must name the host of the URL.
            let host = addr
                .rsplit_once(':')
                .map_or(addr, |(h, _)| h)
                .trim_start_matches('[')
                .trim_end_matches(']');
            let server = rustls_pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| format!("TLS server name `{host}`: {e}"))?;
            let tcp = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            let mut s = tokio_rustls::TlsConnector::from(tls.clone())
                .connect(server, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            s.write_all(&frames(alerts, hostname))
                .await
                .map_err(|e| e.to_string())?;
            // close_notify, so the receiver knows the last frame is whole.
            s.shutdown().await.map_err(|e| e.to_string())
        }
        other => Err(format!(
            "syslog over `{other}`: use udp://, tcp:// or tls://"
        )),
    }
}
