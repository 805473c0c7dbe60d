//! Prometheus metrics of the gateway (`GET /metrics`, with the admin token): `aigis_` prefix,
//! base units, `_total` counters. Labels are routes, decisions, rule ids and limit kinds only —
//! never an API key, client address or prompt (those belong in the audit log).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteDecision {
    route: String,
    decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Rule {
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitKind {
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenKind {
    route: String,
    kind: String,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        2.5, 5.0, 10.0, 30.0, 60.0,
    ]
    .into_iter()
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteDecision, Counter>,
    blocks: Family<Rule, Counter>,
    limited: Family<LimitKind, Counter>,
    duration: Family<RouteLabel, Histogram>,
    upstream: Family<RouteLabel, Histogram>,
    tokens: Family<TokenKind, Counter>,
    audit_records: Counter,
    audit_checkpoint: Gauge,
    anomalies: Family<Detector, Counter>,
    alerts: Family<Delivery, Gauge>,
    events: Family<Delivery, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Delivery {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Detector {
    detector: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("aigis_gateway");
        let requests = Family::<RouteDecision, Counter>::default();
        let blocks = Family::<Rule, Counter>::default();
        let limited = Family::<LimitKind, Counter>::default();
        let duration = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        let upstream = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        let tokens = Family::<TokenKind, Counter>::default();
        registry.register(
            "requests",
            "Requests by route and decision",
            requests.clone(),
        );
        registry.register(
            "blocks",
            "Blocked requests and responses by rule",
            blocks.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a limit, by kind",
            limited.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response head, gateway included",
            duration.clone(),
        );
        registry.register(
            "upstream_duration_seconds",
            "Time the upstream took to answer (response head)",
            upstream.clone(),
        );
        registry.register(
            "tokens",
            "Tokens reported by upstreams' usage, by route and kind",
            tokens.clone(),
        );
        let anomalies = Family::<Detector, Counter>::default();
        registry.register(
            "anomalies",
            "Alerts of the streaming detectors, by detector",
            anomalies.clone(),
        );
        let alerts = Family::<Delivery, Gauge>::default();
        registry.register(
            "alert_deliveries",
            "Alerts sent to sinks by outcome (delivered, spooled, dropped; failures are failed deliveries), since start",
            alerts.clone(),
        );
        let events = Family::<Delivery, Gauge>::default();
        registry.register(
            "nats_events",
            "Events for NATS JetStream by outcome (published, failed, dropped), since start",
            events.clone(),
        );
        let audit_records = Counter::default();
        let audit_checkpoint = Gauge::default();
        registry.register(
            "audit_records",
            "Decision records this process wrote to the audit log",
            audit_records.clone(),
        );
        registry.register(
            "audit_last_checkpoint_timestamp_seconds",
            "Unix time of the audit log's last signed checkpoint (0: none yet)",
            audit_checkpoint.clone(),
        );
        Self {
            registry,
            requests,
            blocks,
            limited,
            duration,
            upstream,
            tokens,
            audit_records,
            audit_checkpoint,
            anomalies,
            alerts,
            events,
        }
    }

    /// The NATS publisher's counters (read at scrape time).
    pub fn events_published(&self, published: u64, failed: u64, dropped: u64) {
        for (outcome, n) in [
            ("published", published),
            ("failed", failed),
            ("dropped", dropped),
        ] {
            self.events
                .get_or_create(&Delivery {
                    outcome: outcome.into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// The alert sinks' counters (read from the dispatcher at scrape time).
    pub fn alert_deliveries(&self, delivered: u64, failures: u64, spooled: u64, dropped: u64) {
        for (outcome, n) in [
            ("delivered", delivered),
            ("failures", failures),
            ("spooled", spooled),
            ("dropped", dropped),
        ] {
            self.alerts
                .get_or_create(&Delivery {
                    outcome: outcome.into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// One alert of a streaming detector.
    pub fn anomaly(&self, detector: &str) {
        self.anomalies
            .get_or_create(&Detector {
                detector: detector.to_string(),
            })
            .inc();
    }

    /// One finished request.
    pub fn request(&self, route: &str, decision: &str, seconds: f64) {
        self.requests
            .get_or_create(&RouteDecision {
                route: route.to_string(),
                decision: decision.to_string(),
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabel {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// A block by `rule` (`GRD101 prompt-injection` → `GRD101`).
    pub fn block(&self, rule: &str) {
        let id = rule.split(' ').next().unwrap_or(rule);
        self.blocks
            .get_or_create(&Rule {
                rule: id.to_string(),
            })
            .inc();
    }

    /// A refusal by a limit (`rate`, `concurrency`, `overload`).
    pub fn limited(&self, kind: &str) {
        self.limited
            .get_or_create(&LimitKind {
                limit: kind.to_string(),
            })
            .inc();
    }

    /// The upstream's answer time.
    pub fn upstream(&self, route: &str, seconds: f64) {
        self.upstream
            .get_or_create(&RouteLabel {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// Tokens from an upstream's `usage`.
    pub fn tokens(&self, route: &str, kind: &str, n: u64) {
        self.tokens
            .get_or_create(&TokenKind {
                route: route.to_string(),
                kind: kind.to_string(),
            })
            .inc_by(n);
    }

    /// One record written to the audit log.
    pub fn audit_record(&self) {
        self.audit_records.inc();
    }

    /// When the audit log was last checkpointed (Unix seconds).
    pub fn audit_checkpoint(&self, unix_seconds: u64) {
        self.audit_checkpoint
            .set(i64::try_from(unix_seconds).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_units_and_labels_follow_the_conventions() {
        let m = Metrics::new();
        m.request("chat", "allow", 0.0004);
        m.block("GRD101 prompt-injection");
        m.limited("rate");
        m.tokens("chat", "prompt", 12);
        m.audit_record();
        m.audit_checkpoint(1_790_000_000);
        let text = m.render();
        assert!(
            text.contains("aigis_gateway_audit_records_total 1"),
            "{text}"
        );
        assert!(
            text.contains("aigis_gateway_audit_last_checkpoint_timestamp_seconds 1790000000"),
            "{text}"
        );
        assert!(
            text.contains("aigis_gateway_requests_total{route=\"chat\",decision=\"allow\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("aigis_gateway_blocks_total{rule=\"GRD101\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("aigis_gateway_rate_limited_total{limit=\"rate\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("aigis_gateway_tokens_total{route=\"chat\",kind=\"prompt\"} 12"),
            "{text}"
        );
        assert!(
            text.contains(
                "aigis_gateway_request_duration_seconds_bucket{le=\"0.0005\",route=\"chat\"} 1"
            ),
            "{text}"
        );
    }
}
