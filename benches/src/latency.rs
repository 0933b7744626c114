//! A log-linear latency histogram in the spirit of HdrHistogram: values below 128 µs are exact,
//! larger ones fall into 64 sub-buckets per power of two, so a reported quantile is within
//! 1/64 (≈1.6 %) of the true value. Fixed memory (~18 KiB), mergeable, no allocation per record.

use std::time::Duration;

const EXACT: u64 = 128;
const SUB_BUCKETS: u64 = 64;
/// Powers of two from 2^7 to 2^47 µs (≈ 4.5 years) are covered.
const MAX_EXPONENT: u32 = 47;
const BUCKETS: usize = (EXACT + (MAX_EXPONENT as u64 - 6) * SUB_BUCKETS) as usize;

/// Latencies in microseconds.
#[derive(Clone)]
pub struct LatencyHistogram {
    counts: Box<[u64]>,
    total: u64,
    max_us: u64,
    sum_us: u128,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            max_us: 0,
            sum_us: 0,
        }
    }

    fn index(us: u64) -> usize {
        if us < EXACT {
            return us as usize;
        }
        let exponent = (63 - us.leading_zeros()).min(MAX_EXPONENT);
        let shift = exponent - 6;
        let mantissa = (us >> shift).min(2 * SUB_BUCKETS - 1) - SUB_BUCKETS;
        (EXACT + u64::from(exponent - 7) * SUB_BUCKETS + mantissa) as usize
    }

    /// The midpoint of bucket `i`.
    fn value_of(i: usize) -> u64 {
        let i = i as u64;
        if i < EXACT {
            return i;
        }
        let exponent = (i - EXACT) / SUB_BUCKETS + 7;
        let mantissa = (i - EXACT) % SUB_BUCKETS + SUB_BUCKETS;
        let shift = exponent - 6;
        (mantissa << shift) + (1 << shift) / 2
    }

    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.record_us(us);
    }

    pub fn record_us(&mut self, us: u64) {
        self.counts[Self::index(us)] += 1;
        self.total += 1;
        self.max_us = self.max_us.max(us);
        self.sum_us += u128::from(us);
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
        self.sum_us += other.sum_us;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    pub fn mean_us(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0.0–1.0) in microseconds; 0 when empty.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        if rank >= self.total {
            return self.max_us;
        }
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value_of(i).min(self.max_us);
            }
        }
        self.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_below_128() {
        let mut h = LatencyHistogram::new();
        for v in 0..100 {
            h.record_us(v);
        }
        assert_eq!(h.quantile_us(0.5), 49);
        assert_eq!(h.quantile_us(1.0), 99);
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn relative_error_is_bounded() {
        let mut h = LatencyHistogram::new();
        let values: Vec<u64> = (1..=100_000u64).map(|i| i * 37).collect();
        for &v in &values {
            h.record_us(v);
        }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = values[(q * values.len() as f64).ceil() as usize - 1] as f64;
            let got = h.quantile_us(q) as f64;
            assert!((got - exact).abs() / exact < 0.02, "q{q}: {got} vs {exact}");
        }
        assert_eq!(h.max_us(), 3_700_000);
        assert_eq!(h.quantile_us(1.0), 3_700_000);
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let mut h = LatencyHistogram::new();
        h.record_us(u64::MAX);
        h.record(Duration::from_secs(3600));
        assert_eq!(h.count(), 2);
        let mut other = LatencyHistogram::new();
        other.record_us(5);
        h.merge(&other);
        assert_eq!(h.quantile_us(0.1), 5);
    }
}
