//! `aigis guard serve`: the gateway. A reverse proxy in front of model endpoints that checks
//! API keys, scans request text with the input chain, blocks, redacts or flags, and forwards
//! to the route's upstream over pooled connections, streaming the response back unchanged
//! (server-sent events included).
//!
//! Built so far: HTTP listener, `openai` and `json` routes, key checks with route scopes, body
//! limits, upstream timeouts, rate limits and load shedding, `/healthz` and `/readyz`, graceful
//! shutdown. Not yet: TLS, token budgets, output scanning, kill switch, audit log, metrics (see `docs/guard.md`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header,
};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::keys::KeyStore;
use crate::{Action, Chain, Error};

/// `[guard.serve]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GatewayConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// SQLite key store (`aigis guard keys create --store …`); required unless
    /// `danger-no-auth`.
    #[serde(default)]
    pub keys: Option<String>,
    /// Accept requests without an API key. For local experiments only.
    #[serde(default)]
    pub danger_no_auth: bool,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Seconds to wait for the upstream's response headers.
    #[serde(default = "default_timeout")]
    pub upstream_timeout_secs: u64,
    /// Routes, matched by the longest path prefix.
    pub routes: Vec<RouteConfig>,
    /// Rate limits and overload protection (`[guard.serve.limits]`).
    #[serde(default)]
    pub limits: crate::limits::LimitsConfig,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_max_body() -> usize {
    4 << 20
}
fn default_timeout() -> u64 {
    120
}

/// The API a route speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// The OpenAI-compatible API (`/v1/chat/completions`, `/v1/completions`,
    /// `/v1/embeddings`, `/v1/models`).
    Openai,
    /// Any JSON API; `fields` select the strings to scan.
    Json,
}

/// `[[guard.serve.routes]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouteConfig {
    /// Name used in key scopes and logs.
    pub name: String,
    /// API kind.
    pub kind: RouteKind,
    /// Path prefix on the gateway (`/v1`); the path is forwarded unchanged.
    pub prefix: String,
    /// Upstream base URL (`http://127.0.0.1:8000`).
    pub upstream: String,
    /// `json` routes: dotted paths of the strings to scan, `*` for every element
    /// (`inputs.*.data.*`).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Environment variable holding the upstream's own API key (sent as a bearer token).
    #[serde(default)]
    pub upstream_key_env: Option<String>,
}

struct Route {
    cfg: RouteConfig,
    base: Uri,
    upstream_auth: Option<HeaderValue>,
}

/// The running gateway's shared state.
struct Gateway {
    routes: Vec<Route>,
    chain: Chain,
    keys: Option<KeyStore>,
    client: Client<HttpConnector, Body>,
    max_body: usize,
    timeout: Duration,
    limits: crate::limits::Limits,
}

/// Why a request was refused: one place maps each cause to a status and the API's own error
/// JSON, so no internal detail leaks.
enum Refusal {
    Limited(crate::limits::Denied),
    NoRoute,
    Unauthorized,
    Forbidden,
    TooLarge,
    UnsupportedType,
    BadJson(String),
    Blocked(Vec<String>),
    UpstreamDown,
    UpstreamTimeout,
}

impl Refusal {
    fn response(&self, kind: Option<RouteKind>) -> Response<Body> {
        use crate::limits::Denied;
        let (status, code, message) = match self {
            Refusal::Limited(Denied::Rate(_)) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "rate limit reached; retry later".to_string(),
            ),
            Refusal::Limited(Denied::Concurrency) => (
                StatusCode::TOO_MANY_REQUESTS,
                "concurrency_limit_exceeded",
                "too many concurrent requests for this API key".to_string(),
            ),
            Refusal::Limited(Denied::Overloaded) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the gateway is at capacity; retry shortly".to_string(),
            ),
            Refusal::NoRoute => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no route for this path".to_string(),
            ),
            Refusal::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "missing, invalid or revoked API key (send `Authorization: Bearer aig_…`)"
                    .to_string(),
            ),
            Refusal::Forbidden => (
                StatusCode::FORBIDDEN,
                "route_not_allowed",
                "this API key may not use this route".to_string(),
            ),
            Refusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                "request body over the gateway's limit".to_string(),
            ),
            Refusal::UnsupportedType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "request body must be application/json".to_string(),
            ),
            Refusal::BadJson(e) => (
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("request body is not valid JSON: {e}"),
            ),
            Refusal::Blocked(rules) => (
                StatusCode::BAD_REQUEST,
                "aigis_blocked",
                format!("request blocked by the aigis guard ({})", rules.join(", ")),
            ),
            Refusal::UpstreamDown => (
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                "the model endpoint could not be reached".to_string(),
            ),
            Refusal::UpstreamTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the model endpoint did not answer in time".to_string(),
            ),
        };
        let body = match kind {
            Some(RouteKind::Json) => json!({"error": message, "code": code}),
            // OpenAI's error shape, also used before a route is known.
            _ => {
                json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})
            }
        };
        let mut r = Response::new(Body::from(body.to_string()));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let retry = match self {
            Refusal::Limited(Denied::Rate(s)) => Some(*s),
            Refusal::Limited(_) => Some(1),
            _ => None,
        };
        if let Some(s) = retry {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// Paths of the strings to scan in an OpenAI request body.
fn openai_slots(path: &str, body: &Value) -> Vec<Vec<PathSeg>> {
    let mut out = Vec::new();
    if path.ends_with("/chat/completions") {
        if let Some(msgs) = body.get("messages").and_then(Value::as_array) {
            for (i, m) in msgs.iter().enumerate() {
                // The system and developer prompts come from the application, not the user.
                let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                if role == "system" || role == "developer" {
                    continue;
                }
                match m.get("content") {
                    Some(Value::String(_)) => out.push(vec![
                        PathSeg::Key("messages".into()),
                        PathSeg::Index(i),
                        PathSeg::Key("content".into()),
                    ]),
                    Some(Value::Array(parts)) => {
                        for (j, p) in parts.iter().enumerate() {
                            if p.get("text").is_some_and(Value::is_string) {
                                out.push(vec![
                                    PathSeg::Key("messages".into()),
                                    PathSeg::Index(i),
                                    PathSeg::Key("content".into()),
                                    PathSeg::Index(j),
                                    PathSeg::Key("text".into()),
                                ]);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    } else {
        let key = if path.ends_with("/completions") {
            "prompt"
        } else if path.ends_with("/embeddings") {
            "input"
        } else {
            return out;
        };
        match body.get(key) {
            Some(Value::String(_)) => out.push(vec![PathSeg::Key(key.into())]),
            Some(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    if v.is_string() {
                        out.push(vec![PathSeg::Key(key.into()), PathSeg::Index(i)]);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// One step of a path into a JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PathSeg {
    Key(String),
    Index(usize),
}

/// Every string a dotted selector with `*` wildcards reaches.
fn select(body: &Value, selector: &str) -> Vec<Vec<PathSeg>> {
    let mut frontier: Vec<(Vec<PathSeg>, &Value)> = vec![(Vec::new(), body)];
    for part in selector.split('.') {
        let mut next = Vec::new();
        for (path, v) in frontier {
            match (part, v) {
                ("*", Value::Array(a)) => {
                    for (i, x) in a.iter().enumerate() {
                        let mut p = path.clone();
                        p.push(PathSeg::Index(i));
                        next.push((p, x));
                    }
                }
                ("*", Value::Object(m)) => {
                    for (k, x) in m {
                        let mut p = path.clone();
                        p.push(PathSeg::Key(k.clone()));
                        next.push((p, x));
                    }
                }
                (k, Value::Object(m)) => {
                    if let Some(x) = m.get(k) {
                        let mut p = path.clone();
                        p.push(PathSeg::Key(k.to_string()));
                        next.push((p, x));
                    }
                }
                (k, Value::Array(a)) => {
                    if let Some(x) = k.parse::<usize>().ok().and_then(|i| a.get(i)) {
                        let mut p = path.clone();
                        p.push(PathSeg::Index(k.parse().unwrap_or(0)));
                        next.push((p, x));
                    }
                }
                _ => {}
            }
        }
        frontier = next;
    }
    frontier
        .into_iter()
        .filter(|(_, v)| v.is_string())
        .map(|(p, _)| p)
        .collect()
}

fn get_mut<'a>(v: &'a mut Value, path: &[PathSeg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |cur, seg| match seg {
        PathSeg::Key(k) => cur.get_mut(k.as_str()),
        PathSeg::Index(i) => cur.get_mut(*i),
    })
}

/// Hop-by-hop headers, never forwarded.
const HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "host",
    "content-length",
];

impl Gateway {
    fn route(&self, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| {
                path == r.cfg.prefix
                    || path.starts_with(&format!("{}/", r.cfg.prefix.trim_end_matches('/')))
            })
            .max_by_key(|r| r.cfg.prefix.len())
    }

    /// The id of the request's valid key (`None` without a key store).
    fn authorize(&self, headers: &HeaderMap, route: &Route) -> Result<Option<String>, Refusal> {
        let Some(store) = &self.keys else {
            return Ok(None);
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refusal::Unauthorized)?;
        // A store failure refuses the request (fail closed) without saying why.
        let info = store
            .check(presented.trim())
            .ok()
            .flatten()
            .ok_or(Refusal::Unauthorized)?;
        if !info.routes.is_empty() && !info.routes.contains(&route.cfg.name) {
            return Err(Refusal::Forbidden);
        }
        Ok(Some(info.id))
    }

    /// Scans the request body; returns the body to forward and the decision header value.
    fn inspect(
        &self,
        route: &Route,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<(Bytes, &'static str), Refusal> {
        if body.is_empty() {
            return Ok((body, "allow"));
        }
        let json_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json_type {
            return Err(Refusal::UnsupportedType);
        }
        let mut value: Value =
            serde_json::from_slice(&body).map_err(|e| Refusal::BadJson(e.to_string()))?;
        let slots = match route.cfg.kind {
            RouteKind::Openai => openai_slots(path, &value),
            RouteKind::Json => route
                .cfg
                .fields
                .iter()
                .flat_map(|f| select(&value, f))
                .collect(),
        };
        let mut strongest = Action::Allow;
        let mut blocked = Vec::new();
        let mut rewritten = false;
        for slot in slots {
            let Some(Value::String(text)) = get_mut(&mut value, &slot) else {
                continue;
            };
            let outcome = self.chain.scan(text);
            strongest = strongest.max(outcome.action);
            match outcome.action {
                Action::Block => blocked.extend(outcome.detectors()),
                Action::Redact => {
                    if let Some(r) = outcome.redacted {
                        *text = r;
                        rewritten = true;
                    }
                }
                Action::Allow | Action::Flag => {}
            }
        }
        if !blocked.is_empty() {
            blocked.sort();
            blocked.dedup();
            return Err(Refusal::Blocked(blocked));
        }
        let decision = match strongest {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Redact | Action::Block => "redact",
        };
        if rewritten {
            Ok((Bytes::from(value.to_string()), decision))
        } else {
            Ok((body, decision))
        }
    }

    async fn forward(
        &self,
        route: &Route,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Body>, Refusal> {
        let path_q = uri.path_and_query().map_or("/", |p| p.as_str());
        let base = route.base.to_string();
        let target: Uri = format!("{}{}", base.trim_end_matches('/'), path_q)
            .parse()
            .map_err(|_| Refusal::UpstreamDown)?;
        let mut req = Request::builder().method(method).uri(target);
        for (k, v) in headers {
            if HOP.contains(&k.as_str()) || k == header::AUTHORIZATION {
                continue;
            }
            req = req.header(k, v);
        }
        if let Some(auth) = &route.upstream_auth {
            req = req.header(header::AUTHORIZATION, auth.clone());
        }
        let req = req
            .body(Body::from(body))
            .map_err(|_| Refusal::UpstreamDown)?;
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| Refusal::UpstreamTimeout)?
            .map_err(|_| Refusal::UpstreamDown)?;
        let (mut parts, incoming) = resp.into_parts();
        for h in HOP {
            if *h != "content-length" {
                parts.headers.remove(*h);
            }
        }
        // Streamed through as it arrives: server-sent events are not buffered.
        Ok(Response::from_parts(parts, Body::new(incoming)))
    }
}

async fn handle(
    State(gw): State<Arc<Gateway>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    // Held until the response head is returned (a streamed body is not counted).
    let mut permit = match gw.limits.admit(peer.ip()) {
        Ok(p) => p,
        Err(d) => return Refusal::Limited(d).response(None),
    };
    let path = req.uri().path().to_string();
    let Some(route) = gw.route(&path) else {
        return Refusal::NoRoute.response(None);
    };
    let kind = Some(route.cfg.kind);
    match gw.authorize(req.headers(), route) {
        Ok(Some(id)) => {
            if let Err(d) = gw.limits.admit_key(&mut permit, &id) {
                return Refusal::Limited(d).response(kind);
            }
        }
        Ok(None) => {}
        Err(r) => return r.response(kind),
    }
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, gw.max_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Refusal::TooLarge.response(kind);
        }
        Err(_) => return Refusal::BadJson("the body could not be read".into()).response(kind),
    };
    let (body, decision) = match gw.inspect(route, &path, &parts.headers, body) {
        Ok(x) => x,
        Err(r) => return r.response(kind),
    };
    match gw
        .forward(route, parts.method, &parts.uri, &parts.headers, body)
        .await
    {
        Ok(mut resp) => {
            resp.headers_mut().insert(
                HeaderName::from_static("x-aigis-decision"),
                HeaderValue::from_static(decision),
            );
            resp
        }
        Err(r) => r.response(kind),
    }
}

/// A gateway bound to its address, ready to serve.
pub struct Bound {
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
}

impl Bound {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting and lets requests in flight
    /// finish.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok\n" }))
            .route("/readyz", axum::routing::get(|| async { "ready\n" }))
            .fallback(handle)
            .with_state(self.gateway);
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Checks `config`, opens the key store, builds the chain and binds the listener.
pub async fn bind(
    config: &GatewayConfig,
    chain: Chain,
    base_dir: &std::path::Path,
) -> Result<Bound, Error> {
    if config.routes.is_empty() {
        return Err(Error::Config(
            "[guard.serve] needs at least one [[guard.serve.routes]]".into(),
        ));
    }
    let keys = match (&config.keys, config.danger_no_auth) {
        (Some(path), _) => {
            let p = base_dir.join(path);
            Some(KeyStore::open(&p).map_err(|e| Error::Config(e.to_string()))?)
        }
        (None, true) => None,
        (None, false) => {
            return Err(Error::Config(
                "[guard.serve] has no `keys` store; create one with `aigis guard keys create --store guard-keys.db`, or set danger-no-auth = true for a local experiment".into(),
            ));
        }
    };
    let mut routes = Vec::new();
    for r in &config.routes {
        if !r.prefix.starts_with('/') {
            return Err(Error::Config(format!(
                "route `{}`: prefix must start with `/`",
                r.name
            )));
        }
        let base: Uri = r.upstream.parse().map_err(|e| {
            Error::Config(format!(
                "route `{}`: upstream `{}`: {e}",
                r.name, r.upstream
            ))
        })?;
        if base.scheme_str() != Some("http") {
            return Err(Error::Config(format!(
                "route `{}`: upstream `{}`: only http:// upstreams are supported so far (TLS to upstreams is not built yet)",
                r.name, r.upstream
            )));
        }
        if r.kind == RouteKind::Json && r.fields.is_empty() {
            return Err(Error::Config(format!(
                "route `{}`: a json route needs `fields` to scan",
                r.name
            )));
        }
        let upstream_auth = match &r.upstream_key_env {
            Some(var) => {
                let v = std::env::var(var)
                    .map_err(|_| Error::Config(format!("route `{}`: ${var} is not set", r.name)))?;
                Some(HeaderValue::from_str(&format!("Bearer {v}")).map_err(|_| {
                    Error::Config(format!(
                        "route `{}`: ${var} is not a valid header value",
                        r.name
                    ))
                })?)
            }
            None => None,
        };
        routes.push(Route {
            cfg: r.clone(),
            base,
            upstream_auth,
        });
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| Error::Config(format!("listening on {}: {e}", config.listen)))?;
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build_http();
    Ok(Bound {
        listener,
        gateway: Arc::new(Gateway {
            routes,
            chain,
            keys,
            client,
            max_body: config.max_body_bytes,
            timeout: Duration::from_secs(config.upstream_timeout_secs),
            limits: crate::limits::Limits::new(&config.limits),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_slots_skip_system_and_reach_parts() {
        let body = json!({"messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "hi"},
            {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}]}
        ]});
        let s = openai_slots("/v1/chat/completions", &body);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].last(), Some(&PathSeg::Key("text".into())));
        assert_eq!(
            openai_slots("/v1/completions", &json!({"prompt": ["a", 1, "b"]})).len(),
            2
        );
        assert_eq!(
            openai_slots("/v1/embeddings", &json!({"input": "a"})).len(),
            1
        );
        assert!(openai_slots("/v1/models", &json!({})).is_empty());
    }

    #[test]
    fn selectors_walk_arrays_and_objects() {
        let body = json!({"inputs": [{"name": "t", "data": ["x", "y", 3]}, {"data": ["z"]}]});
        assert_eq!(select(&body, "inputs.*.data.*").len(), 3);
        assert_eq!(select(&body, "inputs.0.name").len(), 1);
        assert!(select(&body, "inputs.9.name").is_empty());
        assert!(select(&json!("s"), "a.b").is_empty());
    }
}
