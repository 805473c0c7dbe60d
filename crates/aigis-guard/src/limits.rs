//! Rate limits and overload protection of the gateway, in process memory: token buckets per
//! API key and per client IP (requests per minute), a cap on each key's concurrent requests,
//! and a cap on requests in flight overall beyond which the gateway sheds load with 503
//! instead of queueing without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `[guard.serve.limits]`; 0 turns a limit off.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct LimitsConfig {
    /// Requests per minute per API key (bursts up to the same number).
    pub key_requests_per_minute: u32,
    /// Requests per minute per client IP.
    pub ip_requests_per_minute: u32,
    /// Concurrent requests per API key.
    pub key_concurrency: usize,
    /// Requests in flight in the whole gateway; beyond it new requests get 503.
    pub max_in_flight: usize,
    /// Tokens per minute per API key: the prompt's estimate (characters / 4) is charged on
    /// admission and corrected by the upstream's `usage` when the response reports it; a key
    /// in debt waits (429) until the budget refills.
    pub key_tokens_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            key_requests_per_minute: 600,
            ip_requests_per_minute: 1200,
            key_concurrency: 32,
            max_in_flight: 1024,
            key_tokens_per_minute: 0,
        }
    }
}

/// Why a request may not proceed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// Over a rate: retry after this many seconds.
    Rate(u64),
    /// Too many of this key's requests are running.
    Concurrency,
    /// The key's token budget is spent: retry after this many seconds.
    Tokens(u64),
    /// The gateway is full.
    Overloaded,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key, each refilled continuously at `per_minute / 60` per second.
struct Buckets {
    per_minute: u32,
    map: Mutex<HashMap<String, Bucket>>,
}

/// Buckets idle this long are dropped when the map is swept (they would be full anyway).
const IDLE: Duration = Duration::from_mins(2);
const SWEEP_AT: usize = 100_000;

impl Buckets {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is there.
    fn take(&self, key: &str, now: Instant) -> Result<(), Denied> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_minute);
        let rate = cap / 60.0;
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            // Bound memory against clients that rotate addresses or keys.
            map.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Denied::Rate(
                ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64
            ))
        }
    }
}

/// Token budgets by key: a balance that refills continuously up to the per-minute figure and
/// may go negative (a response used more than estimated); a key is admitted while positive.
struct Budgets {
    per_minute: u32,
    map: Mutex<HashMap<String, Bucket>>,
}

impl Budgets {
    fn refill(&self, b: &mut Bucket, now: Instant) {
        let cap = f64::from(self.per_minute);
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * cap / 60.0).min(cap);
        b.at = now;
    }

    fn admit(&self, key: &str, now: Instant) -> Result<(), Denied> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            map.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let cap = f64::from(self.per_minute);
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        self.refill(b, now);
        if b.tokens > 0.0 {
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / (cap / 60.0);
            Err(Denied::Tokens(wait.ceil().max(1.0) as u64))
        }
    }

    fn charge(&self, key: &str, tokens: f64, now: Instant) {
        if self.per_minute == 0 || tokens == 0.0 {
            return;
        }
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let cap = f64::from(self.per_minute);
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        self.refill(b, now);
        // Debt is bounded so one huge response cannot lock a key out for hours.
        b.tokens = (b.tokens - tokens).max(-cap * 10.0);
    }
}

/// All limits of one gateway.
pub struct Limits {
    budgets: Budgets,
    config: LimitsConfig,
    keys: Buckets,
    ips: Buckets,
    in_flight: Arc<AtomicUsize>,
    per_key: Mutex<HashMap<String, Arc<AtomicUsize>>>,
}

/// Held while a request runs; releases its slots when dropped.
pub struct Permit {
    counters: Vec<Arc<AtomicUsize>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        for c in &self.counters {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Takes a slot of `counter` unless `cap` (non-zero) is reached.
fn acquire(counter: &Arc<AtomicUsize>, cap: usize) -> bool {
    let prev = counter.fetch_add(1, Ordering::AcqRel);
    if cap != 0 && prev >= cap {
        counter.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    true
}

impl Limits {
    /// From the configuration.
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            config: config.clone(),
            budgets: Budgets {
                per_minute: config.key_tokens_per_minute,
                map: Mutex::new(HashMap::new()),
            },
            keys: Buckets::new(config.key_requests_per_minute),
            ips: Buckets::new(config.ip_requests_per_minute),
            in_flight: Arc::new(AtomicUsize::new(0)),
            per_key: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a request from `ip`, or says why not. Overload is checked first so a full
    /// gateway spends nothing on the request; the IP rate applies before authentication, so
    /// guessing keys is slowed down too.
    pub fn admit(&self, ip: IpAddr) -> Result<Permit, Denied> {
        if !acquire(&self.in_flight, self.config.max_in_flight) {
            return Err(Denied::Overloaded);
        }
        let permit = Permit {
            counters: vec![self.in_flight.clone()],
        };
        self.ips.take(&ip.to_string(), Instant::now())?;
        Ok(permit)
    }

    /// The per-key request rate (0: off).
    pub fn key_requests_per_minute(&self) -> u32 {
        self.config.key_requests_per_minute
    }

    /// Whether token budgets are on.
    pub fn budgets_on(&self) -> bool {
        self.budgets.per_minute != 0
    }

    /// Charges `tokens` (an estimate, or a correction, possibly negative) to key `key`.
    pub fn charge_tokens(&self, key: &str, tokens: f64) {
        self.budgets.charge(key, tokens, Instant::now());
    }

    /// Applies the limits of API key `key` (its id) to an admitted request.
    pub fn admit_key(&self, permit: &mut Permit, key: &str) -> Result<(), Denied> {
        self.keys.take(key, Instant::now())?;
        self.budgets.admit(key, Instant::now())?;
        let counter = {
            let mut m = self
                .per_key
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if m.len() >= SWEEP_AT {
                m.retain(|_, c| c.load(Ordering::Acquire) > 0);
            }
            m.entry(key.to_string()).or_default().clone()
        };
        if !acquire(&counter, self.config.key_concurrency) {
            return Err(Denied::Concurrency);
        }
        permit.counters.push(counter);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_a_burst_then_refill() {
        let b = Buckets::new(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(b.take("k", t0).is_ok());
        }
        assert_eq!(b.take("k", t0), Err(Denied::Rate(1)));
        assert!(b.take("other", t0).is_ok(), "keys are independent");
        assert!(b.take("k", t0 + Duration::from_millis(1100)).is_ok());
        assert!(
            Buckets::new(0).take("k", t0).is_ok(),
            "0 turns the limit off"
        );
    }

    #[test]
    fn token_budgets_admit_while_positive_and_refill() {
        let b = Budgets {
            per_minute: 60,
            map: Mutex::new(HashMap::new()),
        };
        let t0 = Instant::now();
        assert!(b.admit("k", t0).is_ok());
        b.charge("k", 50.0, t0);
        assert!(b.admit("k", t0).is_ok(), "10 left");
        b.charge("k", 15.0, t0);
        assert_eq!(
            b.admit("k", t0),
            Err(Denied::Tokens(6)),
            "5 in debt at 1 token/s"
        );
        assert!(b.admit("k", t0 + Duration::from_secs(6)).is_ok());
        b.charge("k", -100.0, t0 + Duration::from_secs(6));
        assert!(
            b.admit("k", t0 + Duration::from_secs(6)).is_ok(),
            "a correction gives back, capped"
        );
        b.charge("k", 1e9, t0);
        assert_eq!(
            b.admit("k", t0),
            Err(Denied::Tokens(601)),
            "debt is bounded at 10 minutes"
        );
    }

    #[test]
    fn retry_after_reflects_the_refill_rate() {
        let b = Buckets::new(2);
        let t0 = Instant::now();
        assert!(b.take("k", t0).is_ok() && b.take("k", t0).is_ok());
        assert_eq!(b.take("k", t0), Err(Denied::Rate(30)));
    }

    #[test]
    fn concurrency_and_overload_release_on_drop() {
        let l = Limits::new(&LimitsConfig {
            key_requests_per_minute: 0,
            ip_requests_per_minute: 0,
            key_concurrency: 1,
            max_in_flight: 2,
            key_tokens_per_minute: 0,
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let admit = |key: &str| {
            let mut p = l.admit(ip)?;
            l.admit_key(&mut p, key).map(|()| p)
        };
        let a = admit("k").unwrap();
        assert_eq!(admit("k").err(), Some(Denied::Concurrency));
        let b = admit("j").unwrap();
        assert_eq!(l.admit(ip).err(), Some(Denied::Overloaded));
        drop(a);
        drop(b);
        assert!(admit("k").is_ok());
        assert_eq!(
            l.in_flight.load(Ordering::Acquire),
            0,
            "every slot released"
        );
    }
}
