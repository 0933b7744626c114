//! A keyed, SipHash-free hasher for the per-request trace ID table.
//!
//! Trace IDs are already random, so one folded multiply spreads them well; per-process random
//! keys keep a client from choosing IDs that all land in one bucket and turn a request into
//! quadratic work.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

/// Per-process random keys for [`TraceIdHasher`].
fn trace_id_keys() -> (u64, u64) {
    static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
    *KEYS.get_or_init(|| {
        let state = RandomState::new();
        (
            state.hash_one(0x7472_6163_u64),
            state.hash_one(0x636f_7265_u64),
        )
    })
}

/// Builds [`TraceIdHasher`]s.
#[derive(Clone, Copy)]
pub(super) struct TraceIdHashState {
    k0: u64,
    k1: u64,
}

impl Default for TraceIdHashState {
    fn default() -> Self {
        let (k0, k1) = trace_id_keys();
        TraceIdHashState { k0, k1 }
    }
}

impl BuildHasher for TraceIdHashState {
    type Hasher = TraceIdHasher;

    fn build_hasher(&self) -> TraceIdHasher {
        TraceIdHasher {
            k0: self.k0,
            k1: self.k1,
            hash: 0,
        }
    }
}

/// Hashes a trace ID (a `u128` key) with one keyed folded multiply instead of SipHash.
///
/// Trace IDs are random, so one multiply spreads them well; the per-process keys keep a client
/// from choosing IDs that all land in one bucket and turn a request into quadratic work.
pub(super) struct TraceIdHasher {
    k0: u64,
    k1: u64,
    hash: u64,
}

impl Hasher for TraceIdHasher {
    #[inline]
    fn write_u128(&mut self, id: u128) {
        let product = u128::from((id as u64) ^ self.k0) * u128::from(((id >> 64) as u64) ^ self.k1);
        self.hash = (product as u64) ^ ((product >> 64) as u64);
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys are hashed; this fallback keeps the trait contract anyway.
        for &b in bytes {
            self.hash = (self.hash ^ u64::from(b) ^ self.k0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn sequential_and_widened_ids_spread_over_buckets() {
        let state = TraceIdHashState::default();
        // Jaeger-style 64-bit IDs widened with zero high bytes, counted up from 1.
        let low_bits: HashSet<u64> = (1..=4096u128).map(|id| state.hash_one(id) & 4095).collect();
        assert!(
            low_bits.len() > 2_000,
            "only {} of 4096 buckets used",
            low_bits.len()
        );
        let high_bits: HashSet<u64> = (1..=4096u128).map(|id| state.hash_one(id) >> 57).collect();
        assert!(
            high_bits.len() > 100,
            "control bits barely vary: {}",
            high_bits.len()
        );
    }
}
