//! A merging t-digest (Dunning & Ertl): quantiles of a stream in bounded memory, most
//! accurate in the tails, where latency anomalies show. Values are buffered and merged into at
//! most about `2 × compression` centroids whose sizes follow the k₁ scale function (small near
//! q = 0 and q = 1), so p99 of a window costs a few kilobytes however many requests it holds.

/// One cluster of nearby values.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Centroid {
    mean: f64,
    weight: f64,
}

/// A t-digest.
#[derive(Clone, Debug)]
pub struct TDigest {
    compression: f64,
    centroids: Vec<Centroid>,
    buffer: Vec<f64>,
    count: f64,
    min: f64,
    max: f64,
}

impl Default for TDigest {
    fn default() -> Self {
        Self::new(100.0)
    }
}

impl TDigest {
    /// With `compression` δ (100 gives rank errors well under 1% in the tails).
    pub fn new(compression: f64) -> Self {
        Self {
            compression: compression.max(10.0),
            centroids: Vec::new(),
            buffer: Vec::new(),
            count: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Adds a value (non-finite values are ignored).
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.buffer.push(x);
        self.count += 1.0;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if self.buffer.len() >= (self.compression as usize) * 5 {
            self.merge();
        }
    }

    /// Values added.
    pub fn count(&self) -> f64 {
        self.count
    }

    /// Forgets everything, keeping the allocations.
    pub fn clear(&mut self) {
        self.centroids.clear();
        self.buffer.clear();
        self.count = 0.0;
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
    }

    /// The k₁ scale: q ↦ δ/(2π) · asin(2q − 1).
    fn k(&self, q: f64) -> f64 {
        self.compression / (2.0 * std::f64::consts::PI) * (2.0 * q.clamp(0.0, 1.0) - 1.0).asin()
    }

    fn merge(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let mut all: Vec<Centroid> = self
            .buffer
            .drain(..)
            .map(|x| Centroid {
                mean: x,
                weight: 1.0,
            })
            .chain(self.centroids.drain(..))
            .collect();
        all.sort_by(|a, b| a.mean.total_cmp(&b.mean));
        let total: f64 = all.iter().map(|c| c.weight).sum();
        let mut out: Vec<Centroid> = Vec::with_capacity(self.compression as usize * 2);
        let mut so_far = 0.0;
        let mut cur = all[0];
        let mut k_low = self.k(0.0);
        for c in all.into_iter().skip(1) {
            let q = (so_far + cur.weight + c.weight) / total;
            if self.k(q) - k_low <= 1.0 {
                // Still within one unit of k: the centroid absorbs the value.
                let w = cur.weight + c.weight;
                cur.mean += (c.mean - cur.mean) * c.weight / w;
                cur.weight = w;
            } else {
                so_far += cur.weight;
                k_low = self.k(so_far / total);
                out.push(cur);
                cur = c;
            }
        }
        out.push(cur);
        self.centroids = out;
    }

    /// The `q` quantile (0-1), interpolated between centroid centres; `None` when empty.
    pub fn quantile(&mut self, q: f64) -> Option<f64> {
        self.merge();
        let cs = &self.centroids;
        if cs.is_empty() {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        if cs.len() == 1 {
            return Some(cs[0].mean);
        }
        let target = q * self.count;
        // Each centroid's weight is centred on its mean; the extremes are exact.
        let mut cum = 0.0;
        let mut prev_mid = 0.0;
        let mut prev_mean = self.min;
        for c in cs {
            let mid = cum + c.weight / 2.0;
            if target < mid {
                let span = mid - prev_mid;
                let t = if span > 0.0 {
                    (target - prev_mid) / span
                } else {
                    0.0
                };
                return Some(prev_mean + t * (c.mean - prev_mean));
            }
            cum += c.weight;
            prev_mid = mid;
            prev_mean = c.mean;
        }
        let span = self.count - prev_mid;
        let t = if span > 0.0 {
            (target - prev_mid) / span
        } else {
            1.0
        };
        Some(prev_mean + t.clamp(0.0, 1.0) * (self.max - prev_mean))
    }

    /// Centroids kept (memory is this times 16 bytes, plus the buffer).
    pub fn centroids(&mut self) -> usize {
        self.merge();
        self.centroids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact `q` quantile of sorted values (nearest rank).
    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
    }

    /// The rank (share of values below) of `x` in sorted values.
    fn rank(sorted: &[f64], x: f64) -> f64 {
        sorted.partition_point(|v| *v < x) as f64 / sorted.len() as f64
    }

    #[test]
    fn tail_quantiles_are_within_a_small_rank_error_in_bounded_memory() {
        // Skewed like latencies: log-normal, from a fixed-seed generator.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut d = TDigest::new(100.0);
        let mut v = Vec::new();
        for _ in 0..200_000 {
            let (u1, u2) = (next().max(1e-12), next());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let x = (6.0 + 0.8 * z).exp();
            d.add(x);
            v.push(x);
        }
        v.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.99, 0.999] {
            let got = d.quantile(q).unwrap();
            let err = (rank(&v, got) - q).abs();
            let bound = if q >= 0.99 { 0.001 } else { 0.01 };
            assert!(
                err < bound,
                "q {q}: {got} has rank {} (exact {})",
                rank(&v, got),
                exact(&v, q)
            );
        }
        assert!(d.centroids() <= 200, "{} centroids", d.centroids());
        d.clear();
        assert_eq!(d.quantile(0.5), None);
        d.add(f64::NAN);
        d.add(7.0);
        assert_eq!(d.quantile(0.99), Some(7.0));
    }
}
