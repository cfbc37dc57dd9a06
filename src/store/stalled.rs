//! Latches held by a stalled holder: a script past `busy-reply-threshold`.
//!
//! A command waiting for a latch normally just waits (latches are held for
//! one command's work, or one transaction's). A script may hold its keys'
//! latches for seconds; Redis then answers every other client `-BUSY`, and
//! Ferrite answers `-BUSY` to the clients that need *those keys*, while
//! clients on other keys go on. So a stalled holder registers the stamps of
//! the slots it holds here, and a waiter that waits long enough to nap
//! (`latch::wait_slow`) checks, now and then, whether its stamp is one of
//! them. If it is, and the waiter runs a client's command (marked with
//! [`abortable`]), it unwinds with [`StalledHolder`]: its own latches roll
//! back as on a panic, and the connection replies `-BUSY` instead of the
//! command's reply (`server::connection`). Background work (expiry,
//! snapshots) is never marked, so it waits.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The unwinding payload of a command that met a stalled holder's latch.
#[derive(Debug, Clone, Copy)]
pub struct StalledHolder {
    /// The holder is an EVAL script (else a function): Redis's `-BUSY`
    /// text names SCRIPT KILL or FUNCTION KILL accordingly.
    pub eval: bool,
}

/// One stalled holder's latches.
#[derive(Debug)]
pub struct Holder {
    pub eval: bool,
    /// Addresses of the stamps of the slots it holds.
    stamps: Mutex<Vec<usize>>,
}

impl Holder {
    pub fn new(eval: bool) -> Arc<Holder> {
        Arc::new(Holder {
            eval,
            stamps: Mutex::new(Vec::new()),
        })
    }

    /// Replaces the set of stamps it holds.
    pub fn set_stamps(&self, stamps: Vec<usize>) {
        *self.stamps.lock().unwrap_or_else(PoisonError::into_inner) = stamps;
    }
}

static HOLDERS: Mutex<Vec<Arc<Holder>>> = Mutex::new(Vec::new());
/// How many holders are registered: one load tells a waiter there are none.
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Registers a stalled holder.
pub fn register(holder: &Arc<Holder>) {
    let mut all = HOLDERS.lock().unwrap_or_else(PoisonError::into_inner);
    all.push(holder.clone());
    COUNT.store(all.len(), Ordering::SeqCst);
}

/// Removes a holder (its script finished).
pub fn unregister(holder: &Arc<Holder>) {
    let mut all = HOLDERS.lock().unwrap_or_else(PoisonError::into_inner);
    all.retain(|h| !Arc::ptr_eq(h, holder));
    COUNT.store(all.len(), Ordering::SeqCst);
}

thread_local! {
    static ABORTABLE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a client's command) with waits on a stalled holder's latches
/// unwinding with [`StalledHolder`].
pub fn abortable<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            ABORTABLE.with(|a| a.set(self.0));
        }
    }
    let _reset = Reset(ABORTABLE.with(|a| a.replace(true)));
    f()
}

/// Called by a waiter now and then: unwinds if `stamp` belongs to a
/// stalled holder and this thread runs an abortable command.
pub fn check(stamp: &AtomicU64) {
    if COUNT.load(Ordering::Relaxed) == 0 || !ABORTABLE.with(|a| a.get()) {
        return;
    }
    let addr = stamp as *const AtomicU64 as usize;
    let found = HOLDERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|h| {
            h.stamps
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&addr)
        })
        .map(|h| h.eval);
    if let Some(eval) = found {
        std::panic::resume_unwind(Box::new(StalledHolder { eval }));
    }
}

/// Called by a client's command waiting to run alone (`store::world`) for
/// the other threads' batches to end: one of them may be a busy script's,
/// so it gives up, unwinding with [`StalledHolder`], while a stalled holder
/// is registered.
pub fn check_stopper() {
    if COUNT.load(Ordering::Relaxed) == 0 || !ABORTABLE.with(|a| a.get()) {
        return;
    }
    let eval = HOLDERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .first()
        .map(|h| h.eval);
    if let Some(eval) = eval {
        std::panic::resume_unwind(Box::new(StalledHolder { eval }));
    }
}
