//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN...): who waits for
//! which key, in the order they blocked, and the hand-off of an element from
//! the command that makes a key ready to the client that waits for it.
//!
//! The protocol, which `loom-tests/tests/waiters.rs` model-checks on this
//! code and the real keyspace:
//!
//! * **Blocking.** A blocking command latches its keys, finds them all
//!   empty, and [parks](Waiters::park) its [`Waiter`] on every one of them
//!   *before* it releases the latches. A command that later fills one of
//!   those keys holds that key's latch, so it finds the waiter: no push can
//!   slip between the check and the registration (a lost wake-up).
//! * **Serving.** The command that fills a key, still holding its latch,
//!   [serves](Waiters::serve) the key's waiters in the order they parked:
//!   each is [claimed](Waiter::claim) (one compare-and-swap), given its
//!   elements, taken out of the value under the same latch, and
//!   [delivered](Waiter::deliver). No other command can take the element in
//!   between: it would need the latch.
//! * **Giving up.** A waiter whose time is up, whose client is gone or is
//!   unblocked by CLIENT UNBLOCK is [cancelled](Waiter::cancel) by the same
//!   compare-and-swap. Exactly one of claim and cancel wins, so an element
//!   is never handed to a client that has already stopped waiting (it would
//!   be lost), and never handed twice (a waiter parked on several keys is
//!   claimed once).
//!
//! Waiters are registered by database index and key, not by keyspace: a
//! client blocked on a key of database 0 stays blocked on database 0 across
//! FLUSHDB and SWAPDB, as in Redis. A command that replaces the database
//! table can therefore race a blocker that latched the key in the old table;
//! the blocker [rechecks](crate::store::Store::table) after parking (see
//! `commands::blocking`).

use crate::sync::{AtomicUsize, Mutex, Ordering};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Waiting for an element.
const WAITING: usize = 0;
/// Claimed by a command serving it; its result follows.
const CLAIMED: usize = 1;
/// Cancelled; the reason is `CANCELLED + reason`.
const CANCELLED: usize = 2;

/// Why a waiter stopped waiting without an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancel {
    /// Its timeout passed, or CLIENT UNBLOCK ... TIMEOUT.
    Timeout = 0,
    /// CLIENT UNBLOCK ... ERROR.
    Error = 1,
    /// The connection closed or was killed.
    Closed = 2,
}

impl Cancel {
    fn from_code(c: usize) -> Cancel {
        match c {
            0 => Cancel::Timeout,
            1 => Cancel::Error,
            _ => Cancel::Closed,
        }
    }
}

/// Where a waiter stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Waiting,
    /// Claimed by a server; the result is delivered, or about to be.
    Claimed,
    Cancelled(Cancel),
}

/// One blocked command. `R` is what it asks for (the command layer's
/// description: which end to pop, a destination...), `D` what a server
/// hands it.
pub struct Waiter<R, D> {
    state: AtomicUsize,
    result: Mutex<Option<D>>,
    /// The keys it is parked on: (database index, key).
    keys: Vec<(usize, Box<[u8]>)>,
    pub request: R,
}

impl<R, D> Waiter<R, D> {
    /// A waiter for `keys` of database `db`, in the order the command named
    /// them (a key named twice is parked on once).
    pub fn new(db: usize, keys: &[&[u8]], request: R) -> Waiter<R, D> {
        let mut own: Vec<(usize, Box<[u8]>)> = Vec::with_capacity(keys.len());
        for k in keys {
            if !own.iter().any(|(_, o)| &o[..] == *k) {
                own.push((db, (*k).into()));
            }
        }
        Waiter {
            state: AtomicUsize::new(WAITING),
            result: Mutex::new(None),
            keys: own,
            request,
        }
    }

    /// The keys it waits on, in the order named.
    pub fn keys(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.keys.iter().map(|(db, k)| (*db, &k[..]))
    }

    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            WAITING => State::Waiting,
            CLAIMED => State::Claimed,
            c => State::Cancelled(Cancel::from_code(c - CANCELLED)),
        }
    }

    pub fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Takes the waiter for serving. Called by a server holding the latch
    /// of the key it serves, before it changes the value; `false` if the
    /// waiter was served through another key or cancelled meanwhile.
    pub fn claim(&self) -> bool {
        if crate::sync::broken!(CLAIM_IGNORES_CANCEL) {
            let was = self.state.swap(CLAIMED, Ordering::AcqRel);
            return was != CLAIMED;
        }
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Hands a claimed waiter its result. The caller then wakes its client.
    pub fn deliver(&self, result: D) {
        debug_assert_eq!(self.state(), State::Claimed);
        *lock(&self.result) = Some(result);
    }

    /// Stops waiting for `why`; `false` if a server claimed it first (its
    /// result is delivered or about to be: wait for it) or it was
    /// cancelled already.
    pub fn cancel(&self, why: Cancel) -> bool {
        self.state
            .compare_exchange(
                WAITING,
                CANCELLED + why as usize,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// The delivered result, once (`None` before it is delivered).
    pub fn take(&self) -> Option<D> {
        lock(&self.result).take()
    }
}

/// The waiters of each (database, key), in blocking order.
type Queues<R, D> = HashMap<(usize, Box<[u8]>), VecDeque<Arc<Waiter<R, D>>>>;

/// Every waiter, by (database, key), each queue in blocking order.
pub struct Waiters<R, D> {
    /// Waiters parked anywhere: a command that fills a key looks no
    /// further while it is zero (read under the key's latch, which orders
    /// it after any park made under that latch).
    parked: AtomicUsize,
    queues: Mutex<Queues<R, D>>,
}

impl<R, D> Default for Waiters<R, D> {
    fn default() -> Self {
        Waiters {
            parked: AtomicUsize::new(0),
            queues: Mutex::new(HashMap::new()),
        }
    }
}

/// What a server does after offering one waiter an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next waiter.
    Next,
    /// Stop serving this key (it is empty, or the next waiter must be
    /// served after the command, with more keys latched).
    Stop,
}

impl<R, D> Waiters<R, D> {
    /// How many waiters are parked (each counted once, whatever its keys).
    pub fn len(&self) -> usize {
        self.parked.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parks `w` on each of its keys, behind the waiters already there.
    /// The caller holds the latch of every one of those keys.
    pub fn park(&self, w: &Arc<Waiter<R, D>>) {
        let mut q = lock(&self.queues);
        for (db, key) in &w.keys {
            q.entry((*db, key.clone()))
                .or_default()
                .push_back(Arc::clone(w));
        }
        self.parked.fetch_add(1, Ordering::AcqRel);
    }

    /// Takes `w` off every queue it was parked on (once it stopped
    /// waiting: served or cancelled).
    pub fn unpark(&self, w: &Arc<Waiter<R, D>>) {
        let mut q = lock(&self.queues);
        let mut found = false;
        for (db, key) in &w.keys {
            let k = (*db, key.clone());
            if let Some(queue) = q.get_mut(&k) {
                let before = queue.len();
                queue.retain(|o| !Arc::ptr_eq(o, w));
                found |= queue.len() != before;
                if queue.is_empty() {
                    q.remove(&k);
                }
            }
        }
        if found {
            self.parked.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Whether a waiter is parked on `key` of `db`. Meaningful under the
    /// key's latch.
    pub fn has_waiters(&self, db: usize, key: &[u8]) -> bool {
        if self.is_empty() {
            return false;
        }
        lock(&self.queues)
            .get(&(db, Box::from(key)))
            .is_some_and(|q| q.iter().any(|w| w.is_waiting()))
    }

    /// Offers `key` of `db` to its waiters in the order they parked, while
    /// the caller holds the key's latch. `offer` serves one waiter: it
    /// checks that the waiter can be served, [claims](Waiter::claim) it
    /// before it changes anything, takes its elements and
    /// [delivers](Waiter::deliver) them (and wakes its client), or leaves
    /// it parked. Returns whether any waiter was left waiting on the key.
    pub fn serve(
        &self,
        db: usize,
        key: &[u8],
        mut offer: impl FnMut(&Arc<Waiter<R, D>>) -> Flow,
    ) -> bool {
        if self.is_empty() {
            return false;
        }
        // A copy of the queue, so `offer` runs without the registry's lock
        // (it may park or serve other keys). The latch keeps this key's
        // servers and blockers out meanwhile; waiters that are cancelled
        // meanwhile are skipped by their claim.
        let queue: Vec<Arc<Waiter<R, D>>> = match lock(&self.queues).get(&(db, Box::from(key))) {
            Some(q) => q.iter().filter(|w| w.is_waiting()).cloned().collect(),
            None => return false,
        };
        for (i, w) in queue.iter().enumerate() {
            if !w.is_waiting() {
                continue;
            }
            if offer(w) == Flow::Stop {
                return queue[i..].iter().any(|w| w.is_waiting());
            }
        }
        false
    }

    /// The keys of `db` that waiters are parked on (SWAPDB rechecks them).
    pub fn keys_of(&self, db: usize) -> Vec<Box<[u8]>> {
        lock(&self.queues)
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

/// The registry's mutexes guard plain data; a panic elsewhere cannot leave
/// it half-changed, so a poisoned lock is used as it is.
fn lock<T>(m: &Mutex<T>) -> crate::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Deliberately broken variants for the loom negative controls.
#[cfg(loom)]
pub mod loom_breaks {
    use std::sync::atomic::AtomicBool;
    /// `claim` takes a waiter even if it was cancelled: an element goes to
    /// a client that stopped waiting, and is lost.
    pub static CLAIM_IGNORES_CANCEL: AtomicBool = AtomicBool::new(false);
}
