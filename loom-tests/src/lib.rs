//! Loom models of Ferrite's store, run on the store's own code.
//!
//! This crate compiles `src/store/` as it is (`#[path]` to
//! `src/store/mod.rs`: the table, slots, latches, keyspace, multi-key
//! latching and reads, expiry index, snapshots), with `src/sync.rs`, APPEND's
//! `src/types/raw_str.rs` and `src/util/time.rs`. Nothing of the protocols
//! is copied. Built with `--cfg loom`:
//!
//! * `crate::sync` hands out loom's atomics, so every ordering loom checks is
//!   the one written in the store. Its epoch pointers (`Atomic`, `Owned`,
//!   `Shared`, `Guard`, `pin`) are a thin wrapper over a loom `AtomicPtr`
//!   with crossbeam-epoch's API, and reclamation is a no-op: retired values
//!   and nodes are leaked for the length of a model, so no pointer a model
//!   holds can dangle (see "Reclamation" below).
//! * Thread-locals that protocols share across threads are loom's, one per
//!   modelled thread and execution: the snapshot gates (`snapshot::gate`,
//!   their registry a loom `lazy_static`) and the reclamation counters.
//!   Versions (`latch::next_version`) are a std thread-local counter: loom
//!   runs every modelled thread on one OS thread, so that is one counter and
//!   its versions are unique, as the server's are; the shared part of
//!   making versions, `latch::ThreadIds`, has a model of its own.
//! * Small tables, stripes and chunks (`MIGRATE_CHUNK`, `STRIPES`), one
//!   optimistic attempt in `read_many` before it latches, a fixed hash seed
//!   (`key::hash_key`, so which buckets and stripes the models' keys share
//!   does not change between runs), and `sync::model_yield` /
//!   `sync::seq_cst_store_load`, which are nothing in the server (below).
//! * Each protocol file has a `loom_breaks` module of deliberately broken
//!   variants (`table`, `latch`, `keyspace`, `snapshot`), switched by the
//!   negative controls; outside `cfg(loom)` they do not exist and
//!   `sync::broken!` is the constant `false`.
//!
//! The store's value type is the one thing not compiled from `src/`:
//! [`types::Value`] holds an integer in a loom cell (no protocol looks inside
//! a value, but a model fails if a read overlaps a write of a value changed
//! in place), and says whether the store changes it in place.
//!
//! # Models and their negative controls
//!
//! Every protocol has a negative control that switches on one break and
//! makes its model fail (`#[should_panic]` with the model's own message):
//!
//! | model (`tests/`) | checks | negative control |
//! |---|---|---|
//! | `table`: insert and lookup racing a grow / a shrink | a key present throughout is found, nothing is inserted twice | `WRITERS_SKIP_OLD_BUCKET`: duplicate |
//! | `table`: delete racing a grow / a shrink | a removed key is gone, the others stay | `FIND_IGNORES_MOVED`: removed key still found |
//! | `table`: create vs delete of one key (also during a grow) | at most one entry, counts add up | `INSERT_CHECKS_UNLATCHED`: duplicate |
//! | `table`: SCAN across a grow / a shrink | every key present throughout is returned | `SCAN_SKIPS_SMALL_BUCKET`, `SCAN_READS_NEXT_FIRST`: key missed |
//! | `slot`: two and three writers increment one key (`Keyspace::lock`) | no lost update | `latch::LATCH_BY_LOAD_AND_STORE` |
//! | `slot`: reader vs writer of (value, deadline) (`Keyspace::get`) | no torn pair; the stamp identifies the pair; a no-op latch keeps it | `latch::READ_SKIPS_RECHECK` |
//! | `slot`: versions from `ThreadIds` (ids reused after a thread exits) | no version made twice | `latch::REUSED_ID_RESTARTS_COUNTER` |
//! | `keyspace`: create vs delete of one key (a writer that abandons the node it created vs SET) | the SET is never lost, no node left behind | `latch::KILL_LEAVES_SLOT_LIVE` |
//! | `keyspace`: DEL vs SET of one key | the end state is the one their order says | `latch::KILL_LEAVES_SLOT_LIVE` |
//! | `keyspace`: lazy expiry (`get` finds the key expired, deletes it through `lock_existing`) vs SET of a new value | the new value is never lost; the expired one never returned | `keyspace::LAZY_EXPIRY_SKIPS_RECHECK` |
//! | `multikey`: MSETs naming two keys in opposite orders (`lock_many`) | no deadlock; last writer wins on both | `keyspace::LOCK_MANY_IN_REQUEST_ORDER`: deadlock |
//! | `multikey`: MGET vs MSET (`read_many`, optimistic and latching) | never half an MSET | `keyspace::READ_MANY_SKIPS_VALIDATION` |
//! | `multikey`: EXISTS a b vs RENAME b a, a b, b a | the value is seen under exactly one name | `keyspace::READ_MANY_LOOKS_AGAIN` (no creation counts) |
//! | `snapshot`: snapshot vs an MSET keeping two keys equal | never an unequal pair, each key once | `snapshot::WRITERS_SKIP_HANDOVER`, `keyspace::COMMIT_WITHOUT_GATE`, `snapshot::START_SKIPS_DRAIN` |
//! | `snapshot`: snapshot vs SET a then SET b on one thread (single-key commits) | never the new b with the old a | `snapshot::WRITERS_SKIP_HANDOVER` |
//! | `snapshot`: snapshot vs a SET of a value and a deadline | the record is the old or the new pair, never torn | `keyspace::SINGLE_KEY_WITHOUT_GATE` |
//! | `waiters`: a blocker, a pusher and a popper on one list (BLPOP's park and the push's serve under the key's latch) | the element ends in exactly one place; no waiter left beside an element; a waiter parked before the push is served first | — |
//! | `waiters`: a waiter cancelling (timeout) while a push serves it | never swallows an element | `waiters::CLAIM_IGNORES_CANCEL` |
//! | `waiters`: two waiters in order, the second cancelling | the first is served | — |
//! | `in_place`: a reader (as `Keys::read`: lock-free view, latch for a tagged value) vs two in-place increments | no access overlaps a write (loom cell); reads in order, none lost | `keyspace::VIEW_READS_IN_PLACE` |
//! | `in_place`: a snapshot vs two single-key in-place increments | the walk never copies the value while it changes | `keyspace::IN_PLACE_OUTSIDE_THE_GATE` |
//! | `in_place`: a snapshot vs one command changing `a` in place and setting `b` | never half the command | `snapshot::GATE_REENTRY_TAKES_NEW_WORD` |
//! | `multikey`: two transactions that each try-latch the other's key, abandon and retry with both latched (as EXEC) | no deadlock; an abandoned round publishes nothing; each increments both keys once | `keyspace::ABANDON_PUBLISHES` |
//! | `world`: a batch vs a transaction running alone; two stoppers inside batches | never at once (loom cell); both finish | `world::STOP_SKIPS_WAIT` |
//! | `watch`: WATCH of an absent key vs a SET creating it | WATCH sees it or the creation is counted | `watch::REGISTER_WITHOUT_FENCE` |
//! | `kill`: SCRIPT KILL vs a busy script's next write (`src/scripting/kill_word.rs`) | a kill that succeeds never follows a write; exactly one wins | `kill_word::KILL_BY_LOAD_AND_STORE` |
//! | `raw_str`: APPEND's claim of spare bytes | no byte written twice or read while written | (loom cells; see `tests/raw_str.rs`) |
//!
//! A deadlock shows as loom's "maximum number of branches": both threads
//! spin on each other's latch until loom gives up on the execution.
//!
//! # What loom needs, and where the models are bounded
//!
//! * **`SeqCst` accesses.** Loom treats them as `AcqRel` (its README,
//!   tokio-rs/loom#180), so the store-buffering patterns of the snapshot
//!   protocol showed torn snapshots that `SeqCst` rules out: a multi-key
//!   commit stores its gate then loads the word while the start stores the
//!   word then loads the gates, and a commit publishes a value then a later
//!   commit loads the word while the walk loads the value after the start's
//!   store. `sync::seq_cst_store_load` puts a `fence(SeqCst)`, which loom
//!   models, between each such store and load under loom, and is nothing in
//!   the server. (The second pattern also showed that the value swaps must
//!   be `SeqCst`, not `AcqRel`, for the C++ model to forbid the outcome; they
//!   now are, which compiles to the same instructions on x86-64 and AArch64.)
//! * **Readers after writers.** Loom 0.7.2 keeps one last access per atomic
//!   (tokio-rs/loom#166), so models spawn the threads that only read after
//!   the writers and leave the main thread the set-up and the final checks
//!   (`tests/table.rs` explains why); `patches/` has a loom fix to
//!   cross-check them.
//! * **Spin loops** must yield to the model checker: waits on a latch go
//!   through `latch::backoff`, which stops branching after a few spins
//!   (tokio-rs/loom#53). Modelling the keyspace found that a writer meeting
//!   a dead slot (being unlinked) looked the key up again in a loop without
//!   any pause; it now backs off like any other latch wait.
//! * **Preemptions.** `LOOM_MAX_PREEMPTIONS=3` (`scripts/loom.sh`), except
//!   the rename storm, which needs three renames between the steps of one
//!   optimistic read: `read_many` yields between its steps under loom
//!   (`sync::model_yield`), so renames fall between them for free, and the
//!   model runs with one preemption anywhere besides (about a million
//!   executions; two preemptions take over five minutes).
//!
//! # Reclamation: crossbeam-epoch's `crossbeam_loom`, and seize
//!
//! With `--cfg crossbeam_loom` as well (`RUSTFLAGS="--cfg loom --cfg
//! crossbeam_loom"`, another target dir), the facade uses crossbeam-epoch
//! itself, built against loom (this crate enables its `loom` feature, which
//! does nothing without that cfg), and the models build and run: pins,
//! retirement and frees are then loom operations. It is not usable as a
//! check, for four reasons found running it:
//!
//! * The state space explodes: two writers incrementing one key take
//!   2,420,012 executions (218 s) instead of 72; the torn-pair model 29,824
//!   at one preemption against 427 at three; the create-vs-delete
//!   (`keyspace`) and torn-pair (`slot`) models at three preemptions did not
//!   finish in 400 s.
//! * The snapshot and MGET models fail loom's determinism check ("Reached
//!   unexpected exploration state").
//! * A model that fails aborts the process (crossbeam-epoch's thread-local
//!   handle is torn down outside the model while unwinding), so negative
//!   controls cannot run.
//! * Even when a free runs inside the model, loom does not see a use after
//!   it: values and nodes are plain memory (the loom atomics in a freed node
//!   keep their state in loom's own store), so a premature free would be
//!   undefined behaviour in the test, not a model failure, unless the
//!   freed memory held loom cells.
//!
//! seize, the other candidate, is no better: its recent sources
//! (`src/raw/collector.rs`) use std's atomics and process-wide memory
//! barriers (membarrier, or a heavy fence) directly, which loom cannot
//! model; only its early 0.1 versions had a `cfg(loom)` switch. So these models
//! check the protocols with reclamation as a no-op, and that the store
//! never frees what a pinned reader can reach remains checked by miri
//! (`scripts/miri.sh`) and by the `unsafe` code's review.
//!
//! Everything is behind `cfg(loom)`: built without `--cfg loom` this crate is
//! empty. Run the models with `scripts/loom.sh`, that is
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p ferrite-loom-tests --target-dir target/loom`
//! (add `-- --nocapture` to see each model's executions and time).
#![cfg(loom)]

/// The atomics/reclamation facade the store is written against
/// (`src/sync.rs`); under `cfg(loom)` it hands out loom's atomics and
/// thread-locals, and a loom-backed epoch pointer that reclaims nothing.
#[path = "../../src/sync.rs"]
pub mod sync;

/// The store (`src/store/`), as is: table, slots, latches, keyspace,
/// multi-key latching and reads, expiry, snapshots.
#[path = "../../src/store/mod.rs"]
pub mod store;

pub use store::{keyspace, latch, snapshot, table};

/// The word SCRIPT KILL and a busy script decide through
/// (`src/scripting/kill_word.rs`).
#[path = "../../src/scripting/kill_word.rs"]
pub mod kill_word;

/// APPEND's in-place growth of `raw` strings (claim by compare-and-swap),
/// compiled from `src/types/` with its bytes in loom cells.
#[path = "../../src/types/raw_str.rs"]
pub mod raw_str;

/// What the store needs of `src/types/`: a value type.
pub mod types {
    use loom::cell::UnsafeCell;

    /// A value stored under a key: an integer in a loom cell, so that a
    /// model fails if anyone reads it while a writer changes it in place
    /// (or two change it at once), and whether the store changes it in
    /// place (as the server's large collections) or copy-on-write.
    pub struct Value {
        n: UnsafeCell<u64>,
        in_place: bool,
    }

    impl Value {
        /// A copy-on-write value (as a string).
        pub fn new(n: u64) -> Value {
            Value {
                n: UnsafeCell::new(n),
                in_place: false,
            }
        }

        /// A value the store changes in place once published (as a large
        /// set).
        pub fn in_place(n: u64) -> Value {
            Value {
                n: UnsafeCell::new(n),
                in_place: true,
            }
        }

        /// Reads the integer (a read of the cell, checked by loom).
        pub fn get(&self) -> u64 {
            // SAFETY: loom checks that no write overlaps this read.
            self.n.with(|p| unsafe { *p })
        }

        /// Writes the integer (a write of the cell, checked by loom).
        pub fn set(&mut self, n: u64) {
            // SAFETY: `&mut self`; loom checks that no access overlaps.
            self.n.with_mut(|p| unsafe { *p = n })
        }

        /// As the server's `Value::type_name`.
        pub fn type_name(&self) -> &'static str {
            if self.in_place {
                "set"
            } else {
                "string"
            }
        }

        /// As the server's `Value::type_name_of_tag`.
        pub fn type_name_of_tag(_tag: usize) -> &'static str {
            "set"
        }

        /// As the server's `Value::kind_tag`: a set's code for in-place
        /// values, 0 for the others.
        pub fn kind_tag(&self) -> usize {
            if self.in_place {
                2
            } else {
                0
            }
        }

        /// As the server's `Value::in_place_tag`.
        pub fn in_place_tag(&self) -> usize {
            self.kind_tag()
        }

        /// As the server's `Value::retained_bytes` (reclamation statistics).
        pub fn retained_bytes(&self) -> usize {
            std::mem::size_of::<Value>()
        }

        /// As the server's `Value::is_large`: no model value is.
        pub fn is_large(&self) -> bool {
            false
        }

        /// As the server's `Value::is_large_dropped`: no model value is.
        pub fn is_large_dropped(&self) -> bool {
            false
        }

        /// As the server's `Value::shares_lineage`: model values share nothing.
        pub fn shares_lineage(&self, _new: &Value) -> bool {
            false
        }
    }

    // Shared between threads as the server's values are: loom's cell
    // checks every access, which is what the models are for.
    // SAFETY: a concurrent unsynchronized access fails the model.
    unsafe impl Sync for Value {}

    /// A copy reads the cell (as a snapshot's record copies a value).
    impl Clone for Value {
        fn clone(&self) -> Value {
            Value {
                n: UnsafeCell::new(self.get()),
                in_place: self.in_place,
            }
        }
    }

    impl PartialEq for Value {
        fn eq(&self, other: &Value) -> bool {
            self.get() == other.get() && self.in_place == other.in_place
        }
    }

    impl Eq for Value {}

    impl std::fmt::Debug for Value {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Value({}, in_place: {})", self.get(), self.in_place)
        }
    }
}

/// What the store needs of `src/util/`.
pub mod util {
    pub use super::util_time as time;
}

#[doc(hidden)]
#[path = "../../src/util/time.rs"]
pub mod util_time;

/// Running models: execution counts, and negative controls that switch a
/// process-wide `loom_breaks` knob.
pub mod harness {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, PoisonError, RwLock};

    /// Positive models run under the read half, negative controls (which
    /// switch a process-wide knob) under the write half.
    static KNOBS: RwLock<()> = RwLock::new(());

    /// Runs a model with every protocol intact.
    pub fn model(f: impl Fn() + Sync + Send + 'static) {
        let _shared = KNOBS.read().unwrap_or_else(PoisonError::into_inner);
        explore(None, f);
    }

    /// [`model`] with at most `preemptions` preemptions per execution,
    /// whatever `LOOM_MAX_PREEMPTIONS` says: for a model too large for the
    /// bound the others run with.
    pub fn model_bounded(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
        let _shared = KNOBS.read().unwrap_or_else(PoisonError::into_inner);
        explore(Some(preemptions), f);
    }

    /// Runs `f` with the protocol break `knob` switched on.
    pub fn model_broken(knob: &'static AtomicBool, f: impl Fn() + Sync + Send + 'static) {
        broken(knob, None, f);
    }

    /// [`model_broken`] with at most `preemptions` preemptions.
    pub fn model_broken_bounded(
        knob: &'static AtomicBool,
        preemptions: usize,
        f: impl Fn() + Sync + Send + 'static,
    ) {
        broken(knob, Some(preemptions), f);
    }

    fn broken(
        knob: &'static AtomicBool,
        preemptions: Option<usize>,
        f: impl Fn() + Sync + Send + 'static,
    ) {
        struct Off(&'static AtomicBool);
        impl Drop for Off {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        let _exclusive = KNOBS.write().unwrap_or_else(PoisonError::into_inner);
        knob.store(true, Ordering::SeqCst);
        let _off = Off(knob);
        explore(preemptions, f);
    }

    /// `loom::model`, reporting how many executions loom explored and how
    /// long that took (shown with `--nocapture`): a model that explores a
    /// handful checks little.
    fn explore(preemptions: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let start = std::time::Instant::now();
        let mut builder = loom::model::Builder::new();
        if preemptions.is_some() {
            builder.preemption_bound = preemptions;
        }
        builder.check(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            f();
        });
        let name = std::thread::current().name().unwrap_or("?").to_string();
        eprintln!(
            "{name}: {} executions, {:.1} s",
            runs.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64()
        );
    }
}

/// What the snapshot models share (`tests/snapshot.rs`, `tests/in_place.rs`).
pub mod snapshots {
    use crate::snapshot::{Snapshot, SnapshotState};
    use crate::store::key::hash_key;
    use crate::store::Keyspace;
    use loom::thread;
    use std::collections::HashMap;
    use std::sync::Arc;

    /// Two keys whose buckets of the models' 4-bucket tables the walk visits
    /// in this order (hashes use a fixed seed under loom, but the names are
    /// still chosen here, so the models keep their shape if the seed changes).
    pub fn two_keys() -> (Vec<u8>, Vec<u8>) {
        let bucket = |k: &[u8]| hash_key(k) & 3;
        let key = |prefix: &str, ok: &dyn Fn(u64) -> bool| {
            (0..)
                .map(|i| format!("{prefix}{i}").into_bytes())
                .find(|k| ok(bucket(k)))
                .expect("a key in the bucket wanted")
        };
        let a = key("a", &|b| b < 3);
        let b = key("b", &|b| b > bucket(&a));
        (a, b)
    }

    /// Takes a snapshot of `ks` (database 0, holding two keys) on a new
    /// thread; returns its records by key.
    pub fn spawn_snapshot(
        state: Arc<SnapshotState>,
        ks: Arc<Keyspace>,
    ) -> thread::JoinHandle<HashMap<Vec<u8>, u64>> {
        thread::spawn(move || {
            let mut snap = Snapshot::start(&state, vec![ks]);
            let mut values = HashMap::new();
            while let Some(batch) = snap.next_batch() {
                for r in batch {
                    assert_eq!(r.db, 0);
                    assert!(
                        values.insert(r.key.to_vec(), r.value.get()).is_none(),
                        "a key twice in one snapshot"
                    );
                }
            }
            assert_eq!(values.len(), 2, "a key is missing from the snapshot");
            values
        })
    }
}
