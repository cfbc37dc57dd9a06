//! Keys and their hash. The hash picks a key's bucket in the keyspace's
//! table (low bits) and its tag there (high bits), and (hash, bytes) is the
//! canonical order in which multi-key commands latch.

use bytes::Bytes;
use std::cmp::Ordering;
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

/// An owned key stored in the keyspace.
#[derive(Clone, Debug)]
pub struct Key {
    pub hash: u64,
    pub bytes: Bytes,
}

impl Key {
    pub fn new(bytes: &[u8]) -> Key {
        Key::with_hash(hash_key(bytes), bytes)
    }

    /// A key whose hash the caller already computed with [`hash_key`].
    pub fn with_hash(hash: u64, bytes: &[u8]) -> Key {
        Key {
            hash,
            bytes: Bytes::copy_from_slice(bytes),
        }
    }
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

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.bytes == other.bytes
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    /// Hash first, then bytes: the canonical latch order.
    fn cmp(&self, other: &Self) -> Ordering {
        self.hash
            .cmp(&other.hash)
            .then_with(|| self.bytes.cmp(&other.bytes))
    }
}
