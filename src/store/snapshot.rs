//! Point-in-time snapshots of every database, without fork and without
//! stopping writers: what RDB saves, AOF rewrites and replica full syncs will
//! serialize.
//!
//! Versions are unique per thread but not ordered, so a snapshot cannot ask
//! "is this write older than me". It uses a generation instead (DESIGN.md,
//! "Snapshots"):
//!
//! 1. **Start.** Every table is frozen (a running resize is finished, none
//!    starts), so bucket indexes are stable. The generation G is bumped and
//!    the phase set to DRAINING in one store.
//! 2. **Drain.** Every commit happens inside its thread's *gate*: it records
//!    the generation word it read in the gate and publishes all its keys
//!    (one, or all of a multi-key command's) under that one word. The start
//!    waits until no gate holds an older word, so every commit under G-1 has
//!    finished publishing, and every later one sees G. Then the phase
//!    becomes ACTIVE.
//! 3. **Hand-over.** A writer that read G (and ACTIVE) serializes its key's
//!    bucket before publishing anything: under the bucket latch, the bucket's
//!    current entries (still as they were at the cut, since every writer of
//!    the bucket does the same first) go to the snapshot and the bucket's
//!    mark flips to G's parity. One load of the mark when it was already done.
//! 4. **Walk.** The snapshot walks every bucket in index order and serializes
//!    the ones not yet marked, re-pinning every few hundred buckets. Writers
//!    never wait for it, except for the short drain.
//!
//! The result is a consistent cut: every command that read G-1 is in it,
//! none that read G is. A command that read G-1 precedes, on every key it
//! shares with a command that read G, that command (their latches order them
//! and G only grows). No record is torn: the walk starts after every commit
//! under G-1 has left its gate, and a commit under G hands the bucket over
//! before publishing (loom models `snapshot_never_holds_half_an_mset`,
//! `snapshot_never_reorders_two_sets`, `snapshot_record_of_a_set_in_flight_is_whole`).
//!
//! Values are copied into records (strings are small or share their buffer;
//! a collection's copy shares its persistent tree, O(1), and a later
//! in-place change of the live value then copies the paths it changes
//! instead of writing nodes the record shares), see docs/ARCHITECTURE.md.

use super::keyspace::{Keyspace, Node};
use crate::sync::{
    self as epoch, broken, seq_cst_store_load, spin_wait, AtomicU64, Guard, Ordering,
};
use crate::types::Value;
use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// Deliberately broken variants of the snapshot protocol, for the negative
/// controls in `loom-tests/tests/snapshot.rs` (each makes the model fail).
/// Only under `cfg(loom)`; in the server `broken!` is the constant `false`.
/// (Commits outside the gate: `keyspace::loom_breaks`.)
#[cfg(loom)]
pub mod loom_breaks {
    use std::sync::atomic::AtomicBool;

    /// A writer publishes without handing its bucket's cut state over.
    pub static WRITERS_SKIP_HANDOVER: AtomicBool = AtomicBool::new(false);
    /// The start goes from DRAINING to ACTIVE without waiting for the gates
    /// of commits that entered under the old generation.
    pub static START_SKIPS_DRAIN: AtomicBool = AtomicBool::new(false);
    /// Entering a gate this thread already holds stores the word read now
    /// instead of keeping the one it holds.
    pub static GATE_REENTRY_TAKES_NEW_WORD: AtomicBool = AtomicBool::new(false);
}

const IDLE: u64 = 0;
const DRAINING: u64 = 1;
const ACTIVE: u64 = 2;
/// A gate is held (bit 63) with the word read (low bits).
const IN_GATE: u64 = 1 << 63;
/// Buckets the walk serializes per pin.
const WALK_BUCKETS: usize = 256;

/// One key as the snapshot saw it.
#[derive(Debug, Clone)]
pub struct Record {
    /// Database index at the snapshot's start.
    pub db: usize,
    pub key: Bytes,
    pub value: Value,
    /// Absolute expiry in ms, 0 = none.
    pub expire: u64,
}

/// The snapshot state shared by a store's keyspaces.
#[derive(Default)]
pub struct SnapshotState {
    /// `generation << 2 | phase`.
    word: AtomicU64,
    /// The running snapshot's hand-over queue and its keyspaces.
    sink: Mutex<Option<Arc<Sink>>>,
    /// One snapshot at a time.
    running: Mutex<()>,
}

struct Sink {
    /// (keyspace id, db index) of every database in the snapshot.
    members: Vec<(u64, usize)>,
    records: Mutex<Vec<Record>>,
}

impl Sink {
    fn db_of(&self, ks: &Keyspace) -> Option<usize> {
        self.members
            .iter()
            .find(|(id, _)| *id == ks.id())
            .map(|(_, db)| *db)
    }
}

fn record(db: usize, node: &Node, guard: &Guard) -> Option<Record> {
    // The bucket is latched and not yet serialized, so no writer has
    // published to this slot since the cut (each would have serialized the
    // bucket first): the raw fields are the cut's, without the seqlock (whose
    // holder may be waiting for this very bucket).
    let v = node.slot.value.load(Ordering::SeqCst, guard);
    // Loaded under `guard`, and values are retired through the epoch. A
    // value changed in place (tagged) is not being changed now: its latch
    // holder changes it only inside its gate after handing this bucket over
    // (`Locked::update`), so such a change either ended before the drain
    // let this snapshot start, or waits for this bucket's latch, held here.
    // SAFETY: so the value is alive and nobody writes it while we copy it.
    let value = unsafe { v.as_ref() }?;
    Some(Record {
        db,
        key: bytes::Bytes::copy_from_slice(node.key()),
        value: value.clone(),
        expire: node.slot.expire.load(Ordering::Acquire),
    })
}

impl SnapshotState {
    /// The generation word, read by every commit (sequentially consistent:
    /// see the module comment).
    pub fn word(&self) -> u64 {
        self.word.load(Ordering::SeqCst)
    }

    /// Before a write to `hash` in `ks` committed under `word` (the word its
    /// gate holds) is published: hands the bucket's cut state to the
    /// snapshot if one is running and nobody has yet.
    ///
    /// A commit belongs to the generation it entered its gate under: once
    /// that snapshot is over (or, for an older generation, the next one's
    /// drain is waiting for it), it hands nothing over and must not wait for
    /// a later phase. Under the bucket latch the word is re-checked: while
    /// the latch is held on a bucket not yet marked for snapshot G, G's walk
    /// cannot finish, so a word still equal there means G is still running.
    pub fn before_write(&self, word: u64, ks: &Keyspace, hash: u64, guard: &Guard) {
        if broken!(WRITERS_SKIP_HANDOVER) {
            return;
        }
        let mut word = word;
        let mut spins = 0;
        loop {
            match word & 3 {
                IDLE => return,
                DRAINING => {
                    // The drain does not wait for a gate entered under its
                    // own generation: wait for it to end, then hand over.
                    spin_wait(&mut spins);
                    let now = self.word();
                    if now >> 2 != word >> 2 {
                        return;
                    }
                    word = now;
                    continue;
                }
                _ => {}
            }
            let parity = (word >> 2) & 1 == 1;
            let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let Some(sink) = sink else {
                // Cleared only after the word went IDLE: this generation is
                // over.
                return;
            };
            // A database created after the start (FLUSHDB) is not in this
            // snapshot: its buckets are marked, nothing recorded.
            let db = sink.db_of(ks);
            // Records go into the queue before the bucket's latch is
            // released: the walk may see the mark only after that, so its
            // final drain of the queue cannot miss them.
            let done = ks.table().serialize_bucket_of(
                hash,
                parity,
                guard,
                || self.word() == word,
                |node| {
                    if let Some(r) = db.and_then(|db| record(db, node, guard)) {
                        sink.records
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(r);
                    }
                },
            );
            if done || self.word() != word {
                return;
            }
        }
    }
}

/// The gate every commit publishes inside (see the module comment).
pub mod gate {
    use super::*;

    #[repr(align(128))]
    #[derive(Default)]
    pub(super) struct Gate(pub(super) AtomicU64);

    /// Every thread's gate (the drain checks them all).
    #[cfg(not(loom))]
    pub(super) static GATES: Mutex<Vec<Arc<Gate>>> = Mutex::new(Vec::new());
    // Under loom, one list per execution (the gates hold loom atomics),
    // behind loom's mutex: a gate made on one thread and loaded by a drain
    // on another is ordered by the list's lock, which loom must see.
    #[cfg(loom)]
    loom::lazy_static! {
        pub(super) static ref GATES: loom::sync::Mutex<Vec<Arc<Gate>>> =
            loom::sync::Mutex::new(Vec::new());
    }

    /// This thread's gate, and how many times it is entered: a latch that
    /// changed a value in place holds the gate from that change to its
    /// commit, and the command's other commits (a multi-key command's
    /// `LockSet`, the other keys of a run or transaction) enter it again
    /// and commit under the same word (see `Locked::update`).
    struct Local(Arc<Gate>, std::cell::Cell<usize>);

    impl Drop for Local {
        fn drop(&mut self) {
            // A failing loom model drops its threads' locals after the
            // execution, where loom atomics cannot be touched.
            #[cfg(loom)]
            if std::thread::panicking() {
                return;
            }
            self.0 .0.store(0, Ordering::SeqCst);
        }
    }

    crate::sync::thread_local! {
        static LOCAL: Local = {
            let g = Arc::new(Gate::default());
            GATES.lock().unwrap_or_else(|e| e.into_inner()).push(g.clone());
            Local(g, std::cell::Cell::new(0))
        };
    }

    /// Enters this thread's gate; returns the word to commit under. Entered
    /// again while held, it returns the word it holds: everything one
    /// command (or run, or transaction) publishes inside the gate goes
    /// under one word, so a snapshot's cut never falls between its keys.
    pub fn enter(state: &SnapshotState) -> u64 {
        LOCAL.with(|l| {
            let depth = l.1.get();
            l.1.set(depth + 1);
            if depth > 0 && !broken!(GATE_REENTRY_TAKES_NEW_WORD) {
                // Our own store: no other thread writes this gate.
                return l.0 .0.load(Ordering::Relaxed) & !IN_GATE;
            }
            loop {
                let w = state.word();
                l.0 .0.store(w | IN_GATE, Ordering::SeqCst);
                // Against the start's store of the word and load of the gates.
                seq_cst_store_load();
                if state.word() == w {
                    return w;
                }
            }
        })
    }

    /// Leaves the gate (its outermost entry empties it). Release: a drain
    /// that sees it empty sees the commit's publishes.
    pub fn exit() {
        LOCAL.with(|l| {
            let depth = l.1.get() - 1;
            l.1.set(depth);
            if depth == 0 {
                l.0 .0.store(0, Ordering::Release);
            }
        });
    }
}

/// A running snapshot of every database. Call [`Snapshot::next_batch`] until
/// it returns `None`; dropping it early still completes the protocol (the
/// remaining buckets are marked, not copied).
pub struct Snapshot<'s> {
    state: &'s SnapshotState,
    sink: Arc<Sink>,
    dbs: Vec<Arc<Keyspace>>,
    parity: bool,
    db: usize,
    bucket: usize,
    done: bool,
    _running: std::sync::MutexGuard<'s, ()>,
}

impl<'s> Snapshot<'s> {
    /// Starts a snapshot of `dbs` (index = database number); returns once
    /// the cut is taken (the drain is over). Another snapshot waits.
    pub fn start(state: &'s SnapshotState, dbs: Vec<Arc<Keyspace>>) -> Snapshot<'s> {
        let running = state.running.lock().unwrap_or_else(|e| e.into_inner());
        {
            let guard = epoch::pin();
            for ks in &dbs {
                ks.table().freeze(&guard);
            }
        }
        let sink = Arc::new(Sink {
            members: dbs.iter().enumerate().map(|(i, ks)| (ks.id(), i)).collect(),
            records: Mutex::new(Vec::new()),
        });
        *state.sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink.clone());
        let old = state.word();
        let gen = (old >> 2) + 1;
        state.word.store(gen << 2 | DRAINING, Ordering::SeqCst);
        // Against a gate's store and its load of the word (`gate::enter`).
        seq_cst_store_load();
        // Wait out every commit that entered under an older
        // generation (whatever its phase). Gates hold words of any store, so
        // an unrelated store's commit may be waited for too: harmless.
        let gates: Vec<Arc<gate::Gate>> = gate::GATES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let gates = if broken!(START_SKIPS_DRAIN) {
            Vec::new()
        } else {
            gates
        };
        for g in gates {
            let mut spins = 0;
            loop {
                let held = g.0.load(Ordering::SeqCst);
                if held & IN_GATE == 0 || (held & !IN_GATE) >> 2 >= gen {
                    break;
                }
                spin_wait(&mut spins);
            }
        }
        state.word.store(gen << 2 | ACTIVE, Ordering::SeqCst);
        Snapshot {
            state,
            sink,
            dbs,
            parity: gen & 1 == 1,
            db: 0,
            bucket: 0,
            done: false,
            _running: running,
        }
    }

    /// The next records, or `None` when every database has been walked.
    /// Each call serializes a few hundred buckets under one pin.
    pub fn next_batch(&mut self) -> Option<Vec<Record>> {
        if self.done {
            return None;
        }
        let mut out = Vec::new();
        self.walk(WALK_BUCKETS, |r| out.push(r));
        out.append(&mut self.sink.records.lock().unwrap_or_else(|e| e.into_inner()));
        if self.db == self.dbs.len() {
            self.finish();
            if out.is_empty() {
                return None;
            }
        }
        Some(out)
    }

    /// Serializes up to `budget` buckets from where the walk stands.
    fn walk(&mut self, budget: usize, mut emit: impl FnMut(Record)) {
        let guard = epoch::pin();
        let mut left = budget;
        while self.db < self.dbs.len() && left > 0 {
            let ks = &self.dbs[self.db];
            let table = ks.table();
            let n = table.bucket_count(&guard);
            while self.bucket < n && left > 0 {
                let db = self.db;
                table.serialize_bucket_at(self.bucket, self.parity, &guard, |node| {
                    if let Some(r) = record(db, node, &guard) {
                        emit(r);
                    }
                });
                self.bucket += 1;
                left -= 1;
            }
            if self.bucket == n {
                self.db += 1;
                self.bucket = 0;
            }
        }
    }

    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        // IDLE first, then the queue goes: a writer that finds no queue
        // re-reads the word and sees IDLE.
        let gen = self.state.word() >> 2;
        self.state.word.store(gen << 2 | IDLE, Ordering::SeqCst);
        *self.state.sink.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let guard = epoch::pin();
        for ks in &self.dbs {
            ks.table().thaw(self.parity, &guard);
        }
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // A model that failed inside the walk (a loom cell's causality
        // check, in a record's copy) unwinds with a bucket latch held:
        // finishing the walk would wait for it forever.
        #[cfg(loom)]
        if std::thread::panicking() {
            return;
        }
        // Every bucket must carry this snapshot's mark before the next one
        // starts (a mark is one parity bit), so finish the walk, discarding.
        while self.db < self.dbs.len() {
            self.walk(WALK_BUCKETS, |_| {});
        }
        self.finish();
    }
}
