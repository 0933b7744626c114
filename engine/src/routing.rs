//! Which shard owns a trace: `xxh3(tenant ‖ trace id) mod shards`.
//!
//! The hash is persisted implicitly (a trace's WAL lives on its shard), so it must never change
//! for a given shard count; `tests::routing_is_pinned` is the golden test that guards it.

use xxhash_rust::xxh3::Xxh3;

/// The shard that owns `trace_id` of `tenant` among `shards` shards.
pub fn shard_for(tenant: &str, trace_id: &[u8; 16], shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    let mut hasher = Xxh3::new();
    hasher.update(tenant.as_bytes());
    hasher.update(&[0xff]);
    hasher.update(trace_id);
    (hasher.digest() % shards as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_pinned() {
        let id: [u8; 16] = *b"0123456789abcdef";
        let got: Vec<usize> = [1usize, 2, 3, 4, 7, 16]
            .iter()
            .map(|&n| shard_for("single-tenant", &id, n))
            .collect();
        let other: Vec<usize> = [2usize, 3, 4, 7, 16]
            .iter()
            .map(|&n| shard_for("tenant-b", &id, n))
            .collect();
        // Golden values: changing them would strand WAL data on the wrong shard after upgrade.
        assert_eq!(got, GOLDEN_SINGLE.to_vec());
        assert_eq!(other, GOLDEN_OTHER.to_vec());
    }

    const GOLDEN_SINGLE: [usize; 6] = [0, 1, 2, 3, 1, 7];
    const GOLDEN_OTHER: [usize; 5] = [0, 0, 0, 4, 4];

    #[test]
    fn spreads_evenly() {
        let mut counts = [0usize; 4];
        for i in 0u64..40_000 {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            counts[shard_for("t", &id, 4)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }
}
