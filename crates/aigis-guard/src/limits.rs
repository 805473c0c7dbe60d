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
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            key_requests_per_minute: 600,
            ip_requests_per_minute: 1200,
            key_concurrency: 32,
            max_in_flight: 1024,
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

/// All limits of one gateway.
pub struct Limits {
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

    /// Applies the limits of API key `key` (its id) to an admitted request.
    pub fn admit_key(&self, permit: &mut Permit, key: &str) -> Result<(), Denied> {
        self.keys.take(key, Instant::now())?;
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
