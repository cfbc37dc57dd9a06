//! The member index of large hashes, sets and sorted sets: a persistent
//! hash map kept in hash order, by extendible hashing over fixed-size
//! buckets.
//!
//! Why not imbl's `OrdMap` (the first index): a lookup walks five or six
//! B-tree levels at a million entries, each a binary search over up to 16
//! keys, and a write checks and copies a node per level. `perf` put 45% of
//! a pipelined ZPOPMIN's worker time in that walk. Here a lookup reads two
//! directory words and one bucket.
//!
//! Why not a radix trie (tried): its leaves grow through allocator size
//! classes all at the same time (uniform hashes), and left half-empty slabs
//! behind (25 B more resident memory per entry). Buckets here are allocated
//! whole at one size (about 1 KiB) and never grow; a full bucket splits in
//! two by the next hash bit, so no allocation changes size class.
//!
//! * **Directory.** `2^depth` slots indexed by the top `depth` bits of the
//!   hash, in chunks of 512 behind `Arc`s under one `Arc`'d top vector. A
//!   bucket of local depth `d` fills the `2^(depth - d)` consecutive slots
//!   of its hash prefix, so walking slots in order walks the entries in
//!   hash order: SCAN cursors, random picks by hash and ordered iteration
//!   work as they did on the B-tree.
//! * **Persistence.** A clone is O(1) (one reference count). A write makes
//!   unique (`Arc::make_mut`) the top vector, one chunk and one bucket:
//!   after a clone (a snapshot, a script's undo copy, a copy-on-write
//!   writer) that copies at most 4 KiB of slots and one bucket.
//! * **Growth.** A full bucket splits; if it was as deep as the directory,
//!   the directory doubles first (O(slots), amortized over the inserts that
//!   filled the buckets). The directory's depth is capped near what the
//!   entry count needs, so hashes that share long prefixes (only an
//!   attacker who knew the seed could make many) cannot blow it up: such a
//!   bucket grows past its size instead.
//! * **Shrinking.** A removal merges a bucket with its buddy when both fit
//!   in half a bucket, and the directory halves once no bucket needs its
//!   last bit, so a drained collection gives its memory back.

use arrayvec::ArrayVec;
use std::sync::Arc;

/// What the map stores: an entry that carries its hash and its key.
/// Entries are ordered by (hash, key); a key never changes in place.
pub trait DirEntry: Clone {
    type Key: ?Sized + Ord;
    fn hash(&self) -> u64;
    fn key(&self) -> &Self::Key;
}

const CHUNK_BITS: u32 = 9;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A persistent vector in chunks of 512 behind `Arc`s, under one `Arc`'d
/// top vector: a clone is O(1), and a write after one copies the top vector
/// and one chunk.
#[derive(Clone)]
struct Chunked<T> {
    top: Arc<Vec<Arc<Vec<T>>>>,
    len: usize,
}

impl<T: Clone> Chunked<T> {
    fn build(items: impl Iterator<Item = T>) -> Self {
        let mut top = Vec::new();
        let mut chunk = Vec::new();
        let mut len = 0;
        for v in items {
            chunk.push(v);
            len += 1;
            if chunk.len() == CHUNK {
                top.push(Arc::new(std::mem::take(&mut chunk)));
            }
        }
        if !chunk.is_empty() {
            top.push(Arc::new(chunk));
        }
        Chunked {
            top: Arc::new(top),
            len,
        }
    }

    fn get(&self, i: usize) -> &T {
        &self.top[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    fn get_mut(&mut self, i: usize) -> &mut T {
        let chunk = Arc::make_mut(&mut Arc::make_mut(&mut self.top)[i >> CHUNK_BITS]);
        &mut chunk[i & (CHUNK - 1)]
    }

    fn push(&mut self, v: T) {
        let top = Arc::make_mut(&mut self.top);
        if self.len.is_multiple_of(CHUNK) {
            top.push(Arc::new(vec![v]));
        } else {
            Arc::make_mut(top.last_mut().expect("a chunk")).push(v);
        }
        self.len += 1;
    }

    fn pop(&mut self) -> T {
        let top = Arc::make_mut(&mut self.top);
        let chunk = Arc::make_mut(top.last_mut().expect("a chunk"));
        let v = chunk.pop().expect("an item");
        if chunk.is_empty() {
            top.pop();
        }
        self.len -= 1;
        v
    }

    /// Heap bytes: the chunks' slots, their headers and the top vector.
    fn bytes(&self) -> usize {
        self.len * std::mem::size_of::<T>() + self.top.len() * 48 + 48
    }
}

/// A bucket's entries: inline up to `CAP`; a `Vec` only for a bucket that
/// may not split (see [`HashDir::may_double`]).
#[derive(Clone)]
enum Items<E, const CAP: usize> {
    Small(ArrayVec<E, CAP>),
    Big(Vec<E>),
}

impl<E, const CAP: usize> Items<E, CAP> {
    fn as_slice(&self) -> &[E] {
        match self {
            Items::Small(v) => v,
            Items::Big(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [E] {
        match self {
            Items::Small(v) => v,
            Items::Big(v) => v,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn from_iter(it: impl ExactSizeIterator<Item = E>) -> Self {
        if it.len() <= CAP {
            Items::Small(it.collect())
        } else {
            Items::Big(it.collect())
        }
    }

    fn insert(&mut self, i: usize, e: E) {
        match self {
            Items::Small(v) if v.is_full() => {
                let mut big = Vec::with_capacity(CAP * 2);
                big.extend(v.drain(..));
                big.insert(i, e);
                *self = Items::Big(big);
            }
            Items::Small(v) => v.insert(i, e),
            Items::Big(v) => v.insert(i, e),
        }
    }

    fn remove(&mut self, i: usize) -> E {
        match self {
            Items::Small(v) => v.remove(i),
            Items::Big(v) => {
                let e = v.remove(i);
                if v.len() <= CAP {
                    *self = Items::Small(v.drain(..).collect());
                }
                e
            }
        }
    }
}

#[derive(Clone)]
struct Bucket<E, const CAP: usize> {
    /// How many top bits of the hash all its entries share (`depth`), and
    /// those bits (`prefix`): the directory slots it fills.
    depth: u8,
    prefix: u64,
    items: Items<E, CAP>,
}

/// The map past `CAP` entries.
///
/// The directory holds bucket numbers, not the buckets: a bucket fills
/// several slots, and with an `Arc` in each it could never be unique, so
/// every write would copy it. Buckets are numbered densely (a merge moves
/// the last bucket into the freed number), each held by one `Arc`, which
/// is shared only with other versions of the map.
#[derive(Clone)]
struct Dir<E, const CAP: usize> {
    /// The directory's depth: it has `2^depth` slots.
    depth: u32,
    dir: Chunked<u32>,
    buckets: Chunked<Arc<Bucket<E, CAP>>>,
    len: usize,
    /// Buckets of local depth `depth` (none: the directory can halve).
    deepest: usize,
}

impl<E: DirEntry, const CAP: usize> Bucket<E, CAP> {
    /// Where (hash `h`, `key`) is or would go. Hashes are uniform within
    /// the bucket's prefix, so the search starts where `h` falls in that
    /// range and walks from there: about two cache lines of a 1 KiB bucket,
    /// where a binary search reads four or five. A bucket over its size
    /// (equal hashes, see [`HashDir::may_double`]) is binary searched.
    fn search(&self, h: u64, key: &E::Key) -> Result<usize, usize> {
        let items = self.items.as_slice();
        let n = items.len();
        let ord = |e: &E| e.hash().cmp(&h).then_with(|| e.key().cmp(key));
        if n > CAP {
            return items.binary_search_by(ord);
        }
        let within = h.checked_shl(u32::from(self.depth)).unwrap_or(0);
        let mut i = ((u128::from(within) * n as u128) >> 64) as usize;
        if i < n && ord(&items[i]).is_lt() {
            i += 1;
            while i < n && ord(&items[i]).is_lt() {
                i += 1;
            }
        } else {
            while i > 0 && !ord(&items[i - 1]).is_lt() {
                i -= 1;
            }
        }
        match items.get(i) {
            Some(e) if ord(e).is_eq() => Ok(i),
            _ => Err(i),
        }
    }
}

impl<E: DirEntry, const CAP: usize> Dir<E, CAP> {
    fn new() -> Self {
        let empty = Arc::new(Bucket {
            depth: 0,
            prefix: 0,
            items: Items::Small(ArrayVec::new()),
        });
        Dir {
            depth: 0,
            dir: Chunked::build(std::iter::once(0)),
            buckets: Chunked::build(std::iter::once(empty)),
            len: 0,
            deepest: 1,
        }
    }

    fn index(&self, h: u64) -> usize {
        h.checked_shr(64 - self.depth).unwrap_or(0) as usize
    }

    /// The number of the bucket at directory slot `idx`.
    fn number(&self, idx: usize) -> usize {
        *self.dir.get(idx) as usize
    }

    fn bucket(&self, idx: usize) -> &Bucket<E, CAP> {
        self.buckets.get(self.number(idx))
    }

    /// The bucket at `idx`, made unique to this version.
    fn bucket_mut(&mut self, idx: usize) -> &mut Bucket<E, CAP> {
        let n = self.number(idx);
        Arc::make_mut(self.buckets.get_mut(n))
    }

    /// The directory slots of bucket number `n`: the first and how many.
    fn slots_of(&self, n: usize) -> (usize, usize) {
        let b = self.buckets.get(n);
        let shift = self.depth - u32::from(b.depth);
        ((b.prefix as usize) << shift, 1 << shift)
    }

    fn point(&mut self, first: usize, count: usize, n: usize) {
        for s in first..first + count {
            *self.dir.get_mut(s) = n as u32;
        }
    }

    fn get(&self, h: u64, key: &E::Key) -> Option<&E> {
        let b = self.bucket(self.index(h));
        b.search(h, key).ok().map(|i| &b.items.as_slice()[i])
    }

    /// The entry, to change anything but its hash and key.
    fn get_mut(&mut self, h: u64, key: &E::Key) -> Option<&mut E> {
        let idx = self.index(h);
        let i = self.bucket(idx).search(h, key).ok()?;
        Some(&mut self.bucket_mut(idx).items.as_mut_slice()[i])
    }

    /// Inserts `e`, or replaces the entry of its key and returns it.
    fn insert(&mut self, e: E) -> Option<E> {
        let h = e.hash();
        loop {
            let idx = self.index(h);
            let b = self.bucket(idx);
            match b.search(h, e.key()) {
                Ok(i) => {
                    let old = &mut self.bucket_mut(idx).items.as_mut_slice()[i];
                    return Some(std::mem::replace(old, e));
                }
                Err(i) => {
                    if b.items.len() >= CAP && self.split(idx) {
                        continue;
                    }
                    self.bucket_mut(idx).items.insert(i, e);
                    self.len += 1;
                    return None;
                }
            }
        }
    }

    fn remove(&mut self, h: u64, key: &E::Key) -> Option<E> {
        let idx = self.index(h);
        let i = self.bucket(idx).search(h, key).ok()?;
        let e = self.bucket_mut(idx).items.remove(i);
        self.len -= 1;
        self.merge(idx);
        Some(e)
    }

    /// Whether the directory may double: its depth stays within four bits
    /// of what `len` entries in buckets at least a quarter full need.
    fn may_double(&self) -> bool {
        let needed = usize::BITS - (self.len * 4 / CAP).leading_zeros();
        self.depth < 60 && self.depth < needed + 4
    }

    /// Splits the bucket at `idx` by its next hash bit, doubling the
    /// directory first if it must; false if it may not.
    fn split(&mut self, mut idx: usize) -> bool {
        let d = u32::from(self.bucket(idx).depth);
        if d == self.depth {
            if !self.may_double() {
                return false;
            }
            self.double();
            idx *= 2;
        }
        let bit = 1u64 << (63 - d);
        let b = self.bucket_mut(idx);
        let mut all: Vec<E> = match std::mem::replace(&mut b.items, Items::Small(ArrayVec::new())) {
            Items::Small(v) => v.into_iter().collect(),
            Items::Big(v) => v,
        };
        let right = all.split_off(all.partition_point(|e| e.hash() & bit == 0));
        b.items = Items::from_iter(all.into_iter());
        b.depth += 1;
        b.prefix <<= 1;
        let right = Bucket {
            depth: b.depth,
            prefix: b.prefix | 1,
            items: Items::from_iter(right.into_iter()),
        };
        let r = self.buckets.len;
        self.buckets.push(Arc::new(right));
        let (first, count) = self.slots_of(r);
        self.point(first, count, r);
        if d + 1 == self.depth {
            self.deepest += 2;
        }
        true
    }

    fn double(&mut self) {
        let n = 1usize << self.depth;
        let dir = &self.dir;
        self.dir = Chunked::build((0..2 * n).map(|i| *dir.get(i / 2)));
        self.depth += 1;
        self.deepest = 0;
    }

    fn halve(&mut self) {
        let n = 1usize << (self.depth - 1);
        let dir = &self.dir;
        self.dir = Chunked::build((0..n).map(|i| *dir.get(2 * i)));
        self.depth -= 1;
        self.deepest = (0..self.buckets.len)
            .filter(|&b| u32::from(self.buckets.get(b).depth) == self.depth)
            .count();
    }

    /// Merges the bucket at `idx` with its buddy while both fit in half a
    /// bucket, then halves the directory while no bucket needs its depth.
    fn merge(&mut self, mut idx: usize) {
        loop {
            let b = self.bucket(idx);
            let d = u32::from(b.depth);
            // Checked first: most removals leave a bucket over half full,
            // and its buddy is another cache miss.
            if d == 0 || b.items.len() > CAP / 2 {
                break;
            }
            let span = 1usize << (self.depth - d);
            let buddy = self.bucket(idx ^ span);
            if u32::from(buddy.depth) != d || b.items.len() + buddy.items.len() > CAP / 2 {
                break;
            }
            let (lo, hi) = if idx & span == 0 {
                (idx, idx ^ span)
            } else {
                (idx ^ span, idx)
            };
            let (keep, gone) = (self.number(lo), self.number(hi));
            let moved: Vec<E> = self.bucket(hi).items.as_slice().to_vec();
            let k = self.bucket_mut(lo);
            for e in moved {
                let at = k.items.len();
                k.items.insert(at, e);
            }
            k.depth -= 1;
            k.prefix >>= 1;
            let (first, count) = self.slots_of(keep);
            self.point(first, count, keep);
            // Fill the freed number with the last bucket.
            let last = self.buckets.len - 1;
            let tail = self.buckets.pop();
            if gone != last {
                *self.buckets.get_mut(gone) = tail;
                let (first, count) = self.slots_of(gone);
                self.point(first, count, gone);
            }
            if d == self.depth {
                self.deepest -= 2;
            }
            idx = lo & !(2 * span - 1);
        }
        while self.depth > 0 && self.deepest == 0 {
            self.halve();
        }
    }

    /// Every entry, in (hash, key) order.
    fn iter(&self) -> Iter<'_, E, CAP> {
        Iter {
            dir: Some(self),
            next: 0,
            cur: [].iter(),
        }
    }

    /// The entries of hash `h` and above, in (hash, key) order.
    fn range_from(&self, h: u64) -> Iter<'_, E, CAP> {
        let idx = self.index(h);
        let b = self.bucket(idx);
        let span = 1usize << (self.depth - u32::from(b.depth));
        let items = b.items.as_slice();
        let from = items.partition_point(|e| e.hash() < h);
        Iter {
            dir: Some(self),
            next: (idx & !(span - 1)) + span,
            cur: items[from..].iter(),
        }
    }

    /// Heap bytes of the whole structure (entries' own heap bytes aside).
    fn alloc_bytes(&self) -> usize {
        self.buckets.len * HashDir::<E, CAP>::BUCKET_BYTES + self.buckets.bytes() + self.dir.bytes()
    }

    /// Heap bytes a write after a clone copies at most (two top vectors, two
    /// chunks and a bucket), which is what a version shares all but.
    fn path_bytes(&self) -> usize {
        let chunk = |n: usize| n.min(CHUNK);
        HashDir::<E, CAP>::BUCKET_BYTES
            + chunk(self.dir.len) * 4
            + chunk(self.buckets.len) * 8
            + (self.dir.top.len() + self.buckets.top.len()) * 8
    }
}

/// The map. `CAP` is the bucket size in entries: choose it so that a
/// bucket fills one allocator size class ([`HashDir::BUCKET_BYTES`]). Up
/// to `CAP` entries it is one sorted vector instead: a set of a few
/// strings (a tag set) would otherwise spend a whole bucket.
#[derive(Clone)]
pub struct HashDir<E, const CAP: usize>(Repr<E, CAP>);

#[derive(Clone)]
enum Repr<E, const CAP: usize> {
    Few(Arc<Vec<E>>),
    Dir(Dir<E, CAP>),
}

fn search_few<E: DirEntry>(items: &[E], h: u64, key: &E::Key) -> Result<usize, usize> {
    items.binary_search_by(|e| e.hash().cmp(&h).then_with(|| e.key().cmp(key)))
}

impl<E: DirEntry, const CAP: usize> Default for HashDir<E, CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: DirEntry, const CAP: usize> HashDir<E, CAP> {
    /// Bytes of one bucket's allocation (its reference counts included).
    pub const BUCKET_BYTES: usize = std::mem::size_of::<Bucket<E, CAP>>() + 16;

    pub fn new() -> Self {
        HashDir(Repr::Few(Arc::new(Vec::new())))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Few(v) => v.len(),
            Repr::Dir(d) => d.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, h: u64, key: &E::Key) -> Option<&E> {
        match &self.0 {
            Repr::Few(v) => search_few(v, h, key).ok().map(|i| &v[i]),
            Repr::Dir(d) => d.get(h, key),
        }
    }

    /// The entry, to change anything but its hash and key.
    pub fn get_mut(&mut self, h: u64, key: &E::Key) -> Option<&mut E> {
        match &mut self.0 {
            Repr::Few(v) => {
                let i = search_few(v, h, key).ok()?;
                Some(&mut Arc::make_mut(v)[i])
            }
            Repr::Dir(d) => d.get_mut(h, key),
        }
    }

    /// Inserts `e`, or replaces the entry of its key and returns it.
    pub fn insert(&mut self, e: E) -> Option<E> {
        match &mut self.0 {
            Repr::Few(v) => match search_few(v, e.hash(), e.key()) {
                Ok(i) => Some(std::mem::replace(&mut Arc::make_mut(v)[i], e)),
                Err(i) if v.len() < CAP => {
                    Arc::make_mut(v).insert(i, e);
                    None
                }
                Err(_) => {
                    let mut d = Dir::new();
                    for x in v.iter().cloned().chain(std::iter::once(e)) {
                        d.insert(x);
                    }
                    self.0 = Repr::Dir(d);
                    None
                }
            },
            Repr::Dir(d) => d.insert(e),
        }
    }

    pub fn remove(&mut self, h: u64, key: &E::Key) -> Option<E> {
        match &mut self.0 {
            Repr::Few(v) => {
                let i = search_few(v, h, key).ok()?;
                let v = Arc::make_mut(v);
                let e = v.remove(i);
                if v.len() <= v.capacity() / 4 {
                    v.shrink_to(v.len() * 2);
                }
                Some(e)
            }
            Repr::Dir(d) => {
                let e = d.remove(h, key)?;
                // Back to a vector well below the size that left it.
                if d.len <= CAP / 4 {
                    let v: Vec<E> = d.iter().cloned().collect();
                    self.0 = Repr::Few(Arc::new(v));
                }
                Some(e)
            }
        }
    }

    /// Every entry, in (hash, key) order.
    pub fn iter(&self) -> Iter<'_, E, CAP> {
        match &self.0 {
            Repr::Few(v) => Iter {
                dir: None,
                next: 0,
                cur: v.iter(),
            },
            Repr::Dir(d) => d.iter(),
        }
    }

    /// The entries of hash `h` and above, in (hash, key) order.
    pub fn range_from(&self, h: u64) -> Iter<'_, E, CAP> {
        match &self.0 {
            Repr::Few(v) => Iter {
                dir: None,
                next: 0,
                cur: v[v.partition_point(|e| e.hash() < h)..].iter(),
            },
            Repr::Dir(d) => d.range_from(h),
        }
    }

    /// Heap bytes of the whole structure (entries' own heap bytes aside).
    pub fn alloc_bytes(&self) -> usize {
        match &self.0 {
            Repr::Few(v) => v.capacity() * std::mem::size_of::<E>() + 40,
            Repr::Dir(d) => d.alloc_bytes(),
        }
    }

    /// Heap bytes a write after a clone copies at most (the vector; or two
    /// top vectors, two chunks and a bucket), which is what a version
    /// shares all but.
    pub fn path_bytes(&self) -> usize {
        match &self.0 {
            Repr::Few(_) => self.alloc_bytes(),
            Repr::Dir(d) => d.path_bytes(),
        }
    }
}

/// Iterator over a [`HashDir`] in (hash, key) order.
pub struct Iter<'a, E, const CAP: usize> {
    /// None for a map that is one vector.
    dir: Option<&'a Dir<E, CAP>>,
    /// The next directory slot to visit.
    next: usize,
    cur: std::slice::Iter<'a, E>,
}

impl<'a, E: DirEntry, const CAP: usize> Iterator for Iter<'a, E, CAP> {
    type Item = &'a E;

    fn next(&mut self) -> Option<&'a E> {
        loop {
            if let Some(e) = self.cur.next() {
                return Some(e);
            }
            let dir = self.dir?;
            if self.next >= 1usize << dir.depth {
                return None;
            }
            let b = dir.bucket(self.next);
            self.cur = b.items.as_slice().iter();
            self.next += 1 << (dir.depth - u32::from(b.depth));
        }
    }
}

impl<E: DirEntry + PartialEq, const CAP: usize> PartialEq for HashDir<E, CAP> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<E: DirEntry + std::fmt::Debug, const CAP: usize> std::fmt::Debug for HashDir<E, CAP> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// A test entry whose hash the test chooses.
    #[derive(Clone, Debug, PartialEq)]
    struct E {
        hash: u64,
        key: u32,
        val: u32,
    }

    impl DirEntry for E {
        type Key = u32;
        fn hash(&self) -> u64 {
            self.hash
        }
        fn key(&self) -> &u32 {
            &self.key
        }
    }

    type Model = BTreeMap<(u64, u32), u32>;

    fn check<const CAP: usize>(d: &HashDir<E, CAP>, m: &Model) {
        assert_eq!(d.len(), m.len());
        let got: Vec<_> = d.iter().map(|e| ((e.hash, e.key), e.val)).collect();
        let want: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want);
        // Structure: every bucket fills exactly its slots, counts agree.
        let Repr::Dir(d) = &d.0 else {
            assert!(d.len() <= CAP);
            return;
        };
        assert!(d.len > CAP / 4);
        let mut deepest = 0;
        for n in 0..d.buckets.len {
            let (first, count) = d.slots_of(n);
            for s in first..first + count {
                assert_eq!(d.number(s), n);
            }
            let b = d.buckets.get(n);
            for e in b.items.as_slice() {
                assert_eq!(
                    e.hash.checked_shr(64 - u32::from(b.depth)).unwrap_or(0),
                    b.prefix
                );
            }
            deepest += usize::from(u32::from(b.depth) == d.depth);
        }
        assert_eq!(d.dir.len, 1 << d.depth);
        assert_eq!(deepest, d.deepest);
    }

    fn run<const CAP: usize>(seed: u64, hash_bits: u32, ops: usize) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut d: HashDir<E, CAP> = HashDir::new();
        let mut m = Model::new();
        let mut versions: Vec<(HashDir<E, CAP>, Model)> = Vec::new();
        let hash = |k: u32| {
            let h = (u64::from(k)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            h >> (64 - hash_bits) << (64 - hash_bits)
        };
        for step in 0..ops {
            // Grow, then drain, then grow again.
            let phase = (step * 3 / ops) % 2;
            let k = rng.random_range(0..4000u32);
            let h = hash(k);
            if rng.random_bool(if phase == 0 { 0.7 } else { 0.25 }) {
                let val = rng.random();
                let old = d.insert(E {
                    hash: h,
                    key: k,
                    val,
                });
                assert_eq!(old.map(|e| e.val), m.insert((h, k), val));
            } else if rng.random_bool(0.2) {
                if let Some(e) = d.get_mut(h, &k) {
                    e.val += 1;
                }
                if let Some(v) = m.get_mut(&(h, k)) {
                    *v += 1;
                }
            } else {
                let old = d.remove(h, &k);
                assert_eq!(old.map(|e| e.val), m.remove(&(h, k)));
            }
            assert_eq!(d.get(h, &k).map(|e| e.val), m.get(&(h, k)).copied());
            if step % 50 == 0 {
                check(&d, &m);
            }
            if step % 500 == 0 {
                let from = rng.random::<u64>();
                let got: Vec<_> = d.range_from(from).map(|e| (e.hash, e.key)).collect();
                let want: Vec<_> = m.range((from, 0)..).map(|(k, _)| *k).collect();
                assert_eq!(got, want);
                versions.push((d.clone(), m.clone()));
            }
        }
        check(&d, &m);
        // Old versions are untouched by later writes.
        for (d, m) in &versions {
            check(d, m);
        }
        while let Some((&(h, k), _)) = m.iter().next() {
            m.remove(&(h, k));
            assert!(d.remove(h, &k).is_some());
        }
        check(&d, &m);
        assert!(matches!(&d.0, Repr::Few(v) if v.is_empty()));
    }

    #[test]
    fn matches_a_sorted_map_with_old_versions_intact() {
        for seed in 0..4 {
            run::<4>(seed, 64, 20_000);
            run::<31>(seed, 64, 20_000);
        }
    }

    #[test]
    fn shared_hash_prefixes_grow_buckets_instead_of_the_directory() {
        // Only 16 distinct hashes for 4,000 keys: buckets must hold equal
        // hashes past their size, and the directory stays small.
        run::<4>(7, 4, 20_000);
        let mut d: HashDir<E, 4> = HashDir::new();
        for k in 0..1000 {
            d.insert(E {
                hash: 1 << 40,
                key: k,
                val: 0,
            });
        }
        assert_eq!(d.len(), 1000);
        let Repr::Dir(dir) = &d.0 else {
            panic!("a directory")
        };
        assert!(dir.depth <= 14, "depth {}", dir.depth);
        assert!(d.get(1 << 40, &999).is_some());
    }

    #[test]
    fn a_few_entries_take_no_bucket() {
        let mut d: HashDir<E, 31> = HashDir::new();
        for k in 0..5u32 {
            d.insert(E {
                hash: u64::from(k) << 40,
                key: k,
                val: 0,
            });
        }
        assert!(matches!(&d.0, Repr::Few(_)));
        assert!(d.alloc_bytes() < 300, "{}", d.alloc_bytes());
    }

    #[test]
    fn a_clone_shares_all_but_one_path() {
        let mut d: HashDir<E, 31> = HashDir::new();
        for k in 0..100_000u32 {
            let h = u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            d.insert(E {
                hash: h,
                key: k,
                val: 0,
            });
        }
        let c = d.clone();
        let h = 5u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        d.get_mut(h, &5).unwrap().val = 1;
        fn shared<T>(a: &Chunked<T>, b: &Chunked<T>) -> usize {
            let pairs = a.top.iter().zip(b.top.iter());
            pairs.filter(|(a, b)| Arc::ptr_eq(a, b)).count()
        }
        let (Repr::Dir(d), Repr::Dir(c)) = (&d.0, &c.0) else {
            panic!("directories")
        };
        assert_eq!(shared(&d.dir, &c.dir), d.dir.top.len());
        assert_eq!(shared(&d.buckets, &c.buckets), d.buckets.top.len() - 1);
        assert_eq!(c.get(h, &5).unwrap().val, 0);
        assert!(d.path_bytes() < 8 * 1024);
    }
}
