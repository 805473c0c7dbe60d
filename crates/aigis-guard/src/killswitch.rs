//! The kill switch: routes and models taken offline at once. Every request checks the list
//! before any other work; the admin API (`/admin/quarantine`, its own credential) and
//! `aigis guard quarantine|release` change it. Held in process memory (shared state across
//! replicas through Redis is not built yet).

use std::collections::BTreeMap;
use std::sync::RwLock;

/// One quarantined route (`route:NAME`) or model (`model:NAME`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// `route:…` or `model:…`.
    pub target: String,
    /// Why, as given by the operator.
    pub reason: String,
    /// Unix seconds.
    pub since: i64,
}

/// The quarantine list.
#[derive(Default)]
pub struct KillSwitch {
    entries: RwLock<BTreeMap<String, Entry>>,
}

/// Whether a target names a route or a model.
pub fn valid_target(t: &str) -> bool {
    let Some((kind, name)) = t.split_once(':') else {
        return false;
    };
    (kind == "route" || kind == "model")
        && !name.is_empty()
        && name.len() <= 200
        && name.chars().all(|c| !c.is_control())
}

impl KillSwitch {
    /// Quarantines `target`; false if it is not `route:…` or `model:…`.
    pub fn quarantine(&self, target: &str, reason: &str) -> bool {
        if !valid_target(target) {
            return false;
        }
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.write().insert(
            target.to_string(),
            Entry {
                target: target.to_string(),
                reason: reason.chars().take(500).collect(),
                since,
            },
        );
        true
    }

    /// Releases `target`; false if it was not quarantined.
    pub fn release(&self, target: &str) -> bool {
        self.write().remove(target).is_some()
    }

    /// The entry for route `route` or model `model`, if either is quarantined.
    pub fn check(&self, route: &str, model: Option<&str>) -> Option<Entry> {
        let e = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if e.is_empty() {
            return None;
        }
        e.get(&format!("route:{route}"))
            .or_else(|| model.and_then(|m| e.get(&format!("model:{m}"))))
            .cloned()
    }

    /// Every entry.
    pub fn list(&self) -> Vec<Entry> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Entry>> {
        // Every change is one insert or remove: a poisoned lock still holds a valid map.
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_check_release() {
        let k = KillSwitch::default();
        assert!(k.check("chat", Some("m")).is_none());
        assert!(k.quarantine("model:m", "weights tampered"));
        assert_eq!(
            k.check("chat", Some("m")).unwrap().reason,
            "weights tampered"
        );
        assert!(k.check("chat", Some("other")).is_none());
        assert!(k.quarantine("route:chat", "incident 7"));
        assert!(k.check("chat", None).is_some());
        assert!(!k.quarantine("chat", "no kind"));
        assert!(!k.quarantine("model:", "empty"));
        assert!(k.release("route:chat") && !k.release("route:chat"));
        assert_eq!(k.list().len(), 1);
    }
}

/// Calls a running gateway's admin API (`aigis guard quarantine|release`): `method` on
/// `base/admin/quarantine[/target]` with the admin token; returns the status and body.
pub async fn admin_call(
    base: &str,
    token: &str,
    method: &str,
    target: Option<&str>,
    body: Option<serde_json::Value>,
) -> Result<(u16, String), String> {
    use http_body_util::BodyExt as _;
    let url = match target {
        Some(t) => format!(
            "{}/admin/quarantine/{}",
            base.trim_end_matches('/'),
            t.replace('%', "%25")
                .replace('/', "%2F")
                .replace(' ', "%20")
        ),
        None => format!("{}/admin/quarantine", base.trim_end_matches('/')),
    };
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("gateway URL `{base}`: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "gateway URL `{base}`: only http:// is supported so far"
        ));
    }
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes_alias::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes_alias::Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| format!("{base}: no answer within 10 s"))?
        .map_err(|e| format!("{base}: {e}"))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{base}: {e}"))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// `bytes::Bytes` through axum's re-export (no extra dependency).
mod bytes_alias {
    pub use axum::body::Bytes;
}
