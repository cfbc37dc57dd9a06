//! The slot latch and version stamp protocol.
//!
//! Every key's slot carries one `AtomicU64` stamp:
//!
//! ```text
//!  63                                   2   1   0
//! +--------------------------------------+---+---+
//! |          version (unique per write)  | D | L |
//! +--------------------------------------+---+---+
//! ```
//!
//! * `L` (latched): a writer owns the slot. Writers acquire it with one CAS and
//!   release it with one store that also installs a fresh version.
//! * `D` (dead): the slot has been unlinked from the keyspace; a writer that
//!   latches a dead slot must look the key up again.
//! * Readers never write the stamp. They read it before and after reading the
//!   slot's fields (a sequence lock) and retry if it was latched or changed, so
//!   a reader never sees a torn (value, expiry) pair and never slows a writer.
//!
//! Versions are unique without a shared counter: each thread owns a disjoint
//! range (`thread id` in the low bits, a thread-local counter above it). WATCH
//! compares versions, so uniqueness is all it needs.
//!
//! This file is compiled both into the server and, through `#[path]`, into the
//! loom model checker (`loom-tests/`), where `sync` resolves to loom's atomics.

#[cfg(loom)]
use loom::sync::{
    atomic::{fence, AtomicU64, Ordering},
    Mutex,
};
#[cfg(not(loom))]
use std::sync::{
    atomic::{fence, AtomicU64, Ordering},
    Mutex,
};

use crate::sync::broken;

/// Deliberately broken variants of the slot protocol, for the negative
/// controls in `loom-tests/tests/slot.rs` (each makes a model fail). Only
/// under `cfg(loom)`; in the server `broken!` is the constant `false`.
#[cfg(loom)]
pub mod loom_breaks {
    use std::sync::atomic::AtomicBool;

    /// `try_latch` latches with a load and a store instead of a
    /// compare-and-swap: two writers can both latch the slot.
    pub static LATCH_BY_LOAD_AND_STORE: AtomicBool = AtomicBool::new(false);
    /// The sequence-lock read returns what it read without re-reading the
    /// stamp: it can return a (value, expire) pair torn by a writer.
    pub static READ_SKIPS_RECHECK: AtomicBool = AtomicBool::new(false);
    /// Unlinking releases the slot without marking it dead: a writer that
    /// was waiting for the latch writes into a node no longer in the table.
    pub static KILL_LEAVES_SLOT_LIVE: AtomicBool = AtomicBool::new(false);
    /// A thread that takes over an exited thread's id starts its counter
    /// again instead of continuing the one the id came back with.
    pub static REUSED_ID_RESTARTS_COUNTER: AtomicBool = AtomicBool::new(false);
}

pub const LATCHED: u64 = 1;
pub const DEAD: u64 = 2;
const FLAG_BITS: u32 = 2;
const THREAD_BITS: u32 = 16;

/// A slot's stamp word.
#[derive(Debug)]
pub struct Stamp(AtomicU64);

/// Proof that the caller holds a slot's latch; dropping it without calling
/// [`Stamp::unlatch`] or [`Stamp::kill`] would leave the key latched forever,
/// so it is deliberately not `Copy` and has no `Drop` that could hide a bug.
#[must_use]
#[derive(Debug)]
pub struct Held {
    /// The stamp value observed when the latch was taken (without `L`).
    pub before: u64,
}

impl Stamp {
    pub fn new(version: u64) -> Self {
        Stamp(AtomicU64::new(version << FLAG_BITS))
    }

    /// A stamp that starts out latched: a freshly created slot is owned by its
    /// creator until the first value is published.
    pub fn new_latched(version: u64) -> (Self, Held) {
        let before = version << FLAG_BITS;
        (Stamp(AtomicU64::new(before | LATCHED)), Held { before })
    }

    /// Current stamp value (for WATCH and optimistic multi-key reads).
    pub fn load(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Tries to latch once. Fails if latched by someone else or dead.
    pub fn try_latch(&self) -> Result<Held, u64> {
        let cur = self.0.load(Ordering::Relaxed);
        if cur & (LATCHED | DEAD) != 0 {
            return Err(cur);
        }
        if broken!(LATCH_BY_LOAD_AND_STORE) {
            self.0.store(cur | LATCHED, Ordering::Relaxed);
            fence(Ordering::Release);
            return Ok(Held { before: cur });
        }
        match self
            .0
            .compare_exchange(cur, cur | LATCHED, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => {
                // Field stores after this fence cannot become visible before
                // the latch bit: a reader that sees them re-reads a changed stamp.
                fence(Ordering::Release);
                Ok(Held { before: cur })
            }
            Err(now) => Err(now),
        }
    }

    /// Latches, waiting for the current holder. Returns `None` if the slot is
    /// (or becomes) dead, in which case the caller looks the key up again.
    pub fn latch(&self) -> Option<Held> {
        let mut spins = 0u32;
        loop {
            match self.try_latch() {
                Ok(h) => return Some(h),
                Err(cur) if cur & DEAD != 0 => return None,
                Err(_) => self.wait(&mut spins),
            }
        }
    }

    /// Releases the latch. With `Some(version)` the slot was modified and gets
    /// the new version; with `None` it keeps the version it had.
    pub fn unlatch(&self, held: Held, new_version: Option<u64>) {
        let next = match new_version {
            Some(v) => v << FLAG_BITS,
            None => held.before,
        };
        self.0.store(next, Ordering::Release);
    }

    /// Marks a latched slot dead (it is being unlinked). The latch is released
    /// in the same store; later latchers see `D` and retry their lookup.
    pub fn kill(&self, held: Held, new_version: u64) {
        let _ = held;
        let dead = if broken!(KILL_LEAVES_SLOT_LIVE) {
            0
        } else {
            DEAD
        };
        self.0
            .store((new_version << FLAG_BITS) | dead, Ordering::Release);
    }

    /// Sequence-lock read: runs `read` on a stable stamp and returns its result
    /// with that stamp. `read` may run several times and must only load.
    pub fn read_consistent<R>(&self, mut read: impl FnMut() -> R) -> (R, u64) {
        let mut spins = 0u32;
        loop {
            let s1 = self.0.load(Ordering::Acquire);
            if s1 & LATCHED != 0 {
                self.wait(&mut spins);
                continue;
            }
            let r = read();
            fence(Ordering::Acquire);
            let s2 = self.0.load(Ordering::Relaxed);
            if s1 == s2 || broken!(READ_SKIPS_RECHECK) {
                return (r, s1);
            }
        }
    }
}

impl Stamp {
    /// The address of the stamp word, which names the slot's latch in
    /// `store::stalled`.
    #[cfg(not(loom))]
    pub fn word_addr(&self) -> usize {
        &self.0 as *const AtomicU64 as usize
    }

    /// Waits a moment for a latched stamp: spins briefly (latches are held
    /// for one command's in-memory work), then leaves the worker thread to the
    /// other connections while it waits (see [`wait_slow`]).
    fn wait(&self, spins: &mut u32) {
        #[cfg(loom)]
        backoff(spins);
        #[cfg(not(loom))]
        {
            *spins += 1;
            if *spins < SPIN_LIMIT {
                std::hint::spin_loop();
            } else {
                wait_slow(&self.0);
                *spins = 0;
            }
        }
    }
}

/// Spins on a latched stamp before a waiter stops spinning.
#[cfg(not(loom))]
const SPIN_LIMIT: u32 = 128;

/// Waits until `stamp` is no longer latched, without holding up the other
/// connections of this worker thread: on a tokio worker the wait runs inside
/// `block_in_place`, which hands the worker's other tasks to a fresh thread
/// first. A latch held that long belongs to a large command (an MSET of
/// 100,000 keys), a script or a transaction, so yielding then sleeping in
/// growing steps (at most 250 µs past the release) costs nothing that
/// matters, while spinning would burn a core the holder may need.
#[cfg(not(loom))]
fn wait_slow(stamp: &AtomicU64) {
    let wait = || {
        let mut round = 0u32;
        while stamp.load(Ordering::Acquire) & LATCHED != 0 {
            if round < 16 {
                std::thread::yield_now();
            } else {
                // Held this long: a script past its busy threshold may be
                // the holder (`store::stalled`).
                super::stalled::check(stamp);
                let us = 10u64 << (round - 16).min(5);
                std::thread::sleep(std::time::Duration::from_micros(us));
            }
            round += 1;
        }
    };
    if crate::util::on_runtime_worker() {
        tokio::task::block_in_place(wait);
    } else {
        wait();
    }
}

/// Under loom: spins of one wait that the model checker still branches on.
#[cfg(loom)]
const LOOM_SPINS_EXPLORED: u32 = 2;

/// Spin briefly, then yield (callers outside the store that wait on
/// something other than a stamp; the stamp's own waits use `Stamp::wait`).
pub fn backoff(spins: &mut u32) {
    #[cfg(loom)]
    {
        *spins += 1;
        // With two waiters on one holder, loom keeps scheduling the waiters
        // against each other and never finishes (tokio-rs/loom#53). A wait
        // that re-reads an unchanged stamp changes nothing, so an execution in
        // which a waiter spins more than a few times shows no behaviour that
        // the same execution with fewer spins does not: stop branching there.
        if *spins > LOOM_SPINS_EXPLORED {
            loom::skip_branch();
        }
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    crate::sync::spin_wait(spins);
}

/// Builds a version from a thread id and that thread's own counter.
pub fn make_version(thread_id: u64, counter: u64) -> u64 {
    (counter << THREAD_BITS) | (thread_id & ((1 << THREAD_BITS) - 1))
}

/// Hands out the thread ids that make versions unique.
///
/// Only [`THREAD_BITS`] bits of the id go into a version, so ids must stay
/// small however many threads come and go over the server's life (blocking
/// pools, background saves): an exiting thread returns its id together with
/// the counter it reached, and the next thread that takes the id continues
/// from that counter. Two threads therefore never share an id at the same
/// time, and one id never repeats a counter, so no two writes get the same
/// version. The lock is taken once per thread start and exit, never per write.
#[derive(Debug, Default)]
pub struct ThreadIds {
    state: Mutex<IdState>,
}

#[derive(Debug, Default)]
struct IdState {
    /// Highest id handed out so far (0 is never used: it means "none yet").
    last: u64,
    /// Ids of exited threads with the counter each had reached.
    free: Vec<(u64, u64)>,
}

impl ThreadIds {
    pub fn new() -> Self {
        ThreadIds::default()
    }

    /// An id for a starting thread and the counter to continue from.
    pub fn acquire(&self) -> (u64, u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((id, counter)) = st.free.pop() {
            let counter = if broken!(REUSED_ID_RESTARTS_COUNTER) {
                0
            } else {
                counter
            };
            return (id, counter);
        }
        st.last += 1;
        assert!(
            st.last < 1 << THREAD_BITS,
            "more than {} threads writing to the keyspace at once",
            (1u64 << THREAD_BITS) - 1
        );
        (st.last, 0)
    }

    /// Returns an exiting thread's id with the last counter it used.
    pub fn release(&self, id: u64, counter: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.free.push((id, counter));
    }
}

#[cfg(not(loom))]
mod versions {
    use super::ThreadIds;
    use std::cell::Cell;
    use std::sync::LazyLock;

    static IDS: LazyLock<ThreadIds> = LazyLock::new(ThreadIds::new);

    /// This thread's (id, last counter); the id goes back to [`IDS`] when the
    /// thread exits.
    struct ThreadVersions(Cell<(u64, u64)>);

    impl Drop for ThreadVersions {
        fn drop(&mut self) {
            let (id, ctr) = self.0.get();
            if id != 0 {
                IDS.release(id, ctr);
            }
        }
    }

    thread_local! {
        static THREAD: ThreadVersions = const { ThreadVersions(Cell::new((0, 0))) };
    }

    /// A version no other write anywhere has used: per-thread counter plus
    /// thread id, so producing one touches only thread-local memory.
    pub fn next_version() -> u64 {
        THREAD
            .try_with(|t| {
                let (mut id, mut ctr) = t.0.get();
                if id == 0 {
                    (id, ctr) = IDS.acquire();
                }
                t.0.set((id, ctr + 1));
                super::make_version(id, ctr + 1)
            })
            .unwrap_or_else(|_| {
                // Called from another thread-local's destructor after ours
                // was destroyed: borrow an id for this one version.
                let (id, ctr) = IDS.acquire();
                IDS.release(id, ctr + 1);
                super::make_version(id, ctr + 1)
            })
    }
}
#[cfg(not(loom))]
pub use versions::next_version;

/// Under loom: a version no other write of the model has used. Every
/// modelled thread runs on the test's one OS thread, so this std
/// thread-local is one counter for all of them, and its versions are unique
/// as the server's are. (Versions are thread-local data: the only shared
/// part of making them is [`ThreadIds`], which has a model of its own.)
#[cfg(loom)]
pub fn next_version() -> u64 {
    use std::cell::Cell;
    std::thread_local!(static COUNTER: Cell<u64> = const { Cell::new(0) });
    let n = COUNTER.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    make_version(1, n)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn latch_unlatch_and_versions() {
        let s = Stamp::new(next_version());
        let v0 = s.load();
        let h = s.try_latch().unwrap();
        assert!(s.try_latch().is_err());
        s.unlatch(h, None);
        assert_eq!(s.load(), v0);
        let h = s.latch().unwrap();
        let v = next_version();
        s.unlatch(h, Some(v));
        assert_ne!(s.load(), v0);
        let h = s.latch().unwrap();
        s.kill(h, next_version());
        assert!(s.latch().is_none());
    }

    #[test]
    fn versions_are_unique_across_threads() {
        let mut all: Vec<u64> = (0..4)
            .map(|_| std::thread::spawn(|| (0..1000).map(|_| next_version()).collect::<Vec<_>>()))
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000);
    }

    #[test]
    fn thread_ids_are_reused_with_their_counter() {
        let ids = ThreadIds::new();
        assert_eq!(ids.acquire(), (1, 0));
        assert_eq!(ids.acquire(), (2, 0));
        ids.release(1, 7);
        assert_eq!(ids.acquire(), (1, 7));
        assert_eq!(ids.acquire(), (3, 0));
    }

    #[test]
    fn short_lived_threads_do_not_exhaust_thread_ids() {
        // Far more threads than fit in THREAD_BITS would wrap the id without
        // reuse; with reuse every version stays unique.
        let threads = if cfg!(miri) { 10 } else { 200 };
        let mut all = Vec::new();
        for _ in 0..threads {
            all.extend(
                std::thread::spawn(|| [next_version(), next_version()])
                    .join()
                    .unwrap(),
            );
        }
        let ids: std::collections::HashSet<u64> = all.iter().map(|v| v & 0xffff).collect();
        assert!(
            ids.len() <= threads / 2,
            "ids were not reused: {}",
            ids.len()
        );
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 2 * threads);
    }
}
