#![allow(clippy::unwrap_used)]
//! Alert sinks against real local receivers: the webhook's HMAC, retries and the spool while
//! a receiver is down, and the Splunk HEC, Elasticsearch `_bulk` and Slack request shapes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aigis_monitor::sinks::{DispatchOptions, Dispatcher, Sink, SinkConfig, SinkKind};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A request as received: headers (lower-case names) and body.
type Got = Arc<std::sync::Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

/// An HTTP/1.1 receiver that answers 503 to its first `fail` requests, then 200 with `reply`.
async fn receiver(fail: usize, reply: &'static str) -> (String, Got) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got: Got = Arc::default();
    let seen = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let (g, seen) = (g.clone(), seen.clone());
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut r = BufReader::new(r);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = Vec::new();
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).await.unwrap();
                        let h = h.trim_end().to_string();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap();
                        let (k, v) = (k.to_ascii_lowercase(), v.trim().to_string());
                        if k == "content-length" {
                            len = v.parse().unwrap();
                        }
                        headers.push((k, v));
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).await.unwrap();
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let resp = if n < fail {
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n".to_string()
                    } else {
                        g.lock().unwrap().push((headers, body));
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{reply}",
                            reply.len()
                        )
                    };
                    w.write_all(resp.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (url, got)
}

fn alert(i: u64) -> Value {
    json!({"detector": "key_request_rate", "subject": format!("key:k{i}"), "time_ms": 1_790_000_040_000u64 + i,
           "observed": 1500.0, "baseline": 30.0, "score": 268.0, "priority": "critical",
           "atlas": ["AML.T0029", "AML.T0034"], "message": format!("key:k{i}: 1500 requests")})
}

/// A sink of `kind` named `name` at `url`, with nothing else set.
fn config(kind: SinkKind, name: &str, url: String) -> SinkConfig {
    SinkConfig {
        name: Some(name.into()),
        kind,
        url,
        secret_env: None,
        token_env: None,
        index: None,
        ca_file: None,
        paging_only: false,
    }
}

fn options(dir: &std::path::Path) -> DispatchOptions {
    DispatchOptions {
        spool_dir: dir.to_path_buf(),
        spool_max_bytes: 1 << 20,
        attempts: 2,
        backoff: Duration::from_millis(20),
    }
}

async fn wait_for(got: &Got, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let all: Vec<Value> = got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, b)| {
                serde_json::from_slice::<Value>(b).unwrap()["alerts"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .collect();
        if all.len() >= n {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} alerts arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_and_alerts_wait_in_the_spool_while_the_receiver_is_down() {
    let var = format!("AIGIS_TEST_HOOK_SECRET_{}", std::process::id());
    temp_env_set(&var, "s3cret-hmac-key");
    // Four failures: the first batch (two attempts) and the next try both fail, then it works.
    let (url, got) = receiver(4, "ok").await;
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::new(&SinkConfig {
        secret_env: Some(var.clone()),
        ..config(SinkKind::Webhook, "hook", url)
    })
    .unwrap();
    let d = Dispatcher::start(vec![sink], &options(dir.path())).unwrap();
    d.send(&alert(1));
    // The first delivery fails twice: the alert is spooled.
    for _ in 0..100 {
        if dir.path().join("hook.jsonl").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        dir.path().join("hook.jsonl").exists(),
        "spooled while the receiver fails"
    );
    d.send(&alert(2));
    let all = wait_for(&got, 2).await;
    // Oldest first, nothing lost, the spool emptied.
    assert_eq!(all[0]["subject"], "key:k1");
    assert_eq!(all[1]["subject"], "key:k2");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!dir.path().join("hook.jsonl").exists());
    assert!(d.stats().spooled.load(Ordering::Relaxed) >= 1);
    // Every delivery carries a signature the receiver can check.
    for (headers, body) in got.lock().unwrap().iter() {
        let h = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let ts: u64 = h("x-aigis-timestamp").parse().unwrap();
        let want = format!(
            "sha256={}",
            aigis_monitor::sinks::webhook::signature(b"s3cret-hmac-key", ts, body)
        );
        assert_eq!(h("x-aigis-signature"), want);
        assert_ne!(
            h("x-aigis-signature"),
            format!(
                "sha256={}",
                aigis_monitor::sinks::webhook::signature(b"wrong", ts, body)
            )
        );
    }
}

/// Sets an environment variable for this process (the name is unique to the test).
#[allow(unsafe_code)]
fn temp_env_set(var: &str, value: &str) {
    // SAFETY: called before any thread of this test reads the environment, with a name no
    // other test touches.
    unsafe { std::env::set_var(var, value) };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splunk_elasticsearch_and_slack_get_their_documented_shapes() {
    let var = format!("AIGIS_TEST_HEC_TOKEN_{}", std::process::id());
    temp_env_set(&var, "hec-token-1");
    let (splunk_url, splunk) = receiver(0, "{\"text\":\"Success\",\"code\":0}").await;
    let (es_url, es) = receiver(0, "{\"errors\":false,\"items\":[]}").await;
    let (slack_url, slack) = receiver(0, "ok").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = |kind, url: String, token: Option<String>| SinkConfig {
        name: None,
        token_env: token,
        index: Some("alerts-test".into()),
        ..config(kind, "", url)
    };
    let sinks = vec![
        Sink::new(&cfg(SinkKind::Splunk, splunk_url, Some(var.clone()))).unwrap(),
        Sink::new(&cfg(SinkKind::Elasticsearch, es_url, None)).unwrap(),
        Sink::new(&cfg(SinkKind::Slack, slack_url, None)).unwrap(),
    ];
    let d = Dispatcher::start(sinks, &options(dir.path())).unwrap();
    d.send(&alert(1));
    d.send(&alert(2));
    for _ in 0..100 {
        if d.stats().delivered.load(Ordering::Relaxed) >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (h, body) = splunk.lock().unwrap()[0].clone();
    assert!(h.contains(&("authorization".into(), "Splunk hec-token-1".into())));
    let events: Vec<Value> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["sourcetype"], "aigis:alert");
    assert_eq!(events[0]["event"]["detector"], "key_request_rate");
    assert!((events[0]["time"].as_f64().unwrap() - 1_790_000_040.001).abs() < 1e-6);
    let (h, body) = es.lock().unwrap()[0].clone();
    assert!(h.contains(&("content-type".into(), "application/x-ndjson".into())));
    let lines: Vec<Value> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["index"]["_index"], "alerts-test");
    assert_eq!(lines[1]["event"]["kind"], "alert");
    assert_eq!(lines[1]["threat"]["technique"]["id"][1], "AML.T0034");
    let (_, body) = slack.lock().unwrap()[0].clone();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .contains("key:k1: 1500 requests")
    );
    // A Splunk sink without a token, or a bad URL, is a configuration error naming it.
    let e = Sink::new(&cfg(SinkKind::Splunk, "http://x/".into(), None))
        .err()
        .unwrap();
    assert!(e.contains("token-env"), "{e}");
    let e = Sink::new(&cfg(SinkKind::Webhook, "ftp://x/".into(), None))
        .err()
        .unwrap();
    assert!(e.contains("http"), "{e}");
}

/// The messages of octet-counted syslog frames ("LEN SP MSG", repeated).
fn octet_frames(buf: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let sp = rest.iter().position(|&b| b == b' ').unwrap();
        let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
        out.push(String::from_utf8(rest[sp + 1..sp + 1 + len].to_vec()).unwrap());
        rest = &rest[sp + 1 + len..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_messages_are_rfc5424_over_tcp_with_octet_counting_and_over_udp() {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (tcp_addr, udp_addr) = (tcp.local_addr().unwrap(), udp.local_addr().unwrap());
    let frames: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let f = frames.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = tcp.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            f.lock().unwrap().extend(octet_frames(&buf));
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = |url: String| SinkConfig {
        name: None,
        ..config(SinkKind::Syslog, "", url)
    };
    let sinks = vec![
        Sink::new(&cfg(format!("tcp://{tcp_addr}"))).unwrap(),
        Sink::new(&cfg(format!("udp://{udp_addr}"))).unwrap(),
    ];
    let d = Dispatcher::start(sinks, &options(dir.path())).unwrap();
    let mut a = alert(1);
    a["subject"] = json!("key:we\"ird]");
    d.send(&a);
    d.send(&alert(2));
    let mut datagram = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), udp.recv(&mut datagram))
        .await
        .unwrap()
        .unwrap();
    let dgram = String::from_utf8(datagram[..n].to_vec()).unwrap();
    for _ in 0..100 {
        if frames.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let frames = frames.lock().unwrap().clone();
    assert_eq!(frames.len(), 2, "{frames:?}");
    // <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG: facility 13, critical = severity 2.
    assert!(
        frames[0].starts_with(
            "<106>1 2026-09-21T14:14:00.001Z aigis-gateway aigis - key_request_rate [aigis@32473 "
        ),
        "{}",
        frames[0]
    );
    assert!(
        frames[0].contains("subject=\"key:we\\\"ird\\]\""),
        "{}",
        frames[0]
    );
    assert!(
        frames[0].contains("atlas=\"AML.T0029,AML.T0034\""),
        "{}",
        frames[0]
    );
    assert!(
        frames[0].ends_with("] key:k1: 1500 requests"),
        "{}",
        frames[0]
    );
    assert_eq!(dgram, frames[0], "the same message over UDP");
    let e = Sink::new(&cfg("tcp://host-without-port".into()))
        .err()
        .unwrap();
    assert!(e.contains("udp://HOST:PORT"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_logs_follow_the_otlp_http_json_encoding() {
    let var = format!("AIGIS_TEST_OTLP_TOKEN_{}", std::process::id());
    temp_env_set(&var, "otlp-bearer");
    // A collector that keeps one record back: a partial success is reported, not retried.
    let (url, got) = receiver(
        0,
        r#"{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"too old"}}"#,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::new(&SinkConfig {
        name: None,
        token_env: Some(var),
        ..config(SinkKind::Otlp, "", url)
    })
    .unwrap();
    let d = Dispatcher::start(vec![sink], &options(dir.path())).unwrap();
    let mut warning = alert(2);
    warning["priority"] = json!("warning");
    d.send(&alert(1));
    d.send(&warning);
    for _ in 0..100 {
        if d.stats().delivered.load(Ordering::Relaxed) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests = got.lock().unwrap().clone();
    // One or two requests (the task may take the alerts together or apart), each record once:
    // a partial success is not retried.
    assert_eq!(d.stats().failures.load(Ordering::Relaxed), 0);
    let mut records = Vec::new();
    for (h, body) in &requests {
        assert!(h.contains(&("content-type".into(), "application/json".into())));
        assert!(h.contains(&("authorization".into(), "Bearer otlp-bearer".into())));
        let v: Value = serde_json::from_slice(body).unwrap();
        let rl = &v["resourceLogs"][0];
        assert_eq!(rl["resource"]["attributes"][0]["key"], "service.name");
        assert_eq!(
            rl["resource"]["attributes"][0]["value"]["stringValue"],
            "aigis-gateway"
        );
        assert_eq!(rl["scopeLogs"][0]["scope"]["name"], "aigis");
        records.extend(rl["scopeLogs"][0]["logRecords"].as_array().unwrap().clone());
    }
    assert_eq!(records.len(), 2, "{records:?}");
    // 64-bit integers are decimal strings in OTLP JSON; enums are numbers.
    assert_eq!(records[0]["timeUnixNano"], "1790000040001000000");
    assert_eq!(records[0]["severityNumber"], 17);
    assert_eq!(records[0]["severityText"], "ERROR");
    assert_eq!(records[1]["severityNumber"], 13);
    assert_eq!(records[0]["body"]["stringValue"], "key:k1: 1500 requests");
    let attr = |r: &Value, k: &str| {
        r["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == k)
            .unwrap_or_else(|| panic!("no attribute {k}"))["value"]
            .clone()
    };
    assert_eq!(attr(&records[0], "aigis.subject")["stringValue"], "key:k1");
    assert_eq!(attr(&records[0], "aigis.observed")["doubleValue"], 1500.0);
    assert_eq!(
        attr(&records[0], "threat.technique.id")["arrayValue"]["values"][1]["stringValue"],
        "AML.T0034"
    );
}

/// A syslog-over-TLS receiver (RFC 5425) with a certificate for `localhost`: returns its port,
/// the CA file a client must trust, and the frames received.
async fn tls_syslog_receiver(
    dir: &std::path::Path,
) -> (u16, std::path::PathBuf, Arc<std::sync::Mutex<Vec<String>>>) {
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let ca = dir.join("receiver-ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let frames: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let f = frames.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let (acceptor, f) = (acceptor.clone(), f.clone());
            tokio::spawn(async move {
                // A client that does not trust the certificate never gets this far.
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).await.unwrap();
                f.lock().unwrap().extend(octet_frames(&buf));
            });
        }
    });
    (port, ca, frames)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_checks_the_receivers_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (port, ca, frames) = tls_syslog_receiver(dir.path()).await;
    let cfg = |name: &str, ca_file: Option<std::path::PathBuf>| SinkConfig {
        ca_file,
        ..config(SinkKind::Syslog, name, format!("tls://localhost:{port}"))
    };
    // Trusting the receiver's CA: delivered, framed as over TCP.
    let trusted = Dispatcher::start(
        vec![Sink::new(&cfg("trusted", Some(ca.clone()))).unwrap()],
        &options(&dir.path().join("spool-a")),
    )
    .unwrap();
    trusted.send(&alert(1));
    trusted.send(&alert(2));
    for _ in 0..100 {
        if frames.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = frames.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with(
            "<106>1 2026-09-21T14:14:00.001Z aigis-gateway aigis - key_request_rate [aigis@32473 "
        ),
        "{}",
        got[0]
    );
    assert!(got[1].ends_with("] key:k2: 1500 requests"), "{}", got[1]);
    // Public roots only: the self-signed receiver is refused and the alert waits in the spool.
    let spool = dir.path().join("spool-b");
    let untrusted = Dispatcher::start(
        vec![Sink::new(&cfg("untrusted", None)).unwrap()],
        &options(&spool),
    )
    .unwrap();
    untrusted.send(&alert(3));
    assert_spooled_not_delivered(&untrusted).await;
    let spooled = std::fs::read_to_string(spool.join("untrusted.jsonl")).unwrap();
    assert!(spooled.contains("key:k3"), "{spooled}");
    assert_eq!(
        frames.lock().unwrap().len(),
        2,
        "nothing reached the receiver"
    );
    // A CA file without a certificate is a configuration error naming the file.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = Sink::new(&cfg("bad-ca", Some(empty))).err().unwrap();
    assert!(e.contains("ca-file") && e.contains("empty.pem"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_answering_an_oversized_body_is_a_failed_delivery_not_unbounded_memory() {
    let huge: &'static str = Box::leak("x".repeat(2 << 20).into_boxed_str());
    let (url, _) = receiver(0, huge).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::new(&config(SinkKind::Webhook, "chatty", url)).unwrap();
    let d = Dispatcher::start(vec![sink], &options(dir.path())).unwrap();
    d.send(&alert(1));
    assert_spooled_not_delivered(&d).await;
}

/// Waits (5 s at most) for the one alert sent to land in the spool, never delivered.
async fn assert_spooled_not_delivered(d: &Dispatcher) {
    for _ in 0..100 {
        if d.stats().spooled.load(Ordering::Relaxed) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(d.stats().spooled.load(Ordering::Relaxed), 1);
    assert_eq!(d.stats().delivered.load(Ordering::Relaxed), 0);
}
