//! The word through which SCRIPT KILL and a busy script decide whether the
//! script may still be killed (`scripting::busy`).
//!
//! Redis refuses to kill a script that has written (`-UNKILLABLE`). Ferrite
//! runs the script and SCRIPT KILL on different threads, so "has it
//! written?" and "kill it" race with the script's next write. Both go
//! through one atomic word: the script sets WROTE *before* a write runs and
//! does not run it if KILLED was already set; KILL sets KILLED only if
//! WROTE is not set, in one compare-and-swap. So a kill that succeeds never
//! follows a write, and a write never follows a successful kill
//! (loom model `loom-tests/tests/kill.rs`).
//!
//! Compiled into the loom models too (through `#[path]`), with loom's
//! atomics from `crate::sync`.

use crate::sync::{broken, AtomicU64, Ordering};

const WROTE: u64 = 1;
const KILLED: u64 = 2;

/// Deliberately broken variants for the negative control in
/// `loom-tests/tests/kill.rs`.
#[cfg(loom)]
pub mod loom_breaks {
    use std::sync::atomic::AtomicBool;
    /// KILL checks WROTE with a load and sets KILLED with a separate store:
    /// a write can run in between, and the kill still succeeds.
    pub static KILL_BY_LOAD_AND_STORE: AtomicBool = AtomicBool::new(false);
}

/// A busy script's kill state.
pub struct KillWord(AtomicU64);

impl KillWord {
    /// `wrote`: the script ran a write before it became busy.
    pub fn new(wrote: bool) -> KillWord {
        KillWord(AtomicU64::new(if wrote { WROTE } else { 0 }))
    }

    pub fn killed(&self) -> bool {
        self.0.load(Ordering::Acquire) & KILLED != 0
    }

    pub fn wrote(&self) -> bool {
        self.0.load(Ordering::Acquire) & WROTE != 0
    }

    /// Records a write about to run; false if the script was killed first
    /// (the write must not run).
    pub fn mark_wrote(&self) -> bool {
        self.0.fetch_or(WROTE, Ordering::AcqRel) & KILLED == 0
    }

    /// Kills the script unless it wrote; whether it did.
    pub fn kill(&self) -> bool {
        if broken!(KILL_BY_LOAD_AND_STORE) {
            if self.0.load(Ordering::Acquire) & WROTE != 0 {
                return false;
            }
            self.0.fetch_or(KILLED, Ordering::AcqRel);
            return true;
        }
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s & WROTE == 0).then_some(s | KILLED)
            })
            .is_ok()
    }
}
