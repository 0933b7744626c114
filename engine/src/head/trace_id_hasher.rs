//! A hasher for maps keyed by trace ID: the IDs are random, so their own bits are the hash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Folds the bytes written into a u64 without mixing (trace IDs are uniformly random).
#[derive(Default, Clone, Copy)]
pub struct TraceIdHasher(u64);

impl Hasher for TraceIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Fold 8-byte words; a 16-byte ID costs two loads and an xor.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_usize(&mut self, _len: usize) {
        // Slice length prefixes carry no information for fixed-size IDs.
    }
}

/// A map keyed by 16-byte trace IDs.
pub type TraceIdMap<V> = HashMap<[u8; 16], V, BuildHasherDefault<TraceIdHasher>>;
