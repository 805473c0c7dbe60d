//! Streaming detectors over the gateway's decision events: O(1) state per key on the hot path,
//! event time (not wall time) so a replay of an audit log gives the same alerts as live.
//!
//! - [`rate`]: per-key and per-address request and token counts per window against an EWMA
//!   baseline (z-score with a warm-up), and the number of distinct client addresses per key
//!   (HyperLogLog) against its own baseline — a stolen key used from many new places.
//! - [`change`]: Page–Hinkley on the block rate and the upstream error rate, two-sided CUSUM on
//!   standardised output length and latency — shifts that build up over many requests.
//!
//! Every [`Alert`] says what was seen against what baseline, and carries MITRE ATLAS ids.

pub mod change;
pub mod hll;
pub mod rate;
pub mod rules;
pub mod schema;
pub mod tail;
pub mod tdigest;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One gateway decision, the fields the detectors read (from an audit record).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Route name.
    pub route: String,
    /// API key id (never the secret).
    pub key: Option<String>,
    /// Client address.
    pub client: String,
    /// Model asked for.
    pub model: Option<String>,
    /// `allow`, `flag`, `redact`, `block`, or the refusal code.
    pub decision: String,
    /// HTTP status returned.
    pub status: u16,
    /// Gateway latency.
    pub latency_us: u64,
    /// Tokens from the upstream's `usage`.
    pub prompt_tokens: Option<u64>,
    /// See `prompt_tokens`.
    pub completion_tokens: Option<u64>,
    /// Whether the (whole, not streamed) response opened with a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<bool>,
    /// `json` routes: the classifier's top score in the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// A change to the gateway's kill switch: a route or model taken offline or brought back, an
/// API key revoked or restored, a client network blocked or unblocked.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Change {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// `route:NAME`, `model:NAME`, `key:ID` or `cidr:NET/LEN`.
    pub target: String,
    /// `quarantine` or `release`.
    pub action: String,
    /// Why, as given by the operator or the playbook.
    pub reason: String,
    /// Who: `admin` (the admin API, `aigis guard quarantine`) or `playbook:NAME`.
    pub actor: String,
}

impl Event {
    /// Reads a gateway audit record (`None` when it lacks the time, route or decision).
    pub fn from_record(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        Some(Self {
            time_ms: n("time_ms")?,
            route: s("route")?,
            key: s("key"),
            client: s("client").unwrap_or_default(),
            model: s("model"),
            decision: s("decision")?,
            status: n("status").and_then(|x| u16::try_from(x).ok()).unwrap_or(0),
            latency_us: n("latency_us").unwrap_or(0),
            prompt_tokens: n("prompt_tokens"),
            completion_tokens: n("completion_tokens"),
            refusal: v.get("refusal").and_then(Value::as_bool),
            confidence: v
                .get("confidence_ppm")
                .and_then(Value::as_i64)
                .map(|ppm| ppm as f64 / 1e6),
        })
    }

    /// Tokens of the call (prompt + completion), 0 when the upstream reported none.
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens.unwrap_or(0) + self.completion_tokens.unwrap_or(0)
    }
}

/// How bad an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Worth a look.
    Warning,
    /// Act now.
    Critical,
}

impl Priority {
    /// A window's priority from its z-score: critical beyond twice the alert threshold.
    pub fn of_z(z: f64, cfg: &DetectConfig) -> Self {
        if z > 2.0 * cfg.z {
            Self::Critical
        } else {
            Self::Warning
        }
    }
}

/// A detection.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Alert {
    /// The detector (`key_request_rate`, `block_rate`, …).
    pub detector: &'static str,
    /// What it is about: `key:ID`, `ip:ADDR`, `route:NAME`.
    pub subject: String,
    /// End of the window or the event that raised it (ms since the epoch).
    pub time_ms: u64,
    /// The value seen.
    pub observed: f64,
    /// The baseline it was compared with.
    pub baseline: f64,
    /// How far off: a z-score, or the change statistic against its threshold.
    pub score: f64,
    /// Priority.
    pub priority: Priority,
    /// MITRE ATLAS technique ids.
    pub atlas: &'static [&'static str],
    /// One sentence: what was seen against what baseline.
    pub message: String,
}

/// Settings of the detectors (`[monitor.detect]`).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DetectConfig {
    /// Window of the rate detectors, in seconds.
    pub window_secs: u64,
    /// EWMA weight of the newest window.
    pub alpha: f64,
    /// Windows seen before a subject can raise rate alerts.
    pub warmup_windows: u32,
    /// z-score above which a window is anomalous (critical at twice this).
    pub z: f64,
    /// Fewest requests in a window for a request- or token-rate alert: a subject sending a
    /// handful of requests doubles by chance all the time.
    pub min_requests: f64,
    /// A rate alert also needs the window to be at least this multiple of the baseline mean:
    /// z alone flags ordinary wobbles of busy subjects whose variance estimate runs low.
    pub min_ratio: f64,
    /// Page–Hinkley magnitude allowance δ (rates, per event).
    pub ph_delta: f64,
    /// Page–Hinkley alarm threshold λ.
    pub ph_lambda: f64,
    /// Events before Page–Hinkley may alarm.
    pub min_events: u64,
    /// Events the CUSUM detectors take as their reference (mean and spread) before they run.
    pub cusum_reference: u64,
    /// CUSUM slack k and threshold h, in standard deviations.
    pub cusum_k: f64,
    /// See `cusum_k`.
    pub cusum_h: f64,
    /// User rules (`[[monitor.detect.rules]]`), checked on every event.
    pub rules: Vec<rules::RuleSpec>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            window_secs: 60,
            alpha: 0.1,
            warmup_windows: 10,
            z: 4.0,
            min_requests: 50.0,
            min_ratio: 2.0,
            ph_delta: 0.005,
            ph_lambda: 50.0,
            min_events: 500,
            cusum_reference: 2000,
            // On batch means (32 events): shifts of about a third of a per-event standard
            // deviation are found within a few batches, while a reference mean that is off by
            // its own sampling error still leaves millions of events between false alarms.
            cusum_k: 1.0,
            cusum_h: 8.0,
            rules: Vec::new(),
        }
    }
}

/// All detectors over one event stream.
pub struct Detectors {
    rates: rate::RateDetectors,
    changes: change::ChangeDetectors,
    tails: tail::TailDetectors,
    rules: Vec<rules::Rule>,
    /// The rate detectors judge cluster totals ([`Detectors::judge_totals`]), not this
    /// process's events.
    shared_rates: bool,
}

/// One window's counts over every replica, per key and per client address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowTotals {
    /// Per key: requests, tokens, distinct client addresses.
    pub keys: Vec<(String, f64, f64, f64)>,
    /// Per client address: requests, tokens.
    pub ips: Vec<(String, f64, f64)>,
}

impl Detectors {
    /// With `config`, its user rules compiled (the error names a bad rule).
    pub fn new(config: &DetectConfig) -> Result<Self, String> {
        Ok(Self {
            rates: rate::RateDetectors::new(config),
            changes: change::ChangeDetectors::new(config),
            tails: tail::TailDetectors::new(config),
            rules: config
                .rules
                .iter()
                .map(rules::Rule::compile)
                .collect::<Result<_, _>>()?,
            shared_rates: false,
        })
    }

    /// Makes the rate detectors judge the totals of every replica (given per window to
    /// [`Detectors::judge_totals`]) instead of this process's events; the other detectors
    /// keep judging local events.
    pub fn share_rates(&mut self) {
        self.shared_rates = true;
    }

    /// The rate detectors' window in milliseconds.
    pub fn window_ms(&self) -> u64 {
        self.rates.window_ms()
    }

    /// Judges window `w` from every replica's totals: each replica that calls this with the
    /// same totals keeps the same baselines; the caller decides which one reports the alerts.
    pub fn judge_totals(&mut self, w: u64, t: &WindowTotals, out: &mut Vec<Alert>) {
        // Subjects silent for long are dropped here too: the event path is off in this mode.
        self.rates.sweep_if_large(w);
        for (k, req, tok, distinct) in &t.keys {
            self.rates
                .set_totals(("key", k), w, (*req, *tok, Some(*distinct)), out);
        }
        for (ip, req, tok) in &t.ips {
            self.rates
                .set_totals(("ip", ip), w, (*req, *tok, None), out);
        }
        self.rates.flush((w + 1) * self.rates.window_ms(), out);
    }

    /// Feeds one event (in time order; late events count in the current window); alerts
    /// raised by it are appended to `out`.
    pub fn observe(&mut self, e: &Event, out: &mut Vec<Alert>) {
        if !self.shared_rates {
            self.rates.observe(e, out);
        }
        self.changes.observe(e, out);
        self.tails.observe(e, out);
        out.extend(self.rules.iter().filter_map(|r| r.check(e)));
    }

    /// A response's refusal mark known only after its event was observed (a streamed
    /// completion): counted by the refusal detectors of `route`.
    pub fn observe_refusal(
        &mut self,
        route: &str,
        time_ms: u64,
        refused: bool,
        out: &mut Vec<Alert>,
    ) {
        self.changes.observe_refusal(route, time_ms, refused, out);
    }

    /// Closes the open windows at `time_ms` (end of a replay, or a timer), appending alerts.
    pub fn flush(&mut self, time_ms: u64, out: &mut Vec<Alert>) {
        // Shared rates close their windows when the totals arrive, not on this clock.
        if !self.shared_rates {
            self.rates.flush(time_ms, out);
        }
        self.tails.flush(time_ms, out);
    }

    /// Subjects with state (memory is this times a few hundred bytes, plus one HyperLogLog
    /// of 1 KiB per key).
    pub fn subjects(&self) -> usize {
        self.rates.subjects()
    }
}

/// An exponentially weighted mean and variance.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ewma {
    mean: f64,
    var: f64,
    n: u32,
}

impl Ewma {
    /// Adds an observation with weight `alpha` (the first sets the mean).
    pub fn update(&mut self, x: f64, alpha: f64) {
        if self.n == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let d = x - self.mean;
            self.mean += alpha * d;
            self.var = (1.0 - alpha) * (self.var + alpha * d * d);
        }
        self.n = self.n.saturating_add(1);
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Observations so far.
    pub fn count(&self) -> u32 {
        self.n
    }

    /// How many standard deviations `x` is above the mean. The deviation is floored at
    /// √mean and 1 (a count's Poisson spread), so a perfectly steady baseline does not turn
    /// every small wobble into an infinite z.
    pub fn z(&self, x: f64) -> f64 {
        let sd = self.var.sqrt().max(self.mean.abs().sqrt()).max(1.0);
        (x - self.mean) / sd
    }

    /// The floored standard deviation `z` divides by.
    pub fn spread(&self) -> f64 {
        self.var.sqrt().max(self.mean.abs().sqrt()).max(1.0)
    }
}
