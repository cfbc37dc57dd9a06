//! Running alone: the rare transaction that cannot name its keys up front
//! (FLUSHALL, SWAPDB or KEYS inside MULTI, a transaction that keeps meeting
//! busy keys) runs while no other client executes anything.
//!
//! Every thread that executes commands marks, in a word of its own, that it
//! is inside a batch ([`enter`] .. [`exit`]): one sequentially consistent
//! store and one load of the shared stop word per batch, both on cache lines
//! that nobody else writes in the common case. [`alone`] raises the stop
//! word, then waits until every thread's mark is clear; from then until it
//! lowers the word, [`enter`] fails everywhere (the caller waits and tries
//! again) and nothing else runs. It is Dekker's protocol between one
//! stopper and each thread: each side stores its own word, then loads the
//! other's, so at least one of them sees the other (loom model
//! `loom-tests/tests/world.rs`).
//!
//! A thread's mark counts nested entries, so code that runs inside a batch
//! may enter again. The stopper leaves its own mark while it stops the world
//! (another stopper may be waiting for it) and takes it back afterwards.
//! Work outside batches (active expiry, which only removes keys that already
//! read as absent; snapshots, which read) is not stopped.

use crate::sync::{broken, seq_cst_store_load, spin_wait, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Deliberately broken variants, for the negative control in
/// `loom-tests/tests/world.rs`. Only under `cfg(loom)`.
#[cfg(loom)]
pub mod loom_breaks {
    use std::sync::atomic::AtomicBool;

    /// The stopper raises the stop word without waiting for the threads
    /// already inside a batch.
    pub static STOP_SKIPS_WAIT: AtomicBool = AtomicBool::new(false);
}

/// A thread's mark: how many times it has entered (0: outside any batch),
/// and whether its thread has exited (its place is then reused).
#[repr(align(128))]
#[derive(Default)]
struct Mark(AtomicU64, AtomicBool);

/// Raised while a stopper runs alone (or waits to); one stopper at a time.
#[repr(align(128))]
#[derive(Default)]
struct Stop {
    word: AtomicU64,
}

#[cfg(not(loom))]
static STOP: Stop = Stop {
    word: AtomicU64::new(0),
};
#[cfg(not(loom))]
static MARKS: std::sync::Mutex<Vec<Arc<Mark>>> = std::sync::Mutex::new(Vec::new());
/// One stopper at a time.
#[cfg(not(loom))]
static STOPPER: std::sync::Mutex<()> = std::sync::Mutex::new(());

// Under loom, per execution and behind loom's mutexes (see `snapshot::gate`).
#[cfg(loom)]
loom::lazy_static! {
    static ref STOP: Stop = Stop::default();
    static ref MARKS: loom::sync::Mutex<Vec<Arc<Mark>>> = loom::sync::Mutex::new(Vec::new());
    static ref STOPPER: loom::sync::Mutex<()> = loom::sync::Mutex::new(());
}

struct Local(Arc<Mark>);

impl Drop for Local {
    fn drop(&mut self) {
        #[cfg(loom)]
        if std::thread::panicking() {
            return;
        }
        self.0 .0.store(0, Ordering::SeqCst);
        self.0 .1.store(true, Ordering::Release);
    }
}

crate::sync::thread_local! {
    static LOCAL: Local = {
        let mut marks = MARKS.lock().unwrap_or_else(|e| e.into_inner());
        // A thread that has exited left its mark at 0 and marked it free:
        // take it over, so threads that come and go (tokio's blocking
        // threads) do not grow the list.
        let m = match marks.iter().find(|m| m.1.load(Ordering::Acquire)) {
            Some(free) => {
                free.1.store(false, Ordering::Relaxed);
                free.clone()
            }
            None => {
                let m = Arc::new(Mark::default());
                marks.push(m.clone());
                m
            }
        };
        drop(marks);
        Local(m)
    };
}

/// Enters a batch on this thread. `false` (and nothing entered) while the
/// world is stopped: the caller waits ([`stopped`]) and tries again.
pub fn enter() -> bool {
    LOCAL.with(|l| {
        let depth = l.0 .0.load(Ordering::Relaxed);
        if depth > 0 {
            // Only this thread writes its mark.
            l.0 .0.store(depth + 1, Ordering::Relaxed);
            return true;
        }
        l.0 .0.store(1, Ordering::SeqCst);
        // Against the stopper's store of the stop word and load of marks.
        seq_cst_store_load();
        if STOP.word.load(Ordering::SeqCst) == 0 {
            return true;
        }
        l.0 .0.store(0, Ordering::SeqCst);
        false
    })
}

/// Leaves the batch entered last.
pub fn exit() {
    LOCAL.with(|l| {
        let depth = l.0 .0.load(Ordering::Relaxed);
        debug_assert!(depth > 0, "exit without enter");
        // Release: a stopper that sees the mark clear sees the batch's work.
        l.0 .0.store(depth.saturating_sub(1), Ordering::Release);
    })
}

/// Whether the world is stopped (or about to be): [`enter`] would fail.
pub fn stopped() -> bool {
    STOP.word.load(Ordering::Acquire) != 0
}

/// Enters, waiting (spinning, then yielding the thread) while the world is
/// stopped: for synchronous callers, which run only short work here.
pub fn enter_blocking() {
    let mut spins = 0;
    while !enter() {
        spin_wait(&mut spins);
    }
}

/// Runs `f` while no other thread is inside a batch. The caller may itself
/// be inside one (any depth): its mark is lowered meanwhile and restored,
/// waiting if another stopper has the world by then.
pub fn alone<R>(f: impl FnOnce() -> R) -> R {
    /// Takes the caller's mark back when done, even if `f` panics (the
    /// caller's batch then unwinds through its own `exit`).
    struct Restore(u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            if self.0 > 0 {
                enter_blocking();
                LOCAL.with(|l| l.0 .0.store(self.0, Ordering::Relaxed));
            }
        }
    }
    /// Lowers the stop word even if `f` panics, or every client would wait
    /// forever.
    struct Lower;
    impl Drop for Lower {
        fn drop(&mut self) {
            STOP.word.store(0, Ordering::SeqCst);
        }
    }
    let _restore = Restore(LOCAL.with(|l| l.0 .0.swap(0, Ordering::SeqCst)));
    let _one = STOPPER.lock().unwrap_or_else(|e| e.into_inner());
    STOP.word.store(1, Ordering::SeqCst);
    let _lower = Lower;
    seq_cst_store_load();
    let marks: Vec<Arc<Mark>> = MARKS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !broken!(STOP_SKIPS_WAIT) {
        for m in &marks {
            let mut spins = 0;
            while m.0.load(Ordering::SeqCst) != 0 {
                spin_wait(&mut spins);
                // A busy script's batch may not end for long: a client's
                // command gives up with `-BUSY` (`store::stalled`).
                #[cfg(not(loom))]
                super::stalled::check_stopper();
            }
        }
    }
    f()
}
