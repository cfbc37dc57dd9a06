//! The shared keyspace: every worker thread executes commands directly
//! against these databases. No sharding of keys to threads, no global lock.

pub mod access;
pub mod expiry;
#[cfg(test)]
mod expiry_tests;
#[cfg(test)]
mod in_place_tests;
pub mod key;
pub mod keyspace;
pub mod latch;
pub mod node;
pub mod reclaim;
pub mod slot;
pub mod snapshot;
#[cfg(test)]
mod snapshot_tests;
pub mod stalled;
#[cfg(test)]
mod stress_tests;
pub mod table;
#[cfg(test)]
mod table_tests;
pub mod waiters;
pub mod watch;
pub mod world;

pub use expiry::ExpireRound;
pub use keyspace::{lock_many, read_many, Clock, Keyspace, LockSet, Locked, ReadView, WALK_CHUNK};
pub use slot::Slot;

use crate::sync::{self as epoch, Atomic, Guard, Owned};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A counter on its own cache-line pair.
#[repr(align(128))]
struct Padded(std::sync::atomic::AtomicU64);

/// Keys removed because their TTL passed, lazily or actively (INFO
/// `expired_keys`). Striped by key hash: an expiry is a write to that key
/// anyway, so this adds no shared line to any other key's path.
static EXPIRED: [Padded; 64] = [const { Padded(std::sync::atomic::AtomicU64::new(0)) }; 64];

pub(crate) fn count_expired(hash: u64) {
    EXPIRED[hash as usize % EXPIRED.len()]
        .0
        .fetch_add(1, Ordering::Relaxed);
}

/// Until when (Unix ms; 0: not) keys whose TTL passed are only invisible,
/// not deleted: CLIENT PAUSE holds back the deletions, lazy and active, as
/// Redis does, since a deletion is a write and a paused server makes none.
static EXPIRY_HELD_UNTIL: AtomicU64 = AtomicU64::new(0);

/// Holds deletions of expired keys until `until_ms` (0: lets them go again).
pub fn hold_expiry_until(until_ms: u64) {
    EXPIRY_HELD_UNTIL.store(until_ms, Ordering::Relaxed);
}

/// Whether deletions of expired keys are held at `now_ms`. Read only on
/// the way to delete an expired key, so it costs a live key nothing.
pub(crate) fn expiry_held(now_ms: u64) -> bool {
    now_ms < EXPIRY_HELD_UNTIL.load(Ordering::Relaxed)
}

/// Total keys expired since start or the last CONFIG RESETSTAT.
pub fn expired_keys() -> u64 {
    EXPIRED.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
}

/// CONFIG RESETSTAT.
pub fn reset_expired_keys() {
    for c in &EXPIRED {
        c.0.store(0, Ordering::Relaxed);
    }
}

/// The array of databases. Replaced as a whole (copy-on-write) by SWAPDB and
/// FLUSHDB/FLUSHALL, so a command that resolves several databases sees one
/// consistent assignment of keyspaces to indexes.
pub struct DbTable {
    pub dbs: Vec<Arc<Keyspace>>,
}

pub struct Store {
    table: Atomic<DbTable>,
    /// Snapshot state shared by every database (`store::snapshot`).
    snap: Arc<snapshot::SnapshotState>,
    /// Serialises the rare table replacements against each other.
    admin: Mutex<()>,
    /// Dropping a large keyspace takes time; it happens on this thread, never
    /// on a worker that happened to run the epoch's deferred functions.
    dropper: Mutex<std::sync::mpsc::Sender<Arc<Keyspace>>>,
    /// Keys of flushed databases queued for the free thread, and keys it has
    /// freed (INFO `lazyfree_pending_objects`, `lazyfreed_objects`).
    lazyfree: Arc<LazyFree>,
}

#[derive(Default)]
struct LazyFree {
    pending: AtomicU64,
    freed: AtomicU64,
}

impl Store {
    pub fn new(databases: usize) -> Store {
        let snap = Arc::new(snapshot::SnapshotState::default());
        let dbs = (0..databases.max(1))
            .map(|_| Arc::new(Keyspace::with_snapshots(snap.clone())))
            .collect();
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Keyspace>>();
        let lazyfree = Arc::new(LazyFree::default());
        let counts = lazyfree.clone();
        std::thread::Builder::new()
            .name("ferrite-free".into())
            .spawn(move || {
                // Dropping a keyspace frees its nodes and values directly,
                // without pinning: nothing here holds back the epoch.
                for ks in rx {
                    let keys = ks.len() as u64;
                    // A walk may still hold the keyspace (`db_arc`); its
                    // `release` queues it here again when it lets go.
                    if let Some(ks) = Arc::into_inner(ks) {
                        drop(ks);
                        counts.freed.fetch_add(keys, Ordering::Relaxed);
                    }
                    counts.pending.fetch_sub(keys, Ordering::Relaxed);
                }
            })
            .expect("spawn the keyspace dropper thread");
        Store {
            table: Atomic::new(DbTable { dbs }),
            snap,
            admin: Mutex::new(()),
            dropper: Mutex::new(tx),
            lazyfree,
        }
    }

    pub fn num_dbs(&self) -> usize {
        self.table(&epoch::pin()).dbs.len()
    }

    /// The current table; valid while `guard` is pinned.
    pub fn table<'g>(&self, guard: &'g Guard) -> &'g DbTable {
        // The pointer is never null (set in `new`, replaced only by
        // `replace`), and old tables are retired through the epoch.
        // SAFETY: non-null, and valid for as long as `guard` is pinned.
        unsafe { self.table.load(Ordering::Acquire, guard).deref() }
    }

    /// Database `idx`; the caller has validated the index.
    pub fn db<'g>(&self, idx: usize, guard: &'g Guard) -> &'g Keyspace {
        &self.table(guard).dbs[idx]
    }

    /// Database `idx`, held beyond any pin: for work that pins and re-pins
    /// as it goes (active expiry). Give it back with [`Store::release`].
    pub fn db_arc(&self, idx: usize) -> Arc<Keyspace> {
        self.table(&epoch::pin()).dbs[idx].clone()
    }

    /// Drops a database handle from [`Store::db_arc`]. If the database was
    /// flushed meanwhile, this was the last handle: the keyspace is then
    /// dropped on the free thread, not on the caller's.
    pub fn release(&self, ks: Arc<Keyspace>) {
        if let Some(ks) = Arc::into_inner(ks) {
            self.lazyfree
                .pending
                .fetch_add(ks.len() as u64, Ordering::Relaxed);
            let _ = self.free_thread().send(Arc::new(ks));
        }
    }

    /// Where dropped keyspaces go to be freed off the workers.
    fn free_thread(&self) -> std::sync::mpsc::Sender<Arc<Keyspace>> {
        self.dropper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// (keys awaiting the free thread, keys it has freed since start).
    pub fn lazyfree_counts(&self) -> (u64, u64) {
        (
            self.lazyfree.pending.load(Ordering::Relaxed),
            self.lazyfree.freed.load(Ordering::Relaxed),
        )
    }

    fn replace(&self, f: impl FnOnce(&mut Vec<Arc<Keyspace>>, &mut Vec<Arc<Keyspace>>)) {
        let _admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        let guard = epoch::pin();
        let cur = self.table(&guard);
        let mut dbs = cur.dbs.clone();
        let mut retired = Vec::new();
        f(&mut dbs, &mut retired);
        let old = self
            .table
            .swap(Owned::new(DbTable { dbs }), Ordering::AcqRel, &guard);
        let dropper = self.free_thread();
        let keys: u64 = retired.iter().map(|ks| ks.len() as u64).sum();
        self.lazyfree.pending.fetch_add(keys, Ordering::Relaxed);
        // SAFETY: `old` is no longer reachable from `self.table`; readers that
        // loaded it are pinned and `defer_unchecked` runs after they unpin.
        unsafe {
            guard.defer_unchecked(move || {
                drop(old.into_owned());
                for ks in retired {
                    let _ = dropper.send(ks);
                }
            });
        }
        guard.flush();
    }

    fn new_keyspace(&self) -> Keyspace {
        Keyspace::with_snapshots(self.snap.clone())
    }

    /// Starts a point-in-time snapshot of every database (see
    /// `store::snapshot`); writers keep running.
    pub fn snapshot(&self) -> snapshot::Snapshot<'_> {
        let dbs = self.table(&epoch::pin()).dbs.clone();
        snapshot::Snapshot::start(&self.snap, dbs)
    }

    /// SWAPDB: both databases exchange contents atomically.
    pub fn swap_dbs(&self, a: usize, b: usize) {
        self.replace(|dbs, _| dbs.swap(a, b));
    }

    /// FLUSHDB: the database gets a fresh, empty keyspace. Commands already
    /// running on the old one finish there and are ordered before the flush.
    pub fn flush_db(&self, idx: usize) {
        self.replace(|dbs, retired| {
            retired.push(std::mem::replace(
                &mut dbs[idx],
                Arc::new(self.new_keyspace()),
            ));
        });
    }

    /// FLUSHALL.
    pub fn flush_all(&self) {
        self.replace(|dbs, retired| {
            for db in dbs.iter_mut() {
                retired.push(std::mem::replace(db, Arc::new(self.new_keyspace())));
            }
        });
    }
}
