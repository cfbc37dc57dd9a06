//! WATCH of keys that are absent: a present key is watched by its version
//! stamp (any write, delete or expiry changes what EXEC finds), but an
//! absent key has no stamp, and a key created and deleted again between
//! WATCH and EXEC must still abort the transaction, as in Redis.
//!
//! Each keyspace keeps the keys watched while absent, with a count of the
//! times each has come to life since. A commit that gives a key a value it
//! did not have (`Locked::publish`) checks [`AbsentWatches::touch`]: one load
//! of a word that is zero unless some client watches an absent key of this
//! database, so writers pay nothing otherwise. WATCH registers the key,
//! then looks it up; the commit publishes, then loads the count. Each side
//! stores, then loads what the other stores (sequentially consistent), so
//! either WATCH finds the key present (and watches its stamp) or the commit
//! finds the registration and counts the creation.

use crate::sync::{broken, AtomicUsize, Mutex, MutexGuard, Ordering};
use std::collections::HashMap;

/// A deliberately broken variant, for the negative control in
/// `loom-tests/tests/watch.rs`. Only under `cfg(loom)`.
#[cfg(loom)]
pub mod loom_breaks {
    use std::sync::atomic::AtomicBool;

    /// WATCH registers without the fence before its lookup.
    pub static REGISTER_WITHOUT_FENCE: AtomicBool = AtomicBool::new(false);
}

const SHARDS: usize = 16;

/// The keys of one keyspace watched while absent.
pub struct AbsentWatches {
    /// Registrations (a key watched by two clients counts twice).
    watchers: AtomicUsize,
    shards: Box<[Mutex<Shard>]>,
}

/// One shard: watched key -> its entry.
type Shard = HashMap<Box<[u8]>, Entry>;

#[derive(Default)]
struct Entry {
    watchers: usize,
    /// Times the key came to life while watched.
    creations: u64,
}

impl Default for AbsentWatches {
    fn default() -> Self {
        AbsentWatches {
            watchers: AtomicUsize::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl AbsentWatches {
    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        let i = super::key::hash_key(key) as usize % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a watch of `key`; returns its creation count, to compare at
    /// EXEC. Look the key up only after this returns.
    pub fn watch(&self, key: &[u8]) -> u64 {
        let mut shard = self.shard(key);
        let e = shard.entry(key.into()).or_default();
        e.watchers += 1;
        self.watchers.fetch_add(1, Ordering::SeqCst);
        // Against a commit's publish and its load of `watchers` (`touch`).
        if !broken!(REGISTER_WITHOUT_FENCE) {
            crate::sync::fence_seq_cst();
        }
        e.creations
    }

    /// Drops one registration of `key` (from [`AbsentWatches::watch`]).
    pub fn unwatch(&self, key: &[u8]) {
        let mut shard = self.shard(key);
        if let Some(e) = shard.get_mut(key) {
            e.watchers -= 1;
            if e.watchers == 0 {
                shard.remove(key);
            }
            self.watchers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// How often `key` (registered) has come to life since the count began.
    pub fn creations(&self, key: &[u8]) -> u64 {
        self.shard(key).get(key).map_or(0, |e| e.creations)
    }

    /// Counts that `key` came to life, if anyone watches it. Called after
    /// the new value is published.
    pub fn touch(&self, key: &[u8]) {
        if self.watchers.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Some(e) = self.shard(key).get_mut(key) {
            e.creations += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_creations_of_watched_keys_only_while_watched() {
        let w = AbsentWatches::default();
        w.touch(b"a");
        assert_eq!(w.watch(b"a"), 0);
        w.touch(b"a");
        w.touch(b"b");
        assert_eq!(w.creations(b"a"), 1);
        assert_eq!(w.creations(b"b"), 0);
        // A second watcher of the same key shares the entry.
        assert_eq!(w.watch(b"a"), 1);
        w.unwatch(b"a");
        assert_eq!(w.creations(b"a"), 1);
        w.unwatch(b"a");
        // The last one gone, nothing is left and writers skip the lookup.
        assert_eq!(w.watchers.load(Ordering::SeqCst), 0);
        assert!(w.shards.iter().all(|s| s.lock().unwrap().is_empty()));
        w.touch(b"a");
        assert_eq!(w.watch(b"a"), 0);
    }
}
