//! HyperLogLog (Flajolet et al. 2007) with 2^10 registers: distinct counts in 1 KiB with about
//! 3% standard error, mergeable by taking register maxima.

const P: u32 = 10;
const M: usize = 1 << P;

/// A distinct-count sketch.
#[derive(Clone)]
pub struct HyperLogLog {
    registers: Box<[u8; M]>,
}

impl Default for HyperLogLog {
    fn default() -> Self {
        Self {
            registers: Box::new([0; M]),
        }
    }
}

/// A 64-bit hash with good mixing (SplitMix64's finaliser over FNV-1a), fixed so replays and
/// replicas agree.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl HyperLogLog {
    /// Adds an item by its hash.
    pub fn insert_hash(&mut self, h: u64) {
        let idx = (h >> (64 - P)) as usize;
        let rest = h << P;
        let rank = (rest.leading_zeros() + 1).min(64 - P + 1) as u8;
        if self.registers[idx] < rank {
            self.registers[idx] = rank;
        }
    }

    /// Adds an item.
    pub fn insert(&mut self, item: &str) {
        self.insert_hash(hash(item.as_bytes()));
    }

    /// Estimated distinct items (with the small-range correction).
    pub fn count(&self) -> f64 {
        let m = M as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let mut sum = 0.0;
        let mut zeros = 0usize;
        for &r in self.registers.iter() {
            sum += 1.0 / f64::from(1u32 << r.min(31));
            zeros += usize::from(r == 0);
        }
        let raw = alpha * m * m / sum;
        if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        }
    }

    /// Empties the sketch.
    pub fn clear(&mut self) {
        self.registers.fill(0);
    }

    /// Merges another sketch (the union of both sets).
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.registers.iter_mut().zip(other.registers.iter()) {
            *a = (*a).max(*b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_within_a_few_percent_and_merge_as_a_union() {
        for n in [10u32, 100, 1_000, 10_000, 100_000] {
            let mut h = HyperLogLog::default();
            for i in 0..n {
                h.insert(&format!("10.0.{}.{}", i / 256, i % 256));
                h.insert(&format!("10.0.{}.{}", i / 256, i % 256)); // duplicates change nothing
            }
            let err = (h.count() - f64::from(n)).abs() / f64::from(n);
            assert!(err < 0.1, "{n}: estimated {}", h.count());
        }
        let (mut a, mut b) = (HyperLogLog::default(), HyperLogLog::default());
        for i in 0..5_000 {
            a.insert(&format!("a{i}"));
            b.insert(&format!("a{}", i + 2_500));
        }
        a.merge(&b);
        assert!((a.count() - 7_500.0).abs() / 7_500.0 < 0.1, "{}", a.count());
        a.clear();
        assert!(a.count() < 0.5);
    }
}
