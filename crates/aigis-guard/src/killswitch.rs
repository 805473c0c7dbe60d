//! The kill switch: routes and models taken offline, keys revoked and source networks blocked
//! (`cidr:ADDR/LEN`), at once. Every request checks the list
//! before any other work; the admin API (`/admin/quarantine`, its own credential) and
//! `aigis guard quarantine|release` change it. The list lives in process memory; with
//! `[guard.serve] state = "redis://…"` it is shared by every replica through Redis (a hash of
//! entries, a pub/sub channel announcing changes, and a full reload every few seconds as a
//! safety net), so a quarantine sent to any replica applies to all of them at once.

use std::collections::BTreeMap;
use std::sync::RwLock;

/// One quarantined route (`route:NAME`), model (`model:NAME`), API key (`key:ID`: a
/// revocation every replica applies at once) or client network (`cidr:NET/LEN`: its requests
/// are refused with 403).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// `route:…`, `model:…`, `key:…` or `cidr:…` (a network in canonical form).
    pub target: String,
    /// Why, as given by the operator.
    pub reason: String,
    /// Unix seconds.
    pub since: i64,
}

/// `target` as stored: networks in canonical form, the rest unchanged.
pub fn canonical(target: &str) -> String {
    match target.strip_prefix("cidr:").and_then(parse_cidr) {
        Some((net, len)) => cidr_target(net, len),
        None => target.to_string(),
    }
}

/// The quarantine list.
#[derive(Default)]
pub struct KillSwitch {
    entries: RwLock<BTreeMap<String, Entry>>,
}

/// Whether a target names a route, a model, a key or a network.
pub fn valid_target(t: &str) -> bool {
    let Some((kind, name)) = t.split_once(':') else {
        return false;
    };
    match kind {
        "cidr" => parse_cidr(name).is_some(),
        "route" | "model" | "key" => {
            !name.is_empty() && name.len() <= 200 && name.chars().all(|c| !c.is_control())
        }
        _ => false,
    }
}

/// `ADDR/LEN` (or a bare address: one host) as its network address and prefix length, the
/// host bits cleared; `None` if it is not one.
pub fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    use std::net::IpAddr;
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        // Digits only: `+8` or ` 8` are not prefix lengths.
        Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => {
            l.parse::<u8>().ok()?
        }
        Some(_) => return None,
        None => max,
    };
    (len <= max).then(|| (network(ip, len), len))
}

/// `ip` with all but its first `len` bits cleared.
fn network(ip: std::net::IpAddr, len: u8) -> std::net::IpAddr {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// The kill-switch target blocking the `len`-bit network of `ip`: `cidr:NET/LEN`.
pub fn cidr_target(ip: std::net::IpAddr, len: u8) -> String {
    let ip = ip.to_canonical();
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.min(max);
    format!("cidr:{}/{len}", network(ip, len))
}

impl KillSwitch {
    /// An entry for `target` now (a network in canonical form), or `None` if it is not a valid
    /// target.
    pub fn entry(target: &str, reason: &str) -> Option<Entry> {
        if !valid_target(target) {
            return None;
        }
        // `cidr:10.1.2.3/8` is stored as `cidr:10.0.0.0/8`, so `release` finds it by either.
        let target = canonical(target);
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Some(Entry {
            target,
            reason: reason.chars().take(500).collect(),
            since,
        })
    }

    /// Adds `entry`.
    pub fn insert(&self, entry: Entry) {
        self.write().insert(entry.target.clone(), entry);
    }

    /// Quarantines `target`; false if it is not `route:…` or `model:…`.
    pub fn quarantine(&self, target: &str, reason: &str) -> bool {
        match Self::entry(target, reason) {
            Some(e) => {
                self.insert(e);
                true
            }
            None => false,
        }
    }

    /// Releases `target`; false if it was not quarantined.
    pub fn release(&self, target: &str) -> bool {
        self.write().remove(&canonical(target)).is_some()
    }

    /// The entry of a blocked network holding `ip`, if any.
    pub fn check_ip(&self, ip: std::net::IpAddr) -> Option<Entry> {
        let e = self.read_nonempty()?;
        let ip = ip.to_canonical();
        // `cidr:` entries sort together (`;` follows `:`).
        e.range::<str, _>((
            std::ops::Bound::Included("cidr:"),
            std::ops::Bound::Excluded("cidr;"),
        ))
        .find(|(t, _)| {
            t.strip_prefix("cidr:")
                .and_then(parse_cidr)
                .is_some_and(|(net, len)| net.is_ipv4() == ip.is_ipv4() && network(ip, len) == net)
        })
        .map(|(_, v)| v.clone())
    }

    /// The entry for route `route` or model `model`, if either is quarantined.
    pub fn check(&self, route: &str, model: Option<&str>) -> Option<Entry> {
        self.lookup("route", route)
            .or_else(|| model.and_then(|m| self.lookup("model", m)))
    }

    /// The entry `kind:name`; the common case, an empty list, costs no allocation.
    fn lookup(&self, kind: &str, name: &str) -> Option<Entry> {
        self.read_nonempty()?
            .get(&format!("{kind}:{name}"))
            .cloned()
    }

    /// The list, read-locked, or `None` when it is empty (the common case: checked without
    /// allocating or searching).
    fn read_nonempty(&self) -> Option<std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>>> {
        let e = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (!e.is_empty()).then_some(e)
    }

    /// Replaces the whole list (from the shared store).
    pub fn replace_all(&self, entries: Vec<Entry>) {
        *self.write() = entries.into_iter().map(|e| (e.target.clone(), e)).collect();
    }

    /// The entry for API key `id`, if it is revoked through the kill switch.
    pub fn check_key(&self, id: &str) -> Option<Entry> {
        self.lookup("key", id)
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

    #[tokio::test]
    async fn an_unreachable_store_is_a_clear_error() {
        let e = Shared::connect("redis://127.0.0.1:1", "x:")
            .await
            .err()
            .unwrap();
        assert!(e.starts_with("redis redis://127.0.0.1:1"), "{e}");
        let e = Shared::connect("not a url", "x:").await.err().unwrap();
        assert!(e.contains("not a url"), "{e}");
    }

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
        assert!(k.quarantine("key:abcdefgh", "revoked"));
        assert!(k.check_key("abcdefgh").is_some() && k.check_key("other").is_none());
        assert!(
            k.check("abcdefgh", None).is_none(),
            "a key entry is not a route"
        );
        assert!(k.release("key:abcdefgh"));
        assert_eq!(k.list().len(), 1);
    }

    #[test]
    fn networks_are_canonical_and_match_their_addresses() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let k = KillSwitch::default();
        assert!(k.check_ip(ip("10.1.2.3")).is_none());
        // Host bits are cleared; release takes either spelling.
        assert!(k.quarantine("cidr:10.1.2.3/8", "scanner"));
        assert_eq!(k.list()[0].target, "cidr:10.0.0.0/8");
        assert!(k.check_ip(ip("10.200.0.1")).is_some());
        assert!(k.check_ip(ip("::ffff:10.9.9.9")).is_some(), "IPv4-mapped");
        assert!(k.check_ip(ip("11.0.0.1")).is_none());
        assert!(
            k.check_ip(ip("a00::1")).is_none(),
            "v6 never matches a v4 net"
        );
        assert!(k.quarantine("cidr:2001:db8::1/64", "burst"));
        assert!(k.check_ip(ip("2001:db8::ffff")).is_some());
        assert!(k.check_ip(ip("2001:db9::1")).is_none());
        assert!(k.quarantine("cidr:192.0.2.7", "one host"));
        assert_eq!(
            k.check_ip(ip("192.0.2.7")).unwrap().target,
            "cidr:192.0.2.7/32"
        );
        assert!(k.check_ip(ip("192.0.2.8")).is_none());
        assert!(k.release("cidr:10.3.3.3/8") && k.check_ip(ip("10.1.1.1")).is_none());
        // A route named like a network is not one; nothing else matches an address.
        assert!(k.quarantine("route:10.0.0.0/8", "odd name"));
        assert!(k.check_ip(ip("10.0.0.1")).is_none());
        for bad in [
            "cidr:",
            "cidr:10.0.0.0/33",
            "cidr:::/129",
            "cidr:10.0.0.0/",
            "cidr:10.0.0.0/+8",
            "cidr:host/8",
            "cidr:10.0.0.0/8/8",
        ] {
            assert!(!k.quarantine(bad, "bad"), "{bad}");
        }
        assert_eq!(cidr_target(ip("203.0.113.77"), 24), "cidr:203.0.113.0/24");
        assert_eq!(
            cidr_target(ip("2001:db8:1:2:3::9"), 64),
            "cidr:2001:db8:1:2::/64"
        );
        assert_eq!(
            cidr_target(ip("::ffff:203.0.113.77"), 40),
            "cidr:203.0.113.77/32"
        );
        assert_eq!(cidr_target(ip("0.0.0.0"), 0), "cidr:0.0.0.0/0");
    }
}

/// The kill switch's list in Redis, shared by gateway replicas.
#[derive(Clone)]
pub struct Shared {
    client: redis::Client,
    conn: redis::aio::ConnectionManager,
    prefix: String,
    hash: String,
    channel: String,
}

/// One shared bucket for [`Shared::meter`].
#[derive(Clone, Debug)]
pub struct Meter<'a> {
    /// Which bucket, under the store's prefix: `rate:KEY`, `ip:ADDR`, `tokens:KEY`.
    pub key: std::borrow::Cow<'a, str>,
    /// Its depth and refill per minute.
    pub per_minute: u32,
    /// What to do with it.
    pub op: MeterOp,
}

/// What [`Shared::meter`] does with a bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MeterOp {
    /// Take one (a request); refuse when less than one is left.
    Take,
    /// Refuse when the balance is not positive; take nothing (a token budget's admission).
    Admit,
    /// Subtract this many, into debt if need be (bounded at ten minutes of refill); never
    /// refuses. Negative amounts refund.
    Charge(f64),
}

/// How often replicas reload the whole list even without an announcement.
const RELOAD: std::time::Duration = std::time::Duration::from_secs(5);

/// A client for `url` and a managed (reconnecting) connection, within 5 seconds.
pub(crate) async fn redis_connect(
    url: &str,
) -> Result<(redis::Client, redis::aio::ConnectionManager), String> {
    let client = redis::Client::open(url).map_err(|e| format!("redis {url}: {e}"))?;
    let conn = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        client.get_connection_manager(),
    )
    .await
    .map_err(|_| format!("redis {url}: no connection within 5 s"))?
    .map_err(|e| format!("redis {url}: {e}"))?;
    Ok((client, conn))
}

impl Shared {
    /// Connects to `url`; keys are `<prefix>quarantine` (hash) and
    /// `<prefix>quarantine:changed` (channel).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let (client, conn) = redis_connect(url).await?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_string(),
            hash: format!("{prefix}quarantine"),
            channel: format!("{prefix}quarantine:changed"),
        })
    }

    /// Every entry in the store (unreadable entries are skipped).
    pub async fn load(&self) -> Result<Vec<Entry>, String> {
        let mut c = self.conn.clone();
        let raw: Vec<(String, String)> = redis::AsyncCommands::hgetall(&mut c, &self.hash)
            .await
            .map_err(|e| e.to_string())?;
        Ok(raw
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str(&v).ok())
            .collect())
    }

    /// Stores `entry` and tells every replica.
    pub async fn put(&self, entry: &Entry) -> Result<(), String> {
        let mut c = self.conn.clone();
        let v = serde_json::to_string(entry).map_err(|e| e.to_string())?;
        let _: () = redis::pipe()
            .hset(&self.hash, &entry.target, v)
            .publish(&self.channel, &entry.target)
            .query_async(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Removes `target`; false if it was not there.
    pub async fn remove(&self, target: &str) -> Result<bool, String> {
        let mut c = self.conn.clone();
        let (n, _): (i64, i64) = redis::pipe()
            .hdel(&self.hash, target)
            .publish(&self.channel, target)
            .query_async(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        Ok(n > 0)
    }

    /// Subscribes to announcements, loads the list into `kill`, and keeps it equal to the store
    /// from then on: a reload on every announcement and every few seconds; a lost connection
    /// is re-established. Returns once the first subscription is live, so no announcement made
    /// after it can be missed.
    pub async fn start_sync(self, kill: std::sync::Arc<KillSwitch>) -> Result<(), String> {
        let mut messages = self.subscribe().await?;
        kill.replace_all(self.load().await?);
        tokio::spawn(async move {
            loop {
                loop {
                    use futures_util::StreamExt as _;
                    match tokio::time::timeout(RELOAD, messages.next()).await {
                        // An announcement or the periodic reload.
                        Ok(Some(_)) | Err(_) => {
                            if let Ok(entries) = self.load().await {
                                kill.replace_all(entries);
                            }
                        }
                        // The subscription ended: reconnect.
                        Ok(None) => break,
                    }
                }
                messages = loop {
                    match self.subscribe().await {
                        Ok(m) => break m,
                        Err(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                    }
                };
                if let Ok(entries) = self.load().await {
                    kill.replace_all(entries);
                }
            }
        });
        Ok(())
    }

    /// Applies `meters` in one atomic script on the Redis server's clock, so every replica
    /// draws from the same buckets (each `per_minute` deep, refilled continuously): either all
    /// pass and are charged, or none is. `Ok(None)` admitted; `Ok(Some((i, s)))` meter `i`
    /// refused, retry after `s` seconds.
    pub async fn meter(&self, meters: &[Meter<'_>]) -> Result<Option<(usize, u64)>, String> {
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = {}
for i, key in ipairs(KEYS) do
  local cap = tonumber(ARGV[i * 3 - 2])
  local mode = ARGV[i * 3 - 1]
  local amount = tonumber(ARGV[i * 3])
  local rate = cap / 60000.0
  local b = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(b[1]) or cap
  local at = tonumber(b[2]) or now
  tokens = math.min(cap, tokens + math.max(0, now - at) * rate)
  if mode == 'take' then
    if tokens < amount then
      return {i, math.max(1, math.ceil((amount - tokens) / rate / 1000))}
    end
    tokens = tokens - amount
  elseif mode == 'admit' then
    if tokens <= 0 then
      return {i, math.max(1, math.ceil((1 - tokens) / rate / 1000))}
    end
  else
    tokens = math.max(-cap * 10, tokens - amount)
  end
  state[i] = {tokens, math.ceil((cap - tokens) / rate) + 1000}
end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'tokens', tostring(state[i][1]), 'at', now)
  redis.call('PEXPIRE', key, state[i][2])
end
return {0, 0}
",
            )
        });
        if meters.is_empty() {
            return Ok(None);
        }
        let mut inv = SCRIPT.prepare_invoke();
        for m in meters {
            let (mode, amount) = match m.op {
                MeterOp::Take => ("take", 1.0),
                MeterOp::Admit => ("admit", 0.0),
                MeterOp::Charge(n) => ("charge", n),
            };
            inv.key(format!("{}{}", self.prefix, m.key))
                .arg(m.per_minute)
                .arg(mode)
                .arg(amount);
        }
        let mut c = self.conn.clone();
        let (i, wait): (usize, u64) = inv.invoke_async(&mut c).await.map_err(|e| e.to_string())?;
        Ok((i > 0).then(|| (i - 1, wait.max(1))))
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSubStream, String> {
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| e.to_string())?;
        pubsub
            .subscribe(&self.channel)
            .await
            .map_err(|e| e.to_string())?;
        Ok(pubsub.into_on_message())
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
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<axum::body::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(axum::body::Bytes::from(
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
