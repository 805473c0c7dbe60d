//! Throughput of the streaming detectors on one core: `cargo run --release -p aigis-monitor
//! --example detect_bench [EVENTS] [KEYS]`. Events are made first (not timed), then fed in
//! time order; prints events per second, median of 5 runs.

use aigis_monitor::detect::{DetectConfig, Detectors, Event};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let keys: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    // 2,000 events a second across `keys` keys, three addresses each.
    let events: Vec<Event> = (0..n as u64)
        .map(|i| {
            let k = next() % keys;
            let blocked = next() % 100 < 3;
            Event {
                time_ms: 1_790_000_040_000 + i / 2,
                route: if k.is_multiple_of(10) {
                    "embed"
                } else {
                    "chat"
                }
                .into(),
                key: Some(format!("k{k:06}")),
                client: format!(
                    "10.{}.{}.{}",
                    k / 65536,
                    (k / 256) % 256,
                    k % 256 + next() % 3
                ),
                model: Some("m".into()),
                decision: if blocked { "block" } else { "allow" }.into(),
                status: if blocked { 400 } else { 200 },
                latency_us: 200 + next() % 300,
                prompt_tokens: Some(40),
                completion_tokens: (!blocked).then(|| 100 + next() % 200),
                refusal: None,
                confidence: None,
            }
        })
        .collect();
    let mut rates = Vec::new();
    let mut alerts = Vec::new();
    for _ in 0..5 {
        let mut d = Detectors::new(&DetectConfig::default()).expect("no rules");
        alerts.clear();
        let t = std::time::Instant::now();
        for e in &events {
            d.observe(e, &mut alerts);
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{n} events, {keys} keys: {:.0} events/s on one core (median of 5; {} alerts)",
        rates[2],
        alerts.len()
    );
}
