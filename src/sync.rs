//! Atomics and reclamation as Ferrite's lock-free protocols see them.
//!
//! In the server these are std's atomics and crossbeam-epoch. `loom-tests/`
//! compiles the same protocol files (`#[path]`) with `--cfg loom`, where the
//! atomics are loom's, so the model checker explores the orderings written in
//! the production code, and reclamation is a no-op (retired memory is leaked
//! for the length of a model; freeing it safely is crossbeam-epoch's job,
//! checked by miri, not the protocol's).

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Proof that the thread is pinned: anything reachable from shared memory
/// while it lives stays allocated.
#[cfg(not(loom))]
pub use crossbeam_epoch::Guard;

/// Under loom nothing is reclaimed while a model runs.
#[cfg(loom)]
#[derive(Debug, Default)]
pub struct Guard;

/// Frees `ptr` (from `Box::into_raw`) once every thread pinned now has
/// unpinned.
///
/// # Safety
/// `ptr` came from `Box::into_raw`, is no longer reachable by threads that
/// pin from now on, and is retired only once.
pub unsafe fn retire<T>(guard: &Guard, ptr: *mut T) {
    /// Frees a `Box`ed `T`.
    ///
    /// # Safety
    /// `ptr` came from `Box::into_raw` and is freed once.
    unsafe fn free_box<T>(ptr: *mut T) {
        // SAFETY: per the contract.
        drop(unsafe { Box::from_raw(ptr) });
    }
    // SAFETY: the contract of `retire_with` is ours, with `free_box`.
    unsafe { retire_with(guard, ptr, free_box::<T>) }
}

/// Runs `free(ptr)` once every thread pinned now has unpinned: `retire` for
/// memory not allocated as a `Box` (the keyspace's nodes carry their key
/// inline, in one allocation sized to it).
///
/// # Safety
/// `free(ptr)` is sound once nobody can reach `ptr`; `ptr` is no longer
/// reachable by threads that pin from now on, and is retired only once.
#[cfg(not(loom))]
pub unsafe fn retire_with<T>(guard: &Guard, ptr: *mut T, free: unsafe fn(*mut T)) {
    let addr = ptr as usize;
    // SAFETY: per the contract, nobody can reach `ptr` once the threads
    // pinned now have unpinned, which is when the closure runs.
    unsafe { guard.defer_unchecked(move || free(addr as *mut T)) };
}

/// # Safety
/// As the server's version; under loom the memory is leaked.
#[cfg(loom)]
pub unsafe fn retire_with<T>(_guard: &Guard, _ptr: *mut T, _free: unsafe fn(*mut T)) {}

/// Moves what this thread retired so far to the global queue, where any
/// thread's next collection can free it once the epoch allows.
#[cfg(not(loom))]
pub fn flush(guard: &Guard) {
    guard.flush();
}

/// Under loom nothing is reclaimed.
#[cfg(loom)]
pub fn flush(_guard: &Guard) {}

/// Waits a moment in a spin loop (a bucket latch is held for a few
/// instructions); under loom, lets the model checker run another thread.
pub fn spin_wait(spins: &mut u32) {
    *spins += 1;
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}
