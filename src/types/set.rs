//! The set type, with Redis 7.0's two encodings.
//!
//! * `intset`: every member is an integer (Redis's `string2ll` rules) and
//!   there are at most `set-max-intset-entries` of them; a sorted `i64`
//!   array, copied whole by a writer (copy-on-write; it is small).
//! * `hashtable`: anything else; a persistent hash index in hash order
//!   (`hash_dir::HashDir`) of (hash, member) entries. A writer copies only
//!   the bucket and directory chunks it changes, so a write to a large set
//!   does not copy the set, readers keep reading the old version lock-free,
//!   and a snapshot can keep the value without copying it. Ordering by a
//!   per-process hash gives SSCAN a cursor (the next hash) that returns
//!   every member present for the whole scan, and gives random members by
//!   seeking to a random hash.
//!
//! Like Redis 7.0 a set only ever converts from intset to hashtable, never
//! back.

use super::hash::SmallBytes;
use super::hash_dir::{DirEntry, HashDir};
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// A hashtable member: its hash (never 0, so it can serve as an SSCAN
/// cursor) and its bytes, inline when short: a write copies the tree nodes
/// on its path, and copying an inline member is a plain copy where a shared
/// buffer costs two atomic operations (and a short member's own allocation).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    hash: u64,
    bytes: SmallBytes,
}

impl Member {
    fn new(m: &[u8]) -> Member {
        Member {
            hash: member_hash(m),
            bytes: SmallBytes::new(m),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl DirEntry for Member {
    type Key = [u8];
    fn hash(&self) -> u64 {
        self.hash
    }
    fn key(&self) -> &[u8] {
        &self.bytes
    }
}

/// Members per index bucket: 40 24-byte members make a 1 KiB allocation.
const SET_CAP: usize = 40;
const _: () = assert!(HashDir::<Member, SET_CAP>::BUCKET_BYTES <= 1024);

/// The member hash: random per process, stable while it runs, never 0.
fn member_hash(m: &[u8]) -> u64 {
    static STATE: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    STATE.get_or_init(Default::default).hash_one(m) | 1
}

/// The largest hashtable whose random members are drawn exactly uniformly
/// (see [`Set::random`]), as for hashes: the walk to a random position
/// costs O(n), and at 100,000 members it made SPOP 0.11x redis-server
/// (63 us per call, `benches/compare.sh` with `-r 100000`).
pub const UNIFORM_MAX: usize = 1_024;

/// The intset element width (bytes) `i` needs.
pub fn int_width(i: i64) -> u8 {
    if i16::try_from(i).is_ok() {
        2
    } else if i32::try_from(i).is_ok() {
        4
    } else {
        8
    }
}

/// A hashtable-encoded set and the heap bytes of its long members.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    set: HashDir<Member, SET_CAP>,
    bytes: usize,
}

impl Table {
    fn new() -> Table {
        Table {
            set: HashDir::new(),
            bytes: 0,
        }
    }

    fn contains(&self, m: &[u8]) -> bool {
        self.set.get(member_hash(m), m).is_some()
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        let added = self.set.insert(Member::new(m)).is_none();
        if added {
            self.bytes += SmallBytes::heap_bytes(m.len());
        }
        added
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        let removed = self.set.remove(member_hash(m), m).is_some();
        if removed {
            self.bytes -= SmallBytes::heap_bytes(m.len());
        }
        removed
    }
}

/// A set value.
#[derive(Clone, Debug, PartialEq)]
pub enum Set {
    /// Sorted, distinct integers, and the element width in bytes (2, 4 or
    /// 8) Redis's intset would have: it grows to fit the widest member ever
    /// added and never shrinks, so DUMP payloads match Redis's byte for byte.
    Ints(Vec<i64>, u8),
    /// Boxed: a `Value` stays the size of a string.
    Table(Box<Table>),
}

/// One member, as the set holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Elem<'_> {
    /// The member's bytes (an integer in decimal).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Int(i) => itoa::Buffer::new().format(i).as_bytes().to_vec(),
            Elem::Bytes(b) => b.to_vec(),
        }
    }

    /// Calls `f` with the member's bytes without allocating.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Int(i) => f(itoa::Buffer::new().format(i).as_bytes()),
            Elem::Bytes(b) => f(b),
        }
    }
}

impl Default for Set {
    fn default() -> Set {
        Set::Ints(Vec::new(), 2)
    }
}

impl Set {
    /// An empty set of the encoding Redis 7.0 creates for a first member
    /// `m` (SADD, SMOVE): intset if it is an integer.
    pub fn for_first(m: &[u8]) -> Set {
        if crate::util::num::parse_i64(m).is_some() {
            Set::Ints(Vec::new(), 2)
        } else {
            Set::Table(Box::new(Table::new()))
        }
    }

    /// An empty hashtable-encoded set.
    pub fn new_table() -> Set {
        Set::Table(Box::new(Table::new()))
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(..) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v, _) => v.len(),
            Set::Table(t) => t.set.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v, _) => {
                crate::util::num::parse_i64(m).is_some_and(|i| v.binary_search(&i).is_ok())
            }
            Set::Table(t) => t.contains(m),
        }
    }

    pub fn contains_elem(&self, e: Elem<'_>) -> bool {
        match (self, e) {
            (Set::Ints(v, _), Elem::Int(i)) => v.binary_search(&i).is_ok(),
            _ => e.with_bytes(|b| self.contains(b)),
        }
    }

    /// Converts an intset to a hashtable (Redis's `setTypeConvert`).
    fn convert(&mut self) {
        if let Set::Ints(v, _) = self {
            let mut t = Table::new();
            for i in v.iter() {
                t.insert(itoa::Buffer::new().format(*i).as_bytes());
            }
            *self = Set::Table(Box::new(t));
        }
    }

    /// Adds `m` as Redis 7.0's `setTypeAdd` does, converting an intset to a
    /// hashtable when `m` is not an integer or the set grows past
    /// `max_intset` members. Whether it was new.
    pub fn insert(&mut self, m: &[u8], max_intset: u64) -> bool {
        if let Set::Ints(v, width) = self {
            match crate::util::num::parse_i64(m) {
                Some(i) => {
                    let Err(pos) = v.binary_search(&i) else {
                        return false;
                    };
                    v.insert(pos, i);
                    *width = (*width).max(int_width(i));
                    if v.len() as u64 > max_intset {
                        self.convert();
                    }
                    return true;
                }
                None => self.convert(),
            }
        }
        match self {
            Set::Table(t) => t.insert(m),
            Set::Ints(..) => unreachable!("converted above"),
        }
    }

    /// [`Set::insert`] of a member given as an [`Elem`].
    pub fn insert_elem(&mut self, e: Elem<'_>, max_intset: u64) -> bool {
        e.with_bytes(|b| self.insert(b, max_intset))
    }

    /// Removes `m`; whether it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v, _) => match crate::util::num::parse_i64(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            Set::Table(t) => t.remove(m),
        }
    }

    /// The members in the set's order (ascending integers for an intset).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Elem<'_>> + '_> {
        match self {
            Set::Ints(v, _) => Box::new(v.iter().map(|i| Elem::Int(*i))),
            Set::Table(t) => Box::new(t.set.iter().map(|e| Elem::Bytes(e.bytes()))),
        }
    }

    /// A random member, `None` if the set is empty. `r` is a random number.
    ///
    /// Uniform for an intset and for a hashtable of at most [`UNIFORM_MAX`]
    /// members (found by walking to a random position, O(n)). A larger
    /// hashtable takes the successor of a random hash, O(1), which
    /// favours members after larger hash gaps, much as Redis's random bucket
    /// pick favours members of short chains.
    pub fn random(&self, r: u64) -> Option<Elem<'_>> {
        match self {
            Set::Ints(v, _) if v.is_empty() => None,
            Set::Ints(v, _) => Some(Elem::Int(v[(r % v.len() as u64) as usize])),
            Set::Table(t) if t.set.is_empty() => None,
            Set::Table(t) if t.set.len() <= UNIFORM_MAX => t
                .set
                .iter()
                .nth((r % t.set.len() as u64) as usize)
                .map(|e| Elem::Bytes(e.bytes())),
            Set::Table(t) => t
                .set
                .range_from(r)
                .next()
                .or_else(|| t.set.iter().next())
                .map(|e| Elem::Bytes(e.bytes())),
        }
    }

    /// Whether random members should be drawn from a list of all members
    /// (uniform, O(n) once) rather than one by one with [`Set::random`].
    pub fn sample_from_list(&self) -> bool {
        matches!(self, Set::Table(t) if t.set.len() <= UNIFORM_MAX)
    }

    /// One SSCAN step of a hashtable set: calls `f` for up to `count`
    /// members from `cursor` on, in hash order; returns the next cursor (0
    /// when done). Members of one hash are never split between steps.
    pub fn scan_table(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        let Set::Table(t) = self else {
            return 0;
        };
        let mut last = 0;
        for (n, e) in t.set.range_from(cursor).enumerate() {
            if n >= count && e.hash != last {
                return e.hash;
            }
            f(e.bytes());
            last = e.hash;
        }
        0
    }

    /// Bytes this set holds on the heap (an estimate for a hashtable:
    /// each entry, its bytes and a share of the tree's nodes).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Set::Ints(v, _) => v.capacity() * 8,
            Set::Table(t) => std::mem::size_of::<Table>() + t.set.alloc_bytes() + t.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_like_redis() {
        let mut s = Set::for_first(b"1");
        assert!(s.insert(b"3", 2));
        assert!(s.insert(b"1", 2));
        assert!(!s.insert(b"1", 2));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.iter().map(Elem::to_vec).collect::<Vec<_>>(), [b"1", b"3"]);
        assert!(s.insert(b"2", 2));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"2") && s.contains(b"3") && !s.contains(b"4"));
        let mut s = Set::for_first(b"1");
        s.insert(b"01", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.remove(b"01"));
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn scan_visits_everything() {
        let mut s = Set::new_table();
        for i in 0..1000 {
            s.insert(format!("m{i}").as_bytes(), 0);
        }
        let mut seen = Vec::new();
        let mut c = 0;
        loop {
            c = s.scan_table(c, 7, |m| seen.push(m.to_vec()));
            if c == 0 {
                break;
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
    }
}
