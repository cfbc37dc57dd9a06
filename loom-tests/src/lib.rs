//! Loom models of Ferrite's slot protocol.
//!
//! The models check the production latch and stamp code itself: `latch.rs` is
//! compiled into this crate from `src/store/`, where `cfg(loom)` swaps its
//! atomics for loom's. On top of it this crate builds the smallest pieces of
//! the keyspace that the protocol needs to be meaningful:
//!
//! * [`ModelSlot`]: a stamp plus two atomic words standing for the value
//!   pointer and the expiry, read and written with exactly the orderings of
//!   `src/store/slot.rs` and `Locked::commit` in `src/store/keyspace.rs`.
//!   Values are plain integers: reclaiming replaced values is crossbeam-epoch's
//!   job, not this protocol's.
//! * [`ModelKeyspace`]: a fixed set of keys with a multi-key latcher that
//!   latches in canonical (hash, bytes) order, and the optimistic multi-key
//!   read with latching fallback of `read_many`.
//!
//! Everything is behind `cfg(loom)`: built without `--cfg loom` this crate is
//! empty. Run the models with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p ferrite-loom-tests --target-dir target/loom`.
#![cfg(loom)]

#[path = "/tmp/mut/latch.rs"]
pub mod latch;

use latch::{make_version, Held, Stamp};
use loom::sync::atomic::{AtomicU64, Ordering};

/// One key's slot, as `src/store/slot.rs` lays it out.
#[derive(Debug)]
pub struct ModelSlot {
    pub stamp: Stamp,
    /// Stands for the epoch-managed value pointer (0 = null: no value).
    pub value: AtomicU64,
    /// Absolute expiry, 0 = persistent.
    pub expire: AtomicU64,
}

impl ModelSlot {
    /// A published slot holding `value` with `expire`, at `version`.
    pub fn new(version: u64, value: u64, expire: u64) -> ModelSlot {
        ModelSlot {
            stamp: Stamp::new(version),
            value: AtomicU64::new(value),
            expire: AtomicU64::new(expire),
        }
    }

    /// `Slot::read`: (value, expire) under the sequence lock, with the stamp
    /// they were read at.
    pub fn read(&self) -> ((u64, u64), u64) {
        self.stamp.read_consistent(|| {
            (
                self.value.load(Ordering::Acquire),
                self.expire.load(Ordering::Acquire),
            )
        })
    }

    /// What `Locked::new` reads once the latch is held.
    pub fn read_latched(&self, _held: &Held) -> (u64, u64) {
        (
            self.value.load(Ordering::Acquire),
            self.expire.load(Ordering::Acquire),
        )
    }

    /// `Locked::commit` for a key that stays present: swap the value in,
    /// store the expiry if it changed, release with a fresh version.
    pub fn commit(&self, held: Held, value: Option<u64>, expire: Option<u64>, version: u64) {
        if let Some(v) = value {
            self.value.swap(v, Ordering::AcqRel);
        }
        if let Some(e) = expire {
            if e != self.expire.load(Ordering::Relaxed) {
                self.expire.store(e, Ordering::Release);
            }
        }
        self.stamp.unlatch(held, Some(version));
    }

    /// `Locked::unlink`: clear the value, then mark the slot dead and release
    /// it in one store. Returns the value the slot held.
    pub fn unlink(&self, held: Held, version: u64) -> u64 {
        let old = self.value.swap(0, Ordering::AcqRel);
        self.stamp.kill(held, version);
        old
    }

    /// Release without a change (the command wrote nothing).
    pub fn release(&self, held: Held) {
        self.stamp.unlatch(held, None);
    }
}

/// Versions of one modelled thread: its id and its own counter, as
/// `latch::next_version` does with a thread-local.
#[derive(Debug)]
pub struct Versions {
    pub thread: u64,
    pub counter: u64,
}

impl Versions {
    pub fn new(thread: u64) -> Versions {
        Versions { thread, counter: 0 }
    }

    pub fn next(&mut self) -> u64 {
        self.counter += 1;
        make_version(self.thread, self.counter)
    }
}

/// A key as the keyspace orders it: by hash, then by bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ModelKey {
    pub hash: u64,
    pub bytes: &'static [u8],
}

/// A database with a fixed set of keys (the map itself is crossbeam's
/// skiplist, which is not what these models check).
#[derive(Debug)]
pub struct ModelKeyspace {
    keys: Vec<ModelKey>,
    slots: Vec<ModelSlot>,
}

impl ModelKeyspace {
    /// Every key starts present with value 0, no expiry, at version `1`.
    pub fn new(keys: &[ModelKey]) -> ModelKeyspace {
        ModelKeyspace {
            keys: keys.to_vec(),
            slots: keys.iter().map(|_| ModelSlot::new(make_version(0, 1), 0, 0)).collect(),
        }
    }

    pub fn slot(&self, idx: usize) -> &ModelSlot {
        &self.slots[idx]
    }

    /// `lock_many`: latches the requested keys (indexes into the key list) in
    /// canonical order, each once, whatever order the caller named them in.
    /// Returns (index, latch) pairs in latching order.
    pub fn latch_many(&self, wanted: &[usize]) -> Vec<(usize, Held)> {
        let mut order: Vec<usize> = wanted.to_vec();
        order.sort_by_key(|&i| self.keys[i]);
        order.dedup();
        order
            .into_iter()
            .map(|i| {
                let held = self.slots[i].stamp.latch().expect("model keys are never deleted");
                (i, held)
            })
            .collect()
    }

    /// Publishes `value` into every latched key, releasing them in the order
    /// they were latched (as dropping a `LockSet` does).
    pub fn commit_many(&self, held: Vec<(usize, Held)>, value: u64, versions: &mut Versions) {
        for (i, h) in held {
            self.slots[i].commit(h, Some(value), None, versions.next());
        }
    }

    /// `read_many`: optimistic reads validated by re-reading every stamp; after
    /// `attempts` failures, latch them all and read under the latches.
    pub fn read_many(&self, wanted: &[usize], attempts: usize) -> Vec<u64> {
        for _ in 0..attempts {
            let views: Vec<(u64, u64)> = wanted
                .iter()
                .map(|&i| {
                    let ((v, _), s) = self.slots[i].read();
                    (v, s)
                })
                .collect();
            let stable = wanted
                .iter()
                .zip(&views)
                .all(|(&i, &(_, s))| self.slots[i].stamp.load() == s);
            if stable {
                return views.into_iter().map(|(v, _)| v).collect();
            }
        }
        let held = self.latch_many(wanted);
        let values = wanted
            .iter()
            .map(|&i| {
                let (_, h) = held.iter().find(|(j, _)| *j == i).expect("latched");
                self.slots[i].read_latched(h).0
            })
            .collect();
        for (i, h) in held {
            self.slots[i].release(h);
        }
        values
    }
}
