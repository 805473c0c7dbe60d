#![allow(clippy::unwrap_used)]
//! Detectors on synthetic streams: clean controls (false-alarm rate asserted) and injected
//! anomalies (detection delay asserted).

use aigis_monitor::detect::{Alert, DetectConfig, Detectors, Event};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda > 100.0 {
            // Knuth's method underflows for large means; the normal approximation is fine there.
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u32;
        }
        let (l, mut k, mut p) = ((-lambda).exp(), 0u32, 1.0);
        loop {
            p *= self.unit();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const MINUTE: u64 = 60_000;
// A whole minute, so windows and simulated minutes line up.
const T0: u64 = 1_790_000_040_000;

/// Knobs of a synthetic stream, per minute.
struct Stream {
    minutes: u64,
    keys: usize,
    per_key: f64,
    block_rate: f64,
    tokens: f64,
    /// From this minute on: the anomaly below.
    change_at: u64,
    burst_key_factor: f64,
    burst_sources: u64,
    block_rate_after: f64,
    tokens_after: f64,
}

impl Default for Stream {
    fn default() -> Self {
        Self {
            minutes: 240,
            keys: 20,
            per_key: 30.0,
            block_rate: 0.03,
            tokens: 200.0,
            change_at: u64::MAX,
            burst_key_factor: 1.0,
            burst_sources: 0,
            block_rate_after: 0.03,
            tokens_after: 200.0,
        }
    }
}

fn run(s: &Stream) -> (Vec<Alert>, usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut d = Detectors::new(&DetectConfig::default()).unwrap();
    let mut alerts = Vec::new();
    let mut events = 0;
    for m in 0..s.minutes {
        let after = m >= s.change_at;
        let mut minute: Vec<Event> = Vec::new();
        for k in 0..s.keys {
            let factor = if after && k == 0 {
                s.burst_key_factor
            } else {
                1.0
            };
            let n = rng.poisson(s.per_key * factor);
            for _ in 0..n {
                // Each key has its own three addresses; a stolen key is used from many more.
                let client = if after && k == 0 && s.burst_sources > 0 {
                    format!("203.0.113.{}", rng.next() % s.burst_sources)
                } else {
                    format!("10.0.{k}.{}", rng.next() % 3)
                };
                let block_rate = if after {
                    s.block_rate_after
                } else {
                    s.block_rate
                };
                let tokens = if after { s.tokens_after } else { s.tokens };
                let blocked = rng.unit() < block_rate;
                minute.push(Event {
                    time_ms: T0 + m * MINUTE + rng.next() % MINUTE,
                    route: "chat".into(),
                    key: Some(format!("k{k}")),
                    client,
                    model: Some("m".into()),
                    decision: if blocked { "block" } else { "allow" }.into(),
                    status: if blocked { 400 } else { 200 },
                    latency_us: (300.0 * (0.3 * rng.normal()).exp()) as u64,
                    prompt_tokens: Some(40),
                    completion_tokens: (!blocked)
                        .then(|| (tokens + 0.25 * tokens * rng.normal()).max(1.0) as u64),
                    refusal: None,
                    confidence: None,
                });
            }
        }
        minute.sort_by_key(|e| e.time_ms);
        for e in &minute {
            d.observe(e, &mut alerts);
        }
        events += minute.len();
    }
    d.flush(T0 + s.minutes * MINUTE, &mut alerts);
    (alerts, events)
}

#[test]
fn clean_traffic_raises_almost_nothing() {
    let s = Stream::default();
    let (alerts, events) = run(&s);
    assert!(events > 100_000);
    // 20 keys + 60 addresses, 240 windows each: 19,200 subject-windows; two change detectors
    // over ~144,000 events. Allow one false alarm per 4,000 subject-windows.
    let windows = (s.keys * 4) as u64 * s.minutes;
    eprintln!(
        "clean stream: {events} events, {} alerts: {alerts:#?}",
        alerts.len()
    );
    // The change detectors run millions of events between false alarms: none here.
    assert!(
        !alerts.iter().any(|a| a.subject.starts_with("route:")),
        "{alerts:#?}"
    );
    assert!(
        (alerts.len() as u64) * 4_000 <= windows,
        "{} false alarms: {:#?}",
        alerts.len(),
        alerts.iter().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn a_key_sending_50x_its_traffic_from_new_addresses_is_caught_in_its_first_window() {
    let s = Stream {
        change_at: 180,
        burst_key_factor: 50.0,
        burst_sources: 200,
        ..Stream::default()
    };
    let (alerts, _) = run(&s);
    let first = |detector: &str| {
        alerts
            .iter()
            .find(|a| a.detector == detector && a.subject == "key:k0")
            .unwrap_or_else(|| panic!("no {detector} alert: {alerts:#?}"))
    };
    let rate = first("key_request_rate");
    // Detection delay: the alert closes the first anomalous window.
    assert_eq!(rate.time_ms, T0 + 181 * MINUTE, "{}", rate.message);
    assert!(
        rate.observed > 1_000.0 && rate.baseline < 40.0,
        "{}",
        rate.message
    );
    assert!(
        rate.message.contains("against a baseline of"),
        "{}",
        rate.message
    );
    assert!(rate.atlas.contains(&"AML.T0034"));
    let sources = first("key_new_sources");
    assert_eq!(sources.time_ms, T0 + 181 * MINUTE);
    assert!(sources.observed > 150.0, "{}", sources.message);
    // No other key is accused.
    assert!(
        alerts
            .iter()
            .filter(|a| a.subject.starts_with("key:") && a.subject != "key:k0")
            .count()
            <= 2,
        "{alerts:#?}"
    );
}

#[test]
fn a_rising_block_rate_and_longer_outputs_are_caught_within_a_few_thousand_requests() {
    let s = Stream {
        change_at: 120,
        block_rate_after: 0.08,
        tokens_after: 260.0,
        ..Stream::default()
    };
    let (alerts, _) = run(&s);
    let change = T0 + 120 * MINUTE;
    let per_minute = 20.0 * 30.0;
    let block = alerts
        .iter()
        .find(|a| a.detector == "block_rate" && a.time_ms >= change)
        .unwrap_or_else(|| panic!("no block_rate alert: {alerts:#?}"));
    let delay_events = (block.time_ms - change) as f64 / MINUTE as f64 * per_minute;
    assert!(
        delay_events < 3_000.0,
        "block-rate delay {delay_events} events: {}",
        block.message
    );
    let output = alerts
        .iter()
        .find(|a| a.detector == "output_length" && a.time_ms >= change)
        .unwrap_or_else(|| panic!("no output_length alert: {alerts:#?}"));
    let delay_events = (output.time_ms - change) as f64 / MINUTE as f64 * per_minute;
    assert!(
        delay_events < 300.0,
        "output delay {delay_events} events: {}",
        output.message
    );
    assert!(output.message.contains("rose"), "{}", output.message);
    // Before the change, neither fired.
    assert!(
        !alerts
            .iter()
            .any(|a| matches!(a.detector, "block_rate" | "output_length") && a.time_ms < change),
        "{alerts:#?}"
    );
}

#[test]
fn audit_records_become_events() {
    let rec = serde_json::json!({
        "time_ms": 1_790_000_000_123u64, "route": "chat", "client": "10.1.2.3", "key": "ab12cd34",
        "model": "m", "decision": "block", "status": 400, "latency_us": 512,
        "prompt_tokens": 9, "completion_tokens": 2, "rules": [], "seq": 4, "prev": "00", "log_id": "x"
    });
    let e = Event::from_record(&rec).unwrap();
    assert_eq!(
        (e.key.as_deref(), e.status, e.tokens()),
        (Some("ab12cd34"), 400, 11)
    );
    assert!(Event::from_record(&serde_json::json!({"route": "chat"})).is_none());
}

/// Replicas judging cluster totals raise what one process seeing all the traffic raises: the
/// same alerts, with the same figures, at the same windows.
#[test]
fn cluster_totals_give_the_alerts_of_one_process_seeing_everything() {
    use aigis_monitor::detect::WindowTotals;
    let cfg = DetectConfig::default();
    let mut whole = Detectors::new(&cfg).unwrap();
    let mut shared = Detectors::new(&cfg).unwrap();
    shared.share_rates();
    let (mut want, mut got) = (Vec::new(), Vec::new());
    let mut rng = Rng(7);
    for minute in 0..30u64 {
        let burst = minute == 25;
        let mut totals = std::collections::BTreeMap::<String, (f64, f64, Vec<String>)>::new();
        let mut ips = std::collections::BTreeMap::<String, (f64, f64)>::new();
        for k in 0..5 {
            let n = if burst && k == 0 {
                900
            } else {
                40 + rng.poisson(20.0)
            };
            for i in 0..n {
                let client = format!("10.0.{k}.{}", if burst && k == 0 { i % 200 } else { i % 3 });
                let e = Event {
                    time_ms: T0 + minute * MINUTE + u64::from(i) * (MINUTE / u64::from(n + 1)),
                    route: "chat".into(),
                    key: Some(format!("k{k}")),
                    client: client.clone(),
                    model: None,
                    decision: "allow".into(),
                    status: 200,
                    latency_us: 1000,
                    prompt_tokens: Some(10),
                    completion_tokens: Some(5),
                    refusal: None,
                    confidence: None,
                };
                whole.observe(&e, &mut want);
                shared.observe(&e, &mut got);
                let t = totals.entry(format!("k{k}")).or_default();
                t.0 += 1.0;
                t.1 += 15.0;
                if !t.2.contains(&client) {
                    t.2.push(client.clone());
                }
                let ip = ips.entry(client).or_default();
                ip.0 += 1.0;
                ip.1 += 15.0;
            }
        }
        let w = (T0 + minute * MINUTE) / MINUTE;
        let t = WindowTotals {
            keys: totals
                .into_iter()
                .map(|(k, (r, tok, c))| (k, r, tok, c.len() as f64))
                .collect(),
            ips: ips.into_iter().map(|(ip, (r, tok))| (ip, r, tok)).collect(),
        };
        shared.judge_totals(w, &t, &mut got);
        // The clock closes the window for the single process.
        whole.flush((w + 1) * MINUTE, &mut want);
        // The shared detectors ignore the clock for rates.
        shared.flush((w + 1) * MINUTE, &mut got);
    }
    let show = |v: &[Alert]| {
        v.iter()
            .map(|a| {
                format!(
                    "{} {} {} {:.3}",
                    a.detector, a.subject, a.time_ms, a.observed
                )
            })
            .collect::<Vec<_>>()
    };
    let mut want = show(&want);
    let mut got = show(&got);
    want.sort();
    got.sort();
    assert!(
        want.iter()
            .any(|a| a.starts_with("key_request_rate key:k0")),
        "{want:?}"
    );
    assert!(
        want.iter().any(|a| a.starts_with("key_new_sources key:k0")),
        "{want:?}"
    );
    assert_eq!(got, want);
}

/// The refusal share per route: a fall (jailbreaks getting through) and a rise are each
/// found within a few hundred responses; a steady share raises nothing.
#[test]
fn refusal_rate_changes_are_found_both_ways_and_a_steady_share_is_quiet() {
    let run = |before: f64, after: f64, seed: u64| {
        let mut d = Detectors::new(&DetectConfig::default()).unwrap();
        let mut rng = Rng(seed);
        let mut alerts = Vec::new();
        let mut first = None;
        for i in 0..20_000u64 {
            let share = if i < 10_000 { before } else { after };
            let e = Event {
                time_ms: T0 + i * 100,
                route: "chat".into(),
                decision: "allow".into(),
                status: 200,
                latency_us: 1000,
                refusal: Some(rng.unit() < share),
                ..Event::default()
            };
            let n = alerts.len();
            d.observe(&e, &mut alerts);
            if first.is_none()
                && alerts[n..]
                    .iter()
                    .any(|a: &Alert| a.detector.starts_with("refusal"))
            {
                first = Some(i);
            }
        }
        (alerts, first)
    };
    let (alerts, _) = run(0.2, 0.2, 3);
    assert!(
        !alerts.iter().any(|a| a.detector.starts_with("refusal")),
        "{alerts:?}"
    );
    let (alerts, first) = run(0.2, 0.02, 4);
    let a = alerts
        .iter()
        .find(|a| a.detector == "refusal_drop")
        .unwrap();
    assert_eq!(a.subject, "route:chat");
    assert!(a.atlas.contains(&"AML.T0054"));
    let delay = first.unwrap() - 10_000;
    assert!(delay < 2_000, "found {delay} responses after the change");
    let (alerts, first) = run(0.02, 0.2, 5);
    assert!(
        alerts.iter().any(|a| a.detector == "refusal_rate"),
        "{alerts:?}"
    );
    assert!(first.unwrap() - 10_000 < 1_000);
}

/// A classifier's confidence on a json route: a drop (inputs drifting away from training, or
/// crafted to evade) is found; a steady stream is quiet.
#[test]
fn classifier_confidence_shifts_are_found_and_a_steady_stream_is_quiet() {
    let run = |after: f64, seed: u64| {
        let mut d = Detectors::new(&DetectConfig::default()).unwrap();
        let mut rng = Rng(seed);
        let mut alerts = Vec::new();
        let mut first = None;
        for i in 0..30_000u64 {
            let mean = if i < 15_000 { 0.9 } else { after };
            let e = Event {
                time_ms: T0 + i * 50,
                route: "kserve".into(),
                decision: "allow".into(),
                status: 200,
                latency_us: 1000,
                confidence: Some((mean + 0.05 * rng.normal()).clamp(0.0, 1.0)),
                ..Event::default()
            };
            let n = alerts.len();
            d.observe(&e, &mut alerts);
            if first.is_none()
                && alerts[n..]
                    .iter()
                    .any(|a: &Alert| a.detector == "confidence_shift")
            {
                first = Some(i);
            }
        }
        (alerts, first)
    };
    let (alerts, _) = run(0.9, 11);
    assert!(
        !alerts.iter().any(|a| a.detector == "confidence_shift"),
        "{alerts:?}"
    );
    let (alerts, first) = run(0.8, 12);
    let a = alerts
        .iter()
        .find(|a| a.detector == "confidence_shift")
        .unwrap();
    assert!(a.message.contains("fell"), "{}", a.message);
    assert_eq!(a.subject, "route:kserve");
    assert!(first.unwrap() >= 15_000 && first.unwrap() - 15_000 < 500);
}

/// Tail latency per route: a slow tail (1% of requests 20× slower) that leaves the mean
/// nearly where it was is flagged by its p99; steady traffic is quiet.
#[test]
fn a_slow_tail_is_flagged_by_the_windows_p99() {
    let run = |slow_tail: bool, seed: u64| {
        let mut d = Detectors::new(&DetectConfig::default()).unwrap();
        let mut rng = Rng(seed);
        let mut alerts = Vec::new();
        for minute in 0..30u64 {
            for i in 0..2_000u64 {
                let base = 300.0 * (0.3 * rng.normal()).exp();
                let slow = slow_tail && minute >= 25 && rng.unit() < 0.015;
                let e = Event {
                    time_ms: T0 + minute * MINUTE + i * 30,
                    route: "chat".into(),
                    decision: "allow".into(),
                    status: 200,
                    latency_us: if slow {
                        (base * 20.0) as u64
                    } else {
                        base as u64
                    },
                    ..Event::default()
                };
                d.observe(&e, &mut alerts);
            }
        }
        d.flush(T0 + 31 * MINUTE, &mut alerts);
        alerts
    };
    let quiet = run(false, 21);
    assert!(
        !quiet.iter().any(|a| a.detector == "latency_p99"),
        "{quiet:?}"
    );
    let alerts = run(true, 22);
    let a = alerts
        .iter()
        .find(|a| a.detector == "latency_p99")
        .unwrap_or_else(|| panic!("{alerts:?}"));
    assert_eq!(a.subject, "route:chat");
    assert_eq!(a.time_ms, T0 + 26 * MINUTE, "the first slow window");
    assert!(a.observed > 3.0 * a.baseline, "{a:?}");
}

/// Streamed completions' refusal marks arrive after their events: fed through
/// `observe_refusal` they move the same detectors the same way.
#[test]
fn late_refusal_marks_count_like_marks_on_the_event() {
    let (mut on_event, mut late) = (
        Detectors::new(&DetectConfig::default()).unwrap(),
        Detectors::new(&DetectConfig::default()).unwrap(),
    );
    let mut rng = Rng(31);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..12_000u64 {
        let refused = rng.unit() < if i < 6_000 { 0.02 } else { 0.25 };
        let t = T0 + i * 100;
        let e = Event {
            time_ms: t,
            route: "chat".into(),
            decision: "allow".into(),
            status: 200,
            latency_us: 1000,
            refusal: Some(refused),
            ..Event::default()
        };
        on_event.observe(&e, &mut a);
        late.observe(&Event { refusal: None, ..e }, &mut b);
        late.observe_refusal("chat", t, refused, &mut b);
    }
    let refusals = |v: &[Alert]| {
        v.iter()
            .filter(|x| x.detector.starts_with("refusal"))
            .map(|x| (x.detector, x.time_ms, x.observed.to_bits()))
            .collect::<Vec<_>>()
    };
    assert!(!refusals(&a).is_empty());
    assert_eq!(refusals(&a), refusals(&b));
}

/// Cluster totals alone (the shared mode) still drop subjects that went silent: past the
/// sweep threshold, a flood of one-off addresses does not stay in memory for ever.
#[test]
fn shared_mode_sweeps_silent_subjects() {
    use aigis_monitor::detect::WindowTotals;
    let mut d = Detectors::new(&DetectConfig::default()).unwrap();
    d.share_rates();
    let w0 = T0 / MINUTE;
    let flood = WindowTotals {
        keys: Vec::new(),
        ips: (0..200_100)
            .map(|i| {
                (
                    format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                    1.0,
                    0.0,
                )
            })
            .collect(),
    };
    let mut out = Vec::new();
    d.judge_totals(w0, &flood, &mut out);
    assert!(d.subjects() > 200_000);
    // One address keeps talking; the flood's addresses fall silent.
    let one = WindowTotals {
        keys: Vec::new(),
        ips: vec![("192.0.2.1".into(), 3.0, 0.0)],
    };
    let later = w0 + 70;
    d.judge_totals(later, &one, &mut out);
    d.judge_totals(later + 1, &one, &mut out);
    assert!(d.subjects() < 10, "{} subjects kept", d.subjects());
}
