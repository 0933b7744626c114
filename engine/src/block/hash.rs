//! A seeded one-shot xxh3 `BuildHasher` for the encoder's byte-keyed maps.
//!
//! `std`'s SipHash costs ~1 ns/byte; xxh3 is several times faster on the 10–500 byte keys the
//! encoder hashes (dictionary values, raw resource and scope encodings). The seed is random per
//! map, so tenants cannot aim collisions at a block.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Builds [`Xxh3OneShot`] hashers with a per-instance random seed.
#[derive(Clone)]
pub(crate) struct SeededXxh3 {
    seed: u64,
}

impl Default for SeededXxh3 {
    fn default() -> Self {
        SeededXxh3 {
            seed: RandomState::new().hash_one(0x0074_636f_7265_u64),
        }
    }
}

impl BuildHasher for SeededXxh3 {
    type Hasher = Xxh3OneShot;

    fn build_hasher(&self) -> Xxh3OneShot {
        Xxh3OneShot(self.seed)
    }
}

/// Chains one xxh3 call per `write` (a byte-slice key is written as its length, then its bytes).
pub(crate) struct Xxh3OneShot(u64);

impl Hasher for Xxh3OneShot {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(29) ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
