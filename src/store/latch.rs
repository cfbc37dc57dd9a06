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
use loom::sync::atomic::{fence, AtomicU64, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicU64, Ordering};

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
                Err(_) => backoff(&mut spins),
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
        self.0.store((new_version << FLAG_BITS) | DEAD, Ordering::Release);
    }

    /// Sequence-lock read: runs `read` on a stable stamp and returns its result
    /// with that stamp. `read` may run several times and must only load.
    pub fn read_consistent<R>(&self, mut read: impl FnMut() -> R) -> (R, u64) {
        let mut spins = 0u32;
        loop {
            let s1 = self.0.load(Ordering::Acquire);
            if s1 & LATCHED != 0 {
                backoff(&mut spins);
                continue;
            }
            let r = read();
            fence(Ordering::Acquire);
            let s2 = self.0.load(Ordering::Relaxed);
            if s1 == s2 {
                return (r, s1);
            }
        }
    }
}

/// Spin briefly, then yield: latches are held for the duration of one
/// command's in-memory work, so waits are short.
pub fn backoff(spins: &mut u32) {
    *spins += 1;
    #[cfg(loom)]
    {
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        if *spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Builds a version from a thread id and that thread's own counter.
pub fn make_version(thread_id: u64, counter: u64) -> u64 {
    (counter << THREAD_BITS) | (thread_id & ((1 << THREAD_BITS) - 1))
}

#[cfg(not(loom))]
mod versions {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};

    static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

    thread_local! {
        static THREAD: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }

    /// A version no other write anywhere has used: per-thread counter plus
    /// thread id, so producing one touches only thread-local memory.
    pub fn next_version() -> u64 {
        THREAD.with(|t| {
            let (mut id, ctr) = t.get();
            if id == 0 {
                id = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            }
            t.set((id, ctr + 1));
            super::make_version(id, ctr + 1)
        })
    }
}
#[cfg(not(loom))]
pub use versions::next_version;

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
}
