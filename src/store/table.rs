//! The keyspace's concurrent hash table.
//!
//! Power-of-two arrays of 64-byte buckets, indexed by the low bits of a key's
//! hash. A bucket is one cache line: a meta word, a pointer to an overflow
//! bucket, and six entry pointers.
//!
//! ```text
//! meta:  bit 0 LOCKED, bit 1 MOVED, bits 2..8 one "present" bit per slot,
//!        bits 8..56 one 8-bit tag (top hash bits) per slot
//! ```
//!
//! * **Lookups are lock-free and write nothing**: read the head's meta, and
//!   for each present slot whose tag matches, load the entry and compare hash
//!   and key; follow the overflow chain. A present key costs the bucket line
//!   and the entry's line. Tags are only a filter: a slot reused while a
//!   reader looks is caught by the full comparison.
//! * **Writers latch the head bucket** (a CAS on LOCKED), change slots and
//!   overflow buckets, and publish the new meta with the store that unlocks.
//!   A latch is held for a few instructions (finding or placing one entry).
//! * **Entries are never copied.** The table stores pointers to entries that
//!   the caller allocates, so an entry keeps its address (and the slot latch
//!   inside it) for its whole life; removing an entry hands it back to the
//!   caller, who retires it through the epoch.
//! * **Resizing is incremental and shared** (as Java's ConcurrentHashMap):
//!   growing doubles, shrinking halves. A writer that notices the threshold
//!   links a `next` table; from then every writer first migrates a chunk of
//!   buckets: it latches an old bucket, copies its entry pointers into the new
//!   table (latching each target bucket), and sets MOVED as it unlocks. Readers
//!   and writers that meet a MOVED bucket continue in `next`; until a bucket
//!   is MOVED, writes for its keys happen in the old table, so a key is never
//!   in both. The thread that migrates the last chunk makes `next` current and
//!   retires the old array. No one ever rehashes the whole table at once.
//! * **SCAN** uses Redis's reverse-binary cursor over bucket indexes, with
//!   Redis's rule for a table that is being resized (visit the small table's
//!   bucket and every expansion of it in the large one; the old table's
//!   buckets first, as migration runs meanwhile), so a key present for the
//!   whole scan is returned at least once however the table grows or
//!   shrinks. Cursors are bucket indexes, far below 2^53.
//! * **Sampling is uniform**: pick a random bucket of the larger table, count
//!   the entries that belong to it (c), accept with probability c / max where
//!   max bounds every bucket's count (`max_chain`, kept by inserts), then take
//!   one of the c uniformly: every entry has the same chance 1 / (buckets ×
//!   max).
//!
//! * **Snapshots** mark buckets: SNAP holds the parity of the snapshot
//!   generation the bucket was last serialized for. `serialize_bucket_*`
//!   latch a bucket, hand its entries to the snapshot and flip the mark, so a
//!   bucket is serialized exactly once per snapshot, by a writer about to
//!   change it or by the snapshot's walk, whichever latches it first. No
//!   resize runs during a snapshot (`store::snapshot` finishes one before it
//!   starts and `resize_to` refuses while `frozen`), so bucket indexes are
//!   stable for the walk.
//!
//! The atomics come from `crate::sync`, so `loom-tests/` compiles this file
//! as is and model-checks it.

use crate::sync::{
    broken, flush, retire, spin_wait, AtomicPtr, AtomicU64, AtomicUsize, Guard, Ordering,
};
use std::ptr;

/// What the table stores: an entry that knows its key.
pub trait Entry {
    fn hash(&self) -> u64;
    fn key(&self) -> &[u8];

    /// Frees an entry the table owned (when the table is dropped, or when a
    /// removed entry's retirement runs). The default is for `Box`ed entries.
    ///
    /// # Safety
    /// `ptr` came from the allocation the entry's maker made (for the
    /// default, `Box::into_raw`), nobody can reach it any more, and it is
    /// freed once.
    unsafe fn free(ptr: *mut Self)
    where
        Self: Sized,
    {
        // SAFETY: per the contract, a `Box` nobody else can reach.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

const SLOTS: usize = 6;
const LOCKED: u64 = 1;
const MOVED: u64 = 2;
const PRESENT_SHIFT: u32 = 2;
const TAG_SHIFT: u32 = 8;
/// Snapshot mark (head buckets only): the parity of the snapshot generation
/// for which the bucket was last serialized (see `store::snapshot`).
const SNAP: u64 = 1 << 56;

/// Grow when the entries exceed this many per bucket on average, and
/// resize (either way) to the fewest buckets that hold at most this many:
/// 2.5 to 5 entries per bucket of [`SLOTS`]. The buckets then cost 13 to 26
/// bytes per entry; at lower loads they cost more memory than the entries'
/// own nodes save by embedding the key (docs/ARCHITECTURE.md, "Memory per
/// key"), and a present key is still found in the head bucket 9 times in 10.
const GROW_LOAD: usize = 5;
/// Shrink when the entries fall below one per bucket.
const SHRINK_LOAD: usize = 1;
const MIN_BUCKETS: usize = 4;
/// Buckets a helper migrates per write while a resize runs. Under loom the
/// models' tables have 4 to 8 buckets: chunks of 2 make their resizes take
/// several chunks, finished by whichever helper migrates the last one, as
/// the server's tables of more than 64 buckets do.
const MIGRATE_CHUNK: usize = if cfg!(loom) { 2 } else { 64 };
/// Counter stripes (entry counts), on separate cache lines.
const STRIPES: usize = if cfg!(loom) { 2 } else { 64 };

/// Deliberately broken variants of the table's protocols, for the negative
/// controls in `loom-tests/tests/table.rs` (each shows that a model fails
/// when the protocol it checks is broken). Compiled only under `cfg(loom)`:
/// in the server, `broken!` (`crate::sync`) is the constant `false`.
#[cfg(loom)]
pub mod loom_breaks {
    use std::sync::atomic::AtomicBool;

    /// `find` reads a MOVED bucket's chain (the entries it had when it was
    /// migrated) instead of following it into the next table.
    pub static FIND_IGNORES_MOVED: AtomicBool = AtomicBool::new(false);
    /// Writers go straight to the next table while a resize runs, without
    /// latching the old bucket and checking that it is MOVED.
    pub static WRITERS_SKIP_OLD_BUCKET: AtomicBool = AtomicBool::new(false);
    /// `find_or_insert` looks the key up lock-free, then latches the bucket
    /// and inserts without looking again.
    pub static INSERT_CHECKS_UNLATCHED: AtomicBool = AtomicBool::new(false);
    /// SCAN during a resize skips the small table's bucket.
    pub static SCAN_SKIPS_SMALL_BUCKET: AtomicBool = AtomicBool::new(false);
    /// SCAN during a shrink reads the next (small) table's bucket before the
    /// old table's (the order before the fix that reads the old one first).
    pub static SCAN_READS_NEXT_FIRST: AtomicBool = AtomicBool::new(false);
}

fn tag_of(hash: u64) -> u64 {
    hash >> 56
}

fn present(meta: u64, i: usize) -> bool {
    meta & (1 << (PRESENT_SHIFT + i as u32)) != 0
}

fn tag_at(meta: u64, i: usize) -> u64 {
    (meta >> (TAG_SHIFT + 8 * i as u32)) & 0xff
}

fn with_slot(meta: u64, i: usize, tag: u64) -> u64 {
    let tag_bits = 0xff << (TAG_SHIFT + 8 * i as u32);
    (meta & !tag_bits) | (1 << (PRESENT_SHIFT + i as u32)) | (tag << (TAG_SHIFT + 8 * i as u32))
}

fn without_slot(meta: u64, i: usize) -> u64 {
    meta & !(1 << (PRESENT_SHIFT + i as u32))
}

#[repr(C, align(64))]
struct Bucket<N> {
    meta: AtomicU64,
    child: AtomicPtr<Bucket<N>>,
    slots: [AtomicPtr<N>; SLOTS],
}

impl<N> Bucket<N> {
    fn new() -> Bucket<N> {
        Bucket {
            meta: AtomicU64::new(0),
            child: AtomicPtr::new(ptr::null_mut()),
            slots: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }

    /// Latches the bucket; returns its meta (without LOCKED).
    fn lock(&self) -> u64 {
        let mut spins = 0;
        loop {
            let m = self.meta.load(Ordering::Relaxed);
            if m & LOCKED == 0
                && self
                    .meta
                    .compare_exchange_weak(m, m | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return m;
            }
            spin_wait(&mut spins);
        }
    }

    /// Publishes `meta` (the head's slots) and releases the latch.
    fn unlock(&self, meta: u64) {
        self.meta.store(meta & !LOCKED, Ordering::Release);
    }
}

/// Calls `f` on every entry in a bucket's chain, with the meta word each
/// chain bucket had when read. Lock-free; see the module comment.
/// The entry for `key` in the chain at `head` (whose meta word is `meta`),
/// comparing keys only where the tag matches: a lookup reads the bucket
/// lines and the matching entries, not every entry of the chain.
fn find_in_chain<'g, N: Entry>(
    head: &'g Bucket<N>,
    meta: u64,
    tag: u64,
    key: &[u8],
) -> Option<&'g N> {
    let mut b = head;
    let mut m = meta;
    loop {
        for i in 0..SLOTS {
            if present(m, i) && tag_at(m, i) == tag {
                let p = b.slots[i].load(Ordering::Acquire);
                // SAFETY: see `for_each_in_chain`.
                if let Some(e) = unsafe { p.as_ref() } {
                    if e.key() == key {
                        return Some(e);
                    }
                }
            }
        }
        let c = b.child.load(Ordering::Acquire);
        // SAFETY: see `for_each_in_chain`.
        b = unsafe { c.as_ref() }?;
        m = b.meta.load(Ordering::Acquire);
    }
}

/// The number of entries in the chain at `head`, from the meta words alone.
fn chain_len<N>(head: &Bucket<N>, meta: u64) -> usize {
    let present_bits = ((1u64 << SLOTS) - 1) << PRESENT_SHIFT;
    let mut n = (meta & present_bits).count_ones() as usize;
    let mut c = head.child.load(Ordering::Acquire);
    // The caller holds the head's latch (or is pinned).
    // SAFETY: overflow buckets live as long as their table.
    while let Some(b) = unsafe { c.as_ref() } {
        n += (b.meta.load(Ordering::Acquire) & present_bits).count_ones() as usize;
        c = b.child.load(Ordering::Acquire);
    }
    n
}

fn for_each_in_chain<'g, N>(head: &'g Bucket<N>, head_meta: u64, mut f: impl FnMut(&'g N) -> bool) {
    let mut b = head;
    let mut meta = head_meta;
    loop {
        for i in 0..SLOTS {
            if present(meta, i) {
                let p = b.slots[i].load(Ordering::Acquire);
                // SAFETY: entries are freed only through the epoch after
                // being unlinked, and the caller is pinned ('g).
                if let Some(e) = unsafe { p.as_ref() } {
                    if !f(e) {
                        return;
                    }
                }
            }
        }
        let c = b.child.load(Ordering::Acquire);
        // SAFETY: overflow buckets are freed with their table, through the
        // epoch, and the caller is pinned.
        match unsafe { c.as_ref() } {
            Some(child) => {
                b = child;
                meta = b.meta.load(Ordering::Acquire);
            }
            None => return,
        }
    }
}

/// A table's bucket array. Arrays of 2 MiB and more are mapped on their own
/// (`mmap`), 2 MiB-aligned, and the kernel is asked to back them with
/// transparent huge pages (`MADV_HUGEPAGE`; Debian's default THP mode
/// honours it): at 10M keys the array is 128 MiB, read at random, and each
/// lookup's first cache miss would otherwise also miss the TLB and walk the
/// page tables. The array is dense, so huge pages cost no memory; fresh
/// mappings are zero, and zero is an empty bucket. They bypass the
/// allocator (whose recycled pages are already faulted in as small pages),
/// so their bytes are counted apart, in [`mapped_bytes`], which INFO adds to
/// `used_memory`. (Huge pages for the whole heap, jemalloc's `thp:always`,
/// made lookups faster still but cost 6% more RSS per key and 22 MB more
/// for an empty server: not the default.)
struct BucketArray<N> {
    ptr: ptr::NonNull<Bucket<N>>,
    len: usize,
    /// Bytes mapped for it with `mmap` (0: allocated by the allocator).
    #[cfg_attr(loom, allow(dead_code))]
    mapped: usize,
}

/// Arrays at least this large are mapped on their own, with huge pages.
#[cfg_attr(loom, allow(dead_code))]
const HUGE_PAGE: usize = 2 << 20;

/// Bytes of bucket arrays mapped outside the allocator: accounting, not
/// part of any protocol, so std's atomic even under loom.
static MAPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Bytes of bucket arrays mapped outside the allocator (see [`BucketArray`]),
/// for INFO `used_memory`.
pub fn mapped_bytes() -> usize {
    MAPPED.load(std::sync::atomic::Ordering::Relaxed)
}

impl<N> BucketArray<N> {
    /// `len` empty buckets whose meta words carry `mark`.
    fn new(len: usize, mark: u64) -> BucketArray<N> {
        #[cfg(loom)]
        let (ptr, mapped) = {
            // Loom's atomics are not valid when zeroed: build them.
            let b: Box<[Bucket<N>]> = (0..len).map(|_| Bucket::new()).collect();
            let p = ptr::NonNull::new(Box::into_raw(b) as *mut Bucket<N>).expect("not null");
            (p, 0)
        };
        #[cfg(not(loom))]
        let (ptr, mapped) = {
            let layout = std::alloc::Layout::array::<Bucket<N>>(len).expect("bucket array size");
            match map_huge(layout.size()) {
                Some(p) => (p.cast(), layout.size()),
                None => {
                    // SAFETY: the layout has a non-zero size (at least one bucket).
                    let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut Bucket<N>;
                    let Some(p) = ptr::NonNull::new(p) else {
                        std::alloc::handle_alloc_error(layout);
                    };
                    // All-zero is an empty bucket: atomics of 0, null pointers.
                    (p, 0)
                }
            }
        };
        let array = BucketArray { ptr, len, mapped };
        if mark != 0 {
            for b in array.iter() {
                b.meta.store(mark, Ordering::Relaxed);
            }
        }
        array
    }
}

/// A fresh, zeroed, 2 MiB-aligned mapping of `size` bytes advised to use
/// huge pages, if `size` is at least [`HUGE_PAGE`] and the system gives one.
#[cfg(not(loom))]
fn map_huge(size: usize) -> Option<ptr::NonNull<u8>> {
    #[cfg(all(target_os = "linux", not(miri)))]
    if size >= HUGE_PAGE {
        let span = size + HUGE_PAGE;
        // SAFETY: a new private anonymous mapping; it aliases nothing.
        let raw = unsafe {
            libc::mmap(
                ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return None;
        }
        let start = raw as usize;
        let aligned = start.next_multiple_of(HUGE_PAGE);
        let end = start + span;
        // The unaligned head and the tail beyond `size` go back.
        // SAFETY: parts of our own fresh mapping that nothing uses.
        unsafe {
            if aligned > start {
                libc::munmap(raw, aligned - start);
            }
            if end > aligned + size {
                libc::munmap((aligned + size) as *mut libc::c_void, end - aligned - size);
            }
            // Advice only: a refusal (THP off) leaves ordinary pages.
            libc::madvise(aligned as *mut libc::c_void, size, libc::MADV_HUGEPAGE);
        }
        MAPPED.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
        return ptr::NonNull::new(aligned as *mut u8);
    }
    let _ = size;
    None
}

impl<N> std::ops::Deref for BucketArray<N> {
    type Target = [Bucket<N>];
    fn deref(&self) -> &[Bucket<N>] {
        // SAFETY: `ptr` holds `len` initialized buckets until dropped.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<N> Drop for BucketArray<N> {
    fn drop(&mut self) {
        let slice = ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len);
        #[cfg(loom)]
        // SAFETY: made by `Box::into_raw` of a boxed slice of `len`.
        drop(unsafe { Box::from_raw(slice) });
        #[cfg(not(loom))]
        // `new` mapped it (`mapped` bytes) or allocated it with this layout.
        // SAFETY: `len` initialized buckets, dropped and freed once.
        unsafe {
            ptr::drop_in_place(slice);
            if self.mapped > 0 {
                #[cfg(all(target_os = "linux", not(miri)))]
                libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.mapped);
                MAPPED.fetch_sub(self.mapped, std::sync::atomic::Ordering::Relaxed);
            } else {
                let layout = std::alloc::Layout::array::<Bucket<N>>(self.len).expect("size");
                std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, layout);
            }
        }
    }
}

// SAFETY: a bucket array is owned memory of atomics (what `Box<[Bucket]>`
// would be); sharing it shares only atomics.
unsafe impl<N> Send for BucketArray<N> {}
// SAFETY: as above.
unsafe impl<N> Sync for BucketArray<N> {}

struct Table<N> {
    buckets: BucketArray<N>,
    mask: usize,
    /// The table this one is being migrated into (set once).
    next: AtomicPtr<Table<N>>,
    /// Next bucket index a helper claims for migration.
    claim: AtomicUsize,
    /// Buckets migrated so far.
    migrated: AtomicUsize,
    /// An upper bound of the entries in any one bucket chain (for sampling).
    max_chain: AtomicUsize,
}

impl<N> Table<N> {
    /// A table whose buckets carry snapshot mark `mark` (SNAP or 0).
    fn new(buckets: usize, mark: u64) -> Table<N> {
        debug_assert!(buckets.is_power_of_two());
        Table {
            buckets: BucketArray::new(buckets, mark),
            mask: buckets - 1,
            next: AtomicPtr::new(ptr::null_mut()),
            claim: AtomicUsize::new(0),
            migrated: AtomicUsize::new(0),
            max_chain: AtomicUsize::new(1),
        }
    }

    fn len(&self) -> usize {
        self.mask + 1
    }

    fn bucket(&self, hash: u64) -> &Bucket<N> {
        &self.buckets[hash as usize & self.mask]
    }

    fn next<'g>(&self, _guard: &'g Guard) -> Option<&'g Table<N>> {
        let p = self.next.load(Ordering::Acquire);
        if p == frozen_marker() {
            return None;
        }
        // A next table is retired only after it stopped being current, after
        // this table (which links to it) was retired.
        // SAFETY: so it is alive for as long as the caller is pinned.
        unsafe { p.as_ref() }
    }

    fn note_chain(&self, n: usize) {
        if n > self.max_chain.load(Ordering::Relaxed) {
            self.max_chain.fetch_max(n, Ordering::Relaxed);
        }
    }
}

impl<N> Drop for Table<N> {
    fn drop(&mut self) {
        // Overflow buckets belong to their table; entries do not.
        for b in self.buckets.iter() {
            let mut c = b.child.load(Ordering::Relaxed);
            while !c.is_null() {
                // SAFETY: the table is being dropped: nobody else can reach
                // its overflow buckets (it was retired through the epoch).
                let child = unsafe { Box::from_raw(c) };
                c = child.child.load(Ordering::Relaxed);
            }
        }
    }
}

#[repr(align(128))]
struct Stripe(AtomicUsize);

/// The table. `N` is allocated by the caller (the maker given to
/// [`RawTable::find_or_insert`]); the table owns it until
/// [`RawTable::remove`] hands it back, and frees what it still holds with
/// [`Entry::free`] when dropped.
pub struct RawTable<N: Entry> {
    cur: AtomicPtr<Table<N>>,
    /// The SNAP mark of a bucket serialized for the last snapshot: new
    /// tables start with it, so their buckets count as not yet serialized
    /// for the next snapshot.
    idle_mark: AtomicU64,
    /// Entries (inserted minus removed), striped by hash.
    count: Box<[Stripe]>,
}

// SAFETY: the table hands out `&N` to any thread and moves `N`s between
// threads (retired entries are dropped wherever the epoch runs them).
unsafe impl<N: Entry + Send + Sync> Send for RawTable<N> {}
// SAFETY: as above; all shared state is atomics.
unsafe impl<N: Entry + Send + Sync> Sync for RawTable<N> {}

impl<N: Entry + 'static> Default for RawTable<N> {
    fn default() -> Self {
        RawTable::new()
    }
}

impl<N: Entry + 'static> RawTable<N> {
    pub fn new() -> RawTable<N> {
        RawTable::with_buckets(MIN_BUCKETS)
    }

    /// A table starting with `buckets` buckets (rounded up to a power of two).
    pub fn with_buckets(buckets: usize) -> RawTable<N> {
        let n = buckets.max(MIN_BUCKETS).next_power_of_two();
        RawTable {
            cur: AtomicPtr::new(Box::into_raw(Box::new(Table::new(n, 0)))),
            idle_mark: AtomicU64::new(0),
            count: (0..STRIPES).map(|_| Stripe(AtomicUsize::new(0))).collect(),
        }
    }

    fn current<'g>(&self, _guard: &'g Guard) -> &'g Table<N> {
        // SAFETY: never null; a replaced table is retired through the epoch
        // and the caller is pinned.
        unsafe { &*self.cur.load(Ordering::Acquire) }
    }

    /// Entries in the table (a sum of stripes: exact when quiescent).
    pub fn len(&self) -> usize {
        let n: isize = self
            .count
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed) as isize)
            .sum();
        n.max(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buckets of the current table (and of the one it is migrating into).
    pub fn buckets(&self, guard: &Guard) -> (usize, Option<usize>) {
        let t = self.current(guard);
        (t.len(), t.next(guard).map(Table::len))
    }

    fn count_add(&self, hash: u64, delta: isize) {
        let s = &self.count[(hash >> 32) as usize % STRIPES].0;
        if delta >= 0 {
            s.fetch_add(delta as usize, Ordering::Relaxed);
        } else {
            s.fetch_sub((-delta) as usize, Ordering::Relaxed);
        }
    }

    /// The entry for `key`, if present.
    pub fn find<'g>(&self, hash: u64, key: &[u8], guard: &'g Guard) -> Option<&'g N> {
        let tag = tag_of(hash);
        let mut t = self.current(guard);
        loop {
            let head = t.bucket(hash);
            let meta = head.meta.load(Ordering::Acquire);
            if meta & MOVED != 0 && !broken!(FIND_IGNORES_MOVED) {
                t = t
                    .next(guard)
                    .expect("a MOVED bucket's table has a next table");
                continue;
            }
            return find_in_chain(head, meta, tag, key);
        }
    }

    /// Latches the bucket of `hash` where its keys live now: the current
    /// table's, or the next table's once it is MOVED. Helps a running resize
    /// first.
    fn lock_bucket<'g>(&self, hash: u64, guard: &'g Guard) -> (&'g Table<N>, &'g Bucket<N>, u64) {
        let mut t = self.current(guard);
        self.help_resize_of(t, guard);
        if broken!(WRITERS_SKIP_OLD_BUCKET) {
            if let Some(next) = t.next(guard) {
                t = next;
            }
        }
        loop {
            let b = t.bucket(hash);
            let meta = b.lock();
            if meta & MOVED != 0 {
                b.unlock(meta);
                t = t
                    .next(guard)
                    .expect("a MOVED bucket's table has a next table");
                continue;
            }
            return (t, b, meta);
        }
    }

    /// Asks the CPU to start loading the head bucket of `hash`, so that
    /// lookups of many keys (a pipelined batch) overlap their cache misses
    /// instead of taking them one after another.
    pub fn prefetch_bucket(&self, hash: u64, guard: &Guard) {
        prefetch(self.current(guard).bucket(hash) as *const Bucket<N> as *const u8);
    }

    /// Asks the CPU to start loading the entries of `hash`'s head bucket
    /// whose tag matches (best after [`RawTable::prefetch_bucket`] had time
    /// to bring the bucket in). A hint only: it takes no latch, and the
    /// entries may be gone by the time they are read.
    pub fn prefetch_entries(&self, hash: u64, guard: &Guard) {
        let b = self.current(guard).bucket(hash);
        let meta = b.meta.load(Ordering::Relaxed);
        let tag = tag_of(hash);
        for i in 0..SLOTS {
            if present(meta, i) && tag_at(meta, i) == tag {
                prefetch(b.slots[i].load(Ordering::Relaxed) as *const u8);
            }
        }
    }

    /// The entry for `key`, inserting `make()` if absent. Returns the entry
    /// and whether it was inserted.
    pub fn find_or_insert<'g>(
        &self,
        hash: u64,
        key: &[u8],
        make: impl FnOnce() -> *mut N,
        guard: &'g Guard,
    ) -> (&'g N, bool) {
        let unlatched_check = broken!(INSERT_CHECKS_UNLATCHED);
        if unlatched_check {
            if let Some(e) = self.find(hash, key, guard) {
                return (e, false);
            }
        }
        let (t, head, meta) = self.lock_bucket(hash, guard);
        if !unlatched_check {
            if let Some(e) = find_in_chain(head, meta, tag_of(hash), key) {
                head.unlock(meta);
                return (e, false);
            }
        }
        let count = chain_len(head, meta);
        let node = make();
        let meta = place(head, meta, node, hash);
        head.unlock(meta);
        t.note_chain(count + 1);
        self.count_add(hash, 1);
        // SAFETY: just inserted; freed only through the epoch after removal.
        let e = unsafe { &*node };
        if count + 1 > SLOTS || op_tick() {
            self.maybe_resize(guard);
        }
        (e, true)
    }

    /// Unlinks `entry` (found through this table). Returns false if it was
    /// not there (already removed). The caller retires it afterwards.
    pub fn remove(&self, entry: &N, guard: &Guard) -> bool {
        let hash = entry.hash();
        let target = entry as *const N as *mut N;
        let (_t, head, meta) = self.lock_bucket(hash, guard);
        let mut b = head;
        let mut m = meta;
        let mut removed = false;
        loop {
            if let Some(i) =
                (0..SLOTS).find(|&i| present(m, i) && b.slots[i].load(Ordering::Relaxed) == target)
            {
                b.slots[i].store(ptr::null_mut(), Ordering::Release);
                m = without_slot(m, i);
                if ptr::eq(b, head) {
                    head.unlock(m);
                    removed = true;
                    break;
                }
                b.meta.store(m, Ordering::Release);
                removed = true;
                head.unlock(meta);
                break;
            }
            let c = b.child.load(Ordering::Relaxed);
            // SAFETY: overflow buckets live as long as their table; we hold
            // the head's latch, so nobody unlinks them meanwhile.
            match unsafe { c.as_ref() } {
                Some(child) => {
                    b = child;
                    m = b.meta.load(Ordering::Relaxed);
                }
                None => {
                    head.unlock(meta);
                    break;
                }
            }
        }
        if removed {
            self.count_add(hash, -1);
            if op_tick() {
                self.maybe_resize(guard);
            }
        }
        removed
    }

    /// Starts a resize if the load calls for one (and none is running):
    /// straight to the size that gives 2.5 to 5 entries per bucket, so a
    /// table emptied of millions of keys shrinks in one resize. Inserts call
    /// it every 64th operation and when a bucket overflows; the background
    /// thread calls it every cycle, as Redis's cron resizes idle tables.
    pub fn maybe_resize(&self, guard: &Guard) {
        let t = self.current(guard);
        if !t.next.load(Ordering::Acquire).is_null() {
            return;
        }
        let len = self.len();
        let buckets = t.len();
        let ideal = ideal_buckets(len);
        let grow = len > buckets * GROW_LOAD;
        let shrink = buckets > MIN_BUCKETS && len < buckets * SHRINK_LOAD;
        if !(grow || shrink) || ideal == buckets {
            return;
        }
        self.resize_to(ideal, guard);
    }

    /// Grows ahead of `additional` inserts (a big MSET), in one resize
    /// instead of several doublings while they run.
    /// Only when that many inserts would make it grow anyway (some of the
    /// keys may exist already).
    pub fn reserve(&self, additional: usize, guard: &Guard) {
        let total = self.len() + additional;
        let buckets = self.current(guard).len();
        if total > buckets * GROW_LOAD {
            self.resize_to(ideal_buckets(total), guard);
        }
    }

    /// Starts migrating into a table of `buckets` buckets (a power of two),
    /// unless a resize is already running, and helps with a first chunk.
    pub fn resize_to(&self, buckets: usize, guard: &Guard) {
        let t = self.current(guard);
        let target = buckets.max(MIN_BUCKETS).next_power_of_two();
        // A running resize, or a snapshot's freeze (the marker), stops us.
        if target == t.len() || !t.next.load(Ordering::Acquire).is_null() {
            return;
        }
        let mark = self.idle_mark.load(Ordering::Relaxed);
        let next = Box::into_raw(Box::new(Table::new(target, mark)));
        if t.next
            .compare_exchange(ptr::null_mut(), next, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: never published.
            drop(unsafe { Box::from_raw(next) });
        }
        self.help_resize_of(t, guard);
    }

    /// Migrates one chunk of a running resize, if any (writers call this
    /// before writing; the background thread calls it so that an idle
    /// database finishes its resize too). Returns whether a resize runs.
    pub fn help_resize(&self, guard: &Guard) -> bool {
        let t = self.current(guard);
        self.help_resize_of(t, guard)
    }

    fn help_resize_of(&self, t: &Table<N>, guard: &Guard) -> bool {
        let Some(next) = t.next(guard) else {
            return false;
        };
        let start = t.claim.fetch_add(MIGRATE_CHUNK, Ordering::Relaxed);
        if start >= t.len() {
            return true;
        }
        let end = (start + MIGRATE_CHUNK).min(t.len());
        for i in start..end {
            migrate_bucket(&t.buckets[i], next);
        }
        let done = t.migrated.fetch_add(end - start, Ordering::AcqRel) + (end - start);
        if done == t.len() {
            let old = t as *const Table<N> as *mut Table<N>;
            if self
                .cur
                .compare_exchange(
                    old,
                    next as *const _ as *mut _,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                // SAFETY: no longer current; readers that loaded it are
                // pinned, and it is retired once.
                unsafe { retire(guard, old) };
                // The old array is large (64 bytes a bucket) and this thread
                // may go idle now: hand it to the global queue at once, where
                // any thread's collection frees it, instead of leaving it in
                // this thread's bag until the thread retires more.
                flush(guard);
            }
        }
        true
    }

    /// Stops resizes (for a snapshot) and finishes a running one, so the
    /// current table's bucket indexes stay valid until [`RawTable::thaw`].
    pub fn freeze(&self, guard: &Guard) {
        // The marker takes the place of a next table, so `resize_to` cannot
        // link one; a resize already linked is finished first.
        let mut spins = 0;
        loop {
            let t = self.current(guard);
            if t.next
                .compare_exchange(
                    ptr::null_mut(),
                    frozen_marker(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                return;
            }
            self.help_resize(guard);
            spin_wait(&mut spins);
        }
    }

    /// Ends a snapshot: every bucket now carries the mark of parity
    /// `parity`, which new tables copy; resizes may start again.
    pub fn thaw(&self, parity: bool, guard: &Guard) {
        self.idle_mark
            .store(if parity { SNAP } else { 0 }, Ordering::Relaxed);
        let t = self.current(guard);
        let _ = t.next.compare_exchange(
            frozen_marker(),
            ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Buckets of the current table (stable while frozen).
    pub fn bucket_count(&self, guard: &Guard) -> usize {
        self.current(guard).len()
    }

    /// Serializes the bucket of `hash` for the snapshot of parity `parity`
    /// if nobody has yet: calls `f` on each of its entries under the bucket
    /// latch and marks the bucket. One load when it is already marked.
    /// `valid` is asked under the latch, before anything is serialized; if it
    /// says no (the snapshot the caller meant is over), nothing changes and
    /// this returns false.
    pub fn serialize_bucket_of(
        &self,
        hash: u64,
        parity: bool,
        guard: &Guard,
        valid: impl FnOnce() -> bool,
        f: impl FnMut(&N),
    ) -> bool {
        let t = self.current(guard);
        serialize(t.bucket(hash), parity, valid, f)
    }

    /// The walk's side of [`RawTable::serialize_bucket_of`], by index.
    pub fn serialize_bucket_at(
        &self,
        index: usize,
        parity: bool,
        guard: &Guard,
        f: impl FnMut(&N),
    ) {
        let t = self.current(guard);
        serialize(&t.buckets[index], parity, || true, f);
    }

    /// One SCAN step from `cursor` (Redis's reverse-binary cursor): calls
    /// `f` on the entries of the bucket(s) the cursor names and returns the
    /// next cursor (0: the scan is complete).
    pub fn scan<'g>(&self, cursor: u64, guard: &'g Guard, mut f: impl FnMut(&'g N)) -> u64 {
        let mut emit = |b: &'g Bucket<N>, skip_moved: bool| {
            let meta = b.meta.load(Ordering::Acquire);
            if skip_moved && meta & MOVED != 0 {
                return; // its entries are in the next table, visited too
            }
            for_each_in_chain(b, meta, |e| {
                f(e);
                true
            });
        };
        let mut v = cursor;
        loop {
            let t = self.current(guard);
            match t.next(guard) {
                None => {
                    let m0 = t.mask as u64;
                    let b = &t.buckets[(v & m0) as usize];
                    if b.meta.load(Ordering::Acquire) & MOVED != 0 {
                        // A resize started after we looked: take that path.
                        continue;
                    }
                    emit(b, false);
                    return rev_increment(v, m0);
                }
                Some(next) => {
                    // Entries of a bucket not yet MOVED are in `t`; of a
                    // MOVED one, in `next`. Visiting both tables' buckets
                    // for the cursor's hash class covers the whole class,
                    // provided `t`'s buckets are read first: a bucket found
                    // MOVED had its entries placed in `next` before, so
                    // they are there when `next` is read. (Reading `next`
                    // first misses the entries of a bucket migrated in
                    // between, which is then skipped as MOVED.)
                    let (small, small_is_old, big, big_is_old) = if t.len() <= next.len() {
                        (t, true, next, false)
                    } else {
                        (next, false, t, true)
                    };
                    let (m0, m1) = (small.mask as u64, big.mask as u64);
                    let small_bucket = &small.buckets[(v & m0) as usize];
                    let visit_small = !broken!(SCAN_SKIPS_SMALL_BUCKET);
                    let small_first = small_is_old || broken!(SCAN_READS_NEXT_FIRST);
                    if small_first && visit_small {
                        emit(small_bucket, small_is_old);
                    }
                    loop {
                        emit(&big.buckets[(v & m1) as usize], big_is_old);
                        v = rev_increment(v, m1);
                        if v & (m0 ^ m1) == 0 {
                            break;
                        }
                    }
                    if !small_first && visit_small {
                        emit(small_bucket, false);
                    }
                    return v;
                }
            }
        }
    }

    /// A uniformly random entry (see the module comment); `None` only if the
    /// table is empty. `rand` gives uniform 64-bit numbers.
    pub fn sample<'g>(&self, guard: &'g Guard, mut rand: impl FnMut() -> u64) -> Option<&'g N> {
        let mut class: Vec<&'g N> = Vec::with_capacity(16);
        for _ in 0..256 {
            if self.is_empty() {
                return None;
            }
            class.clear();
            let t = self.current(guard);
            let next = t.next(guard);
            let max = t
                .max_chain
                .load(Ordering::Relaxed)
                .max(next.map_or(0, |n| n.max_chain.load(Ordering::Relaxed)));
            let big_mask = next.map_or(t.mask, |n| n.mask.max(t.mask));
            let r = rand() as usize & big_mask;
            Self::entries_of_class(t, next, r, big_mask, &mut class);
            let c = class.len();
            if c == 0 {
                continue;
            }
            let pick = rand() as usize % max.max(c);
            if pick < c {
                return Some(class[pick]);
            }
        }
        // A table far emptier than its size (a shrink is pending): take the
        // first entry from a random cursor instead of trying forever (not
        // uniform, and rare: shrinking keeps at least one entry per two
        // buckets).
        let start = rand() & self.current(guard).mask as u64;
        for from in [start, 0] {
            let mut cursor = from;
            loop {
                let mut first = None;
                cursor = self.scan(cursor, guard, |e| {
                    first.get_or_insert(e);
                });
                if first.is_some() {
                    return first;
                }
                if cursor == 0 {
                    break;
                }
            }
        }
        None
    }

    /// The entries whose hash class (low bits, under `big_mask`) is `r`.
    fn entries_of_class<'g>(
        t: &'g Table<N>,
        next: Option<&'g Table<N>>,
        r: usize,
        big_mask: usize,
        out: &mut Vec<&'g N>,
    ) {
        let mut collect = |b: &'g Bucket<N>, meta: u64| {
            for_each_in_chain(b, meta, |e| {
                if e.hash() as usize & big_mask == r {
                    out.push(e);
                }
                true
            });
        };
        let b = &t.buckets[r & t.mask];
        let meta = b.meta.load(Ordering::Acquire);
        if meta & MOVED == 0 {
            collect(b, meta);
        } else if let Some(n) = next {
            let nb = &n.buckets[r & n.mask];
            collect(nb, nb.meta.load(Ordering::Acquire));
        }
    }
}

impl<N: Entry> Drop for RawTable<N> {
    fn drop(&mut self) {
        drop_entries(self);
    }
}

/// Frees the entries a table still holds, and its tables.
fn drop_entries<N: Entry>(table: &mut RawTable<N>) {
    let t = table.cur.load(Ordering::Relaxed);
    // SAFETY: exclusive access (drop): `cur` is alive and nobody else uses it.
    let cur = unsafe { &*t };
    let next = cur.next.load(Ordering::Relaxed);
    // Entries are collected once: a migration in progress leaves entries of
    // MOVED buckets in both tables, so take each from the table that owns
    // its bucket (MOVED: `next`; otherwise `cur`).
    let mut entries: Vec<*mut N> = Vec::new();
    for b in cur.buckets.iter() {
        let meta = b.meta.load(Ordering::Relaxed);
        if meta & MOVED == 0 {
            collect_raw(b, meta, &mut entries);
        }
    }
    if !next.is_null() && next != frozen_marker() {
        // SAFETY: exclusive access; a linked next table is alive.
        let n = unsafe { Box::from_raw(next) };
        for b in n.buckets.iter() {
            collect_raw(b, b.meta.load(Ordering::Relaxed), &mut entries);
        }
    }
    for e in entries {
        // SAFETY: each entry came from its maker and is freed once.
        unsafe { N::free(e) };
    }
    // SAFETY: the current table came from `Box::into_raw`; freed once.
    drop(unsafe { Box::from_raw(t) });
}

/// The entry pointers of a chain (exclusive access or a held latch).
fn collect_raw<N>(head: &Bucket<N>, head_meta: u64, out: &mut Vec<*mut N>) {
    for_each_in_chain(head, head_meta, |e| {
        out.push(e as *const N as *mut N);
        true
    });
}

/// Puts `node` into the first free slot of a latched chain (adding an
/// overflow bucket if all are taken). Returns the head's new meta, to be
/// published by the unlock.
fn place<N>(head: &Bucket<N>, head_meta: u64, node: *mut N, hash: u64) -> u64 {
    let tag = tag_of(hash);
    let mut b = head;
    let mut m = head_meta;
    loop {
        if let Some(i) = (0..SLOTS).find(|&i| !present(m, i)) {
            b.slots[i].store(node, Ordering::Release);
            let nm = with_slot(m, i, tag);
            if ptr::eq(b, head) {
                return nm;
            }
            b.meta.store(nm, Ordering::Release);
            return head_meta;
        }
        let c = b.child.load(Ordering::Relaxed);
        if c.is_null() {
            let child = Bucket::new();
            child.slots[0].store(node, Ordering::Relaxed);
            child.meta.store(with_slot(0, 0, tag), Ordering::Relaxed);
            // Published complete: a reader that loads the pointer sees it.
            b.child
                .store(Box::into_raw(Box::new(child)), Ordering::Release);
            return head_meta;
        }
        // SAFETY: we hold the head's latch; overflow buckets live as long
        // as their table.
        b = unsafe { &*c };
        m = b.meta.load(Ordering::Relaxed);
    }
}

/// Stands in a table's `next` while a snapshot freezes it (never a table).
fn frozen_marker<N>() -> *mut Table<N> {
    ptr::dangling_mut()
}

/// Serializes a head bucket for the snapshot of parity `parity` unless it
/// already was (see the module comment).
fn serialize<N>(
    b: &Bucket<N>,
    parity: bool,
    valid: impl FnOnce() -> bool,
    mut f: impl FnMut(&N),
) -> bool {
    let want = if parity { SNAP } else { 0 };
    if b.meta.load(Ordering::Acquire) & SNAP == want {
        return true;
    }
    let meta = b.lock();
    if meta & SNAP != want {
        if !valid() {
            b.unlock(meta);
            return false;
        }
        for_each_in_chain(b, meta, |e| {
            f(e);
            true
        });
    }
    b.unlock((meta & !SNAP) | want);
    true
}

/// Moves a bucket's entries into `next` and marks it MOVED.
fn migrate_bucket<N: Entry + 'static>(b: &Bucket<N>, next: &Table<N>) {
    let meta = b.lock();
    if meta & MOVED != 0 {
        b.unlock(meta);
        return;
    }
    let mut entries: Vec<*mut N> = Vec::new();
    collect_raw(b, meta, &mut entries);
    for e in entries {
        // SAFETY: the entry is in the bucket we hold latched: alive.
        let hash = unsafe { (*e).hash() };
        let nb = next.bucket(hash);
        let nm = nb.lock();
        let mut count = 0;
        for_each_in_chain(nb, nm, |_| {
            count += 1;
            true
        });
        let nm = place(nb, nm, e, hash);
        nb.unlock(nm);
        next.note_chain(count + 1);
    }
    b.unlock(meta | MOVED);
}

/// A hint to load the cache line at `p` (any address: a prefetch never
/// faults, so a pointer to memory freed meanwhile is harmless).
#[inline]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    // SAFETY: prefetching reads nothing architecturally and cannot fault,
    // whatever the address; SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    let _ = p;
}

/// The fewest buckets (a power of two) that hold `len` entries at no more
/// than [`GROW_LOAD`] each.
fn ideal_buckets(len: usize) -> usize {
    len.div_ceil(GROW_LOAD).next_power_of_two().max(MIN_BUCKETS)
}

/// Redis's reverse-binary cursor increment under `mask`.
fn rev_increment(v: u64, mask: u64) -> u64 {
    let v = (v | !mask).reverse_bits().wrapping_add(1);
    v.reverse_bits()
}

/// Every 64th table operation of this thread: when inserts and removals
/// check whether the table should be resized (a sum of the count stripes).
fn op_tick() -> bool {
    #[cfg(not(loom))]
    {
        use std::cell::Cell;
        thread_local!(static OPS: Cell<u32> = const { Cell::new(0) });
        OPS.with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n % 64 == 0
        })
    }
    #[cfg(loom)]
    false
}
