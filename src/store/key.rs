//! Keys and their hash. The hash picks a key's bucket in the keyspace's
//! table (low bits) and its tag there (high bits), and (hash, bytes) is the
//! canonical order in which multi-key commands latch.

use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Process-wide hash seed, random per start so clients cannot aim collisions.
fn hasher() -> &'static foldhash::fast::RandomState {
    static H: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    H.get_or_init(foldhash::fast::RandomState::default)
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
