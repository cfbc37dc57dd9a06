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
//! * [`ModelDb`]: keys that are created and deleted (a cell per key stands
//!   for its skiplist entry), for RENAME against `read_many`'s check that a
//!   key it found absent stayed absent (the per-stripe creation count).
//!
//! Everything is behind `cfg(loom)`: built without `--cfg loom` this crate is
//! empty. Run the models with `scripts/loom.sh`, that is
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p ferrite-loom-tests --target-dir target/loom`.
//!
//! Loom cannot finish a spin lock with two waiters on one holder
//! (tokio-rs/loom#53); `latch::backoff` stops loom from branching once a
//! waiter has spun a few times, which prunes only executions that differ from
//! explored ones by extra re-reads of an unchanged stamp.
#![cfg(loom)]

#[path = "../../src/store/latch.rs"]
pub mod latch;

/// APPEND's in-place growth of `raw` strings (claim by compare-and-swap),
/// compiled from `src/types/` with its bytes in loom cells.
#[path = "../../src/types/raw_str.rs"]
pub mod raw_str;

/// The atomics/reclamation facade the hash table is written against; it must
/// sit at the crate root because `table.rs` says `use crate::sync::...`.
/// Under `cfg(loom)` it hands out loom's atomics and a no-op epoch.
#[path = "../../src/sync.rs"]
pub mod sync;

/// The keyspace's concurrent hash table (`src/store/table.rs`), as is.
#[path = "../../src/store/table.rs"]
pub mod table;

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

    pub fn next_version(&mut self) -> u64 {
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
            slots: keys
                .iter()
                .map(|_| ModelSlot::new(make_version(0, 1), 0, 0))
                .collect(),
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
                let held = self.slots[i]
                    .stamp
                    .latch()
                    .expect("model keys are never deleted");
                (i, held)
            })
            .collect()
    }

    /// Publishes `value` into every latched key, releasing them in the order
    /// they were latched (as dropping a `LockSet` does).
    pub fn commit_many(&self, held: Vec<(usize, Held)>, value: u64, versions: &mut Versions) {
        for (i, h) in held {
            self.slots[i].commit(h, Some(value), None, versions.next_version());
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

/// A database in which keys come and go, for the multi-key read's handling
/// of absent keys (`read_many` in `src/store/keyspace.rs`).
///
/// Each key has a cell standing for its skiplist entry: 0 = no entry, else
/// 1 + the index of its slot in an arena of fresh slots. `lock` mirrors
/// `Keyspace::lock` (latch the entry's slot, or insert a fresh latched slot
/// and count the creation), `unlink` mirrors `Locked::unlink` (clear, kill,
/// remove the entry), and creations are counted per key as the keyspace
/// counts them per hash stripe.
#[derive(Debug)]
pub struct ModelDb {
    keys: Vec<ModelKey>,
    cells: Vec<AtomicU64>,
    creations: Vec<AtomicU64>,
    arena: Vec<ModelSlot>,
    next_fresh: AtomicU64,
}

/// How a multi-key read validates the keys it found absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbsentCheck {
    /// Look again: still absent. Misses a key created and deleted in between.
    LookAgain,
    /// Look again and compare the creation count (the production check).
    CreationMark,
}

impl ModelDb {
    /// `initial[i]` is key i's value (0 = absent). `fresh` slots are
    /// available for keys created while the model runs.
    pub fn new(keys: &[ModelKey], initial: &[u64], fresh: usize) -> ModelDb {
        let mut arena = Vec::new();
        let cells = initial
            .iter()
            .map(|&v| {
                if v == 0 {
                    return AtomicU64::new(0);
                }
                arena.push(ModelSlot::new(
                    make_version(0, arena.len() as u64 + 1),
                    v,
                    0,
                ));
                AtomicU64::new(arena.len() as u64)
            })
            .collect();
        let first_fresh = arena.len();
        for i in 0..fresh {
            // Latched from birth, as `Slot::new_latched`; the latch is handed
            // to whoever inserts it (see `lock`).
            let (stamp, _held) = Stamp::new_latched(make_version(0, 100 + i as u64));
            arena.push(ModelSlot {
                stamp,
                value: AtomicU64::new(0),
                expire: AtomicU64::new(0),
            });
        }
        ModelDb {
            keys: keys.to_vec(),
            cells,
            creations: keys.iter().map(|_| AtomicU64::new(0)).collect(),
            arena,
            next_fresh: AtomicU64::new(first_fresh as u64),
        }
    }

    fn slot_of(&self, key: usize) -> Option<&ModelSlot> {
        match self.cells[key].load(Ordering::Acquire) {
            0 => None,
            c => Some(&self.arena[c as usize - 1]),
        }
    }

    /// `Keyspace::get`: the key's value if it has a slot holding one.
    pub fn get(&self, key: usize) -> Option<(u64, u64)> {
        let slot = self.slot_of(key)?;
        let ((v, _), stamp) = slot.read();
        (v != 0).then_some((v, stamp))
    }

    /// `Keyspace::stamp_of`.
    pub fn stamp_of(&self, key: usize) -> Option<u64> {
        self.slot_of(key).map(|s| s.stamp.load())
    }

    /// `Keyspace::creation_mark`.
    pub fn creation_mark(&self, key: usize) -> u64 {
        self.creations[key].load(Ordering::SeqCst)
    }

    /// `Keyspace::lock`: returns the latched slot's arena index.
    pub fn lock(&self, key: usize) -> (usize, Held) {
        let mut spins = 0;
        loop {
            let c = self.cells[key].load(Ordering::Acquire);
            if c != 0 {
                if let Some(h) = self.arena[c as usize - 1].stamp.latch() {
                    return (c as usize - 1, h);
                }
                latch::backoff(&mut spins); // dead: being unlinked, look again
                continue;
            }
            let fresh = self.next_fresh.fetch_add(1, Ordering::Relaxed) as usize;
            assert!(fresh < self.arena.len(), "model ran out of fresh slots");
            let before = self.arena[fresh].stamp.load() & !latch::LATCHED;
            if self.cells[key]
                .compare_exchange(0, fresh as u64 + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.creations[key].fetch_add(1, Ordering::SeqCst);
                return (fresh, Held { before });
            }
        }
    }

    /// `lock_many`: canonical order, each key once.
    pub fn lock_many(&self, wanted: &[usize]) -> Vec<(usize, usize, Held)> {
        let mut order = wanted.to_vec();
        order.sort_by_key(|&k| self.keys[k]);
        order.dedup();
        order
            .into_iter()
            .map(|k| {
                let (slot, held) = self.lock(k);
                (k, slot, held)
            })
            .collect()
    }

    /// `Locked::unlink`.
    pub fn unlink(&self, key: usize, slot: usize, held: Held, version: u64) {
        self.arena[slot].unlink(held, version);
        let _ = self.cells[key].compare_exchange(
            slot as u64 + 1,
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    /// RENAME: both keys latched in canonical order; the value moves, the
    /// source is unlinked; latches are released in latching order, as
    /// dropping a `LockSet` does. Returns false if the source was absent.
    pub fn rename(&self, from: usize, to: usize, versions: &mut Versions) -> bool {
        let locks = self.lock_many(&[from, to]);
        let value = |k: usize| {
            let (_, slot, h) = locks.iter().find(|(key, _, _)| *key == k).expect("latched");
            self.arena[*slot].read_latched(h).0
        };
        let moved = value(from);
        let before: Vec<u64> = locks.iter().map(|(k, _, _)| value(*k)).collect();
        for ((k, slot, held), was) in locks.into_iter().zip(before) {
            // What the key holds once the command is done (0 = absent).
            let after = match (moved, k == to) {
                (0, _) => was, // no such key: nothing changes
                (_, true) => moved,
                (_, false) => 0,
            };
            if after == 0 {
                // Deleted, or a slot the command created and left empty.
                self.unlink(k, slot, held, versions.next_version());
            } else if after == was {
                self.arena[slot].release(held);
            } else {
                self.arena[slot].commit(held, Some(after), None, versions.next_version());
            }
        }
        moved != 0
    }

    /// One optimistic attempt of `read_many`: the values read, or `None` if
    /// validation failed (production then retries, then latches).
    ///
    /// `between` runs between the steps; a model passes `yield_now` so that
    /// loom interleaves other threads there without spending preemptions.
    pub fn read_many_once(
        &self,
        wanted: &[usize],
        check: AbsentCheck,
        between: impl Fn(),
    ) -> Option<Vec<u64>> {
        let views: Vec<Option<(u64, u64)>> = wanted
            .iter()
            .map(|&k| {
                let v = self.get(k);
                between();
                v
            })
            .collect();
        let mut marks = Vec::new();
        for (&k, v) in wanted.iter().zip(&views) {
            if v.is_none() {
                marks.push(self.creation_mark(k));
                if self.get(k).is_some() {
                    return None;
                }
                between();
            }
        }
        let mut marks = marks.into_iter();
        for (&k, v) in wanted.iter().zip(&views) {
            let ok = match v {
                Some((_, stamp)) => self.stamp_of(k) == Some(*stamp),
                None => {
                    let mark = marks.next();
                    check == AbsentCheck::LookAgain || mark == Some(self.creation_mark(k))
                }
            };
            if !ok {
                return None;
            }
        }
        Some(views.into_iter().map(|v| v.map_or(0, |(v, _)| v)).collect())
    }
}
