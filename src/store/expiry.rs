//! The expiry index: a table of the keys that have a TTL, as Redis keeps its
//! `expires` dict beside the keyspace.
//!
//! Each entry points at a key's node. Setting a TTL on a persistent key adds
//! an entry, removing the TTL or the key removes it, and changing a TTL only
//! stores the slot's deadline: `SET k v EX 60` on a key that already has a
//! TTL touches no index at all. Active expiry walks the index with a SCAN
//! cursor, a few keys per round, as Redis 7 does, and goes on while the
//! rounds keep finding expired keys; volatile-* eviction will sample it
//! uniformly ([`ExpiryIndex::sample`]).
//!
//! A deadline-ordered index (the skiplist of (deadline, key) it replaces)
//! lets active expiry reclaim exactly the expired keys, but costs an
//! ordered insert and remove, plus a copy of the key, on every TTL change;
//! `SET k v EX 60` cost 3.9 µs more than a plain SET with it, against
//! 0.8 µs in Redis (docs/ARCHITECTURE.md, "Expiry index").
//!
//! Invariant, kept under the key's latch: the index holds a key's node
//! exactly while the node is in the keyspace with a non-zero `expire`.

use super::node::Node;
use super::table::{Entry, RawTable};
use crate::sync::Guard;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// An entry of the index: the node of a key with a TTL.
pub(crate) struct Volatile {
    node: NonNull<Node>,
}

// SAFETY: a `Volatile` is a pointer to a node, which is itself shared by all
// threads (its fields are atomics or immutable after publication).
unsafe impl Send for Volatile {}
// SAFETY: as above.
unsafe impl Sync for Volatile {}

impl Volatile {
    /// The key's node.
    pub(crate) fn node(&self) -> &Node {
        // An entry leaves the index (under the key's latch) before its node
        // leaves the keyspace; both are then retired through the epoch, the
        // entry first. Whoever reaches the entry is pinned, or holds the
        // latch, or drops the whole database.
        // SAFETY: so the node is alive while the entry is reachable.
        unsafe { self.node.as_ref() }
    }
}

impl Entry for Volatile {
    fn hash(&self) -> u64 {
        self.node().hash()
    }

    fn key(&self) -> &[u8] {
        self.node().key()
    }
}

/// The keys of one database that have a TTL (see the module comment).
#[derive(Default)]
pub(crate) struct ExpiryIndex {
    table: RawTable<Volatile>,
    /// Where active expiry's walk goes on (a SCAN cursor over the index).
    /// Only the background thread runs active expiry.
    cursor: AtomicU64,
    /// Running estimate of the remaining TTL (ms) of keys active expiry
    /// looked at and kept, as Redis estimates INFO keyspace `avg_ttl`.
    avg_ttl: AtomicU64,
}

/// What one round of active expiry found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireRound {
    /// Keys with a TTL looked at.
    pub sampled: usize,
    /// Of those, keys found expired and deleted.
    pub expired: usize,
}

impl ExpiryIndex {
    /// Number of keys with a TTL.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Adds `node`, whose key just got a TTL (its latch is held).
    pub(crate) fn add(&self, node: &Node, hash: u64, guard: &Guard) {
        let ptr = NonNull::from(node);
        let (entry, inserted) = self.table.find_or_insert(
            hash,
            node.key(),
            || Box::into_raw(Box::new(Volatile { node: ptr })),
            guard,
        );
        debug_assert!(inserted && entry.node == ptr, "a key is indexed once");
    }

    /// Removes `node`, whose key lost its TTL or is being deleted (its latch
    /// is held).
    pub(crate) fn remove(&self, node: &Node, hash: u64, guard: &Guard) {
        let Some(entry) = self.table.find(hash, node.key(), guard) else {
            debug_assert!(false, "a key with a TTL is indexed");
            return;
        };
        debug_assert!(entry.node == NonNull::from(node));
        if self.table.remove(entry, guard) {
            let p = entry as *const Volatile as *mut Volatile;
            // Unlinked just now by us alone, under the key's latch.
            // SAFETY: threads that pin from now on cannot find it.
            unsafe { crate::sync::retire(guard, p) };
            super::reclaim::deferred(guard, 1);
        }
    }

    /// The nodes of up to about `want` indexed keys, from where the last
    /// call stopped (whole buckets, so possibly a few more), visiting at
    /// most 20 buckets per key wanted, as Redis bounds its empty buckets.
    /// Every key indexed for a whole pass of the cursor is visited once per
    /// pass.
    pub(crate) fn next_round<'g>(&'g self, want: usize, guard: &'g Guard) -> Vec<&'g Node> {
        let mut out = Vec::with_capacity(want.min(64));
        let mut cursor = self.cursor.load(Ordering::Relaxed);
        let max_buckets = want.saturating_mul(20);
        let mut buckets = 0;
        while out.len() < want && buckets < max_buckets {
            cursor = self.table.scan(cursor, guard, |v| out.push(v.node()));
            buckets += 1;
            if cursor == 0 {
                break;
            }
        }
        self.cursor.store(cursor, Ordering::Relaxed);
        out
    }

    /// Folds the TTLs (ms) active expiry saw on live keys in one round into
    /// the `avg_ttl` estimate, weighting the round as Redis does (2%).
    pub(crate) fn note_ttls(&self, sum: u64, n: u64) {
        if n == 0 {
            return;
        }
        let round = sum / n;
        let old = self.avg_ttl.load(Ordering::Relaxed);
        let new = if old == 0 {
            round
        } else {
            old / 50 * 49 + round / 50
        };
        self.avg_ttl.store(new, Ordering::Relaxed);
    }

    /// The `avg_ttl` estimate (0 without keys with a TTL).
    pub(crate) fn avg_ttl(&self) -> u64 {
        if self.len() == 0 {
            0
        } else {
            self.avg_ttl.load(Ordering::Relaxed)
        }
    }

    /// A uniformly chosen key with a TTL; `None` if there is none. For
    /// volatile-* eviction (the maxmemory issue), tested here meanwhile.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn sample<'g>(&'g self, guard: &'g Guard) -> Option<&'g Node> {
        self.table
            .sample(guard, rand::random::<u64>)
            .map(Volatile::node)
    }

    /// Upkeep from the background thread: the index resizes like the
    /// keyspace (shrinking after a mass expiry, for one).
    pub(crate) fn maintain(&self, guard: &Guard) -> bool {
        self.table.maybe_resize(guard);
        self.table.help_resize(guard)
    }
}
