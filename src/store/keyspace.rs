//! One database: a concurrent, epoch-reclaimed hash table from key to slot.
//!
//! The table (`store::table`) maps each key to a node holding the key and its
//! slot. Reads are lock-free and write nothing shared; single-key writes latch
//! one slot; multi-key writes latch their slots in canonical (hash, bytes)
//! order. See docs/ARCHITECTURE.md.

use super::expiry::{ExpireRound, ExpiryIndex};
use super::key::KeyRef;
use super::latch::{next_version, Held};
pub use super::node::Node;
use super::slot::Slot;
use super::snapshot::{gate, SnapshotState};
use super::table::{Entry, RawTable};
use super::watch::AbsentWatches;
use crate::sync::{
    self as epoch, broken, model_yield, seq_cst_store_load, AtomicU64, Guard, Ordering, Owned,
    Shared,
};
use crate::types::Value;
use std::sync::Arc;

/// Deliberately broken variants of the keyspace's protocols, for the
/// negative controls in `loom-tests/` (each makes a model fail). Only under
/// `cfg(loom)`; in the server `broken!` is the constant `false`.
#[cfg(loom)]
pub mod loom_breaks {
    use std::sync::atomic::AtomicBool;

    /// `lock_many` latches the keys in the order they were named, not in
    /// canonical order: two commands naming keys in opposite orders deadlock.
    pub static LOCK_MANY_IN_REQUEST_ORDER: AtomicBool = AtomicBool::new(false);
    /// `read_many` returns its first optimistic reads unvalidated.
    pub static READ_MANY_SKIPS_VALIDATION: AtomicBool = AtomicBool::new(false);
    /// `read_many` confirms an absent key only by looking again, without its
    /// stripe's creation count: a key created and deleted in between slips by.
    pub static READ_MANY_LOOKS_AGAIN: AtomicBool = AtomicBool::new(false);
    /// Lazy expiry deletes the key it found expired without re-checking under
    /// the latch: a value written meanwhile is deleted with it.
    pub static LAZY_EXPIRY_SKIPS_RECHECK: AtomicBool = AtomicBool::new(false);
    /// A multi-key command commits outside the snapshot gate, each key under
    /// the snapshot word it reads at its own commit.
    pub static COMMIT_WITHOUT_GATE: AtomicBool = AtomicBool::new(false);
    /// A single-key command commits outside the snapshot gate, under the
    /// word it reads at its commit.
    pub static SINGLE_KEY_WITHOUT_GATE: AtomicBool = AtomicBool::new(false);
    /// A view hands out a value changed in place, to be read without its
    /// latch.
    pub static VIEW_READS_IN_PLACE: AtomicBool = AtomicBool::new(false);
    /// An in-place change is made without entering the snapshot gate and
    /// handing the bucket over first (the commit still does both).
    pub static IN_PLACE_OUTSIDE_THE_GATE: AtomicBool = AtomicBool::new(false);
    /// `Locked::abandon` commits what was changed instead of undoing it.
    pub static ABANDON_PUBLISHES: AtomicBool = AtomicBool::new(false);
}

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

static NEXT_KEYSPACE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A consistent view of a live key, valid while the guard is pinned.
///
/// Its value can be read only if it is copy-on-write: a value that writers
/// change in place under the key's latch (a large collection, see
/// [`Locked::update`]) is read under the latch, never through a view.
pub struct ReadView<'g> {
    /// The slot's pointer, tagged with [`Value::in_place_tag`] for a value
    /// changed in place.
    value: Shared<'g, Value>,
    /// Absolute expiry in ms, 0 = persistent.
    pub expire: u64,
    pub slot: &'g Slot,
    pub stamp: u64,
}

impl<'g> ReadView<'g> {
    /// The value, if it is copy-on-write: `None` for a value changed in
    /// place, which must be read under its latch.
    pub fn value(&self) -> Option<&'g Value> {
        if self.in_place() && !broken!(VIEW_READS_IN_PLACE) {
            return None;
        }
        // Loaded under the guard of `'g` (values are retired only through
        // the epoch), non-null (a view is of a live key), and untagged.
        // SAFETY: so it is alive, and immutable: no writer changes it in place.
        Some(unsafe { self.value.deref() })
    }

    /// Whether the value is changed in place (read it under its latch).
    pub fn in_place(&self) -> bool {
        self.value.tag() != 0
    }

    /// The TYPE name of the value, read without the latch either way.
    pub fn type_name(&self) -> &'static str {
        match self.value() {
            Some(v) => v.type_name(),
            None => Value::type_name_of_tag(self.value.tag()),
        }
    }
}

pub struct Keyspace {
    /// Identity for canonical cross-database latch order (MOVE, COPY ... DB).
    id: u64,
    map: RawTable<Node>,
    /// The keys with a TTL, for active expiry and volatile-* eviction.
    expires: ExpiryIndex,
    /// Per-stripe counters of the hash space, written only when a key is
    /// created or removed, never by readers; striped so writers of different
    /// keys rarely share a cache line.
    stripes: Box<[Stripe]>,
    /// The store's snapshot state, shared by all its databases.
    snap: Arc<SnapshotState>,
    /// Keys WATCHed while absent (`store::watch`).
    absent_watches: AbsentWatches,
}

/// Number of counter stripes per keyspace (under loom, few: the models'
/// keys share them, which only makes validation more conservative).
const STRIPES: usize = if cfg!(loom) { 2 } else { 64 };

/// Optimistic attempts of [`read_many`] before it latches. Under loom one,
/// so a model reaches the latching fallback as soon as one validation fails.
const OPTIMISTIC_READS: usize = if cfg!(loom) { 1 } else { 4 };

/// One stripe's counters on their own cache-line pair (adjacent-line prefetch).
#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    /// Key creations: how an optimistic multi-key read proves that a key it
    /// found absent stayed absent (an absent key has no stamp to re-check).
    creations: AtomicU64,
    /// Keys holding a value (DBSIZE). The table's own length also counts
    /// slots that a writer inserted and is about to remove unused. A
    /// statistic in no protocol: std's even under loom.
    live: std::sync::atomic::AtomicI64,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace::new()
    }
}

impl Keyspace {
    pub fn new() -> Keyspace {
        Keyspace::with_snapshots(Arc::new(SnapshotState::default()))
    }

    /// A database of a store whose snapshots cover it (`store::snapshot`).
    pub fn with_snapshots(snap: Arc<SnapshotState>) -> Keyspace {
        Keyspace {
            snap,
            id: NEXT_KEYSPACE_ID.fetch_add(1, Ordering::Relaxed),
            map: RawTable::new(),
            expires: ExpiryIndex::default(),
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
            absent_watches: AbsentWatches::default(),
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

    /// Keys WATCHed while absent, and how often each came to life since.
    pub fn absent_watches(&self) -> &AbsentWatches {
        &self.absent_watches
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

    /// Estimated average remaining TTL in ms of keys with one (INFO
    /// keyspace `avg_ttl=`), from what active expiry samples.
    pub fn avg_ttl(&self) -> u64 {
        self.expires.avg_ttl()
    }

    /// Sizes the table ahead of `additional` new keys (a big MSET): one
    /// resize instead of several doublings while they are inserted.
    pub fn reserve(&self, additional: usize, guard: &Guard) {
        if additional > 256 {
            self.map.reserve(additional, guard);
        }
    }

    /// The table (for the snapshot protocol).
    pub(crate) fn table(&self) -> &RawTable<Node> {
        &self.map
    }

    /// The snapshot state this database belongs to.
    pub(crate) fn snapshots(&self) -> &SnapshotState {
        &self.snap
    }

    fn node<'g>(&'g self, key: KeyRef<'_>, guard: &'g Guard) -> Option<&'g Node> {
        self.map.find(key.hash, key.bytes, guard)
    }

    /// Table upkeep from the background thread, within `budget`: starts a
    /// resize the load calls for (a database emptied by expiry or DEL shrinks
    /// even if nobody writes to it again) and migrates buckets of a running
    /// one, as Redis's cron does.
    pub fn maintain(&self, budget: std::time::Duration) {
        let guard = epoch::pin();
        self.map.maybe_resize(&guard);
        let start = std::time::Instant::now();
        while self.map.help_resize(&guard) && start.elapsed() < budget {}
        while self.expires.maintain(&guard) && start.elapsed() < budget {}
    }

    /// Looks a key up for reading. Expired keys are invisible (and deleted on
    /// the way out, as Redis's lazy expiry does).
    pub fn get<'g>(&'g self, key: &[u8], clock: Clock, guard: &'g Guard) -> Option<ReadView<'g>> {
        let k = KeyRef::new(key);
        let slot = &self.node(k, guard)?.slot;
        let (value, expire, stamp) = slot.read(guard);
        if value.is_null() {
            return None;
        }
        if expire != 0 && expire <= clock.now_ms {
            if super::expiry_held(clock.now_ms) {
                return None;
            }
            // Deleted if still expired once latched (`Locked::new` looks
            // again): a writer may have set a new value meanwhile.
            let mut locked = self.lock_existing(key, clock.no_touch(), guard);
            if broken!(LAZY_EXPIRY_SKIPS_RECHECK) {
                if let Some(l) = locked.as_mut() {
                    l.delete();
                }
            }
            drop(locked);
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

    /// Starts loading what looking up `keys` will read (bucket, node,
    /// value), in three passes over all of them, so that their cache misses
    /// overlap: for a pipelined batch of lookups of keys nobody touched
    /// lately, most of each lookup's time is spent waiting for memory, one
    /// miss after another. Hints only: nothing is latched or written, and
    /// the keys may change before they are really looked up. Valkey 8
    /// prefetches pipelined commands' keys the same way.
    pub fn prefetch(&self, keys: &[&[u8]], guard: &Guard) {
        const MAX: usize = 32;
        let mut hashes = [0u64; MAX];
        let keys = &keys[..keys.len().min(MAX)];
        for (h, k) in hashes.iter_mut().zip(keys) {
            *h = super::key::hash_key(k);
            self.map.prefetch_bucket(*h, guard);
        }
        for h in &hashes[..keys.len()] {
            self.map.prefetch_entries(*h, guard);
        }
        for (h, k) in hashes.iter().zip(keys) {
            if let Some(node) = self.map.find(*h, k, guard) {
                let v = node.slot.value.load(Ordering::Relaxed, guard);
                super::table::prefetch(v.as_raw() as *const u8);
            }
        }
    }

    /// The stamp of a key's slot if the key is present and live (for WATCH
    /// and optimistic multi-key reads); `None` if absent.
    pub fn stamp_of(&self, key: &[u8], guard: &Guard) -> Option<u64> {
        Some(self.node(KeyRef::new(key), guard)?.slot.stamp())
    }

    /// Latches `key` for writing, creating its slot if needed.
    pub fn lock<'g>(&'g self, key: &[u8], clock: Clock, guard: &'g Guard) -> Locked<'g> {
        self.lock_ref(KeyRef::new(key), clock, guard)
    }

    /// [`Keyspace::lock`] with the key's hash already computed.
    fn lock_ref<'g>(&'g self, k: KeyRef<'_>, clock: Clock, guard: &'g Guard) -> Locked<'g> {
        self.latch_ref(k, clock, guard, true)
            .expect("a waiting latch always gets the key")
    }

    /// Latches `key` like [`Keyspace::lock`] (creating its slot if needed),
    /// but gives up at once, with `None`, if another writer holds its latch:
    /// for the command context (`commands::access`), where a transaction or
    /// script that already holds latches must not wait for another, or two
    /// of them could wait for each other.
    pub fn try_lock<'g>(
        &'g self,
        key: &[u8],
        clock: Clock,
        guard: &'g Guard,
    ) -> Option<Locked<'g>> {
        self.latch_ref(KeyRef::new(key), clock, guard, false)
    }

    /// Latches `k`, creating its slot if needed; waits for a held latch if
    /// `wait`, else returns `None` at once.
    fn latch_ref<'g>(
        &'g self,
        k: KeyRef<'_>,
        clock: Clock,
        guard: &'g Guard,
        wait: bool,
    ) -> Option<Locked<'g>> {
        let mut spins = 0;
        loop {
            if let Some(node) = self.node(k, guard) {
                let held = if wait {
                    node.slot.stamp.latch()
                } else {
                    match node.slot.stamp.try_latch() {
                        Ok(held) => Some(held),
                        Err(now) if now & super::latch::LATCHED != 0 => return None,
                        // Changed under the compare-and-swap: look again.
                        Err(_) => None,
                    }
                };
                if let Some(held) = held {
                    return Some(Locked::new(self, node, k.hash, held, clock, guard));
                }
                // Dead: its deleter is about to take it out of the table.
                super::latch::backoff(&mut spins);
                continue;
            }
            // A new key records its creation as an access even under
            // NO-TOUCH, as a new Redis object gets a fresh LRU/LFU field.
            let word = clock
                .lru
                .unwrap_or_else(|| super::access::clock_word(clock.now_ms));
            let mut ours = None;
            let (node, inserted) = self.map.find_or_insert(
                k.hash,
                k.bytes,
                || {
                    // Latched from birth: nobody can see it half-built.
                    let key_len = u32::try_from(k.bytes.len()).expect("keys are under 4 GiB");
                    let (slot, held) = Slot::new_latched(super::access::initial(word), key_len);
                    ours = Some(held);
                    Node::alloc(k.bytes, slot)
                },
                guard,
            );
            if inserted {
                // Counted after the insert and before the first publish (the
                // slot is still latched), so a reader that missed the insert
                // but could have missed a publish too sees the count move.
                self.stripe(k.hash).creations.fetch_add(1, Ordering::SeqCst);
                let held = ours.expect("a new node was made");
                return Some(Locked::new(self, node, k.hash, held, clock, guard));
            }
            // Someone else created it meanwhile: latch theirs.
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
        let mut spins = 0;
        loop {
            let node = self.node(k, guard)?;
            if let Some(held) = node.slot.stamp.latch() {
                return Some(Locked::new(self, node, k.hash, held, clock, guard));
            }
            // Dead: its deleter is about to take it out of the table.
            super::latch::backoff(&mut spins);
        }
    }

    /// Visits every live key, bucket by bucket, pinning the epoch afresh
    /// every [`WALK_CHUNK`] keys or so, so that a walk over millions of keys
    /// never holds back reclamation (`store::reclaim`); call it with no pin
    /// held, or the re-pins cannot unpin. Every key present for the whole
    /// walk is visited; keys created or deleted meanwhile may or may not be.
    /// Returns whether a key may have been visited twice (a resize of the
    /// table overlapped the walk, as SCAN allows).
    pub fn walk(&self, clock: Clock, mut f: impl FnMut(&[u8], ReadView<'_>)) -> bool {
        let mut cursor = 0;
        let mut repeats = false;
        loop {
            let guard = epoch::pin();
            let mut visited = 0;
            while visited < WALK_CHUNK {
                repeats |= self.map.buckets(&guard).1.is_some();
                cursor = self.map.scan(cursor, &guard, |node| {
                    visited += 1;
                    if let Some(view) = view(node, clock, &guard) {
                        f(node.key(), view);
                    }
                });
                repeats |= self.map.buckets(&guard).1.is_some();
                if cursor == 0 {
                    return repeats;
                }
            }
        }
    }

    /// One SCAN page from `cursor` (Redis's reverse-binary cursor over the
    /// table's buckets): `f` sees each live key of whole buckets and says
    /// whether the page wants more; a page also ends after `max_buckets`
    /// buckets (Redis: ten times COUNT). Returns the next cursor (0 = done).
    /// Re-pins every few hundred keys.
    pub fn scan(
        &self,
        cursor: u64,
        clock: Clock,
        max_buckets: usize,
        mut f: impl FnMut(&[u8], ReadView<'_>) -> bool,
    ) -> u64 {
        let mut cursor = cursor;
        let mut buckets = 0;
        loop {
            let guard = epoch::pin();
            let mut visited = 0;
            while visited < WALK_CHUNK {
                let mut more = true;
                cursor = self.map.scan(cursor, &guard, |node| {
                    visited += 1;
                    if let Some(view) = view(node, clock, &guard) {
                        more &= f(node.key(), view);
                    }
                });
                buckets += 1;
                if cursor == 0 || !more || buckets >= max_buckets {
                    return cursor;
                }
            }
        }
    }

    /// A random live key, uniformly chosen (the table's sampling), for
    /// RANDOMKEY. Expired keys met on the way are deleted, as Redis does.
    pub fn random_key<'g>(&'g self, clock: Clock, guard: &'g Guard) -> Option<&'g [u8]> {
        for _ in 0..100 {
            let node = self.map.sample(guard, rand::random::<u64>)?;
            let (v, expire, _) = node.slot.read(guard);
            if v.is_null() {
                continue;
            }
            if expire != 0 && expire <= clock.now_ms {
                drop(self.lock_existing(node.key(), clock.no_touch(), guard));
                continue;
            }
            return Some(node.key());
        }
        None
    }

    /// One round of active expiry, as Redis runs it: looks at about `want`
    /// keys with a TTL, going on through the expiry index from where the
    /// last round stopped, and deletes those whose deadline has passed. The
    /// caller runs rounds while they keep finding expired keys.
    pub fn expire_cycle(&self, clock: Clock, want: usize) -> ExpireRound {
        let guard = epoch::pin();
        let mut round = ExpireRound::default();
        let (mut ttl_sum, mut ttl_n) = (0u64, 0u64);
        for node in self.expires.next_round(want, &guard) {
            round.sampled += 1;
            let deadline = node.slot.expire.load(Ordering::Acquire);
            if deadline > clock.now_ms {
                ttl_sum += deadline - clock.now_ms;
                ttl_n += 1;
                continue;
            }
            if super::expiry_held(clock.now_ms) {
                continue;
            }
            if let Some(locked) = self.lock_existing(node.key(), clock.no_touch(), &guard) {
                if locked.expired {
                    round.expired += 1;
                }
            }
        }
        self.expires.note_ttls(ttl_sum, ttl_n);
        round
    }

    /// A uniformly chosen key that has a TTL, for volatile-* eviction.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn sample_volatile<'g>(&'g self, guard: &'g Guard) -> Option<&'g [u8]> {
        self.expires.sample(guard).map(Node::key)
    }
}

/// A consistent view of a node's key if it is live at `clock`.
fn view<'g>(node: &'g Node, clock: Clock, guard: &'g Guard) -> Option<ReadView<'g>> {
    let slot = &node.slot;
    let (value, expire, stamp) = slot.read(guard);
    if value.is_null() || (expire != 0 && expire <= clock.now_ms) {
        return None;
    }
    Some(ReadView {
        value,
        expire,
        slot,
        stamp,
    })
}

/// A latched key. Changes are published when it is dropped: one pointer swap,
/// one expiry store and one stamp store, or an unlink if the key is gone.
pub struct Locked<'g> {
    ks: &'g Keyspace,
    node: &'g Node,
    /// The key's hash (nodes do not store it).
    hash: u64,
    held: Option<Held>,
    guard: &'g Guard,
    /// The slot's pointer to the value the key logically has at lock time
    /// (None if absent/expired), tagged if the value is changed in place.
    cur: Option<Shared<'g, Value>>,
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
    /// The snapshot word a multi-key command commits under (its gate's);
    /// `None`: enter this thread's gate at commit (single-key commands).
    snap_word: Option<u64>,
    /// Set once this latch changed its value in place: the word of the
    /// gate it entered before that change (and holds until released).
    in_place_word: Option<u64>,
    /// The value was changed in place (a new version is published even if
    /// the command then panics: an in-place change cannot be undone).
    changed_in_place: bool,
    /// Never change the value in place, so that [`Locked::rollback`] undoes
    /// everything (transactions, which may have to abort and retry).
    undoable: bool,
}

impl<'g> Locked<'g> {
    fn new(
        ks: &'g Keyspace,
        node: &'g Node,
        hash: u64,
        held: Held,
        clock: Clock,
        guard: &'g Guard,
    ) -> Locked<'g> {
        let slot = &node.slot;
        let v = slot.value.load(Ordering::Acquire, guard);
        let phys_expire = slot.expire.load(Ordering::Acquire);
        let mut cur = (!v.is_null()).then_some(v);
        let expired = cur.is_some() && phys_expire != 0 && phys_expire <= clock.now_ms;
        if expired {
            cur = None;
        }
        if let (Some(lru), Some(_)) = (clock.lru, cur) {
            slot.touch(lru);
        }
        Locked {
            ks,
            node,
            hash,
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
            snap_word: None,
            in_place_word: None,
            changed_in_place: false,
            undoable: false,
        }
    }

    /// From now on changes are copy-on-write even for a value otherwise
    /// changed in place (O(1) for the persistent collections, whose writes
    /// then copy only the paths they change), so [`Locked::abandon`] can
    /// undo all of them.
    pub fn make_undoable(&mut self) {
        self.undoable = true;
    }

    /// Releases the latch without publishing anything changed through it
    /// (a transaction that must retry). Changes made in place before
    /// [`Locked::make_undoable`] cannot be undone and are published.
    pub fn abandon(mut self) {
        if broken!(ABANDON_PUBLISHES) {
            return; // dropped: committed
        }
        self.rollback();
    }

    /// The key's version when it was latched (WATCH compares it with the
    /// version it saw).
    pub fn version_at_latch(&self) -> Option<u64> {
        self.held.as_ref().map(|h| h.before)
    }

    /// The value latched (as changed in place through this latch, if so).
    fn cur_value(&self) -> Option<&Value> {
        let p = self.cur?;
        // Loaded under `guard` (values are retired only through the epoch)
        // and non-null. While this latch is held nobody else changes it: a
        // copy-on-write value is immutable, and a value changed in place is
        // changed only by its latch holder, us; the reference borrows
        // `self`, so it cannot outlive the latch or overlap our own in-place
        // change (`update` takes `&mut self`).
        // SAFETY: so it is alive and unchanged for as long as it is borrowed.
        Some(unsafe { p.deref() })
    }

    pub fn key(&self) -> &'g [u8] {
        self.node.key()
    }

    /// The database it was latched in (another key of the same database is
    /// latched through it: BLMOVE's destination).
    pub fn keyspace(&self) -> &'g Keyspace {
        self.ks
    }

    pub fn slot(&self) -> &'g Slot {
        &self.node.slot
    }

    /// The key's current value (including changes made through this latch).
    pub fn value(&self) -> Option<&Value> {
        match &self.new_value {
            Some(v) => v.as_ref(),
            None => self.cur_value(),
        }
    }

    pub fn exists(&self) -> bool {
        self.value().is_some()
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

    /// Changes the value through `f`, which returns whether it changed
    /// anything (and must change nothing when it returns false). `None`, and
    /// `f` is not called, when the key has no value.
    ///
    /// A copy-on-write value is never written once published: the first
    /// change under this latch works on a copy (O(1) for the persistent
    /// collections, whose writes then copy only the paths they change) and
    /// is kept only if `f` changed it, so a write that changes nothing
    /// publishes no new version. Later changes under the same latch (the
    /// next commands of a pipelined run on one key, or of a transaction)
    /// find that copy unshared and change it in place, copying nothing.
    ///
    /// A value published with an in-place tag (a large collection: see
    /// `Value::in_place_tag`) is changed where it is, copying nothing:
    /// readers latch it, so none can see it change. A running snapshot gets
    /// the key's bucket first, and the change is made inside this thread's
    /// snapshot gate, held until the latch is released, so the snapshot's
    /// walk never copies the value while it changes (`store::snapshot`).
    /// Such a change cannot be rolled back: if the command panics later,
    /// it is published all the same (with a new version).
    ///
    /// `f` must not change the value's type.
    pub fn update(&mut self, f: impl FnOnce(&mut Value) -> bool) -> Option<bool> {
        match &mut self.new_value {
            Some(Some(v)) => Some(f(v)),
            Some(None) => None,
            None => {
                let cur = self.cur?;
                if cur.tag() != 0 && !self.undoable {
                    return Some(self.update_in_place(cur, f));
                }
                let mut v = self.cur_value()?.clone();
                let changed = f(&mut v);
                if changed {
                    self.new_value = Some(Some(v));
                }
                Some(changed)
            }
        }
    }

    fn update_in_place(
        &mut self,
        cur: Shared<'g, Value>,
        f: impl FnOnce(&mut Value) -> bool,
    ) -> bool {
        if self.in_place_word.is_none() && !broken!(IN_PLACE_OUTSIDE_THE_GATE) {
            // Entered again by a multi-key command's commit, which then
            // publishes all its keys under this same word.
            let word = gate::enter(&self.ks.snap);
            self.in_place_word = Some(word);
            self.ks
                .snap
                .before_write(word, self.ks, self.hash, self.guard);
        }
        // The value is reachable only through this slot, and with its tag
        // set nobody dereferences it but (a) the holder of this latch (a
        // latched reader, or us), (b) a snapshot copying its bucket, which
        // happens only before the hand-off above or not at all while this
        // gate is held (`store::snapshot`), and (c) its retirement, by a
        // later latch holder. It was allocated as a `Box` (`Owned::new`),
        // so writing through the pointer is writing to our own allocation.
        // SAFETY: we hold the latch, so nothing else reads or writes it now.
        let v = unsafe { &mut *(cur.as_raw() as *mut Value) };
        // Until `f` returns, assume it changed something: if it panics
        // half-way, `rollback` publishes what it did with a new version.
        let before = self.changed_in_place;
        self.changed_in_place = true;
        let changed = f(v);
        self.changed_in_place = before || changed;
        if v.kind_tag() != cur.tag() {
            // A new type: published as a new value (with its own tag).
            self.new_value = Some(Some(v.clone()));
        }
        changed
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
        // The TTL goes with the key: a value set later under the same latch
        // (the next command of a run or transaction) starts without one.
        self.new_expire = Some(0);
        existed
    }

    /// Counts as a write (new version) even if nothing changed.
    pub fn mark_touched(&mut self) {
        self.touched = true;
    }

    /// Takes the value out (for RENAME/MOVE), deleting the key.
    pub fn take(&mut self) -> Option<(Value, Option<u64>)> {
        // A value changed in place is copied (O(1): a persistent
        // collection's clone shares its nodes) and replaced: the copy is
        // copy-on-write until it is published again.
        let expire = self.expire();
        let v = self.value().cloned()?;
        self.new_value = Some(None);
        self.new_expire = Some(0);
        Some((v, expire))
    }

    fn commit(&mut self) {
        let Some(held) = self.held.take() else { return };
        let slot = &self.node.slot;
        let changed = self.new_value.is_some()
            || self.new_expire.is_some()
            || self.touched
            || self.changed_in_place;
        // While deletions of expired keys are held (CLIENT PAUSE), an
        // expired key nothing wrote stays as it is, invisible.
        let delete_expired = self.expired && (changed || !super::expiry_held(self.now_ms));
        if delete_expired {
            super::count_expired(self.hash);
        }
        if !changed && !delete_expired {
            if self.cur.is_none() && !self.expired {
                // A slot we created (or found empty) and left empty: unlink it.
                self.unlink(held);
            } else {
                slot.stamp.unlatch(held, None);
            }
            return;
        }
        // A running snapshot gets the bucket's state before this write. A
        // single-key commit enters this thread's gate as a multi-key one
        // does (whose `LockSet` holds it already): a snapshot starting now
        // waits for the publish below instead of walking past a slot whose
        // value and deadline are half written.
        let (word, own_gate) = match self.snap_word.or(self.in_place_word) {
            Some(w) => (w, false),
            None if broken!(SINGLE_KEY_WITHOUT_GATE) => {
                seq_cst_store_load();
                (self.ks.snap.word(), false)
            }
            None => (gate::enter(&self.ks.snap), true),
        };
        self.ks
            .snap
            .before_write(word, self.ks, self.hash, self.guard);
        self.publish(held);
        if own_gate {
            gate::exit();
        }
    }

    /// Publishes the new value and deadline (or unlinks the key) and
    /// releases the latch with a new version.
    fn publish(&mut self, held: Held) {
        let slot = &self.node.slot;
        let final_present = match &self.new_value {
            Some(v) => v.is_some(),
            None => self.cur.is_some(),
        };
        if !final_present {
            self.unlink(held);
            return;
        }
        if let Some(Some(v)) = self.new_value.take() {
            // Sequentially consistent (the same instruction as `AcqRel` on
            // x86-64 and AArch64): a later commit's load of the snapshot word
            // must not be ordered before this publish (see `snapshot`).
            // Under the latch the slot still holds what it held at lock time
            // (`cur`, unless that had expired: then nothing is shared).
            let shared = self.cur_value().is_some_and(|c| c.shares_lineage(&v));
            // A non-zero tag marks a value changed in place from now on.
            let tag = v.in_place_tag();
            let new = Owned::new(v).into_shared(self.guard).with_tag(tag);
            let old = slot.value.swap(new, Ordering::SeqCst, self.guard);
            if old.is_null() {
                self.ks
                    .stripe(self.hash)
                    .live
                    .fetch_add(1, Ordering::Relaxed);
            }
            retire(old, self.guard, shared);
            if self.cur.is_none() {
                // The key comes to life (it was absent or had expired):
                // clients WATCHing it as absent must see that.
                self.ks.absent_watches.touch(self.node.key());
            }
        }
        let final_expire = self.new_expire.unwrap_or(self.cur_expire);
        if final_expire != self.phys_expire {
            match (self.phys_expire, final_expire) {
                (0, _) => self.ks.expires.add(self.node, self.hash, self.guard),
                (_, 0) => self.ks.expires.remove(self.node, self.hash, self.guard),
                _ => {} // a new deadline: the index holds the node, not it
            }
            slot.expire.store(final_expire, Ordering::Release);
        }
        slot.stamp.unlatch(held, Some(next_version()));
    }

    /// Releases the latch leaving the slot exactly as it was when latched,
    /// except for a change made in place, which cannot be undone: that is
    /// published (the rest of the command's changes are not).
    fn rollback(&mut self) {
        let Some(held) = self.held.take() else { return };
        if self.changed_in_place {
            self.new_value = None;
            self.new_expire = None;
            self.publish(held);
            return;
        }
        let slot = &self.node.slot;
        if slot.value.load(Ordering::Acquire, self.guard).is_null() {
            // A slot created for this command (or found empty): it must not
            // stay in the map, as `commit` would not leave it either.
            self.unlink(held);
        } else {
            slot.stamp.unlatch(held, None);
        }
    }

    fn unlink(&mut self, held: Held) {
        let slot = &self.node.slot;
        // Sequentially consistent, as the publish in `commit`.
        let old = slot
            .value
            .swap(Shared::null(), Ordering::SeqCst, self.guard);
        if !old.is_null() {
            self.ks
                .stripe(self.hash)
                .live
                .fetch_sub(1, Ordering::Relaxed);
        }
        retire(old, self.guard, false);
        if self.phys_expire != 0 {
            // Out of the index before the node leaves the table and is
            // retired: the index's entries point at live nodes.
            self.ks.expires.remove(self.node, self.hash, self.guard);
        }
        slot.stamp.kill(held, next_version());
        if self.ks.map.remove(self.node, self.guard) {
            let node = self.node as *const Node as *mut Node;
            // Unlinked from the table just now, by us alone: the slot was
            // latched and is now dead, so nobody else removes it.
            // SAFETY: new lookups cannot find it; readers that did are pinned;
            // it was made by `Node::alloc`, which `Node::free` undoes.
            unsafe { crate::sync::retire_with(self.guard, node, <Node as Entry>::free) };
            super::reclaim::deferred(self.guard, 1);
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The command panicked before finishing: publish none of its
            // changes. Every latch of the command is dropped this way while
            // unwinding, so all its keys stay as they were (but for changes
            // made in place: see `rollback`).
            self.rollback();
        } else {
            self.commit();
        }
        if self.in_place_word.take().is_some() {
            gate::exit();
        }
    }
}

/// `shared`: the slot now holds a later version of `old` sharing most of
/// its memory (`Value::shares_lineage`).
fn retire(old: Shared<'_, Value>, guard: &Guard, shared: bool) {
    if !old.is_null() {
        // `old` was just swapped out of its slot under the latch, and only
        // the latch holder retires it.
        // SAFETY: no reader that pins from now on can load it; retired once.
        unsafe { super::reclaim::retire_value(old, guard, shared) };
    }
}

/// Reads several keys of one database as of a single instant (MGET, EXISTS).
///
/// Optimistic first: read every key, then confirm no stamp moved; after a few
/// failed attempts (heavy write contention) it latches them all instead.
/// `None` if some value is changed in place (it cannot be read here without
/// its latch held for as long as it is read: the caller latches the keys).
pub fn read_many<'g>(
    ks: &'g Keyspace,
    keys: &[&[u8]],
    clock: Clock,
    guard: &'g Guard,
) -> Option<Vec<Option<&'g Value>>> {
    for _ in 0..OPTIMISTIC_READS {
        let views: Vec<Option<ReadView<'g>>> = keys
            .iter()
            .map(|k| {
                let view = ks.get(k, clock, guard);
                model_yield();
                view
            })
            .collect();
        // A value changed in place cannot be read here: the caller latches.
        if views.iter().flatten().any(ReadView::in_place) {
            return None;
        }
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
                let absent = ks.get(k, clock.no_touch(), guard).is_none();
                model_yield();
                absent
            });
        let mut marks = marks.into_iter();
        let stable = broken!(READ_MANY_SKIPS_VALIDATION)
            || (still_absent
                && keys.iter().zip(&views).all(|(k, v)| match v {
                    Some(v) => ks.stamp_of(k, guard) == Some(v.stamp),
                    None => {
                        broken!(READ_MANY_LOOKS_AGAIN) || marks.next() == Some(ks.creation_mark(k))
                    }
                }));
        if stable {
            // Every present value is copy-on-write (checked above).
            return Some(views.into_iter().map(|v| v?.value()).collect());
        }
    }
    let pairs: Vec<(&'g Keyspace, &[u8])> = keys.iter().map(|k| (ks, *k)).collect();
    let mut set = lock_many(&pairs, clock, guard);
    (0..keys.len())
        .map(|i| {
            let l = set.nth(i);
            // Read after the latch is gone: only a copy-on-write value.
            match l.cur {
                Some(p) if p.tag() != 0 => None,
                // SAFETY: loaded under the latch and `guard`; untagged, so
                // immutable, and retired only through the epoch.
                Some(p) => Some(Some(unsafe { p.deref() })),
                None => Some(None),
            }
        })
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
    if !broken!(LOCK_MANY_IN_REQUEST_ORDER) {
        order.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    }
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

impl Drop for LockSet<'_> {
    /// Commits every key under one snapshot word, inside this thread's
    /// gate, so a snapshot's cut never falls between two keys of one command
    /// (`store::snapshot`). While unwinding, each latch rolls back instead.
    fn drop(&mut self) {
        if std::thread::panicking() || self.locks.is_empty() {
            return;
        }
        if broken!(COMMIT_WITHOUT_GATE) {
            self.locks.clear();
            return;
        }
        let state = self.locks[0].ks.snapshots();
        let word = gate::enter(state);
        for l in &mut self.locks {
            l.snap_word = Some(word);
        }
        self.locks.clear();
        gate::exit();
    }
}

impl<'g> LockSet<'g> {
    /// Releases every latch without publishing (see [`Locked::abandon`]).
    pub fn abandon(mut self) {
        for l in self.locks.drain(..) {
            l.abandon();
        }
    }

    /// Makes every latch undoable (see [`Locked::make_undoable`]).
    pub fn make_undoable(&mut self) {
        for l in &mut self.locks {
            l.make_undoable();
        }
    }

    /// The latch of the i-th key passed to [`lock_many`] (duplicates share one).
    pub fn nth(&mut self, i: usize) -> &mut Locked<'g> {
        &mut self.locks[self.position[i]]
    }

    /// The latch of the i-th key passed to [`lock_many`], shared: several
    /// keys' values can then be read at once (MGET, LCS).
    pub fn nth_ref(&self, i: usize) -> &Locked<'g> {
        &self.locks[self.position[i]]
    }

    /// Every latch of the set.
    pub fn iter(&self) -> impl Iterator<Item = &Locked<'g>> {
        self.locks.iter()
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
