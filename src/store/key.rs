//! Keys as the keyspace orders them: by hash first, then by bytes.
//!
//! Hash order is what makes the keyspace's other duties simple: a SCAN cursor
//! is just "the next hash", valid across any growth because nothing ever
//! rehashes; a random key is the successor of a random hash; and the same
//! order is the canonical latching order for multi-key commands.

use bytes::Bytes;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Process-wide hash seed, random per start so clients cannot aim collisions.
fn hasher() -> &'static foldhash::fast::RandomState {
    static H: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    H.get_or_init(foldhash::fast::RandomState::default)
}

/// The 64-bit hash the keyspace orders by.
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
        Key {
            hash: hash_key(bytes),
            bytes: Bytes::copy_from_slice(bytes),
        }
    }
}

/// A borrowed lookup key: lets the skiplist be searched with `(hash, &[u8])`
/// without building an owned `Key`.
pub trait KeyQuery {
    fn hash(&self) -> u64;
    fn bytes(&self) -> &[u8];
}

impl KeyQuery for Key {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn bytes(&self) -> &[u8] {
        &self.bytes
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

impl KeyQuery for KeyRef<'_> {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn bytes(&self) -> &[u8] {
        self.bytes
    }
}

impl<'a> Borrow<dyn KeyQuery + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyQuery + 'a) {
        self
    }
}

impl PartialEq for dyn KeyQuery + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.hash() == other.hash() && self.bytes() == other.bytes()
    }
}
impl Eq for dyn KeyQuery + '_ {}
impl PartialOrd for dyn KeyQuery + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for dyn KeyQuery + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.hash()
            .cmp(&other.hash())
            .then_with(|| self.bytes().cmp(other.bytes()))
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
    fn cmp(&self, other: &Self) -> Ordering {
        (self as &dyn KeyQuery).cmp(other as &dyn KeyQuery)
    }
}
