//! The shared keyspace: every worker thread executes commands directly
//! against these databases. No sharding of keys to threads, no global lock.

pub mod access;
pub mod key;
pub mod keyspace;
pub mod latch;
pub mod slot;
#[cfg(test)]
mod stress_tests;

pub use key::Key;
pub use keyspace::{lock_many, read_many, Clock, Keyspace, LockSet, Locked, ReadView};
pub use slot::Slot;

use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned};
use std::sync::atomic::Ordering;
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
    /// Serialises the rare table replacements against each other.
    admin: Mutex<()>,
    /// Dropping a large keyspace takes time; it happens on this thread, never
    /// on a worker that happened to run the epoch's deferred functions.
    dropper: Mutex<std::sync::mpsc::Sender<Arc<Keyspace>>>,
}

impl Store {
    pub fn new(databases: usize) -> Store {
        let dbs = (0..databases.max(1))
            .map(|_| Arc::new(Keyspace::new()))
            .collect();
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Keyspace>>();
        std::thread::Builder::new()
            .name("ferrite-free".into())
            .spawn(move || {
                for ks in rx {
                    drop(ks);
                }
            })
            .expect("spawn the keyspace dropper thread");
        Store {
            table: Atomic::new(DbTable { dbs }),
            admin: Mutex::new(()),
            dropper: Mutex::new(tx),
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
        let dropper = self
            .dropper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
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

    /// SWAPDB: both databases exchange contents atomically.
    pub fn swap_dbs(&self, a: usize, b: usize) {
        self.replace(|dbs, _| dbs.swap(a, b));
    }

    /// FLUSHDB: the database gets a fresh, empty keyspace. Commands already
    /// running on the old one finish there and are ordered before the flush.
    pub fn flush_db(&self, idx: usize) {
        self.replace(|dbs, retired| {
            retired.push(std::mem::replace(&mut dbs[idx], Arc::new(Keyspace::new())));
        });
    }

    /// FLUSHALL.
    pub fn flush_all(&self) {
        self.replace(|dbs, retired| {
            for db in dbs.iter_mut() {
                retired.push(std::mem::replace(db, Arc::new(Keyspace::new())));
            }
        });
    }
}
