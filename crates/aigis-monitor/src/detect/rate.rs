//! Rate anomalies per key and per client address: requests and tokens per window against an
//! EWMA baseline of the subject's own past windows, and distinct addresses per key.

use std::collections::HashMap;

use super::hll::HyperLogLog;
use super::{Alert, DetectConfig, Event, Ewma, Priority};

/// Empty windows folded into a baseline at most (a subject back after a long silence).
const MAX_GAP: u64 = 64;
/// Subjects kept before idle ones are dropped.
const SWEEP_AT: usize = 200_000;

/// Distinct client addresses of a key in a window: their hashes while few (exact, a few bytes),
/// a HyperLogLog once there are more than `SPARSE` — most keys use a handful of addresses, so
/// most never pay for 1 KiB of registers or for clearing and summing them every window.
enum Sources {
    Sparse(Vec<u64>),
    Dense(Box<HyperLogLog>),
}

const SPARSE: usize = 64;

impl Sources {
    fn insert(&mut self, client: &str) {
        let h = super::hll::hash(client.as_bytes());
        match self {
            Self::Sparse(v) => {
                if !v.contains(&h) {
                    if v.len() < SPARSE {
                        v.push(h);
                    } else {
                        let mut d = Box::<HyperLogLog>::default();
                        for x in v.iter() {
                            d.insert_hash(*x);
                        }
                        d.insert_hash(h);
                        *self = Self::Dense(d);
                    }
                }
            }
            Self::Dense(d) => d.insert_hash(h),
        }
    }

    fn count(&self) -> f64 {
        match self {
            Self::Sparse(v) => v.len() as f64,
            Self::Dense(d) => d.count().round(),
        }
    }

    fn clear(&mut self) {
        *self = Self::Sparse(Vec::new());
    }
}

struct Subject {
    window: u64,
    requests: f64,
    tokens: f64,
    /// Distinct addresses of the window when counted elsewhere (cluster totals).
    distinct: Option<f64>,
    req: Ewma,
    tok: Ewma,
    /// Keys only: distinct client addresses in the window, and their baseline.
    sources: Option<(Sources, Ewma)>,
}

impl Subject {
    fn new(window: u64, track_sources: bool) -> Self {
        Self {
            window,
            requests: 0.0,
            tokens: 0.0,
            distinct: None,
            req: Ewma::default(),
            tok: Ewma::default(),
            sources: track_sources.then(|| (Sources::Sparse(Vec::new()), Ewma::default())),
        }
    }
}

/// The per-key and per-address detectors.
pub struct RateDetectors {
    cfg: DetectConfig,
    window_ms: u64,
    keys: HashMap<String, Subject>,
    ips: HashMap<String, Subject>,
    /// The window of the last sweep: at most one sweep a window, so a population above the
    /// threshold does not turn every event into a pass over the maps.
    swept: u64,
}

/// What a rate detector watches.
struct Signal {
    detector: &'static str,
    what: &'static str,
    atlas: &'static [&'static str],
}

const KEY_REQUESTS: Signal = Signal {
    detector: "key_request_rate",
    what: "requests",
    atlas: &["AML.T0029", "AML.T0034"],
};
const IP_REQUESTS: Signal = Signal {
    detector: "ip_request_rate",
    ..KEY_REQUESTS
};
const KEY_TOKENS: Signal = Signal {
    detector: "key_token_rate",
    what: "tokens",
    atlas: &["AML.T0034"],
};
const IP_TOKENS: Signal = Signal {
    detector: "ip_token_rate",
    ..KEY_TOKENS
};
const KEY_SOURCES: Signal = Signal {
    detector: "key_new_sources",
    what: "distinct client addresses",
    atlas: &["AML.T0012"],
};

fn alert(
    cfg: &DetectConfig,
    signal: &Signal,
    subject: String,
    end_ms: u64,
    observed: f64,
    base: &Ewma,
) -> Alert {
    let z = base.z(observed);
    let (detector, what, atlas) = (signal.detector, signal.what, signal.atlas);
    Alert {
        detector,
        message: format!(
            "{subject}: {observed:.0} {what} in {}s against a baseline of {:.1} ± {:.1} (z = {z:.1})",
            cfg.window_secs,
            base.mean(),
            base.spread()
        ),
        subject,
        time_ms: end_ms,
        observed,
        baseline: base.mean(),
        score: z,
        priority: Priority::of_z(z, cfg),
        atlas,
    }
}

impl RateDetectors {
    /// With `cfg`.
    pub fn new(cfg: &DetectConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            window_ms: cfg.window_secs.max(1) * 1000,
            keys: HashMap::new(),
            ips: HashMap::new(),
            swept: 0,
        }
    }

    /// Subjects with state.
    pub fn subjects(&self) -> usize {
        self.keys.len() + self.ips.len()
    }

    /// Counts one event.
    pub fn observe(&mut self, e: &Event, out: &mut Vec<Alert>) {
        let w = e.time_ms / self.window_ms;
        self.sweep_if_large(w);
        if let Some(k) = &e.key {
            let s = match self.keys.get_mut(k.as_str()) {
                Some(s) => s,
                None => self
                    .keys
                    .entry(k.clone())
                    .or_insert_with(|| Subject::new(w, true)),
            };
            advance(&self.cfg, self.window_ms, s, w, "key", k, out);
            s.requests += 1.0;
            s.tokens += e.tokens() as f64;
            if let Some((h, _)) = &mut s.sources {
                h.insert(&e.client);
            }
        }
        if !e.client.is_empty() {
            let s = match self.ips.get_mut(e.client.as_str()) {
                Some(s) => s,
                None => self
                    .ips
                    .entry(e.client.clone())
                    .or_insert_with(|| Subject::new(w, false)),
            };
            advance(&self.cfg, self.window_ms, s, w, "ip", &e.client, out);
            s.requests += 1.0;
            s.tokens += e.tokens() as f64;
        }
    }

    /// Sets the counts of window `w` for one subject from totals counted elsewhere (every
    /// replica's, through Redis): `kind` is `key` or `ip`; `distinct` the key's distinct
    /// addresses. Earlier open windows are judged first. Follow with [`Self::flush`] at the
    /// window's end to judge it.
    pub fn set_totals(
        &mut self,
        (kind, name): (&str, &str),
        w: u64,
        (requests, tokens, distinct): (f64, f64, Option<f64>),
        out: &mut Vec<Alert>,
    ) {
        let map = if kind == "key" {
            &mut self.keys
        } else {
            &mut self.ips
        };
        let s = match map.get_mut(name) {
            Some(s) => s,
            None => map
                .entry(name.to_string())
                .or_insert_with(|| Subject::new(w, kind == "key")),
        };
        advance(&self.cfg, self.window_ms, s, w, kind, name, out);
        if s.window == w {
            s.requests = requests;
            s.tokens = tokens;
            s.distinct = distinct;
        }
    }

    /// The window length in milliseconds.
    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// Closes every window that ended before `time_ms`.
    pub fn flush(&mut self, time_ms: u64, out: &mut Vec<Alert>) {
        let w = time_ms / self.window_ms;
        for (k, s) in &mut self.keys {
            advance(&self.cfg, self.window_ms, s, w, "key", k, out);
        }
        for (k, s) in &mut self.ips {
            advance(&self.cfg, self.window_ms, s, w, "ip", k, out);
        }
    }

    /// Drops subjects silent for more than `MAX_GAP` windows (their baseline would restart
    /// from the gap anyway).
    /// Sweeps at most once a window, and only above `SWEEP_AT` subjects (both the event path
    /// and the cluster totals go through here, so neither grows without bound).
    pub(crate) fn sweep_if_large(&mut self, w: u64) {
        if self.keys.len() + self.ips.len() > SWEEP_AT && w > self.swept {
            self.sweep(w);
            self.swept = w;
        }
    }

    fn sweep(&mut self, w: u64) {
        self.keys.retain(|_, s| s.window + MAX_GAP >= w);
        self.ips.retain(|_, s| s.window + MAX_GAP >= w);
    }
}

/// Moves `s` to window `w`: the open window is judged against the baseline, then folded in,
/// with zeros for the empty windows between.
fn advance(
    cfg: &DetectConfig,
    window_ms: u64,
    s: &mut Subject,
    w: u64,
    kind: &str,
    name: &str,
    out: &mut Vec<Alert>,
) {
    if w <= s.window {
        return;
    }
    let end_ms = (s.window + 1) * window_ms;
    let warm = s.req.count() >= cfg.warmup_windows;
    let (requests, tokens) = if kind == "key" {
        (&KEY_REQUESTS, &KEY_TOKENS)
    } else {
        (&IP_REQUESTS, &IP_TOKENS)
    };
    let big = |x: f64, base: &Ewma| x >= cfg.min_ratio * base.mean() && base.z(x) > cfg.z;
    if warm && s.requests >= cfg.min_requests && big(s.requests, &s.req) {
        out.push(alert(
            cfg,
            requests,
            format!("{kind}:{name}"),
            end_ms,
            s.requests,
            &s.req,
        ));
    }
    if warm && s.requests >= cfg.min_requests && big(s.tokens, &s.tok) {
        out.push(alert(
            cfg,
            tokens,
            format!("{kind}:{name}"),
            end_ms,
            s.tokens,
            &s.tok,
        ));
    }
    s.req.update(s.requests, cfg.alpha);
    s.tok.update(s.tokens, cfg.alpha);
    if let Some((h, base)) = &mut s.sources {
        let distinct = match s.distinct.take() {
            Some(d) => d,
            None if s.requests > 0.0 => h.count(),
            None => 0.0,
        };
        if warm && distinct >= 5.0 && big(distinct, base) {
            out.push(alert(
                cfg,
                &KEY_SOURCES,
                format!("{kind}:{name}"),
                end_ms,
                distinct,
                base,
            ));
        }
        base.update(distinct, cfg.alpha);
        h.clear();
    }
    let gap = (w - s.window - 1).min(MAX_GAP);
    for _ in 0..gap {
        s.req.update(0.0, cfg.alpha);
        s.tok.update(0.0, cfg.alpha);
        if let Some((_, base)) = &mut s.sources {
            base.update(0.0, cfg.alpha);
        }
    }
    s.window = w;
    s.requests = 0.0;
    s.tokens = 0.0;
}
