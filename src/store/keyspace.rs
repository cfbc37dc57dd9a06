//! One database: a concurrent, epoch-reclaimed ordered map from key to slot.
//!
//! The map is a lock-free skiplist ordered by (hash, key). Reads are lock-free
//! and write nothing shared; single-key writes latch one slot; multi-key writes
//! latch their slots in the map's own order. See docs/ARCHITECTURE.md for why
//! a hash-ordered skiplist rather than a hash table.

use super::key::{Key, KeyQuery, KeyRef};
use super::latch::{next_version, Held};
use super::slot::Slot;
use crate::types::Value;
use crossbeam_epoch::{self as epoch, Guard, Owned, Shared};
use crossbeam_skiplist::base::{Entry, SkipList};
use crossbeam_skiplist::SkipSet;
use std::ops::Bound;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Time as one command sees it: Redis evaluates expiry against a single
/// timestamp per command, and the LRU clock is updated only if `lru` is set.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now_ms: u64,
    /// Clock word to record on access (the LRU clock, or the LFU minute
    /// clock under an LFU policy: see `store::access`); `None` for commands
    /// that must not touch (OBJECT, CLIENT NO-TOUCH).
    pub lru: Option<u32>,
}

impl Clock {
    pub fn now() -> Clock {
        Clock::at(crate::util::time::now_ms())
    }

    /// The clock of a command that runs at `now_ms`.
    pub fn at(now_ms: u64) -> Clock {
        Clock {
            now_ms,
            lru: Some(super::access::clock_word(now_ms)),
        }
    }

    pub fn no_touch(mut self) -> Clock {
        self.lru = None;
        self
    }
}

/// Redis's 24-bit LRU clock with one-second resolution.
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & ((1 << 24) - 1)) as u32
}

/// Entries a walk visits per pin (see [`Keyspace::walk`]).
pub const WALK_CHUNK: usize = 256;

static NEXT_KEYSPACE_ID: AtomicU64 = AtomicU64::new(1);

/// A consistent view of a live key, valid while the guard is pinned.
pub struct ReadView<'g> {
    pub value: &'g Value,
    /// Absolute expiry in ms, 0 = persistent.
    pub expire: u64,
    pub slot: &'g Slot,
    pub stamp: u64,
}

pub struct Keyspace {
    /// Identity for canonical cross-database latch order (MOVE, COPY ... DB).
    id: u64,
    map: SkipList<Key, Slot>,
    /// (deadline, key) for every key with a TTL, so active expiry reads the
    /// earliest deadlines first and never scans the keyspace.
    expires: SkipSet<(u64, Key)>,
    /// Per-stripe counters of the hash space, written only when a key is
    /// created or removed, never by readers; striped so writers of different
    /// keys rarely share a cache line.
    stripes: Box<[Stripe]>,
}

/// Number of counter stripes per keyspace.
const STRIPES: usize = 64;

/// One stripe's counters on their own cache-line pair (adjacent-line prefetch).
#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    /// Key creations: how an optimistic multi-key read proves that a key it
    /// found absent stayed absent (an absent key has no stamp to re-check).
    creations: AtomicU64,
    /// Keys holding a value (DBSIZE). The skiplist's own length also counts
    /// slots that a writer inserted and is about to remove unused.
    live: AtomicI64,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace::new()
    }
}

impl Keyspace {
    pub fn new() -> Keyspace {
        Keyspace {
            id: NEXT_KEYSPACE_ID.fetch_add(1, Ordering::Relaxed),
            map: SkipList::new(epoch::default_collector().clone()),
            expires: SkipSet::new(),
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
        }
    }

    fn stripe(&self, hash: u64) -> &Stripe {
        &self.stripes[hash as usize % STRIPES]
    }

    /// The creation count of `key`'s stripe. If two reads of it are equal and
    /// the key was absent after the first, no key of the stripe was created
    /// and published in between, so the key was absent throughout.
    pub fn creation_mark(&self, key: &[u8]) -> u64 {
        self.stripe(super::key::hash_key(key))
            .creations
            .load(Ordering::SeqCst)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of keys, counting keys that have expired but not been reclaimed
    /// yet, as Redis's DBSIZE does.
    pub fn len(&self) -> usize {
        let n: i64 = self
            .stripes
            .iter()
            .map(|s| s.live.load(Ordering::Relaxed))
            .sum();
        n.max(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of keys with a TTL (INFO keyspace `expires=`).
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    fn entry<'g>(&'g self, key: KeyRef<'_>, guard: &'g Guard) -> Option<Entry<'g, 'g, Key, Slot>> {
        self.map.get(&key as &dyn KeyQuery, guard)
    }

    /// Looks a key up for reading. Expired keys are invisible (and deleted on
    /// the way out, as Redis's lazy expiry does).
    pub fn get<'g>(&'g self, key: &[u8], clock: Clock, guard: &'g Guard) -> Option<ReadView<'g>> {
        let k = KeyRef::new(key);
        let entry = self.entry(k, guard)?;
        let slot = entry.value();
        let (v, expire, stamp) = slot.read(guard);
        // SAFETY: the pointer was loaded under `guard`; values are retired
        // only through `guard.defer_destroy`, so it stays valid while pinned.
        let value = unsafe { v.as_ref() }?;
        if expire != 0 && expire <= clock.now_ms {
            drop(self.lock_existing(key, clock.no_touch(), guard));
            return None;
        }
        if let Some(lru) = clock.lru {
            slot.touch(lru);
        }
        Some(ReadView {
            value,
            expire,
            slot,
            stamp,
        })
    }

    /// The stamp of a key's slot if the key is present and live (for WATCH
    /// and optimistic multi-key reads); `None` if absent.
    pub fn stamp_of(&self, key: &[u8], guard: &Guard) -> Option<u64> {
        let entry = self.entry(KeyRef::new(key), guard)?;
        Some(entry.value().stamp())
    }

    /// Latches `key` for writing, creating its slot if needed.
    pub fn lock<'g>(&'g self, key: &[u8], clock: Clock, guard: &'g Guard) -> Locked<'g> {
        self.lock_ref(KeyRef::new(key), clock, guard)
    }

    /// [`Keyspace::lock`] with the key's hash already computed.
    fn lock_ref<'g>(&'g self, k: KeyRef<'_>, clock: Clock, guard: &'g Guard) -> Locked<'g> {
        let key = k.bytes;
        loop {
            if let Some(entry) = self.entry(k, guard) {
                if let Some(held) = entry.value().stamp.latch() {
                    return Locked::new(self, entry, held, clock, guard);
                }
                continue; // dead: it is being unlinked, look again
            }
            // A new key records its creation as an access even under
            // NO-TOUCH, as a new Redis object gets a fresh LRU/LFU field.
            let word = clock
                .lru
                .unwrap_or_else(|| super::access::clock_word(clock.now_ms));
            let (slot, held) = Slot::new_latched(super::access::initial(word));
            let inserted = self.map.get_or_insert(Key::new(key), slot, guard);
            // Our fresh slot is latched from birth with a version nobody else
            // has, so the stamp tells whether the map kept ours or an existing
            // slot; ours cannot be unlinked before we release it.
            let ours = inserted.value().stamp.load() == (held.before | super::latch::LATCHED);
            inserted.release(guard);
            if ours {
                // Counted after the insert and before the first publish (the
                // slot is still latched), so a reader that missed the insert
                // but could have missed a publish too sees the count move.
                self.stripe(k.hash).creations.fetch_add(1, Ordering::SeqCst);
                let entry = self.entry(k, guard).expect("freshly inserted slot");
                return Locked::new(self, entry, held, clock, guard);
            }
        }
    }

    /// Latches `key` only if it has a slot; `None` if absent.
    pub fn lock_existing<'g>(
        &'g self,
        key: &[u8],
        clock: Clock,
        guard: &'g Guard,
    ) -> Option<Locked<'g>> {
        let k = KeyRef::new(key);
        loop {
            let entry = self.entry(k, guard)?;
            if let Some(held) = entry.value().stamp.latch() {
                return Some(Locked::new(self, entry, held, clock, guard));
            }
        }
    }

    /// Visits live keys in hash order from hash `start`, pinning the epoch
    /// afresh every [`WALK_CHUNK`] entries so that a walk over millions of
    /// keys never holds back reclamation (`store::reclaim`); call it with no
    /// pin held, or the re-pins cannot unpin. `f` returns false to stop before
    /// consuming the key it was shown; the walk then returns that key, to
    /// resume at. `None`: the walk reached the end.
    ///
    /// Keys created or deleted during the walk may or may not be visited;
    /// every key present for the whole walk is visited exactly once.
    pub fn walk(
        &self,
        start: u64,
        clock: Clock,
        mut f: impl FnMut(&Key, ReadView<'_>) -> bool,
    ) -> Option<Key> {
        let first = KeyRef {
            hash: start,
            bytes: b"",
        };
        let mut resume: Option<Key> = None;
        loop {
            let guard = epoch::pin();
            let from: &dyn KeyQuery = match &resume {
                Some(k) => k,
                None => &first,
            };
            let mut entry = self.map.lower_bound(Bound::Included(from), &guard);
            let mut visited = 0;
            loop {
                let e = entry?;
                if visited == WALK_CHUNK {
                    resume = Some(e.key().clone());
                    break;
                }
                visited += 1;
                if let Some(view) = self.view(&e, clock, &guard) {
                    if !f(e.key(), view) {
                        return Some(e.key().clone());
                    }
                }
                entry = e.next();
            }
        }
    }

    /// One SCAN page from hash `cursor`: `f` sees each live key and says
    /// whether the page wants more. A page ends only between two hash groups,
    /// so a resumed scan never loops. Returns the next cursor (0 = done).
    /// Re-pins as [`Keyspace::walk`] does.
    pub fn scan(
        &self,
        cursor: u64,
        clock: Clock,
        mut f: impl FnMut(&Key, ReadView<'_>) -> bool,
    ) -> u64 {
        let mut full_at: Option<u64> = None;
        let resume = self.walk(cursor, clock, |k, view| {
            if full_at.is_some_and(|h| h != k.hash) {
                return false;
            }
            if !f(k, view) && full_at.is_none() {
                full_at = Some(k.hash);
            }
            true
        });
        resume.map_or(0, |k| k.hash)
    }

    fn view<'g>(
        &'g self,
        e: &Entry<'g, 'g, Key, Slot>,
        clock: Clock,
        guard: &'g Guard,
    ) -> Option<ReadView<'g>> {
        let slot = e.value();
        let (v, expire, stamp) = slot.read(guard);
        // SAFETY: loaded under `guard`; see `get`.
        let value = unsafe { v.as_ref() }?;
        if expire != 0 && expire <= clock.now_ms {
            return None;
        }
        Some(ReadView {
            value,
            expire,
            slot,
            stamp,
        })
    }

    /// A random live key: the successor of a random hash. Hashes are uniform,
    /// so this is close to uniform sampling without any auxiliary index.
    pub fn random_key<'g>(&'g self, clock: Clock, guard: &'g Guard) -> Option<&'g Key> {
        for _ in 0..100 {
            let probe = KeyRef {
                hash: rand::random::<u64>(),
                bytes: b"",
            };
            let e = self
                .map
                .lower_bound(Bound::Included(&probe as &dyn KeyQuery), guard)
                .or_else(|| self.map.front(guard))?;
            let slot = e.value();
            let (v, expire, _) = slot.read(guard);
            if v.is_null() {
                continue;
            }
            if expire != 0 && expire <= clock.now_ms {
                drop(self.lock_existing(&e.key().bytes, clock.no_touch(), guard));
                continue;
            }
            return Some(e.key());
        }
        None
    }

    /// Active expiry: reclaims up to `max` keys whose deadline has passed,
    /// earliest first. Returns how many keys were deleted.
    pub fn expire_cycle(&self, clock: Clock, max: usize) -> usize {
        let mut deleted = 0;
        let guard = epoch::pin();
        for _ in 0..max {
            let Some(front) = self.expires.front() else {
                break;
            };
            let (deadline, key) = front.value();
            if *deadline > clock.now_ms {
                break;
            }
            if let Some(locked) = self.lock_existing(&key.bytes, clock.no_touch(), &guard) {
                if locked.expired {
                    deleted += 1;
                }
            }
            // Normally the commit above removed it; a stale entry goes too.
            front.remove();
            super::reclaim::deferred(&guard, 1);
        }
        deleted
    }
}

/// A latched key. Changes are published when it is dropped: one pointer swap,
/// one expiry store and one stamp store, or an unlink if the key is gone.
pub struct Locked<'g> {
    ks: &'g Keyspace,
    entry: Entry<'g, 'g, Key, Slot>,
    held: Option<Held>,
    guard: &'g Guard,
    /// The value the key logically has at lock time (None if absent/expired).
    cur: Option<&'g Value>,
    cur_expire: u64,
    /// What the slot physically holds (differs from `cur_expire` when expired).
    phys_expire: u64,
    /// The key had expired at lock time; committing deletes it.
    pub(crate) expired: bool,
    new_value: Option<Option<Value>>,
    new_expire: Option<u64>,
    /// Set by `mark_touched` for writes that keep the value but must still
    /// count as a modification (e.g. SETRANGE with an empty string).
    touched: bool,
    now_ms: u64,
}

impl<'g> Locked<'g> {
    fn new(
        ks: &'g Keyspace,
        entry: Entry<'g, 'g, Key, Slot>,
        held: Held,
        clock: Clock,
        guard: &'g Guard,
    ) -> Locked<'g> {
        let slot = entry.value();
        let v = slot.value.load(Ordering::Acquire, guard);
        let phys_expire = slot.expire.load(Ordering::Acquire);
        // SAFETY: loaded under `guard` while latched; values are retired only
        // through `defer_destroy` on this same collector.
        let mut cur = unsafe { v.as_ref() };
        let expired = cur.is_some() && phys_expire != 0 && phys_expire <= clock.now_ms;
        if expired {
            cur = None;
        }
        if let (Some(lru), Some(_)) = (clock.lru, cur) {
            slot.touch(lru);
        }
        Locked {
            ks,
            entry,
            held: Some(held),
            guard,
            cur,
            cur_expire: if expired { 0 } else { phys_expire },
            phys_expire,
            expired,
            new_value: None,
            new_expire: None,
            touched: false,
            now_ms: clock.now_ms,
        }
    }

    pub fn key(&self) -> &'g [u8] {
        &self.entry.key().bytes
    }

    pub fn slot(&self) -> &'g Slot {
        self.entry.value()
    }

    /// The key's current value (including changes made through this latch).
    pub fn value(&self) -> Option<&Value> {
        match &self.new_value {
            Some(v) => v.as_ref(),
            None => self.cur,
        }
    }

    pub fn exists(&self) -> bool {
        self.value().is_some()
    }

    /// The value as it was when latched, with the guard's lifetime: it stays
    /// readable after the latch is released, for as long as the guard is pinned.
    pub fn value_at_lock(&self) -> Option<&'g Value> {
        self.cur
    }

    /// Absolute expiry in ms, or `None` if persistent or absent.
    pub fn expire(&self) -> Option<u64> {
        let e = self.new_expire.unwrap_or(self.cur_expire);
        (e != 0 && self.exists()).then_some(e)
    }

    /// The command's notion of "now".
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Replaces the value, keeping the TTL (INCR, APPEND, SETRANGE...).
    pub fn set(&mut self, v: Value) {
        self.new_value = Some(Some(v));
    }

    /// Replaces the value and sets the expiry in one step (SET, SETEX...).
    pub fn set_with_expire(&mut self, v: Value, expire: Option<u64>) {
        self.new_value = Some(Some(v));
        self.new_expire = Some(expire.unwrap_or(0));
    }

    /// Sets or clears the TTL of an existing key.
    pub fn set_expire(&mut self, expire: Option<u64>) {
        self.new_expire = Some(expire.unwrap_or(0));
    }

    /// Deletes the key. Returns whether it existed.
    pub fn delete(&mut self) -> bool {
        let existed = self.exists();
        self.new_value = Some(None);
        existed
    }

    /// Counts as a write (new version) even if nothing changed.
    pub fn mark_touched(&mut self) {
        self.touched = true;
    }

    /// Takes the value out (for RENAME/MOVE), deleting the key.
    pub fn take(&mut self) -> Option<(Value, Option<u64>)> {
        let expire = self.expire();
        let v = self.value().cloned()?;
        self.new_value = Some(None);
        Some((v, expire))
    }

    fn commit(&mut self) {
        let Some(held) = self.held.take() else { return };
        if self.expired {
            super::count_expired(self.entry.key().hash);
        }
        let slot = self.entry.value();
        let changed = self.new_value.is_some() || self.new_expire.is_some() || self.touched;
        if !changed && !self.expired {
            if self.cur.is_none() {
                // A slot we created (or found empty) and left empty: unlink it.
                self.unlink(held);
            } else {
                slot.stamp.unlatch(held, None);
            }
            return;
        }
        let final_present = match &self.new_value {
            Some(v) => v.is_some(),
            None => self.cur.is_some(),
        };
        if !final_present {
            self.unlink(held);
            return;
        }
        if let Some(Some(v)) = self.new_value.take() {
            let old = slot.value.swap(Owned::new(v), Ordering::AcqRel, self.guard);
            if old.is_null() {
                self.ks
                    .stripe(self.entry.key().hash)
                    .live
                    .fetch_add(1, Ordering::Relaxed);
            }
            retire(old, self.guard);
        }
        let final_expire = self.new_expire.unwrap_or(self.cur_expire);
        if final_expire != self.phys_expire {
            if self.phys_expire != 0 {
                self.ks
                    .expires
                    .remove(&(self.phys_expire, self.entry.key().clone()));
                super::reclaim::deferred(self.guard, 1);
            }
            if final_expire != 0 {
                self.ks
                    .expires
                    .insert((final_expire, self.entry.key().clone()));
            }
            slot.expire.store(final_expire, Ordering::Release);
        }
        slot.stamp.unlatch(held, Some(next_version()));
    }

    /// Releases the latch leaving the slot exactly as it was when latched.
    fn rollback(&mut self) {
        let Some(held) = self.held.take() else { return };
        let slot = self.entry.value();
        if slot.value.load(Ordering::Acquire, self.guard).is_null() {
            // A slot created for this command (or found empty): it must not
            // stay in the map, as `commit` would not leave it either.
            self.unlink(held);
        } else {
            slot.stamp.unlatch(held, None);
        }
    }

    fn unlink(&mut self, held: Held) {
        let slot = self.entry.value();
        let old = slot
            .value
            .swap(Shared::null(), Ordering::AcqRel, self.guard);
        if !old.is_null() {
            self.ks
                .stripe(self.entry.key().hash)
                .live
                .fetch_sub(1, Ordering::Relaxed);
        }
        retire(old, self.guard);
        if self.phys_expire != 0 {
            self.ks
                .expires
                .remove(&(self.phys_expire, self.entry.key().clone()));
            super::reclaim::deferred(self.guard, 1);
        }
        slot.stamp.kill(held, next_version());
        self.entry.remove();
        super::reclaim::deferred(self.guard, 1);
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The command panicked before finishing: publish none of its
            // changes. Every latch of the command is dropped this way while
            // unwinding, so all its keys stay as they were.
            self.rollback();
        } else {
            self.commit();
        }
    }
}

fn retire(old: Shared<'_, Value>, guard: &Guard) {
    if !old.is_null() {
        // SAFETY: `old` was just swapped out of its slot under the latch, so
        // no reader that pins from now on can load it, and only the latch
        // holder retires it.
        unsafe { super::reclaim::retire_value(old, guard) };
    }
}

/// Reads several keys of one database as of a single instant (MGET, EXISTS).
///
/// Optimistic first: read every key, then confirm no stamp moved; after a few
/// failed attempts (heavy write contention) it latches them all instead.
pub fn read_many<'g>(
    ks: &'g Keyspace,
    keys: &[&[u8]],
    clock: Clock,
    guard: &'g Guard,
) -> Vec<Option<&'g Value>> {
    for _ in 0..4 {
        let views: Vec<Option<ReadView<'g>>> =
            keys.iter().map(|k| ks.get(k, clock, guard)).collect();
        // A present key is re-checked by its stamp. An absent key has none: a
        // second "still absent" alone would miss a key created and deleted in
        // between (RENAME a b then b a), so note its stripe's creation count,
        // confirm it is still absent, and re-check the count with the stamps.
        let mut marks = Vec::new();
        let still_absent = keys
            .iter()
            .zip(&views)
            .filter(|(_, v)| v.is_none())
            .all(|(k, _)| {
                marks.push(ks.creation_mark(k));
                ks.get(k, clock.no_touch(), guard).is_none()
            });
        let mut marks = marks.into_iter();
        let stable = still_absent
            && keys.iter().zip(&views).all(|(k, v)| match v {
                Some(v) => ks.stamp_of(k, guard) == Some(v.stamp),
                None => marks.next() == Some(ks.creation_mark(k)),
            });
        if stable {
            return views.into_iter().map(|v| v.map(|v| v.value)).collect();
        }
    }
    let pairs: Vec<(&'g Keyspace, &[u8])> = keys.iter().map(|k| (ks, *k)).collect();
    let mut set = lock_many(&pairs, clock, guard);
    (0..keys.len())
        .map(|i| set.nth(i).value_at_lock())
        .collect()
}

/// Latches several keys (possibly in several databases) in canonical order —
/// database identity, then hash, then bytes — so that concurrent multi-key
/// writers can never deadlock. Duplicate keys are latched once.
pub fn lock_many<'g>(
    keys: &[(&'g Keyspace, &[u8])],
    clock: Clock,
    guard: &'g Guard,
) -> LockSet<'g> {
    let mut order: Vec<(u64, u64, &[u8], usize)> = keys
        .iter()
        .enumerate()
        .map(|(i, (ks, k))| (ks.id(), super::key::hash_key(k), *k, i))
        .collect();
    order.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let mut set = LockSet {
        locks: Vec::with_capacity(order.len()),
        index: Vec::with_capacity(order.len()),
        position: vec![0; keys.len()],
    };
    let mut prev: Option<(u64, &[u8])> = None;
    for (id, hash, key, i) in order {
        if prev != Some((id, key)) {
            let k = KeyRef { hash, bytes: key };
            set.locks.push(keys[i].0.lock_ref(k, clock, guard));
            set.index.push((id, hash));
            prev = Some((id, key));
        }
        set.position[i] = set.locks.len() - 1;
    }
    set
}

/// The latches of one multi-key command, released together when dropped.
/// Kept in canonical order; the i-th requested key's latch is found in O(1)
/// ([`LockSet::nth`]) or by binary search over a compact index
/// ([`LockSet::get`]), so a command on n keys latches, updates and commits in
/// O(n log n) and never walks the latches' own (scattered) memory to search.
pub struct LockSet<'g> {
    locks: Vec<Locked<'g>>,
    /// (keyspace id, key hash) of each latch, in the same order.
    index: Vec<(u64, u64)>,
    /// For each requested key (in request order), its latch in `locks`.
    position: Vec<usize>,
}

impl<'g> LockSet<'g> {
    /// The latch of the i-th key passed to [`lock_many`] (duplicates share one).
    pub fn nth(&mut self, i: usize) -> &mut Locked<'g> {
        &mut self.locks[self.position[i]]
    }

    /// The latch of `key` in `ks` (it must have been requested).
    pub fn get(&mut self, ks: &Keyspace, key: &[u8]) -> &mut Locked<'g> {
        let want = (ks.id(), super::key::hash_key(key));
        let first = self.index.partition_point(|e| *e < want);
        let i = (first..self.index.len())
            .take_while(|&i| self.index[i] == want)
            .find(|&i| self.locks[i].key() == key)
            .expect("key was latched by lock_many");
        &mut self.locks[i]
    }
}
