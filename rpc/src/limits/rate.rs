//! The ingestion rate limit: a token bucket of request bytes per tenant (Tempo's `local`
//! strategy: the whole limit applies to this process).
//!
//! A bucket holds at most `burst` bytes and refills at `rate` bytes per second; a request of
//! `n` bytes is admitted when `n` tokens are there (a new tenant starts with a full bucket). A
//! request larger than the burst can never pass. Limit changes from an overrides reload take
//! effect on the tenant's next request, keeping the tokens it has (capped by the new burst).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::tenant_limits::TenantLimits;

/// Why a request was refused by the rate limit; `Display` is Tempo's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimited {
    #[error(
        "RATE_LIMITED: ingestion rate limit (local: {limit} bytes/s, global: {limit} bytes/s, burst: {burst} bytes) exceeded while adding {bytes} bytes for user {tenant}. consider increasing the limit or reducing ingestion rate."
    )]
    Exceeded {
        limit: u64,
        burst: u64,
        bytes: u64,
        tenant: String,
    },
    #[error(
        "RATE_LIMITED: batch size ({bytes} bytes) exceeds ingestion limit (local: {limit} bytes/s, global: {limit} bytes/s, burst: {burst} bytes) while adding {bytes} bytes for user {tenant}. consider reducing batch size or increasing rate limit."
    )]
    BatchTooLarge {
        limit: u64,
        burst: u64,
        bytes: u64,
        tenant: String,
    },
}

/// Outcome of [`TokenBucket::try_take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    Admitted,
    /// Not enough tokens now.
    Exceeded,
    /// More than the bucket can ever hold.
    LargerThanBurst,
}

/// A token bucket of bytes.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_bytes_per_second: u64, burst_bytes: u64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate: rate_bytes_per_second as f64,
            burst: burst_bytes as f64,
            tokens: burst_bytes as f64,
            last: now,
        }
    }

    /// Applies new limits, keeping the tokens held (at most the new burst).
    pub fn set_limits(&mut self, rate_bytes_per_second: u64, burst_bytes: u64, now: Instant) {
        let (rate, burst) = (rate_bytes_per_second as f64, burst_bytes as f64);
        if rate != self.rate || burst != self.burst {
            self.refill(now);
            self.rate = rate;
            self.burst = burst;
            self.tokens = self.tokens.min(burst);
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = self.last.max(now);
    }

    /// Takes `bytes` tokens if they are there.
    pub fn try_take(&mut self, bytes: u64, now: Instant) -> Take {
        self.refill(now);
        let wanted = bytes as f64;
        if wanted > self.burst {
            Take::LargerThanBurst
        } else if wanted > self.tokens {
            Take::Exceeded
        } else {
            self.tokens -= wanted;
            Take::Admitted
        }
    }

    /// True when the bucket is full at `now`: the same as a fresh bucket, so it can be dropped.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// One token bucket per tenant.
#[derive(Debug, Default)]
pub struct IngestionRateLimiter {
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl IngestionRateLimiter {
    /// Admits a request of `bytes` for `tenant` under `limits`, or says why not.
    // PERFORMANCE-CRITICAL: one short lock and one map probe per request.
    pub fn admit(
        &self,
        tenant: &str,
        bytes: u64,
        limits: &TenantLimits,
        now: Instant,
    ) -> Result<(), RateLimited> {
        let rate = limits.rate_limit_bytes;
        if rate == 0 {
            return Ok(());
        }
        let burst = limits.effective_burst_bytes();
        let take = {
            let mut buckets = self
                .buckets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match buckets.get_mut(tenant) {
                Some(bucket) => {
                    bucket.set_limits(rate, burst, now);
                    bucket.try_take(bytes, now)
                }
                None => {
                    let mut bucket = TokenBucket::new(rate, burst, now);
                    let take = bucket.try_take(bytes, now);
                    buckets.insert(tenant.to_string(), bucket);
                    take
                }
            }
        };
        let tenant = tenant.to_string();
        match take {
            Take::Admitted => Ok(()),
            Take::Exceeded => Err(RateLimited::Exceeded {
                limit: rate,
                burst,
                bytes,
                tenant,
            }),
            Take::LargerThanBurst => Err(RateLimited::BatchTooLarge {
                limit: rate,
                burst,
                bytes,
                tenant,
            }),
        }
    }

    /// Drops the buckets of tenants that are full again (idle tenants), bounding memory.
    pub fn forget_idle(&self, now: Instant) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        buckets.retain(|_, bucket| !bucket.is_full(now));
    }

    /// Tenants with a bucket (for tests).
    pub fn tenants(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits(rate: u64, burst: u64) -> TenantLimits {
        TenantLimits {
            rate_limit_bytes: rate,
            burst_size_bytes: burst,
            ..TenantLimits::default()
        }
    }

    #[test]
    fn a_bucket_starts_full_and_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(100, 300, t0);
        assert_eq!(bucket.try_take(300, t0), Take::Admitted);
        assert_eq!(bucket.try_take(1, t0), Take::Exceeded);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(bucket.try_take(51, t1), Take::Exceeded);
        assert_eq!(bucket.try_take(50, t1), Take::Admitted);
        // Refill stops at the burst.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(bucket.try_take(300, t2), Take::Admitted);
        assert_eq!(bucket.try_take(301, t2), Take::LargerThanBurst);
        // A clock that goes backwards never adds tokens.
        assert_eq!(bucket.try_take(1, t0), Take::Exceeded);
    }

    #[test]
    fn new_limits_keep_the_tokens_held_up_to_the_new_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(100, 1000, t0);
        assert_eq!(bucket.try_take(400, t0), Take::Admitted);
        bucket.set_limits(10, 200, t0);
        assert_eq!(bucket.try_take(201, t0), Take::LargerThanBurst);
        assert_eq!(bucket.try_take(200, t0), Take::Admitted);
        assert_eq!(
            bucket.try_take(10, t0 + Duration::from_secs(1)),
            Take::Admitted
        );
        assert_eq!(
            bucket.try_take(1, t0 + Duration::from_secs(1)),
            Take::Exceeded
        );
    }

    #[test]
    fn tenants_have_separate_buckets_and_messages_are_tempos() {
        let t0 = Instant::now();
        let limiter = IngestionRateLimiter::default();
        let l = limits(1000, 2000);
        assert!(limiter.admit("a", 2000, &l, t0).is_ok());
        let refused = limiter.admit("a", 10, &l, t0).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "RATE_LIMITED: ingestion rate limit (local: 1000 bytes/s, global: 1000 bytes/s, burst: 2000 bytes) exceeded while adding 10 bytes for user a. consider increasing the limit or reducing ingestion rate."
        );
        assert!(limiter.admit("b", 2000, &l, t0).is_ok());
        let too_big = limiter.admit("c", 2001, &l, t0).unwrap_err();
        assert!(
            too_big
                .to_string()
                .starts_with("RATE_LIMITED: batch size (2001 bytes) exceeds ingestion limit (local: 1000 bytes/s, global: 1000 bytes/s, burst: 2000 bytes) while adding 2001 bytes for user c."),
            "{too_big}"
        );
    }

    #[test]
    fn zero_rate_is_unlimited_and_zero_burst_is_one_second() {
        let t0 = Instant::now();
        let limiter = IngestionRateLimiter::default();
        assert!(limiter.admit("a", u64::MAX, &limits(0, 0), t0).is_ok());
        assert!(limiter.admit("b", 500, &limits(500, 0), t0).is_ok());
        assert!(limiter.admit("b", 1, &limits(500, 0), t0).is_err());
    }

    #[test]
    fn idle_tenants_are_forgotten() {
        let t0 = Instant::now();
        let limiter = IngestionRateLimiter::default();
        let l = limits(1000, 1000);
        limiter.admit("a", 1000, &l, t0).unwrap();
        limiter.admit("b", 500, &l, t0).unwrap();
        limiter.forget_idle(t0 + Duration::from_millis(100));
        assert_eq!(limiter.tenants(), 2);
        limiter.forget_idle(t0 + Duration::from_secs(2));
        assert_eq!(limiter.tenants(), 0);
    }
}
