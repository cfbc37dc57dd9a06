//! Keys and their hash. The hash picks a key's bucket in the keyspace's
//! table (low bits) and its tag there (high bits), and (hash, bytes) is the
//! canonical order in which multi-key commands latch.

use std::hash::BuildHasher;
#[cfg(not(loom))]
use std::sync::OnceLock;

/// Process-wide hash seed, random per start so clients cannot aim collisions.
#[cfg(not(loom))]
fn hasher() -> &'static foldhash::fast::RandomState {
    static H: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    H.get_or_init(foldhash::fast::RandomState::default)
}

/// Under loom a fixed seed: which buckets, tags and stripes a model's keys
/// share decides how much there is to explore, so it must not change from
/// one run to the next.
#[cfg(loom)]
fn hasher() -> &'static foldhash::fast::FixedState {
    static H: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x5eed);
    &H
}

/// The 64-bit hash of a key (seeded per process).
pub fn hash_key(key: &[u8]) -> u64 {
    hasher().hash_one(key)
}

/// A borrowed key with its hash computed once.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a> {
    pub hash: u64,
    pub bytes: &'a [u8],
}

impl<'a> KeyRef<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        KeyRef {
            hash: hash_key(bytes),
            bytes,
        }
    }
}
