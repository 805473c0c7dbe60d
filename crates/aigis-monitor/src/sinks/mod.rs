//! Alert sinks: where detector alerts go. One file per wire format — [`webhook`] (JSON with an
//! HMAC signature), [`slack`], [`splunk`] (HTTP Event Collector), [`elastic`] (`_bulk`),
//! [`otlp`] (OpenTelemetry logs, OTLP/HTTP JSON) — over one HTTP(S) client (rustls, webpki
//! roots plus a sink's own `ca-file`), and [`syslog`] over UDP, TCP or TLS. A [`Dispatcher`] task batches alerts, retries a
//! failed delivery with backoff, and spools what still fails to a bounded file per sink, which
//! is sent again (oldest first) before new alerts once the sink answers — at-least-once: a
//! spool whose delivery fails halfway is sent whole again. An alert that fits in neither the
//! queue nor the spool is counted and logged, never dropped silently.

pub mod elastic;
pub mod otlp;
pub mod slack;
pub mod splunk;
pub mod syslog;
pub mod webhook;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;

/// Which wire format.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// JSON `{"alerts": […]}`, HMAC-signed.
    Webhook,
    /// Slack-compatible `{"text": …}`.
    Slack,
    /// Splunk HEC.
    Splunk,
    /// Elasticsearch / OpenSearch `_bulk`.
    Elasticsearch,
    /// Syslog RFC 5424 over `udp://`, `tcp://` (octet counting) or `tls://` (RFC 5425).
    Syslog,
    /// OpenTelemetry logs, OTLP/HTTP with the JSON encoding (`…/v1/logs`).
    Otlp,
}

/// `[[guard.serve.alerts]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SinkConfig {
    /// A name for logs, metrics and the spool file (default: the kind).
    #[serde(default)]
    pub name: Option<String>,
    /// The wire format.
    pub kind: SinkKind,
    /// Where to POST.
    pub url: String,
    /// Environment variable holding the webhook's HMAC secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Environment variable holding the Splunk HEC token, the Elasticsearch API key or the
    /// OTLP collector's bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// PEM file of CA certificates trusted besides the public roots (a private CA in front of
    /// an HTTPS sink or a `tls://` syslog receiver).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Elasticsearch index (default `aigis-alerts`).
    #[serde(default)]
    pub index: Option<String>,
    /// Only alerts a `page` playbook sends here (an on-call pager), not every alert.
    #[serde(default)]
    pub paging_only: bool,
}

/// A configured sink.
pub struct Sink {
    name: String,
    kind: SinkKind,
    url: hyper::Uri,
    secret: Option<Vec<u8>>,
    token: Option<String>,
    index: String,
    /// TLS settings: public roots plus the sink's `ca-file`.
    tls: Arc<rustls::ClientConfig>,
    paging_only: bool,
}

/// A TLS client configuration trusting the public (webpki) roots and the certificates of
/// `ca_file`; errors start with `what` (e.g. ``alert sink `pager` ``). Shared with the
/// red-team harness's HTTP targets.
pub fn tls_config(what: &str, ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(p) = ca_file {
        let bad = |e: &dyn std::fmt::Display| format!("{what}: ca-file {}: {e}", p.display());
        let mut added = 0;
        for c in CertificateDer::pem_file_iter(p).map_err(|e| bad(&e))? {
            roots.add(c.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad(&"no PEM certificate in it"));
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
    .map_err(|e| format!("{what}: TLS: {e}"))
}

impl SinkConfig {
    /// Its name: `name`, or the kind in lower case.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{:?}", self.kind).to_lowercase())
    }
}

impl Sink {
    /// From its configuration; secrets come from the environment variables it names.
    pub fn new(c: &SinkConfig) -> Result<Self, String> {
        let name = c.display_name();
        let url: hyper::Uri = c
            .url
            .parse()
            .map_err(|e| format!("alert sink `{name}`: url `{}`: {e}", c.url))?;
        match (c.kind, url.scheme_str()) {
            (SinkKind::Syslog, Some("udp" | "tcp" | "tls")) if url.port_u16().is_some() => {}
            (SinkKind::Syslog, _) => {
                return Err(format!(
                    "alert sink `{name}`: syslog url must be udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (RFC 5425, usually port 6514)"
                ));
            }
            (_, Some("http" | "https")) => {}
            _ => {
                return Err(format!(
                    "alert sink `{name}`: url must be http:// or https://"
                ));
            }
        }
        let env = |var: &Option<String>, what: &str| -> Result<Option<String>, String> {
            var.as_ref()
                .map(|v| {
                    std::env::var(v).map_err(|_| {
                        format!("alert sink `{name}`: {what} variable ${v} is not set")
                    })
                })
                .transpose()
        };
        let secret = env(&c.secret_env, "secret-env")?.map(String::into_bytes);
        let token = env(&c.token_env, "token-env")?;
        if c.kind == SinkKind::Splunk && token.is_none() {
            return Err(format!("alert sink `{name}`: Splunk HEC needs token-env"));
        }
        let tls = tls_config(&format!("alert sink `{name}`"), c.ca_file.as_deref())?;
        Ok(Self {
            name,
            kind: c.kind,
            url,
            secret,
            token,
            index: c.index.clone().unwrap_or_else(|| "aigis-alerts".into()),
            tls,
            paging_only: c.paging_only,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn request(&self, alerts: &[Value]) -> (Vec<(String, String)>, Vec<u8>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match self.kind {
            SinkKind::Webhook => webhook::request(alerts, self.secret.as_deref(), now),
            SinkKind::Slack => slack::request(alerts),
            SinkKind::Splunk => splunk::request(
                alerts,
                self.token.as_deref().unwrap_or_default(),
                "aigis-gateway",
            ),
            SinkKind::Elasticsearch => elastic::request(alerts, &self.index, self.token.as_deref()),
            SinkKind::Otlp => otlp::request(alerts, self.token.as_deref(), "aigis-gateway"),
            SinkKind::Syslog => (Vec::new(), Vec::new()),
        }
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client(tls: &rustls::ClientConfig) -> HttpClient {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// One POST; `Err` says why (connection, status, or an Elasticsearch item error).
async fn deliver(client: &HttpClient, sink: &Sink, alerts: &[Value]) -> Result<(), String> {
    if sink.kind == SinkKind::Syslog {
        let addr = sink
            .url
            .authority()
            .map(ToString::to_string)
            .unwrap_or_default();
        let scheme = sink.url.scheme_str().unwrap_or_default();
        return tokio::time::timeout(
            Duration::from_secs(10),
            syslog::send(scheme, &addr, alerts, "aigis-gateway", &sink.tls),
        )
        .await
        .map_err(|_| "no connection within 10 s".to_string())?;
    }
    let (headers, body) = sink.request(alerts);
    let mut req = hyper::Request::post(sink.url.clone());
    for (k, v) in &headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| "no answer within 10 s".to_string())?
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    // A sink's answer is a status and a small JSON document: read at most 1 MiB of it.
    let bytes = tokio::time::timeout(
        Duration::from_secs(10),
        http_body_util::Limited::new(resp.into_body(), 1 << 20).collect(),
    )
    .await
    .map_err(|_| "no body within 10 s".to_string())?
    .map_err(|e| format!("response body: {e}"))?
    .to_bytes();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if sink.kind == SinkKind::Elasticsearch
        && serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| v["errors"] == true)
    {
        return Err("the bulk response reports item errors".into());
    }
    if sink.kind == SinkKind::Otlp
        && let Some((n, why)) = otlp::rejected(&bytes)
    {
        // A partial success must not be retried (the collector kept the rest): reported only.
        eprintln!(
            "aigis alerts: sink `{}`: the collector rejected {n} alert(s): {why}",
            sink.name
        );
    }
    Ok(())
}

/// Delivery counters, for metrics.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Alerts delivered.
    pub delivered: AtomicU64,
    /// Deliveries that failed after their retries.
    pub failures: AtomicU64,
    /// Alerts written to a spool.
    pub spooled: AtomicU64,
    /// Alerts lost: queue and spool full.
    pub dropped: AtomicU64,
}

/// A bounded file of alerts waiting for one sink.
struct Spool {
    path: PathBuf,
    max_bytes: u64,
}

impl Spool {
    /// Appends what fits; returns how many did not.
    fn append(&self, alerts: &[Value]) -> usize {
        let used = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        let mut room = self.max_bytes.saturating_sub(used);
        let mut text = String::new();
        let mut kept = 0;
        for a in alerts {
            let line = format!("{a}\n");
            if line.len() as u64 > room {
                break;
            }
            room -= line.len() as u64;
            text.push_str(&line);
            kept += 1;
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_data()
            });
        match written {
            Ok(()) => alerts.len() - kept,
            Err(e) => {
                eprintln!("aigis alerts: spool {}: {e}", self.path.display());
                alerts.len()
            }
        }
    }

    /// Everything spooled, oldest first (unreadable lines are skipped).
    fn read(&self) -> Vec<Value> {
        let Ok(f) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        std::io::BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }

    fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Settings of a [`Dispatcher`].
#[derive(Clone, Debug)]
pub struct DispatchOptions {
    /// Directory of the spool files.
    pub spool_dir: PathBuf,
    /// Largest spool file per sink.
    pub spool_max_bytes: u64,
    /// Attempts per delivery before spooling.
    pub attempts: u32,
    /// First backoff (doubling).
    pub backoff: Duration,
}

/// Sends alerts to every sink, each from a task of its own: a sink that is down and being
/// retried does not hold up the others.
pub struct Dispatcher {
    /// Per sink: its name, whether it takes pages only, its queue.
    txs: Vec<(String, bool, tokio::sync::mpsc::Sender<Value>)>,
    stats: Arc<SinkStats>,
}

impl Dispatcher {
    /// Starts one delivery task per sink (inside a tokio runtime).
    pub fn start(sinks: Vec<Sink>, o: &DispatchOptions) -> Result<Self, String> {
        std::fs::create_dir_all(&o.spool_dir)
            .map_err(|e| format!("alert spool {}: {e}", o.spool_dir.display()))?;
        let stats = Arc::new(SinkStats::default());
        let mut txs = Vec::with_capacity(sinks.len());
        for sink in sinks {
            let (tx, rx) = tokio::sync::mpsc::channel(4096);
            txs.push((sink.name.clone(), sink.paging_only, tx));
            tokio::spawn(run(vec![sink], o.clone(), rx, stats.clone()));
        }
        Ok(Self { txs, stats })
    }

    /// Queues an alert for every sink but the paging-only ones (never waits); a full queue is
    /// counted and logged.
    pub fn send(&self, alert: &Value) {
        for (_, paging_only, tx) in &self.txs {
            if !paging_only {
                self.queue(tx, alert);
            }
        }
    }

    /// Queues an alert for the sink named `sink` (a `page` playbook); false if there is none.
    pub fn page(&self, sink: &str, alert: &Value) -> bool {
        let mut found = false;
        for (name, _, tx) in &self.txs {
            if name == sink {
                self.queue(tx, alert);
                found = true;
            }
        }
        found
    }

    fn queue(&self, tx: &tokio::sync::mpsc::Sender<Value>, alert: &Value) {
        if tx.try_send(alert.clone()).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            eprintln!("aigis alerts: an alert queue is full; an alert was dropped");
        }
    }

    /// Delivery counters.
    pub fn stats(&self) -> &SinkStats {
        &self.stats
    }
}

async fn with_retries(
    client: &HttpClient,
    sink: &Sink,
    batch: &[Value],
    o: &DispatchOptions,
) -> Result<(), String> {
    let mut wait = o.backoff;
    let mut last = String::new();
    for attempt in 0..o.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
        match deliver(client, sink, batch).await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn spool_path(dir: &Path, sink: &Sink) -> PathBuf {
    let safe: String = sink
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.jsonl"))
}

async fn run(
    sinks: Vec<Sink>,
    o: DispatchOptions,
    mut rx: tokio::sync::mpsc::Receiver<Value>,
    stats: Arc<SinkStats>,
) {
    // One sink per task (see `Dispatcher::start`); its TLS settings make the client.
    let Some(first) = sinks.first() else {
        return;
    };
    let client = client(&first.tls);
    let spools: Vec<Spool> = sinks
        .iter()
        .map(|s| Spool {
            path: spool_path(&o.spool_dir, s),
            max_bytes: o.spool_max_bytes,
        })
        .collect();
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            Ok(Some(a)) => {
                batch.push(a);
                while batch.len() < 500 {
                    match rx.try_recv() {
                        Ok(a) => batch.push(a),
                        Err(_) => break,
                    }
                }
            }
            Ok(None) => open = false,
            Err(_) => {}
        }
        for (sink, spool) in sinks.iter().zip(&spools) {
            // What waits in the spool goes first, so order is kept.
            let mut pending = spool.read();
            pending.extend(batch.iter().cloned());
            if pending.is_empty() {
                continue;
            }
            let mut sent = true;
            for chunk in pending.chunks(500) {
                if let Err(e) = with_retries(&client, sink, chunk, &o).await {
                    eprintln!("aigis alerts: sink `{}`: {e}; spooled", sink.name);
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                    sent = false;
                    break;
                }
                stats
                    .delivered
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            if sent {
                spool.clear();
            } else if !batch.is_empty() {
                // The spool still holds the old ones; add this batch after them.
                let lost = spool.append(&batch);
                stats
                    .spooled
                    .fetch_add((batch.len() - lost) as u64, Ordering::Relaxed);
                if lost > 0 {
                    stats.dropped.fetch_add(lost as u64, Ordering::Relaxed);
                    eprintln!(
                        "aigis alerts: sink `{}`: spool full, {lost} alerts dropped",
                        sink.name
                    );
                }
            }
        }
    }
}
