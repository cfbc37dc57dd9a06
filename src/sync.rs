//! Atomics, thread-locals and reclamation as Ferrite's lock-free protocols
//! see them.
//!
//! In the server these are std's atomics and crossbeam-epoch, re-exported
//! as they are: the facade costs nothing. `loom-tests/` compiles the store
//! (`src/store/`, through `#[path]`) with `--cfg loom`, where the atomics and
//! the thread-locals the protocols share are loom's, so the model checker
//! explores the orderings written in the production code. Reclamation is
//! then a no-op: [`Atomic`], [`Owned`], [`Shared`] and [`Guard`] are a thin
//! loom-backed pointer wrapper with crossbeam-epoch's API, and retired
//! memory is leaked for the length of a model (freeing it safely is
//! crossbeam-epoch's job, checked by miri, not the protocols'). Built with
//! `--cfg crossbeam_loom` as well, the loom build uses crossbeam-epoch
//! itself, compiled against loom (see `loom-tests/src/lib.rs` for what that
//! costs and shows).

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// A mutex for registries a protocol shares (the blocked-client queues):
/// loom's under `cfg(loom)`, so the model sees the order it imposes.
#[cfg(loom)]
pub use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub use std::sync::{Mutex, MutexGuard};

/// A thread-local that a protocol shares with other threads (its contents
/// are published elsewhere): loom's under `cfg(loom)`, one per modelled
/// thread and execution, std's in the server.
#[cfg(loom)]
pub use loom::thread_local;
#[cfg(not(loom))]
pub use std::thread_local;

/// Epoch-managed pointers: crossbeam-epoch's in the server. `Guard` is the
/// proof that the thread is pinned: anything reachable from shared memory
/// while it lives stays allocated.
#[cfg(any(not(loom), crossbeam_loom))]
pub use crossbeam_epoch::{pin, unprotected, Atomic, Guard, Owned, Shared};
#[cfg(all(loom, not(crossbeam_loom)))]
pub use model_epoch::{pin, unprotected, Atomic, Guard, Owned, Shared};

/// Whether the loom negative control `$knob` (in the calling module's
/// `loom_breaks`) is on; the constant `false` outside `cfg(loom)`, so a
/// deliberately broken variant of a protocol costs the server nothing.
macro_rules! broken {
    ($knob:ident) => {{
        #[cfg(loom)]
        let on = loom_breaks::$knob.load(::std::sync::atomic::Ordering::Relaxed);
        #[cfg(not(loom))]
        let on = false;
        on
    }};
}
pub(crate) use broken;

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
pub unsafe fn retire_with<T>(guard: &Guard, ptr: *mut T, free: unsafe fn(*mut T)) {
    let addr = ptr as usize;
    // SAFETY: per the contract, nobody can reach `ptr` once the threads
    // pinned now have unpinned, which is when the closure runs.
    unsafe { guard.defer_unchecked(move || free(addr as *mut T)) };
}

/// Moves what this thread retired so far to the global queue, where any
/// thread's next collection can free it once the epoch allows.
pub fn flush(guard: &Guard) {
    guard.flush();
}

/// Between a `SeqCst` store and a later `SeqCst` load of another location,
/// where a protocol relies on the two not being reordered (the
/// store-buffering pattern: each of two threads stores its flag, then
/// loads the other's). In the server the `SeqCst` accesses themselves
/// guarantee it, and this is nothing. Loom models `SeqCst` accesses as
/// `AcqRel` (its README; tokio-rs/loom#180) and would report executions
/// that cannot happen; it does model `fence(SeqCst)`, which this is under
/// loom.
#[inline(always)]
pub fn seq_cst_store_load() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// A sequentially consistent fence, for a store-buffering pattern whose
/// loads are not themselves sequentially consistent (loom's under
/// `cfg(loom)`).
#[inline(always)]
pub fn fence_seq_cst() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    std::sync::atomic::fence(Ordering::SeqCst);
}

/// A point between the steps of a long lock-free read where a loom model
/// lets the other threads run, as if this one were descheduled there,
/// without spending one of the preemptions loom bounds (a yield); nothing
/// in the server.
#[inline(always)]
pub fn model_yield() {
    #[cfg(loom)]
    loom::thread::yield_now();
}

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

/// crossbeam-epoch's pointer API over a loom `AtomicPtr`, for the models:
/// loads and swaps of a value pointer are loom operations with the
/// orderings the store wrote, and nothing is ever reclaimed while a model
/// runs (a pin is free, deferred frees never run), so no pointer a model
/// holds can dangle.
#[cfg(all(loom, not(crossbeam_loom)))]
mod model_epoch {
    use std::marker::PhantomData;
    use std::ops::{Deref, DerefMut};
    use std::ptr;
    use std::sync::atomic::Ordering;

    /// A pin, which under the model protects nothing and costs nothing.
    #[derive(Debug, Default)]
    pub struct Guard;

    impl Guard {
        /// crossbeam-epoch's `Guard::defer_unchecked`; the model leaks what
        /// it retires instead: `f` never runs.
        ///
        /// # Safety
        /// As crossbeam-epoch's (the model itself needs nothing).
        pub unsafe fn defer_unchecked<F: FnOnce() -> R, R>(&self, f: F) {
            std::mem::forget(f);
        }

        /// Nothing to hand over: nothing is deferred.
        pub fn flush(&self) {}
    }

    /// Pins the current thread (a no-op under the model).
    pub fn pin() -> Guard {
        Guard
    }

    /// A guard for exclusive access (dropping a slot).
    ///
    /// # Safety
    /// As crossbeam-epoch's `unprotected`.
    pub unsafe fn unprotected() -> &'static Guard {
        static UNPROTECTED: Guard = Guard;
        &UNPROTECTED
    }

    /// What can be stored into an [`Atomic`].
    pub trait Pointer<T> {
        /// Gives up the pointer to the atomic.
        fn into_raw(self) -> *mut T;
    }

    /// An owned heap value, not yet shared.
    pub struct Owned<T>(Box<T>);

    impl<T> Owned<T> {
        pub fn new(value: T) -> Owned<T> {
            Owned(Box::new(value))
        }

        /// Shares it (crossbeam-epoch's `Owned::into_shared`).
        pub fn into_shared<'g>(self, _guard: &'g Guard) -> Shared<'g, T> {
            Shared::from_raw(Box::into_raw(self.0))
        }
    }

    impl<T> Deref for Owned<T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T> DerefMut for Owned<T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.0
        }
    }

    impl<T> Pointer<T> for Owned<T> {
        fn into_raw(self) -> *mut T {
            Box::into_raw(self.0)
        }
    }

    /// A pointer loaded from an [`Atomic`], valid while its guard lives.
    pub struct Shared<'g, T> {
        raw: *mut T,
        _guard: PhantomData<&'g T>,
    }

    impl<T> Clone for Shared<'_, T> {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl<T> Copy for Shared<'_, T> {}

    impl<'g, T> Shared<'g, T> {
        fn from_raw(raw: *mut T) -> Shared<'g, T> {
            Shared {
                raw,
                _guard: PhantomData,
            }
        }

        pub fn null() -> Shared<'g, T> {
            Shared::from_raw(ptr::null_mut())
        }

        pub fn is_null(&self) -> bool {
            self.untagged().is_null()
        }

        /// The pointer without its tag (crossbeam-epoch's `as_raw`).
        pub fn as_raw(&self) -> *const T {
            self.untagged()
        }

        fn untagged(&self) -> *mut T {
            (self.raw as *mut u8).wrapping_sub(self.tag()) as *mut T
        }

        /// The tag in the pointer's low bits (those its alignment leaves
        /// free), as crossbeam-epoch's `Shared::tag`.
        pub fn tag(&self) -> usize {
            self.raw as usize & (std::mem::align_of::<T>() - 1)
        }

        /// The same pointer with tag `tag` (crossbeam-epoch's `with_tag`).
        pub fn with_tag(&self, tag: usize) -> Shared<'g, T> {
            let tag = tag & (std::mem::align_of::<T>() - 1);
            Shared::from_raw((self.untagged() as *mut u8).wrapping_add(tag) as *mut T)
        }

        /// # Safety
        /// As crossbeam-epoch's: the pointee is alive while the guard is
        /// (under the model nothing is ever freed while it runs).
        pub unsafe fn as_ref(&self) -> Option<&'g T> {
            // SAFETY: per the contract.
            unsafe { self.untagged().as_ref() }
        }

        /// # Safety
        /// As [`Shared::as_ref`], and the pointer is not null.
        pub unsafe fn deref(&self) -> &'g T {
            // SAFETY: per the contract.
            unsafe { &*self.untagged() }
        }

        /// # Safety
        /// As crossbeam-epoch's: the pointer is not null, came from an
        /// [`Owned`], and nobody else can reach it any more.
        pub unsafe fn into_owned(self) -> Owned<T> {
            // SAFETY: per the contract, a `Box` that is ours alone.
            Owned(unsafe { Box::from_raw(self.untagged()) })
        }
    }

    impl<T> Pointer<T> for Shared<'_, T> {
        fn into_raw(self) -> *mut T {
            self.raw
        }
    }

    /// An epoch-managed pointer: a loom `AtomicPtr`.
    pub struct Atomic<T> {
        ptr: loom::sync::atomic::AtomicPtr<T>,
    }

    // SAFETY: as crossbeam-epoch's `Atomic`, it hands out `&T` to the threads
    // that load it and moves the `T`s it swaps out between threads.
    unsafe impl<T: Send + Sync> Send for Atomic<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send + Sync> Sync for Atomic<T> {}

    impl<T> Atomic<T> {
        pub fn null() -> Atomic<T> {
            Atomic {
                ptr: loom::sync::atomic::AtomicPtr::new(ptr::null_mut()),
            }
        }

        pub fn new(value: T) -> Atomic<T> {
            Atomic {
                ptr: loom::sync::atomic::AtomicPtr::new(Owned::new(value).into_raw()),
            }
        }

        pub fn load<'g>(&self, ord: Ordering, _guard: &'g Guard) -> Shared<'g, T> {
            Shared::from_raw(self.ptr.load(ord))
        }

        pub fn swap<'g, P: Pointer<T>>(
            &self,
            new: P,
            ord: Ordering,
            _guard: &'g Guard,
        ) -> Shared<'g, T> {
            Shared::from_raw(self.ptr.swap(new.into_raw(), ord))
        }
    }
}
