//! Rate limits and overload protection of the gateway, in process memory: token buckets per
//! API key and per client IP (requests per minute), a cap on each key's concurrent requests,
//! and a cap on requests in flight overall beyond which the gateway sheds load with 503
//! instead of queueing without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

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

/// Token buckets by key, each refilled continuously at `per_minute / 60` per second up to
/// `per_minute`. Request rates take one token at a time; token budgets may run into debt.
struct Meters<K> {
    per_minute: u32,
    map: Mutex<HashMap<K, Bucket>>,
}

/// The map is swept of buckets that have refilled (they hold nothing) once it is this large,
/// which bounds memory against clients that rotate addresses or keys.
const SWEEP_AT: usize = 100_000;

impl<K: std::hash::Hash + Eq> Meters<K> {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on `key`'s bucket refilled to `now` (with the capacity); `None` when off.
    /// Looks the key up before allocating it: a known key costs no allocation.
    fn with<Q, R>(&self, key: &Q, now: Instant, f: impl FnOnce(&mut Bucket, f64) -> R) -> Option<R>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.per_minute == 0 {
            return None;
        }
        let cap = f64::from(self.per_minute);
        let rate = cap / 60.0;
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < cap);
        }
        if !map.contains_key(key) {
            map.insert(
                key.to_owned(),
                Bucket {
                    tokens: cap,
                    at: now,
                },
            );
        }
        let b = map.get_mut(key)?;
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(cap);
        b.at = now;
        Some(f(b, cap))
    }

    /// Takes one token for `key`, or says how long until one is there.
    fn take<Q>(&self, key: &Q, now: Instant) -> Result<(), Denied>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.with(key, now, |b, cap| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err(Denied::Rate(wait(b.tokens, cap)))
            }
        })
        .unwrap_or(Ok(()))
    }

    /// A token budget admits while its balance is positive.
    fn admit(&self, key: &str, now: Instant) -> Result<(), Denied>
    where
        K: std::borrow::Borrow<str>,
        str: ToOwned<Owned = K>,
    {
        self.with(key, now, |b, cap| {
            if b.tokens > 0.0 {
                Ok(())
            } else {
                Err(Denied::Tokens(wait(b.tokens, cap)))
            }
        })
        .unwrap_or(Ok(()))
    }

    /// Charges a token budget (a correction may be negative); debt is bounded at ten minutes
    /// of refill so one huge response cannot lock a key out for hours.
    fn charge(&self, key: &str, tokens: f64, now: Instant)
    where
        K: std::borrow::Borrow<str>,
        str: ToOwned<Owned = K>,
    {
        if tokens != 0.0 {
            self.with(key, now, |b, cap| {
                b.tokens = (b.tokens - tokens).max(-cap * 10.0);
            });
        }
    }
}

/// Seconds until a bucket holding `tokens` of `cap` (refilled at `cap` per minute) has one.
fn wait(tokens: f64, cap: f64) -> u64 {
    ((1.0 - tokens) / (cap / 60.0)).ceil().max(1.0) as u64
}

/// All limits of one gateway.
pub struct Limits {
    budgets: Meters<String>,
    config: LimitsConfig,
    keys: Meters<String>,
    ips: Meters<IpAddr>,
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
            budgets: Meters::new(config.key_tokens_per_minute),
            keys: Meters::new(config.key_requests_per_minute),
            ips: Meters::new(config.ip_requests_per_minute),
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
        self.ips.take(&ip, Instant::now())?;
        Ok(permit)
    }

    /// The limits in effect.
    pub fn config(&self) -> &LimitsConfig {
        &self.config
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
    use std::time::Duration;

    #[test]
    fn buckets_allow_a_burst_then_refill() {
        let b = Meters::<String>::new(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(b.take("k", t0).is_ok());
        }
        assert_eq!(b.take("k", t0), Err(Denied::Rate(1)));
        assert!(b.take("other", t0).is_ok(), "keys are independent");
        assert!(b.take("k", t0 + Duration::from_millis(1100)).is_ok());
        assert!(
            Meters::<String>::new(0).take("k", t0).is_ok(),
            "0 turns the limit off"
        );
    }

    #[test]
    fn token_budgets_admit_while_positive_and_refill() {
        let b = Meters::<String>::new(60);
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
        let b = Meters::<String>::new(2);
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
