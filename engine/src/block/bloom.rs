//! `bloom-0`: a split-block bloom filter over the trace IDs of one block.
//!
//! The filter is Parquet's split-block bloom filter ([`parquet::bloom_filter::Sbbf`], the
//! layout of the Parquet spec), used stand-alone:
//!
//! * The bitset is an array of 256-bit blocks, each eight 32-bit words. A key is hashed once
//!   with xxHash64 (seed 0) into `h`. The upper 32 bits pick the block
//!   (`((h >> 32) * blocks) >> 32`, a multiply-shift range reduction); the lower 32 bits `x`
//!   set one bit in each of the eight words: bit `(x * SALT[i]) >> 27` of word `i`, with eight
//!   fixed odd salts. A probe therefore touches one cache line.
//! * Sizing: for `n` keys and target false-positive rate `p`, the filter uses
//!   `m = −8·n / ln(1 − p^(1/8))` bits — the bit count at which a classic bloom filter with
//!   `k = 8` hash functions reaches `p`, i.e. `p = (1 − e^(−8n/m))^8` — rounded up to a power of
//!   two bytes (32 B .. 128 MiB). Splitting into blocks adds variance to per-block load, so the
//!   real rate is somewhat above the classic figure at the same `m`; the power-of-two round-up
//!   usually more than pays for that (the unit test measures it).
//!
//! Object layout: the 4-byte magic [`BLOOM_MAGIC`], then the Parquet `BloomFilterHeader`
//! (thrift compact) and the bitset exactly as Parquet writes it into a column chunk.

use parquet::bloom_filter::Sbbf;

use super::error::BlockError;

/// Leading bytes of a `tc1` bloom object (`tcb` + format 1).
pub const BLOOM_MAGIC: [u8; 4] = *b"tcb1";

/// Membership filter over the trace IDs of one block.
#[derive(Debug, Clone)]
pub struct BlockBloom {
    filter: Sbbf,
}

impl BlockBloom {
    /// Builds a filter sized for `n` IDs at false-positive rate `fpp` and inserts `ids`.
    /// `fpp` outside (0, 1) is clamped to [1e-9, 0.5].
    pub fn build<'a>(ids: impl Iterator<Item = &'a [u8; 16]>, n: usize, fpp: f64) -> Self {
        let fpp = if fpp.is_finite() {
            fpp.clamp(1e-9, 0.5)
        } else {
            0.01
        };
        let mut filter = Sbbf::new_with_ndv_fpp(n.max(1) as u64, fpp)
            .expect("fpp was clamped into (0, 1), the only argument Sbbf rejects");
        for id in ids {
            filter.insert(&id[..]);
        }
        BlockBloom { filter }
    }

    /// `false` means `trace_id` is certainly not in the block.
    // PERFORMANCE-CRITICAL: probed for every candidate block of every trace-by-ID query
    // (1000+ per query): one xxHash64 of 16 bytes and one 32-byte block read, no allocation.
    #[inline]
    pub fn may_contain(&self, trace_id: &[u8; 16]) -> bool {
        self.filter.check(&trace_id[..])
    }

    /// Size of the bitset in bytes.
    pub fn bitset_len(&self) -> usize {
        self.filter.num_blocks() * 32
    }

    /// The `bloom-0` object bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BLOOM_MAGIC.len() + 16 + self.bitset_len());
        out.extend_from_slice(&BLOOM_MAGIC);
        self.filter
            .write(&mut out)
            .expect("writing into a Vec cannot fail");
        out
    }

    /// Parses a `bloom-0` object; rejects anything [`Self::to_bytes`] would not have produced.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlockError> {
        let invalid = |reason: String| BlockError::InvalidBloom {
            len: bytes.len(),
            reason,
        };
        let body = bytes
            .strip_prefix(&BLOOM_MAGIC)
            .ok_or_else(|| invalid(format!("missing magic {:?}", "tcb1")))?;
        let filter = Sbbf::from_bytes(body).map_err(|e| invalid(e.to_string()))?;
        if filter.num_blocks() == 0 || !filter.num_blocks().is_power_of_two() {
            return Err(invalid(format!(
                "bitset of {} blocks is not a non-zero power of two",
                filter.num_blocks()
            )));
        }
        let parsed = BlockBloom { filter };
        // The header must describe exactly this bitset (Sbbf silently drops a partial block).
        if parsed.to_bytes() != bytes {
            return Err(invalid(
                "header and bitset do not round-trip (non-canonical header or partial block)"
                    .to_owned(),
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn random_ids(rng: &mut StdRng, n: usize) -> Vec<[u8; 16]> {
        (0..n).map(|_| rng.random()).collect()
    }

    #[test]
    fn no_false_negatives_and_rate_near_target() {
        let mut rng = StdRng::seed_from_u64(7);
        let n = 100_000;
        let ids = random_ids(&mut rng, n);
        let bloom = BlockBloom::build(ids.iter(), n, 0.01);
        assert!(ids.iter().all(|id| bloom.may_contain(id)), "false negative");

        let probes = random_ids(&mut rng, n);
        let false_positives = probes.iter().filter(|id| bloom.may_contain(id)).count();
        let rate = false_positives as f64 / n as f64;
        // Power-of-two rounding makes the filter larger than the minimum, so the rate lands
        // below target; it must stay within 2x of it and must not be trivially zero.
        assert!(rate < 0.02, "false-positive rate {rate}");
        assert!(rate > 0.0001, "suspiciously low false-positive rate {rate}");
        eprintln!(
            "bloom: {n} ids, {} bytes, fpr {rate:.4}",
            bloom.to_bytes().len()
        );
    }

    #[test]
    fn bytes_round_trip() {
        let mut rng = StdRng::seed_from_u64(8);
        let ids = random_ids(&mut rng, 1000);
        let bloom = BlockBloom::build(ids.iter(), ids.len(), 0.01);
        let bytes = bloom.to_bytes();
        let parsed = BlockBloom::from_bytes(&bytes).expect("valid bytes");
        assert!(ids.iter().all(|id| parsed.may_contain(id)));
        assert_eq!(parsed.to_bytes(), bytes);
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let mut rng = StdRng::seed_from_u64(9);
        let valid = BlockBloom::build(random_ids(&mut rng, 50).iter(), 50, 0.01).to_bytes();
        assert!(BlockBloom::from_bytes(&[]).is_err());
        assert!(BlockBloom::from_bytes(b"tcb1").is_err());
        assert!(BlockBloom::from_bytes(&valid[..valid.len() - 1]).is_err());
        let mut longer = valid.clone();
        longer.push(0);
        assert!(BlockBloom::from_bytes(&longer).is_err());
        let mut accepted = 0;
        for len in 0..300 {
            let mut garbage: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if len >= 4 && rng.random_bool(0.5) {
                garbage[..4].copy_from_slice(&BLOOM_MAGIC);
            }
            if let Ok(bloom) = BlockBloom::from_bytes(&garbage) {
                accepted += 1;
                let _ = bloom.may_contain(&[0; 16]);
            }
            // Flip bytes of a valid object: must not panic; a flipped bitset byte is accepted.
            let mut mutated = valid.clone();
            let at = rng.random_range(0..mutated.len());
            mutated[at] ^= rng.random_range(1..=255u8);
            if let Ok(bloom) = BlockBloom::from_bytes(&mutated) {
                let _ = bloom.may_contain(&[1; 16]);
            }
        }
        assert!(
            accepted < 5,
            "{accepted} random byte strings parsed as bloom filters"
        );
    }
}
