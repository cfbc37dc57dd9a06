//! Sorted sets, with Redis 7.0's two encodings.
//!
//! * `listpack` (small): the entries in (score, member) order in one
//!   vector, copied whole by a writer (copy-on-write; it is small), lookups
//!   by member a linear scan as in Redis's listpack.
//! * `skiplist` (large): a persistent order-statistic B+tree of (score,
//!   member) (`zset_tree`) for everything ordered (ranks, ranges, pops),
//!   plus a persistent map member -> score (`imbl::OrdMap` keyed by (hash,
//!   member), as large hashes and sets) for lookups by member and ZSCAN
//!   cursors. Both are path-copied by a writer, so a write to a large
//!   sorted set copies O(log n) nodes, readers keep reading the old version
//!   lock-free and a snapshot keeps it for free.
//!
//! A sorted set turns into the large form where Redis 7.0 converts one
//! (more than `zset-max-listpack-entries` members, or a member longer than
//! `zset-max-listpack-value` bytes) and back only where Redis does
//! (results of ZUNIONSTORE and friends, RESTORE; see
//! [`ZSet::maybe_shrink`]).

use super::hash::SmallBytes;
use super::hash_dir::{DirEntry, HashDir};
pub use super::zset_tree::Entry;
use super::zset_tree::Tree;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

/// `zset-max-listpack-entries` and `zset-max-listpack-value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZLimits {
    pub entries: u64,
    pub value: u64,
}

impl ZLimits {
    pub const DEFAULT: ZLimits = ZLimits {
        entries: 128,
        value: 64,
    };
}

/// A large sorted set's member index entry: the member's hash (the map's
/// order and ZSCAN's cursor), the member and its score.
#[derive(Clone, Debug, PartialEq)]
struct MEntry {
    hash: u64,
    member: SmallBytes,
    score: f64,
}

impl DirEntry for MEntry {
    type Key = [u8];
    fn hash(&self) -> u64 {
        self.hash
    }
    fn key(&self) -> &[u8] {
        &self.member
    }
}

/// Entries per index bucket: a bucket of 30 32-byte entries is a 1 KiB
/// allocation.
const MAP_CAP: usize = 30;
const _: () = assert!(HashDir::<MEntry, MAP_CAP>::BUCKET_BYTES <= 1024);

fn member_hash(m: &[u8]) -> u64 {
    static SEED: OnceLock<foldhash::quality::FixedState> = OnceLock::new();
    let state =
        SEED.get_or_init(|| foldhash::quality::FixedState::with_seed(rand::random::<u64>()));
    // 0 is the cursor that ends a scan.
    state.hash_one(m).max(1)
}

/// Estimated heap bytes per large-form entry besides the member's own heap
/// bytes: a 24-byte tree entry in leaves 3/4 to wholly full (30 bytes); the
/// index counts its own allocations ([`HashDir::alloc_bytes`]).
const ENTRY_OVERHEAD: usize = 30;

fn entry_bytes(member_len: usize) -> usize {
    ENTRY_OVERHEAD + SmallBytes::heap_bytes(member_len)
}

/// The large form.
#[derive(Clone, Debug)]
pub struct Skiplist {
    tree: Tree,
    map: HashDir<MEntry, MAP_CAP>,
    bytes: usize,
    /// Shared by every version cloned from this one (see `types::hash`).
    lineage: Arc<()>,
}

impl Skiplist {
    fn new() -> Skiplist {
        Skiplist {
            tree: Tree::new(),
            map: HashDir::new(),
            bytes: 0,
            lineage: Arc::new(()),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        self.map.get(member_hash(m), m).map(|e| e.score)
    }

    fn insert_new(&mut self, m: &[u8], score: f64) {
        let member = SmallBytes::new(m);
        self.tree.insert(Entry {
            score,
            member: member.clone(),
        });
        self.map.insert(MEntry {
            hash: member_hash(m),
            member,
            score,
        });
        self.bytes += entry_bytes(m.len());
    }

    fn set(&mut self, m: &[u8], score: f64) -> bool {
        let hash = member_hash(m);
        match self.map.get_mut(hash, m) {
            Some(e) => {
                if e.score != score {
                    let old = std::mem::replace(&mut e.score, score);
                    let member = e.member.clone();
                    self.tree.remove(old, m);
                    self.tree.insert(Entry { score, member });
                }
                false
            }
            None => {
                self.insert_new(m, score);
                true
            }
        }
    }

    /// Removes the lowest (`max` false) or highest entry.
    fn pop(&mut self, max: bool) -> Option<(SmallBytes, f64)> {
        let e = self.tree.pop_edge(max)?;
        let gone = self
            .map
            .remove(member_hash(&e.member), &e.member)
            .expect("every tree entry is in the map");
        self.bytes -= entry_bytes(gone.member.len());
        Some((gone.member, e.score))
    }

    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let score = self.map.remove(member_hash(m), m)?.score;
        self.tree.remove(score, m);
        self.bytes -= entry_bytes(m.len());
        Some(score)
    }
}

impl PartialEq for Skiplist {
    fn eq(&self, other: &Self) -> bool {
        self.tree.len() == other.tree.len()
            && self
                .tree
                .iter()
                .zip(other.tree.iter())
                .all(|(a, b)| a.score == b.score && a.member == b.member)
    }
}

/// A sorted set value.
#[derive(Clone, Debug, PartialEq)]
pub enum ZSet {
    /// Entries in order (the listpack encoding).
    Listpack(Vec<(f64, SmallBytes)>),
    /// Boxed: a `Value` stays the size of a string.
    Skiplist(Box<Skiplist>),
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.score == other.score && self.member == other.member
    }
}

fn lp_cmp(score: f64, m: &[u8], e: &(f64, SmallBytes)) -> Ordering {
    score
        .partial_cmp(&e.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| m.cmp(&e.1))
}

/// Iterator over a sorted set's entries from some rank, either way.
pub enum ZIter<'a> {
    Listpack(std::iter::Rev<std::slice::Iter<'a, (f64, SmallBytes)>>),
    ListpackFwd(std::slice::Iter<'a, (f64, SmallBytes)>),
    Tree(super::zset_tree::Iter<'a>),
}

impl<'a> Iterator for ZIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        match self {
            ZIter::Listpack(it) => it.next().map(|(s, m)| (&**m, *s)),
            ZIter::ListpackFwd(it) => it.next().map(|(s, m)| (&**m, *s)),
            ZIter::Tree(it) => it.next().map(|e| (&*e.member, e.score)),
        }
    }
}

impl ZSet {
    /// An empty sorted set in the encoding ZADD creates for a first member
    /// `first` (Redis's check on a new key).
    pub fn for_first(first_len: usize, limits: ZLimits) -> ZSet {
        if limits.entries == 0 || first_len as u64 > limits.value {
            ZSet::Skiplist(Box::new(Skiplist::new()))
        } else {
            ZSet::Listpack(Vec::new())
        }
    }

    /// An empty listpack.
    pub fn new_listpack() -> ZSet {
        ZSet::Listpack(Vec::new())
    }

    /// An empty skiplist.
    pub fn new_skiplist() -> ZSet {
        ZSet::Skiplist(Box::new(Skiplist::new()))
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(v) => v.len(),
            ZSet::Skiplist(s) => s.tree.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            ZSet::Listpack(v) => v.is_empty(),
            ZSet::Skiplist(s) => s.tree.is_empty(),
        }
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(v) => v.iter().find(|e| &*e.1 == m).map(|e| e.0),
            ZSet::Skiplist(s) => s.score(m),
        }
    }

    /// Converts a listpack to a skiplist.
    pub fn convert(&mut self) {
        if let ZSet::Listpack(v) = self {
            let mut s = Skiplist::new();
            for (score, m) in v.iter() {
                s.insert_new(m, *score);
            }
            *self = ZSet::Skiplist(Box::new(s));
        }
    }

    /// Converts a skiplist back to a listpack if it fits (Redis's
    /// `zsetConvertToListpackIfNeeded`, used for ZUNIONSTORE & co results
    /// and RESTORE of a skiplist payload).
    pub fn maybe_shrink(&mut self, limits: ZLimits) {
        if let ZSet::Skiplist(s) = self {
            if s.tree.len() as u64 <= limits.entries
                && s.tree.iter().all(|e| e.member.len() as u64 <= limits.value)
            {
                // A listpack holds no negative zero (Redis stores it as 0).
                *self = ZSet::Listpack(
                    s.tree
                        .iter()
                        .map(|e| (e.score + 0.0, e.member.clone()))
                        .collect(),
                );
            }
        }
    }

    /// Sets the score of `m` (adding it if new) as Redis's `zsetAdd`,
    /// converting a listpack first if adding it would break the limits.
    /// Whether `m` was new.
    pub fn set(&mut self, m: &[u8], score: f64, limits: ZLimits) -> bool {
        if let ZSet::Listpack(v) = self {
            // A listpack holds no negative zero (Redis stores it as 0).
            let score = if score == 0.0 { 0.0 } else { score };
            if let Some(pos) = v.iter().position(|e| &*e.1 == m) {
                if v[pos].0 != score {
                    let e = v.remove(pos);
                    let at = v.partition_point(|x| lp_cmp(score, m, x) == Ordering::Greater);
                    v.insert(at, (score, e.1));
                }
                return false;
            }
            if v.len() as u64 + 1 > limits.entries || m.len() as u64 > limits.value {
                self.convert();
            } else {
                let at = v.partition_point(|x| lp_cmp(score, m, x) == Ordering::Greater);
                v.insert(at, (score, SmallBytes::new(m)));
                return true;
            }
        }
        match self {
            ZSet::Skiplist(s) => s.set(m, score),
            ZSet::Listpack(_) => unreachable!("converted above"),
        }
    }

    /// Removes and returns the lowest (`max` false) or highest entry.
    pub fn pop(&mut self, max: bool) -> Option<(SmallBytes, f64)> {
        match self {
            ZSet::Listpack(v) if max => v.pop().map(|(s, m)| (m, s)),
            ZSet::Listpack(v) => (!v.is_empty()).then(|| {
                let (s, m) = v.remove(0);
                (m, s)
            }),
            ZSet::Skiplist(s) => s.pop(max),
        }
    }

    /// Removes `m`, returning its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(v) => {
                let pos = v.iter().position(|e| &*e.1 == m)?;
                Some(v.remove(pos).0)
            }
            ZSet::Skiplist(s) => s.remove(m),
        }
    }

    /// The 0-based ascending rank of `m` and its score.
    pub fn rank(&self, m: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Listpack(v) => v.iter().position(|e| &*e.1 == m).map(|p| (p, v[p].0)),
            ZSet::Skiplist(s) => {
                let score = s.score(m)?;
                s.tree.rank(score, m).map(|r| (r, score))
            }
        }
    }

    /// The entry of ascending rank `i`.
    pub fn get(&self, i: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Listpack(v) => v.get(i).map(|(s, m)| (&**m, *s)),
            ZSet::Skiplist(s) => s.tree.get(i).map(|e| (&*e.member, e.score)),
        }
    }

    /// Entries from ascending rank `start` on, upwards, or (`rev`) from it
    /// down to rank 0. O(log n) to start.
    pub fn iter_from(&self, start: usize, rev: bool) -> ZIter<'_> {
        match self {
            ZSet::Listpack(v) if rev => {
                let end = (start + 1).min(v.len());
                ZIter::Listpack(v[..end].iter().rev())
            }
            ZSet::Listpack(v) => ZIter::ListpackFwd(v[start.min(v.len())..].iter()),
            ZSet::Skiplist(s) => ZIter::Tree(s.tree.iter_from(start, rev)),
        }
    }

    /// Every entry in ascending order.
    pub fn iter(&self) -> ZIter<'_> {
        self.iter_from(0, false)
    }

    /// How many entries satisfy `pred`, which holds for a prefix of the
    /// order (score, member). O(log n) for a skiplist.
    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Listpack(v) => v.partition_point(|(s, m)| pred(*s, m)),
            ZSet::Skiplist(s) => s.tree.partition_point(|e| pred(e.score, &e.member)),
        }
    }

    /// One ZSCAN step of a skiplist: calls `f` for up to `count` entries
    /// from `cursor` on, in member-hash order; the next cursor (0: done).
    pub fn scan_skiplist(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        let ZSet::Skiplist(s) = self else {
            return 0;
        };
        let mut last = 0;
        for (n, e) in s.map.range_from(cursor).enumerate() {
            if n >= count && e.hash != last {
                return e.hash;
            }
            f(&e.member, e.score);
            last = e.hash;
        }
        0
    }

    /// Whether both are versions of one large sorted set (see
    /// `Value::shares_lineage`).
    pub fn same_lineage(&self, other: &ZSet) -> bool {
        match (self, other) {
            (ZSet::Skiplist(a), ZSet::Skiplist(b)) => Arc::ptr_eq(&a.lineage, &b.lineage),
            _ => false,
        }
    }

    /// Heap bytes of the whole sorted set, shared nodes included.
    pub fn whole_bytes(&self) -> usize {
        match self {
            ZSet::Listpack(v) => {
                v.capacity() * std::mem::size_of::<(f64, SmallBytes)>()
                    + v.iter()
                        .map(|e| SmallBytes::heap_bytes(e.1.len()))
                        .sum::<usize>()
            }
            ZSet::Skiplist(s) => std::mem::size_of::<Skiplist>() + s.bytes + s.map.alloc_bytes(),
        }
    }

    /// Heap bytes this version holds: all of it while it is the only
    /// version of its lineage, about one path of each tree otherwise.
    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSet::Skiplist(s) if Arc::strong_count(&s.lineage) > 1 => {
                use super::zset_tree::{INNER_MAX, LEAF_MAX};
                // One path of the tree (a full leaf, inner nodes of 48-byte
                // children) and of the index (its top vectors, chunks and a bucket).
                let tree =
                    LEAF_MAX * std::mem::size_of::<Entry>() + s.tree.depth() * INNER_MAX * 48;
                (tree + s.map.path_bytes()).min(self.whole_bytes())
            }
            _ => self.whole_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_like_redis() {
        let lim = ZLimits {
            entries: 3,
            value: 5,
        };
        let mut z = ZSet::for_first(1, lim);
        assert!(z.set(b"a", 1.0, lim));
        assert!(z.set(b"b", 0.5, lim));
        assert!(!z.set(b"a", 0.0, lim));
        assert!(z.set(b"c", 2.0, lim));
        assert_eq!(z.encoding(), "listpack");
        let all: Vec<_> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(
            all,
            [
                (b"a".to_vec(), 0.0),
                (b"b".to_vec(), 0.5),
                (b"c".to_vec(), 2.0)
            ]
        );
        assert!(z.set(b"d", 3.0, lim));
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.rank(b"d"), Some((3, 3.0)));
        assert_eq!(z.remove(b"a"), Some(0.0));
        assert_eq!(z.encoding(), "skiplist");
        z.maybe_shrink(lim);
        assert_eq!(z.encoding(), "listpack");
        let mut z = ZSet::for_first(6, lim);
        assert_eq!(z.encoding(), "skiplist");
        z.set(b"longer", 1.0, lim);
        assert_eq!(z.score(b"longer"), Some(1.0));
    }

    #[test]
    fn scan_visits_everything() {
        let mut z = ZSet::new_skiplist();
        for i in 0..1000 {
            z.set(format!("m{i}").as_bytes(), i as f64, ZLimits::DEFAULT);
        }
        let mut seen = Vec::new();
        let mut c = 0;
        loop {
            c = z.scan_skiplist(c, 7, |m, _| seen.push(m.to_vec()));
            if c == 0 {
                break;
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
    }
}
