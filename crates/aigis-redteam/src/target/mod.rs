//! Targets: where attacks are sent. Each kind is one file; [`Target::send`] adds what all share
//! (timeouts, bounded bodies, retries with back-off on 429 and 5xx, blocked-by-guard detection).

mod command;
mod http_json;
mod openai;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub use command::CommandTarget;
pub use http_json::{HttpTarget, Selector};
pub use openai::{OpenAiTarget, parse_chat, parse_sse};

use crate::{Conversation, Error, Reply};

/// Largest response body read from a target; a longer one is an error (an endless stream or
/// a hostile server), not an out-of-memory.
pub const MAX_BODY: usize = 8 << 20;

/// Shared settings of every target.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Time allowed for one request (connect, send, whole answer).
    pub timeout: Duration,
    /// Further tries after a 429, a 5xx or a connection error.
    pub retries: u32,
    /// First back-off; doubled per retry, `Retry-After` honoured up to [`MAX_RETRY_AFTER`].
    pub backoff: Duration,
    /// Extra CA certificates (PEM) trusted beside the public roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_mins(1),
            retries: 4,
            backoff: Duration::from_millis(500),
            ca_file: None,
        }
    }
}

/// Longest `Retry-After` waited for; a longer one ends the attempt as an error.
pub const MAX_RETRY_AFTER: Duration = Duration::from_mins(1);

/// One kind of target.
#[derive(Debug)]
pub enum Kind {
    /// OpenAI-compatible `/chat/completions`.
    OpenAi(OpenAiTarget),
    /// Any JSON HTTP API.
    Http(HttpTarget),
    /// A local command: the prompt on stdin, the answer on stdout.
    Command(CommandTarget),
}

/// A target with its HTTP client and counters.
#[derive(Debug)]
pub struct Target {
    kind: Kind,
    settings: Settings,
    client: HttpClient,
    throttled: AtomicU64,
    retried: AtomicU64,
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What one HTTP exchange gave.
pub(crate) struct HttpAnswer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// How a failed try is handled.
enum Failure {
    /// Worth another try after the delay (if given, else back-off).
    Retry(String, Option<Duration>),
    /// Final.
    Fatal(String),
}

impl Target {
    /// A target of `kind`.
    pub fn new(kind: Kind, settings: Settings) -> Result<Self, Error> {
        let tls = aigis_monitor::sinks::tls_config("target", settings.ca_file.as_deref())
            .map_err(Error::Config)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Target {
            kind,
            settings,
            client,
            throttled: AtomicU64::new(0),
            retried: AtomicU64::new(0),
        })
    }

    /// What the report and the cache key say about the target: kind, address, model, a
    /// digest of the request template. Never a credential.
    pub fn identity(&self) -> Value {
        match &self.kind {
            Kind::OpenAi(t) => t.identity(),
            Kind::Http(t) => t.identity(),
            Kind::Command(t) => t.identity(),
        }
    }

    /// How many 429 answers were seen, and how many tries were repeated, so far.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.throttled.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
        )
    }

    /// Send `conv`; retry 429s, 5xx and connection errors with back-off.
    pub async fn send(&self, conv: &Conversation) -> Result<Reply, Error> {
        let mut delay = self.settings.backoff;
        let mut tries = 0;
        loop {
            tries += 1;
            // HTTP targets watch the deadline themselves (a body still arriving at the deadline
            // is an endless stream, not worth retrying); the outer limit is the command
            // target's, and a safety net.
            let deadline = tokio::time::Instant::now() + self.settings.timeout;
            let result = tokio::time::timeout_at(
                deadline + Duration::from_millis(100),
                self.try_once(conv, deadline),
            )
            .await;
            let failure = match result {
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(f)) => f,
                Err(_) => Failure::Retry(
                    format!(
                        "no complete answer within {:?} (raise --timeout for slow targets)",
                        self.settings.timeout
                    ),
                    None,
                ),
            };
            match failure {
                Failure::Fatal(m) => return Err(Error::Target(m)),
                Failure::Retry(m, after) => {
                    if tries > self.settings.retries {
                        return Err(Error::Target(format!("{m} (after {tries} tries)")));
                    }
                    let wait = match after {
                        Some(a) if a > MAX_RETRY_AFTER => {
                            return Err(Error::Target(format!(
                                "{m}: the target asks to wait {}s, longer than {}s",
                                a.as_secs(),
                                MAX_RETRY_AFTER.as_secs()
                            )));
                        }
                        Some(a) => a,
                        None => delay,
                    };
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    delay = delay.saturating_mul(2);
                }
            }
        }
    }

    async fn try_once(
        &self,
        conv: &Conversation,
        deadline: tokio::time::Instant,
    ) -> Result<Reply, Failure> {
        match &self.kind {
            Kind::Command(t) => t.run(conv).await.map_err(Failure::Fatal),
            Kind::OpenAi(t) => {
                let (uri, headers, body) = t.request(conv);
                let answer = self.post(&uri, &headers, body, deadline).await?;
                self.judge_status(&answer, |b| t.parse(b))
            }
            Kind::Http(t) => {
                let (uri, headers, body) = t.request(conv);
                let answer = self.post(&uri, &headers, body, deadline).await?;
                self.judge_status(&answer, |b| t.parse(b).map(Reply::Answered))
            }
        }
    }

    async fn post(
        &self,
        uri: &hyper::Uri,
        headers: &[(String, String)],
        body: Vec<u8>,
        deadline: tokio::time::Instant,
    ) -> Result<HttpAnswer, Failure> {
        let mut req = hyper::Request::post(uri.clone()).header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Failure::Fatal(format!("cannot build a request to {uri}: {e}")))?;
        let no_answer = || {
            Failure::Retry(
                format!(
                    "{uri}: no answer within {:?} (raise --timeout for slow targets)",
                    self.settings.timeout
                ),
                None,
            )
        };
        let resp = tokio::time::timeout_at(deadline, self.client.request(req))
            .await
            .map_err(|_| no_answer())?
            .map_err(|e| {
                // Connection refused / reset / TLS: show the whole cause chain.
                let mut msg = format!("{uri}: {e}");
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(&format!(": {s}"));
                    src = s.source();
                }
                if msg.contains("certificate") || msg.contains("InvalidCertificate") {
                    Failure::Fatal(format!(
                        "{msg} (TLS: give the target's CA with --ca-file if it is private)"
                    ))
                } else {
                    Failure::Retry(msg, None)
                }
            })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = tokio::time::timeout_at(deadline, Limited::new(resp.into_body(), MAX_BODY).collect())
            .await
            .map_err(|_| {
                Failure::Fatal(format!(
                    "{uri}: the answer was still arriving after {:?} (an endless stream? raise --timeout for slow targets)",
                    self.settings.timeout
                ))
            })?
            .map_err(|e| {
                let m = e.to_string();
                if m.contains("length limit") {
                    Failure::Fatal(format!(
                        "{uri}: answer longer than {} MiB (an endless stream?)",
                        MAX_BODY >> 20
                    ))
                } else {
                    Failure::Retry(format!("{uri}: answer cut off: {m}"), None)
                }
            })?
            .to_bytes()
            .to_vec();
        Ok(HttpAnswer {
            status,
            retry_after,
            body,
        })
    }

    fn judge_status(
        &self,
        a: &HttpAnswer,
        parse: impl Fn(&[u8]) -> Result<Reply, String>,
    ) -> Result<Reply, Failure> {
        let snippet = || String::from_utf8_lossy(&a.body[..a.body.len().min(200)]).into_owned();
        match a.status {
            200..=299 => {
                parse(&a.body).map_err(|e| Failure::Fatal(format!("the target's answer: {e}")))
            }
            429 => {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                Err(Failure::Retry(
                    "HTTP 429 Too Many Requests (lower --concurrency or --rate)".into(),
                    a.retry_after,
                ))
            }
            401 => Err(Failure::Fatal(format!(
                "HTTP 401: the target refused the credentials (check --api-key-env): {}",
                snippet()
            ))),
            404 | 405 => Err(Failure::Fatal(format!(
                "HTTP {}: no such endpoint (check the URL and the target kind): {}",
                a.status,
                snippet()
            ))),
            s => match error_message(&a.body) {
                Some(m) if is_refusal_by_policy(&m) && (s < 500 || m.contains("blocked")) => {
                    Ok(Reply::Blocked {
                        status: s,
                        message: m,
                    })
                }
                _ if s >= 500 => Err(Failure::Retry(
                    format!("HTTP {s}: {}", snippet()),
                    a.retry_after,
                )),
                _ => Err(Failure::Fatal(format!("HTTP {s}: {}", snippet()))),
            },
        }
    }
}

/// Words in an error's code or message that say a guard or content filter refused the
/// request (aigis guard's `aigis_blocked`, OpenAI's and Azure's `content_filter` and
/// `content_policy_violation`, moderation and safety filters). Any other 4xx — a parameter
/// the server does not support, a malformed request — is an error, not a block.
const POLICY_WORDS: &[&str] = &[
    "block",
    "content_filter",
    "content_policy",
    "policy_violation",
    "moderation",
    "safety",
    "flagged",
    "guardrail",
    "prompt_injection",
    "jailbreak",
];

fn is_refusal_by_policy(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    POLICY_WORDS.iter().any(|w| m.contains(w))
}

/// The message of a JSON error body (`{"error": {"message", "code"}}` or `{"error": "…"}`),
/// with its code when there is one.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    if let Some(s) = e.as_str() {
        let code = v.get("code").and_then(Value::as_str);
        return Some(code.map_or_else(|| s.to_string(), |c| format!("{c}: {s}")));
    }
    let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
    match e.get("code").and_then(Value::as_str) {
        Some(c) => Some(format!("{c}: {msg}")),
        None => Some(msg.to_string()),
    }
}

/// Parse a URL given on the command line, naming the flag when it is wrong.
pub(crate) fn parse_url(flag: &str, url: &str) -> Result<hyper::Uri, Error> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| Error::Config(format!("{flag} {url:?}: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.authority().is_some() => Ok(uri),
        _ => Err(Error::Config(format!(
            "{flag} {url:?}: need an http:// or https:// URL with a host"
        ))),
    }
}

/// An API key read from an environment variable, shown nowhere.
#[derive(Clone)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// Read `var`; an unset or empty variable is an error naming it.
    pub fn from_env(var: &str) -> Result<Self, Error> {
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(ApiKey(v.into())),
            _ => Err(Error::Config(format!(
                "--api-key-env {var}: the variable is unset or empty"
            ))),
        }
    }

    pub(crate) fn bearer(&self) -> (String, String) {
        ("authorization".into(), format!("Bearer {}", self.0))
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

/// Identity helper: a SHA-256 of some text, hex, for report and cache keys.
pub(crate) fn digest(text: &str) -> String {
    use sha2::Digest as _;
    crate::hex(&sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(status: u16, body: &str) -> Result<Reply, String> {
        let t = Target::new(
            Kind::Command(CommandTarget::new("true", vec![]).expect("command")),
            Settings::default(),
        )
        .expect("target");
        let a = HttpAnswer {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        };
        t.judge_status(&a, |_| Ok(Reply::Answered(crate::Response::default())))
            .map_err(|f| match f {
                Failure::Retry(m, _) | Failure::Fatal(m) => m,
            })
    }

    #[test]
    fn only_policy_refusals_count_as_blocked() {
        for (status, body) in [
            (
                400,
                r#"{"error": {"message": "request blocked by the aigis guard (GRD101)", "code": "aigis_blocked"}}"#,
            ),
            (
                400,
                r#"{"error": {"message": "The response was filtered", "code": "content_filter"}}"#,
            ),
            (
                400,
                r#"{"error": {"message": "Your request was rejected", "type": "invalid_request_error", "code": "content_policy_violation"}}"#,
            ),
            (
                403,
                r#"{"error": "blocked by policy", "code": "source_blocked"}"#,
            ),
            (
                502,
                r#"{"error": {"message": "response withheld", "code": "aigis_response_blocked"}}"#,
            ),
        ] {
            assert!(
                matches!(judged(status, body), Ok(Reply::Blocked { status: s, .. }) if s == status),
                "{status} {body}"
            );
        }
        for (status, body) in [
            (
                400,
                r#"{"error": {"message": "tools is not supported by this model", "code": null}}"#,
            ),
            (422, r#"{"detail": "validation error"}"#),
            (400, "not json"),
        ] {
            let e = judged(status, body).expect_err(body);
            assert!(e.starts_with(&format!("HTTP {status}")), "{e}");
        }
        assert!(judged(503, r#"{"error": {"message": "overloaded"}}"#).is_err());
    }
}
