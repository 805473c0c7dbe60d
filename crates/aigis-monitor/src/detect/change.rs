//! Change detection over many requests, per route: Page–Hinkley on the block rate and the
//! upstream error rate (Bernoulli streams), two-sided CUSUM on output length, latency and the
//! share of responses that are refusals (up: `refusal_rate`, down: `refusal_drop`),
//! standardised against the route's first events.

use std::collections::HashMap;

use super::{Alert, DetectConfig, Event, Priority};

/// Page–Hinkley for an increase in the mean of a stream.
#[derive(Clone, Debug, Default)]
pub struct PageHinkley {
    n: u64,
    mean: f64,
    cum: f64,
    min: f64,
}

impl PageHinkley {
    /// Adds `x`; returns the statistic `m_t − min m` (alarm above λ).
    pub fn update(&mut self, x: f64, delta: f64) -> f64 {
        self.n += 1;
        self.mean += (x - self.mean) / self.n as f64;
        self.cum += x - self.mean - delta;
        self.min = self.min.min(self.cum);
        self.cum - self.min
    }

    /// Events seen.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The running mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Starts over (after an alarm: the new level is the new normal).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Values averaged per batch before the CUSUM sees them: latencies and lengths are skewed, and
/// a per-event CUSUM on a skewed stream alarms on its tail; batch means are close to normal.
pub const BATCH: u64 = 32;

/// Two-sided CUSUM on batch means standardised against a reference taken from the first
/// events.
#[derive(Clone, Debug, Default)]
pub struct Cusum {
    n: u64,
    sum: f64,
    sum_sq: f64,
    reference: Option<(f64, f64)>,
    batch_n: u64,
    batch_sum: f64,
    hi: f64,
    lo: f64,
}

impl Cusum {
    /// Adds `x`. Returns `Some((statistic, reference mean, reference sd))` while a statistic is
    /// kept (after the reference is taken).
    pub fn update(&mut self, x: f64, k: f64, reference_size: u64) -> Option<(f64, f64, f64)> {
        let Some((mu, sd)) = self.reference else {
            self.n += 1;
            self.sum += x;
            self.sum_sq += x * x;
            if self.n >= reference_size.max(2) {
                let n = self.n as f64;
                let mu = self.sum / n;
                let var = (self.sum_sq / n - mu * mu).max(0.0);
                // Floor the spread so a constant reference does not make any change infinite.
                self.reference = Some((mu, var.sqrt().max(mu.abs() * 0.01).max(1e-9)));
            }
            return None;
        };
        self.batch_n += 1;
        self.batch_sum += x;
        if self.batch_n < BATCH {
            return Some((self.hi.max(self.lo), mu, sd));
        }
        let z = (self.batch_sum / self.batch_n as f64 - mu) / (sd / (self.batch_n as f64).sqrt());
        self.batch_n = 0;
        self.batch_sum = 0.0;
        self.hi = (self.hi + z - k).max(0.0);
        self.lo = (self.lo - z - k).max(0.0);
        Some((self.hi.max(self.lo), mu, sd))
    }

    /// Whether the shift is upward.
    pub fn upward(&self) -> bool {
        self.hi >= self.lo
    }

    /// Forgets the reference and the sums (after an alarm).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[derive(Default)]
struct Route {
    blocks: PageHinkley,
    errors: PageHinkley,
    /// Refusals among the responses marked: a share near 20% has too much variance for
    /// Page–Hinkley's fixed allowance, so a standardised CUSUM watches it, both ways.
    refusals: Cusum,
    recent_refusals: f64,
    refusals_marked: bool,
    confidence: Cusum,
    recent_confidence: f64,
    output: Cusum,
    latency: Cusum,
    recent_output: f64,
    recent_latency: f64,
}

/// The per-route change detectors.
pub struct ChangeDetectors {
    cfg: DetectConfig,
    routes: HashMap<String, Route>,
}

/// Feeds one refusal mark to `r`'s two-sided CUSUM on the share of refusals.
fn refusal(
    cfg: &DetectConfig,
    r: &mut Route,
    route: &str,
    time_ms: u64,
    refused: bool,
    out: &mut Vec<Alert>,
) {
    let x = f64::from(u8::from(refused));
    r.recent_refusals = if r.refusals_marked {
        0.99 * r.recent_refusals + 0.01 * x
    } else {
        x
    };
    r.refusals_marked = true;
    if let Some((stat, mu, _)) = r.refusals.update(x, cfg.cusum_k, cfg.cusum_reference)
        && stat > cfg.cusum_h
    {
        let up = r.refusals.upward();
        let (detector, atlas, dir): (_, &'static [&'static str], _) = if up {
            ("refusal_rate", &["AML.T0029"], "rose")
        } else {
            // Fewer refusals than the model's norm: jailbreaks getting through.
            ("refusal_drop", &["AML.T0054"], "fell")
        };
        let subject = format!("route:{route}");
        out.push(Alert {
            detector,
            message: format!(
                "{subject}: the share of responses that are refusals {dir} to about {:.1}% against a reference of {:.1}% (CUSUM {stat:.1} > {})",
                r.recent_refusals * 100.0,
                mu * 100.0,
                cfg.cusum_h
            ),
            subject,
            time_ms,
            observed: r.recent_refusals,
            baseline: mu,
            score: stat,
            priority: Priority::Warning,
            atlas,
        });
        r.refusals.reset();
    }
}

/// The state of `route`, made on its first event (routes are configuration, not client
/// input: the map stays small; the name is copied only then).
fn route_mut<'a>(routes: &'a mut HashMap<String, Route>, route: &str) -> &'a mut Route {
    if !routes.contains_key(route) {
        routes.insert(route.to_string(), Route::default());
    }
    // Present now; `entry` would copy the name on every event.
    routes
        .get_mut(route)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

impl ChangeDetectors {
    /// A refusal mark of `route` known after its event (a streamed completion).
    pub fn observe_refusal(
        &mut self,
        route: &str,
        time_ms: u64,
        refused: bool,
        out: &mut Vec<Alert>,
    ) {
        let r = route_mut(&mut self.routes, route);
        refusal(&self.cfg, r, route, time_ms, refused, out);
    }

    /// With `cfg`.
    pub fn new(cfg: &DetectConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            routes: HashMap::new(),
        }
    }

    /// Feeds one event.
    pub fn observe(&mut self, e: &Event, out: &mut Vec<Alert>) {
        let cfg = &self.cfg;
        let r = route_mut(&mut self.routes, &e.route);
        let subject = || format!("route:{}", e.route);
        let streams = [
            (
                &mut r.blocks,
                e.decision == "block",
                "block_rate",
                "requests blocked",
                &["AML.T0051"][..],
            ),
            (
                &mut r.errors,
                e.status >= 500,
                "error_rate",
                "requests failed upstream or at the gateway (5xx)",
                &["AML.T0029"][..],
            ),
        ];
        for (ph, hit, detector, what, atlas) in streams {
            let before = ph.mean();
            let stat = ph.update(f64::from(u8::from(hit)), cfg.ph_delta);
            if ph.count() >= cfg.min_events && stat > cfg.ph_lambda {
                out.push(Alert {
                    detector,
                    subject: subject(),
                    time_ms: e.time_ms,
                    observed: ph.mean(),
                    baseline: before,
                    score: stat,
                    priority: Priority::Warning,
                    atlas,
                    message: format!(
                        "{}: the share of {what} rose (Page-Hinkley {stat:.1} > {}) — {:.1}% over {} requests",
                        subject(),
                        cfg.ph_lambda,
                        ph.mean() * 100.0,
                        ph.count()
                    ),
                });
                ph.reset();
            }
        }
        // Only responses the gateway could mark count (streamed ones come later, through
        // `observe_refusal`).
        if let Some(refused) = e.refusal {
            refusal(cfg, r, &e.route, e.time_ms, refused, out);
        }
        let mut shift = |c: &mut Cusum,
                         recent: &mut f64,
                         x: f64,
                         detector: &'static str,
                         what: &str,
                         atlas: &'static [&'static str]| {
            *recent = if *recent == 0.0 {
                x
            } else {
                0.95 * *recent + 0.05 * x
            };
            if let Some((stat, mu, sd)) = c.update(x, cfg.cusum_k, cfg.cusum_reference)
                && stat > cfg.cusum_h
            {
                let dir = if c.upward() { "rose" } else { "fell" };
                out.push(Alert {
                    detector,
                    subject: subject(),
                    time_ms: e.time_ms,
                    observed: *recent,
                    baseline: mu,
                    score: stat,
                    priority: Priority::Warning,
                    atlas,
                    message: format!(
                        "{}: {what} {dir} to about {:.0} against a reference of {mu:.0} ± {sd:.0} (CUSUM {stat:.1} > {})",
                        subject(),
                        *recent,
                        cfg.cusum_h
                    ),
                });
                c.reset();
            }
        };
        if let Some(t) = e.completion_tokens {
            shift(
                &mut r.output,
                &mut r.recent_output,
                t as f64,
                "output_length",
                "completion length (tokens)",
                &["AML.T0024"],
            );
        }
        shift(
            &mut r.latency,
            &mut r.recent_latency,
            e.latency_us as f64,
            "latency",
            "gateway latency (µs)",
            &["AML.T0029"],
        );
        if let Some(c) = e.confidence {
            // Scores are 0-1: shown in thousandths so the sentence is readable.
            shift(
                &mut r.confidence,
                &mut r.recent_confidence,
                c * 1000.0,
                "confidence_shift",
                "classifier top-score confidence (per mille)",
                &["AML.T0015", "AML.T0043"],
            );
        }
    }
}
