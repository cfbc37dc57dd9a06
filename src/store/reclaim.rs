//! Bounded reclamation of the memory that writers retire.
//!
//! Every overwrite, delete and expiry unlinks a value (and often a table
//! node) that pinned readers may still be reading, so it is handed to
//! crossbeam-epoch to free once they have unpinned. crossbeam-epoch frees
//! deferred garbage only in `collect`, and a thread runs `collect` once every
//! 128 pins (or on `Guard::flush`), freeing at most 8 bags of 64 objects per
//! run: at most 4 objects per pin. A connection pins once per batch of
//! pipelined commands, so a pipeline of 16 overwrites retires 16 objects per
//! pin and garbage arrived four times faster than it was freed. The global
//! queue of sealed bags grew without bound (about 73 bytes per overwrite),
//! which is what issue 6 measured; small values leaked, large ones were
//! already flushed eagerly.
//!
//! The fix keeps collection ahead of retirement: each thread counts the
//! garbage it defers and, every [`COLLECT_EVERY`] objects (one bag), flushes
//! its bag and collects. One collection frees up to 8 bags while the thread
//! pushed one, so the queue cannot grow while the epoch advances, and the
//! garbage a thread has deferred but not yet handed over is at most one bag.
//! The epoch advances as long as nobody stays pinned: connections pin per
//! batch, and long walks (KEYS, SCAN, expiry cycles) re-pin every few hundred
//! keys (see `Keyspace::walk`).
//!
//! The bytes retired and not yet freed are counted per thread (owner-only
//! counters: the retiring thread counts what it retires, whichever thread runs
//! the free counts what it frees), so counting writes no shared cache line on
//! the write path. INFO memory reports the difference as `ferrite_reclaim_pending`.

use crate::sync::{self as epoch, Guard, Shared};
use crate::types::Value;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Deferred objects a thread accumulates before it flushes and collects:
/// crossbeam-epoch's bag size.
pub const COLLECT_EVERY: u32 = 64;

/// One thread's counters, on their own cache-line pair.
#[repr(align(128))]
#[derive(Default)]
struct Counters {
    retired: AtomicU64,
    freed: AtomicU64,
}

/// Every thread's counters. A thread's entry outlives the thread (its totals
/// still count) and is handed to the next thread that starts, so the list
/// stays as long as the most threads alive at once.
#[derive(Default)]
struct Registry {
    all: Vec<Arc<Counters>>,
    spare: Vec<Arc<Counters>>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    all: Vec::new(),
    spare: Vec::new(),
});

/// Counts that arrive after this thread's counters were torn down (a free run
/// by a thread-local destructor at thread exit).
static ORPHAN_FREED: AtomicU64 = AtomicU64::new(0);

struct Local {
    counters: Arc<Counters>,
    /// Objects deferred since this thread last collected.
    deferred: Cell<u32>,
}

impl Local {
    fn register() -> Local {
        let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let counters = reg.spare.pop().unwrap_or_else(|| {
            let c = Arc::new(Counters::default());
            reg.all.push(c.clone());
            c
        });
        Local {
            counters,
            deferred: Cell::new(0),
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        reg.spare.push(self.counters.clone());
    }
}

// Under loom, one per modelled thread and execution: when a thread collects
// must not depend on what earlier executions deferred.
crate::sync::thread_local! {
    static LOCAL: Local = Local::register();
}

/// Adds to a counter only its owner writes: a load and a store, no locked
/// instruction.
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// Hands a value just unlinked from its slot to the epoch, to be freed once
/// every reader that could have loaded it has unpinned.
///
/// # Safety
/// `old` must be non-null, unreachable for readers that pin from now on, and
/// retired only once.
pub unsafe fn retire_value(old: Shared<'_, Value>, guard: &Guard, shared: bool) {
    // SAFETY: non-null and still allocated (we have not freed it yet).
    let value = unsafe { old.deref() };
    let bytes = value.retained_bytes() as u64;
    // A version replaced by a later one sharing its memory frees little; a
    // value dropped for good frees all of itself (`shared`: see the caller).
    let large = if shared {
        value.is_large()
    } else {
        value.is_large_dropped()
    };
    let ptr = old.as_raw() as usize;
    // The caller guarantees no new reader can reach the value, and the
    // closure runs only after every guard pinned before this call is gone.
    // SAFETY: so nobody can still dereference the value when it is freed.
    unsafe {
        guard.defer_unchecked(move || {
            drop(Box::from_raw(ptr as *mut Value));
            count_freed(bytes);
        });
    }
    let _ = LOCAL.try_with(|l| bump(&l.counters.retired, bytes));
    if large {
        // Do not let a large value wait behind small garbage: flush now, so
        // the next epoch advance frees it.
        guard.flush();
        let _ = LOCAL.try_with(|l| l.deferred.set(0));
    } else {
        deferred(guard, 1);
    }
}

fn count_freed(bytes: u64) {
    if LOCAL.try_with(|l| bump(&l.counters.freed, bytes)).is_err() {
        ORPHAN_FREED.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Notes `n` objects this thread just deferred through `guard` (retired
/// values, or table nodes unlinked by the store), and collects once a bag's
/// worth has piled up. See the module comment for why this bounds garbage.
pub fn deferred(guard: &Guard, n: u32) {
    let due = LOCAL
        .try_with(|l| {
            let d = l.deferred.get() + n;
            if d >= COLLECT_EVERY {
                l.deferred.set(0);
                true
            } else {
                l.deferred.set(d);
                false
            }
        })
        .unwrap_or(true);
    if due {
        guard.flush();
    }
}

/// Bytes of values retired and not yet freed, over all threads.
pub fn pending_bytes() -> u64 {
    let reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    // Read every `freed` before any `retired`: a value is counted retired
    // before it can be freed, so this order never sees a free without its
    // retirement and the difference cannot be negative.
    let freed: u64 = reg
        .all
        .iter()
        .map(|c| c.freed.load(Ordering::Acquire))
        .fold(ORPHAN_FREED.load(Ordering::Acquire), u64::wrapping_add);
    let retired: u64 = reg
        .all
        .iter()
        .map(|c| c.retired.load(Ordering::Acquire))
        .fold(0, u64::wrapping_add);
    retired.saturating_sub(freed)
}

/// Frees what can be freed now, from a thread that is not pinned: repeatedly
/// pins, flushes its bag and collects, so the epoch advances past garbage
/// that other threads handed over. Used by the background thread each cycle,
/// so an idle server gives memory back without waiting for traffic.
pub fn collect_now() {
    // Each round advances the epoch at most once, and a bag needs two
    // advances; a few rounds empty the queue unless a thread stays pinned.
    let mut last = u64::MAX;
    for round in 0..64 {
        let guard = epoch::pin();
        guard.flush();
        drop(guard);
        let now = pending_bytes();
        if round >= 2 && (now == 0 || (now == last && now < 1 << 20)) {
            break;
        }
        last = now;
    }
}
