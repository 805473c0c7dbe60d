//! Tail latency per route: each window's 99th percentile of gateway latency, kept in a
//! t-digest (a few kilobytes however busy the route), against an EWMA baseline of the route's
//! past windows' p99. The CUSUM on mean latency misses a slow tail (a few very long requests —
//! resource-exhausting prompts, a struggling replica of the model) that this sees.

use std::collections::HashMap;

use super::tdigest::TDigest;
use super::{Alert, DetectConfig, Event, Ewma, Priority};

/// Fewest requests in a window for its p99 to mean anything (below, the window is skipped).
const MIN_EVENTS: f64 = 100.0;

struct Route {
    window: u64,
    digest: TDigest,
    base: Ewma,
}

/// The per-route tail-latency detector.
pub struct TailDetectors {
    cfg: DetectConfig,
    window_ms: u64,
    routes: HashMap<String, Route>,
}

impl TailDetectors {
    /// With `cfg` (its rate window and thresholds).
    pub fn new(cfg: &DetectConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            window_ms: cfg.window_secs.max(1) * 1000,
            routes: HashMap::new(),
        }
    }

    /// Feeds one event.
    pub fn observe(&mut self, e: &Event, out: &mut Vec<Alert>) {
        let w = e.time_ms / self.window_ms;
        let r = match self.routes.get_mut(e.route.as_str()) {
            Some(r) => r,
            None => self.routes.entry(e.route.clone()).or_insert(Route {
                window: w,
                digest: TDigest::default(),
                base: Ewma::default(),
            }),
        };
        judge(&self.cfg, self.window_ms, &e.route, r, w, out);
        r.digest.add(e.latency_us as f64);
    }

    /// Closes every window that ended before `time_ms`.
    pub fn flush(&mut self, time_ms: u64, out: &mut Vec<Alert>) {
        let w = time_ms / self.window_ms;
        for (name, r) in &mut self.routes {
            judge(&self.cfg, self.window_ms, name, r, w, out);
        }
    }
}

/// Moves `r` to window `w`: the open window's p99 is judged against the baseline, then folded
/// in (windows with too few requests are not).
fn judge(
    cfg: &DetectConfig,
    window_ms: u64,
    name: &str,
    r: &mut Route,
    w: u64,
    out: &mut Vec<Alert>,
) {
    if w <= r.window {
        return;
    }
    if r.digest.count() >= MIN_EVENTS
        && let Some(p99) = r.digest.quantile(0.99)
    {
        let base = r.base;
        let warm = base.count() >= cfg.warmup_windows;
        if warm && p99 >= cfg.min_ratio * base.mean() && base.z(p99) > cfg.z {
            let z = base.z(p99);
            let subject = format!("route:{name}");
            out.push(Alert {
                detector: "latency_p99",
                message: format!(
                    "{subject}: p99 latency {:.1} ms over {:.0} requests in {}s against a baseline of {:.1} ms (z = {z:.1})",
                    p99 / 1000.0,
                    r.digest.count(),
                    cfg.window_secs,
                    base.mean() / 1000.0
                ),
                subject,
                time_ms: (r.window + 1) * window_ms,
                observed: p99,
                baseline: base.mean(),
                score: z,
                priority: Priority::of_z(z, cfg),
                atlas: &["AML.T0029"],
            });
        }
        r.base.update(p99, cfg.alpha);
    }
    r.digest.clear();
    r.window = w;
}
