//! Rate detectors over every replica's traffic. With `[guard.serve] state = "redis://…"` and
//! the detectors on, each replica adds its requests, tokens and client addresses to per-window
//! counters in Redis (hashes per key and per address, a HyperLogLog of addresses per key),
//! batched off the request path. A window is judged `grace` after it ends: every replica reads
//! the cluster totals and folds them into its own baselines — the same totals, so the same
//! baselines everywhere, and a replica that takes over keeps judging from where the others
//! are — and the one replica that claims the window in Redis (`SET NX`) reports its alerts,
//! so each alert is raised once. A key spreading a burst over the replicas is seen whole.
//!
//! Windows follow Redis's clock, not each replica's: a replica measures the offset of its
//! clock from Redis `TIME` (every 10 s, half the round trip allowed for) and assigns requests
//! and judges windows by the corrected time, so replicas whose clocks disagree still put a
//! request in the same window.
//!
//! If Redis cannot be read when a window is due, the replica judges that window on its own
//! traffic (which it also counts locally) and says so: degraded, never silent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use aigis_monitor::detect::WindowTotals;

/// Distinct addresses a key keeps locally per window (for the degraded mode); more are
/// counted as this many.
const LOCAL_SOURCES: usize = 4096;

#[derive(Default)]
struct Local {
    keys: HashMap<String, (f64, f64, HashSet<String>)>,
    ips: HashMap<String, (f64, f64)>,
}

/// Counts per subject, as read from a Redis hash.
type Counts = HashMap<String, f64>;

/// One request's contribution.
struct Count {
    window: u64,
    key: Option<String>,
    client: String,
    tokens: u64,
}

/// The counters of this replica and its link to the shared ones.
pub struct SharedRates {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    window_ms: u64,
    grace_ms: u64,
    tx: tokio::sync::mpsc::Sender<Count>,
    local: Mutex<BTreeMap<u64, Local>>,
    /// Redis's clock minus this replica's, in milliseconds.
    offset_ms: std::sync::atomic::AtomicI64,
    /// Requests the full queue did not take.
    dropped: std::sync::atomic::AtomicU64,
}

impl SharedRates {
    /// Connects to `url`; counters live under `<prefix>det:<window>:…`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        window_ms: u64,
    ) -> Result<std::sync::Arc<Self>, String> {
        let (_, conn) = crate::killswitch::redis_connect(url).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(65_536);
        let me = std::sync::Arc::new(Self {
            conn,
            prefix: prefix.to_string(),
            window_ms: window_ms.max(1000),
            // Late counts of replicas under load still make it in; at most a tenth of a window
            // past a second, so judging stays timely on short windows.
            grace_ms: (window_ms / 10).clamp(500, 5000),
            tx,
            local: Mutex::new(BTreeMap::new()),
            offset_ms: std::sync::atomic::AtomicI64::new(0),
            dropped: std::sync::atomic::AtomicU64::new(0),
        });
        me.measure_offset().await?;
        tokio::spawn(writer(me.clone(), rx));
        let weak = std::sync::Arc::downgrade(&me);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                let Some(me) = weak.upgrade() else { return };
                if let Err(e) = me.measure_offset().await {
                    eprintln!("aigis guard: shared detectors: clock offset not updated: {e}");
                }
            }
        });
        Ok(me)
    }

    /// Measures Redis's clock against this replica's.
    async fn measure_offset(&self) -> Result<(), String> {
        let mut c = self.conn.clone();
        let before = crate::gateway::unix_ms();
        let (secs, micros): (i64, i64) = redis::cmd("TIME")
            .query_async(&mut c)
            .await
            .map_err(|e| format!("redis TIME: {e}"))?;
        let after = crate::gateway::unix_ms();
        let redis_ms = secs * 1000 + micros / 1000;
        // The server read its clock about halfway through the round trip.
        let local_ms = i64::try_from(before / 2 + after / 2).unwrap_or(i64::MAX);
        self.offset_ms
            .store(redis_ms - local_ms, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Redis's clock minus this replica's, as last measured (milliseconds).
    pub fn clock_offset_ms(&self) -> i64 {
        self.offset_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `local_ms` on Redis's clock.
    fn corrected(&self, local_ms: u64) -> u64 {
        local_ms.saturating_add_signed(self.clock_offset_ms())
    }

    fn key(&self, w: u64, what: &str) -> String {
        format!("{}det:{w}:{what}", self.prefix)
    }

    /// Counts one request (never waits; a full queue drops the count and says so).
    pub fn record(&self, time_ms: u64, key: Option<&str>, client: &str, tokens: u64) {
        let window = self.corrected(time_ms) / self.window_ms;
        if let Ok(mut l) = self.local.lock() {
            let w = l.entry(window).or_default();
            // Names are copied only for a subject's first request of the window.
            if let Some(k) = key {
                let e = match w.keys.get_mut(k) {
                    Some(e) => e,
                    None => w.keys.entry(k.to_string()).or_default(),
                };
                e.0 += 1.0;
                e.1 += tokens as f64;
                if e.2.len() < LOCAL_SOURCES && !e.2.contains(client) {
                    e.2.insert(client.to_string());
                }
            }
            if !client.is_empty() {
                let e = match w.ips.get_mut(client) {
                    Some(e) => e,
                    None => w.ips.entry(client.to_string()).or_default(),
                };
                e.0 += 1.0;
                e.1 += tokens as f64;
            }
        }
        let c = Count {
            window,
            key: key.map(String::from),
            client: client.to_string(),
            tokens,
        };
        if self.tx.try_send(c).is_err() {
            // Under overload every request would log: the 1st, 2nd, 4th, 8th… drop do.
            let n = self
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if n.is_power_of_two() {
                eprintln!(
                    "aigis guard: the shared detector queue is full; {n} requests not counted cluster-wide so far"
                );
            }
        }
    }

    /// The last window complete at `now_ms`: ended, and its grace passed.
    pub fn due(&self, now_ms: u64) -> u64 {
        (self.corrected(now_ms).saturating_sub(self.grace_ms) / self.window_ms).saturating_sub(1)
    }

    /// Window `w`'s totals over every replica, and whether this replica reports its alerts;
    /// on a Redis failure, this replica's own totals and `true` (degraded, logged).
    pub async fn totals(&self, w: u64) -> (WindowTotals, bool) {
        let local = self.local.lock().ok().and_then(|mut l| {
            // Older windows are done with.
            let keep = l.split_off(&w);
            let mine = keep.get(&w).map(local_totals);
            *l = keep;
            l.remove(&w);
            mine
        });
        match self.read(w).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "aigis guard: shared detectors: {e}; window {w} judged on this replica's traffic only (degraded)"
                );
                (local.unwrap_or_default(), true)
            }
        }
    }

    async fn read(&self, w: u64) -> Result<(WindowTotals, bool), String> {
        let mut c = self.conn.clone();
        let err = |e: redis::RedisError| e.to_string();
        let (kreq, ktok, ireq, itok): (Counts, Counts, Counts, Counts) = redis::pipe()
            .hgetall(self.key(w, "kreq"))
            .hgetall(self.key(w, "ktok"))
            .hgetall(self.key(w, "ireq"))
            .hgetall(self.key(w, "itok"))
            .query_async(&mut c)
            .await
            .map_err(err)?;
        let mut keys: Vec<&String> = kreq.keys().collect();
        keys.sort();
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.pfcount(self.key(w, &format!("src:{k}")));
        }
        let sources: Vec<u64> = if keys.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut c).await.map_err(err)?
        };
        // The first replica to claim the window reports; the claim outlives the counters.
        let won: Option<String> = redis::cmd("SET")
            .arg(self.key(w, "judge"))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(self.window_ms * 20)
            .query_async(&mut c)
            .await
            .map_err(err)?;
        let mut ips: Vec<(String, f64, f64)> = ireq
            .iter()
            .map(|(ip, r)| (ip.clone(), *r, itok.get(ip).copied().unwrap_or(0.0)))
            .collect();
        ips.sort_by(|a, b| a.0.cmp(&b.0));
        let totals = WindowTotals {
            keys: keys
                .iter()
                .zip(&sources)
                .map(|(k, n)| {
                    (
                        (*k).clone(),
                        kreq.get(*k).copied().unwrap_or(0.0),
                        ktok.get(*k).copied().unwrap_or(0.0),
                        *n as f64,
                    )
                })
                .collect(),
            ips,
        };
        Ok((totals, won.is_some()))
    }
}

fn local_totals(l: &Local) -> WindowTotals {
    let mut keys: Vec<(String, f64, f64, f64)> = l
        .keys
        .iter()
        .map(|(k, (r, t, s))| (k.clone(), *r, *t, s.len() as f64))
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let mut ips: Vec<(String, f64, f64)> = l
        .ips
        .iter()
        .map(|(ip, (r, t))| (ip.clone(), *r, *t))
        .collect();
    ips.sort_by(|a, b| a.0.cmp(&b.0));
    WindowTotals { keys, ips }
}

/// Batches counts and adds them to Redis: one pipeline every 100 ms or 2,000 requests.
async fn writer(me: std::sync::Arc<SharedRates>, mut rx: tokio::sync::mpsc::Receiver<Count>) {
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
        while batch.len() < 2000 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(c)) => batch.push(c),
                Ok(None) | Err(_) => break,
            }
        }
        // Summed per window and subject first: one command per counter, not per request.
        let mut hashes: BTreeMap<(u64, &str, &str), f64> = BTreeMap::new();
        let mut sources: BTreeMap<(u64, &str), Vec<&str>> = BTreeMap::new();
        for c in &batch {
            if let Some(k) = &c.key {
                *hashes.entry((c.window, "kreq", k)).or_default() += 1.0;
                *hashes.entry((c.window, "ktok", k)).or_default() += c.tokens as f64;
                if !c.client.is_empty() {
                    sources.entry((c.window, k)).or_default().push(&c.client);
                }
            }
            if !c.client.is_empty() {
                *hashes.entry((c.window, "ireq", &c.client)).or_default() += 1.0;
                *hashes.entry((c.window, "itok", &c.client)).or_default() += c.tokens as f64;
            }
        }
        let ttl = i64::try_from((me.window_ms * 20 / 1000).max(60)).unwrap_or(3600);
        let mut pipe = redis::pipe();
        let mut touched = std::collections::BTreeSet::new();
        for ((w, what, subject), n) in &hashes {
            let h = me.key(*w, what);
            pipe.cmd("HINCRBYFLOAT")
                .arg(&h)
                .arg(*subject)
                .arg(*n)
                .ignore();
            touched.insert(h);
        }
        for ((w, k), clients) in &sources {
            let h = me.key(*w, &format!("src:{k}"));
            pipe.pfadd(&h, clients).ignore();
            touched.insert(h);
        }
        for h in &touched {
            pipe.expire(h, ttl).ignore();
        }
        let mut c = me.conn.clone();
        if let Err(e) = pipe.query_async::<()>(&mut c).await {
            eprintln!(
                "aigis guard: shared detectors: {e}; {} requests not counted cluster-wide",
                batch.len()
            );
        }
    }
}
