//! Hashes, with Redis's two encodings so OBJECT ENCODING answers as Redis does.
//!
//! A hash is an immutable published value like a string: a writer clones the
//! hash it latched, changes the clone and publishes it (copy-on-write), and
//! readers read lock-free. The two forms keep that cheap:
//!
//! * **listpack** (small): every pair packed in insertion order into one byte
//!   buffer (a header byte with both lengths, or varints after it for long
//!   ones, then field and value; see `put_pair`). Cloning it
//!   is one allocation and one copy of at most a few KiB, and lookups are a
//!   linear scan, as in Redis's listpack.
//! * **hashtable** (large): a persistent hash index (`hash_dir::HashDir`)
//!   ordered by (64-bit hash of the field, field). Cloning is O(1) and a
//!   write copies only the bucket and directory chunks it changes, so a
//!   write to a million-field hash
//!   does not copy the hash, and readers and snapshots keep the old version
//!   for free. The hash order gives HSCAN a cursor (the hash of the next
//!   field) that returns every field present for the whole scan, and lets
//!   HRANDFIELD pick a field by seeking to a random hash.
//!
//! A hash turns into the large form exactly where Redis converts (more than
//! `hash-max-listpack-entries` pairs, or a field or value longer than
//! `hash-max-listpack-value` bytes) and never turns back, as in Redis.

use super::hash_dir::{DirEntry, HashDir};
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

/// The thresholds of the listpack form (`hash-max-listpack-entries` and
/// `hash-max-listpack-value`), read from the live configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    pub entries: u64,
    pub value: u64,
}

impl HashLimits {
    /// Redis 7.0's defaults.
    pub const DEFAULT: HashLimits = HashLimits {
        entries: 512,
        value: 64,
    };

    fn fits(&self, field: &[u8], value: &[u8]) -> bool {
        field.len() as u64 <= self.value && value.len() as u64 <= self.value
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Hash {
    Listpack(Listpack),
    /// Boxed: a `Value` stays the size of a string.
    Table(Box<Table>),
}

/// The small form: pairs packed in insertion order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Listpack {
    buf: Vec<u8>,
    len: usize,
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a varint at `*pos` of a buffer this module wrote.
fn get_varint(buf: &[u8], pos: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// A length that fits a pair header's nibble; 15 says a varint follows.
const NIBBLE_MAX: usize = 14;

fn nibble(len: usize) -> u8 {
    if len <= NIBBLE_MAX {
        len as u8
    } else {
        15
    }
}

/// Bytes [`put_pair`] writes for a pair.
fn pair_len(field: &[u8], value: &[u8]) -> usize {
    let varint = |n: usize| {
        if n <= NIBBLE_MAX {
            0
        } else {
            (usize::BITS - n.leading_zeros()).div_ceil(7) as usize
        }
    };
    1 + varint(field.len()) + varint(value.len()) + field.len() + value.len()
}

/// Appends a pair: a header byte with the field's length in the high nibble
/// and the value's in the low one (15: the length follows as a varint,
/// the field's first), then the field and the value. Field names and
/// values up to 14 bytes are the common case: one byte of header for both
/// where a length byte each took two (a 10-field hash of short fields and
/// 8-byte values fits 112 bytes instead of 120, a smaller size class).
fn put_pair(out: &mut Vec<u8>, field: &[u8], value: &[u8]) {
    out.push(nibble(field.len()) << 4 | nibble(value.len()));
    if field.len() > NIBBLE_MAX {
        put_varint(out, field.len());
    }
    if value.len() > NIBBLE_MAX {
        put_varint(out, value.len());
    }
    out.extend_from_slice(field);
    out.extend_from_slice(value);
}

/// Reads the pair at `*pos` of a buffer this module wrote and moves past it.
fn get_pair<'a>(buf: &'a [u8], pos: &mut usize) -> (&'a [u8], &'a [u8]) {
    let head = buf[*pos];
    *pos += 1;
    let mut len = |code: u8| {
        if usize::from(code) <= NIBBLE_MAX {
            usize::from(code)
        } else {
            get_varint(buf, pos)
        }
    };
    let (f, v) = (len(head >> 4), len(head & 15));
    let field = &buf[*pos..*pos + f];
    let value = &buf[*pos + f..*pos + f + v];
    *pos += f + v;
    (field, value)
}

/// Iterator over a listpack's pairs in order.
pub struct ListpackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ListpackIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        Some(get_pair(self.buf, &mut self.pos))
    }
}

impl Listpack {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> ListpackIter<'_> {
        ListpackIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    /// Where the pair of `field` starts and ends, and its value.
    fn find(&self, field: &[u8]) -> Option<(usize, usize, &[u8])> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let start = pos;
            let (f, v) = get_pair(&self.buf, &mut pos);
            if f == field {
                return Some((start, pos, v));
            }
        }
        None
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(|(_, _, v)| v)
    }

    /// Room for `more` bytes, up to the allocator's size class: a
    /// copy-on-write writer clones the buffer (capacity = length) and
    /// grows it by a pair, and `Vec`'s doubling then left every written
    /// hash with up to twice the bytes it holds.
    fn reserve(&mut self, more: usize) {
        crate::util::size_class::reserve_to_class(&mut self.buf, more);
    }

    /// Appends a pair whose field is known to be absent.
    fn push(&mut self, field: &[u8], value: &[u8]) {
        self.reserve(pair_len(field, value));
        put_pair(&mut self.buf, field, value);
        self.len += 1;
    }

    /// Sets a field in place of its old value (keeping its position) or at
    /// the end; true if it was new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some((start, end, _)) => {
                let mut pair = Vec::with_capacity(pair_len(field, value));
                put_pair(&mut pair, field, value);
                if pair.len() > end - start {
                    self.reserve(pair.len() - (end - start));
                }
                self.buf.splice(start..end, pair);
                false
            }
            None => {
                self.push(field, value);
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some((start, end, _)) => {
                self.buf.drain(start..end);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// The i-th pair (HRANDFIELD); O(i).
    fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }
}

/// Bytes stored inline up to [`INLINE_MAX`], in a shared buffer above: an
/// index bucket is copied by a write after a clone, and copying a short
/// inline string is a plain copy where a shared one costs two atomic
/// operations (and an allocation per string when it was made).
///
/// 16 bytes: a large hash's entry (field hash, field, value) is 40 bytes,
/// 24 to a 1 KiB bucket; 24-byte `SmallBytes` made 56-byte entries, and a
/// large hash took 1.22x redis-server's memory per field
/// (`benches/collection_memory.py`). The heap form is a
/// thin `triomphe::ThinArc` (its length lives in the allocation), so the
/// enum needs no more room than its inline form.
#[derive(Clone)]
pub enum SmallBytes {
    Inline { len: u8, buf: [u8; INLINE_MAX] },
    Heap(triomphe::ThinArc<(), u8>),
}

const INLINE_MAX: usize = 14;

const _: () = assert!(std::mem::size_of::<SmallBytes>() == 16);

impl SmallBytes {
    pub(crate) fn new(b: &[u8]) -> SmallBytes {
        if b.len() <= INLINE_MAX {
            let mut buf = [0u8; INLINE_MAX];
            buf[..b.len()].copy_from_slice(b);
            SmallBytes::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            SmallBytes::Heap(triomphe::ThinArc::from_header_and_slice((), b))
        }
    }

    /// Heap bytes behind it, roughly (the counter, the length and the data,
    /// rounded to a size class).
    pub(crate) fn heap_bytes(len: usize) -> usize {
        if len <= INLINE_MAX {
            0
        } else {
            (16 + len).next_multiple_of(16)
        }
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, buf } => &buf[..*len as usize],
            SmallBytes::Heap(a) => &a.slice,
        }
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for SmallBytes {}

impl std::hash::Hash for SmallBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// A large hash's entry: the field's hash (the index's order and HSCAN's
/// cursor), the field and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct TableEntry {
    hash: u64,
    field: SmallBytes,
    value: SmallBytes,
}

impl DirEntry for TableEntry {
    type Key = [u8];
    fn hash(&self) -> u64 {
        self.hash
    }
    fn key(&self) -> &[u8] {
        &self.field
    }
}

/// Pairs per index bucket: 24 40-byte entries make a 1 KiB allocation.
const TABLE_CAP: usize = 24;
const _: () = assert!(HashDir::<TableEntry, TABLE_CAP>::BUCKET_BYTES <= 1024);

/// The large form: a persistent map, structurally shared between versions.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    map: HashDir<TableEntry, TABLE_CAP>,
    /// Heap bytes of the fields and values that do not fit inline (see
    /// [`Hash::heap_bytes`]); the index counts its own.
    bytes: usize,
    /// Shared by every version cloned from this one: while another
    /// version is alive, this one shares all but about one path with it.
    lineage: Arc<()>,
}

/// The seed of the field hash: random per process (so a client cannot aim
/// fields at one hash), fixed for the process's life (HSCAN cursors).
fn field_hash(field: &[u8]) -> u64 {
    static SEED: OnceLock<foldhash::quality::FixedState> = OnceLock::new();
    let state =
        SEED.get_or_init(|| foldhash::quality::FixedState::with_seed(rand::random::<u64>()));
    // 0 is the cursor that ends a scan, so no field hashes to it.
    state.hash_one(field).max(1)
}

fn entry_bytes(field: usize, value: usize) -> usize {
    SmallBytes::heap_bytes(field) + SmallBytes::heap_bytes(value)
}

impl Table {
    fn new() -> Table {
        Table {
            map: HashDir::new(),
            bytes: 0,
            lineage: Arc::new(()),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map.get(field_hash(field), field).map(|e| &*e.value)
    }

    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let hash = field_hash(field);
        let new = SmallBytes::new(value);
        match self.map.get_mut(hash, field) {
            Some(e) => {
                self.bytes = self.bytes - SmallBytes::heap_bytes(e.value.len())
                    + SmallBytes::heap_bytes(value.len());
                e.value = new;
                false
            }
            None => {
                self.bytes += entry_bytes(field.len(), value.len());
                self.map.insert(TableEntry {
                    hash,
                    field: SmallBytes::new(field),
                    value: new,
                });
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.map.remove(field_hash(field), field) {
            Some(e) => {
                self.bytes -= entry_bytes(field.len(), e.value.len());
                true
            }
            None => false,
        }
    }

    /// A random entry: uniform up to [`EXACT_RANDOM_MAX`] entries (by rank,
    /// O(n)); above, one of the [`RANDOM_WINDOW`] entries at or after a
    /// random hash, chosen uniformly (each entry's chance then follows the
    /// sum of the gaps before its window, about ±25%, like Redis's "fair"
    /// random key, which samples a few buckets).
    fn random(&self, rand: u64) -> Option<(&[u8], &[u8])> {
        let n = self.map.len();
        if n == 0 {
            return None;
        }
        if n <= EXACT_RANDOM_MAX {
            let e = self.map.iter().nth((rand % n as u64) as usize)?;
            return Some((&e.field, &e.value));
        }
        let pick = (rand.rotate_left(32).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
            % RANDOM_WINDOW;
        self.map
            .range_from(rand)
            .chain(self.map.iter())
            .nth(pick)
            .map(|e| (&*e.field, &*e.value))
    }
}

/// Tables up to this size are sampled exactly uniformly by rank.
pub const EXACT_RANDOM_MAX: usize = 1024;
const RANDOM_WINDOW: usize = 16;

/// Iterator over a hash's pairs (insertion order for listpack, hash order for
/// the table).
pub enum HashIter<'a> {
    Listpack(ListpackIter<'a>),
    Table(super::hash_dir::Iter<'a, TableEntry, TABLE_CAP>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Listpack(it) => it.next(),
            HashIter::Table(it) => it.next().map(|e| (&*e.field, &*e.value)),
        }
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Hash {
    /// An empty hash (listpack, as Redis creates them).
    pub fn new() -> Hash {
        Hash::Listpack(Listpack::default())
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(l) => l.len(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(l) => l.get(field),
            Hash::Table(t) => t.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Listpack(l) => HashIter::Listpack(l.iter()),
            Hash::Table(t) => HashIter::Table(t.map.iter()),
        }
    }

    /// Turns a listpack into the table form (Redis's `hashTypeConvert`).
    pub fn convert(&mut self) {
        if let Hash::Listpack(l) = self {
            let mut t = Table::new();
            for (f, v) in l.iter() {
                t.set(f, v);
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// Converts a listpack whose arguments are too long, as Redis's
    /// `hashTypeTryConversion` does before HSET/HSETNX write them.
    pub fn convert_for_args(&mut self, args: &[&[u8]], limits: HashLimits) {
        if matches!(self, Hash::Listpack(_)) && args.iter().any(|a| a.len() as u64 > limits.value) {
            self.convert();
        }
    }

    /// Sets `field` to `value`, converting where Redis's `hashTypeSet` does
    /// (a field or value over the value limit before the write, more pairs
    /// than the entries limit after it). True if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if matches!(self, Hash::Listpack(_)) && !limits.fits(field, value) {
            self.convert();
        }
        match self {
            Hash::Listpack(l) => {
                let new = l.set(field, value);
                if l.len() as u64 > limits.entries {
                    self.convert();
                }
                new
            }
            Hash::Table(t) => t.set(field, value),
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(l) => l.remove(field),
            Hash::Table(t) => t.remove(field),
        }
    }

    /// A random pair (HRANDFIELD): uniform for listpacks and tables of up
    /// to [`EXACT_RANDOM_MAX`] fields, close to uniform above (see
    /// `Table::random`). `None` if empty.
    pub fn random(&self, rand: u64) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Listpack(l) if l.is_empty() => None,
            Hash::Listpack(l) => l.nth((rand % l.len() as u64) as usize),
            Hash::Table(t) => t.random(rand),
        }
    }

    /// One HSCAN step: calls `f` for the pairs from `cursor` on, about `count`
    /// of them (never splitting pairs of one field hash), and returns the next
    /// cursor (0 when done). A listpack is returned whole, as Redis does.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match self {
            Hash::Listpack(l) => {
                for (k, v) in l.iter() {
                    f(k, v);
                }
                0
            }
            Hash::Table(t) => {
                let mut last = None;
                for (seen, e) in t.map.range_from(cursor).enumerate() {
                    if seen >= count && last != Some(e.hash) {
                        return e.hash;
                    }
                    f(&e.field, &e.value);
                    last = Some(e.hash);
                }
                0
            }
        }
    }

    /// Builds a hash from loaded pairs (RESTORE, RDB loading) with Redis's
    /// loader rules: a listpack or ziplist payload (`packed`) becomes a
    /// table only if it has more pairs than the entries limit; a hash payload
    /// also if a field or value is over the value limit. Duplicate fields
    /// or no pairs at all make it `None` (Redis refuses such payloads).
    pub fn from_pairs(
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        packed: bool,
        limits: HashLimits,
    ) -> Option<Hash> {
        if pairs.is_empty() {
            return None;
        }
        let small = pairs.len() as u64 <= limits.entries
            && (packed || pairs.iter().all(|(f, v)| limits.fits(f, v)));
        let mut h = if small {
            Hash::Listpack(Listpack::default())
        } else {
            Hash::Table(Box::new(Table::new()))
        };
        for (f, v) in &pairs {
            let new = match &mut h {
                Hash::Listpack(l) => l.set(f, v),
                Hash::Table(t) => t.set(f, v),
            };
            if !new {
                return None;
            }
        }
        Some(h)
    }

    /// Whether `self` and `other` are versions of one table (one cloned
    /// from the other by writes), sharing most of their nodes.
    pub fn same_lineage(&self, other: &Hash) -> bool {
        match (self, other) {
            (Hash::Table(a), Hash::Table(b)) => Arc::ptr_eq(&a.lineage, &b.lineage),
            _ => false,
        }
    }

    /// Heap bytes of the whole hash, shared nodes included: what freeing
    /// it gives back once no other version is left.
    pub fn whole_bytes(&self) -> usize {
        match self {
            Hash::Listpack(l) => l.buf.capacity(),
            Hash::Table(t) => std::mem::size_of::<Table>() + t.bytes + t.map.alloc_bytes(),
        }
    }

    /// Heap bytes freeing this version gives back, itself excluded (an
    /// estimate for the table). A table version that another version (the
    /// one a write published, or a COPY) was cloned from or into shares all
    /// but about one bucket and its directory chunks with it, so it counts
    /// those ([`HashDir::path_bytes`]); the
    /// last version of a lineage (a DEL, an overwrite by another type)
    /// counts every entry.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Hash::Listpack(l) => l.buf.capacity(),
            Hash::Table(t) if Arc::strong_count(&t.lineage) == 1 => self.whole_bytes(),
            Hash::Table(t) => t.map.path_bytes().min(self.whole_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: HashLimits = HashLimits {
        entries: 4,
        value: 8,
    };

    #[test]
    fn listpack_keeps_insertion_order_and_converts() {
        let mut h = Hash::new();
        assert!(h.set(b"a", b"1", L));
        assert!(h.set(b"b", b"2", L));
        assert!(!h.set(b"a", b"333", L));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, vec![(&b"a"[..], &b"333"[..]), (b"b", b"2")]);
        assert_eq!(h.encoding(), "listpack");
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 1);
        for i in 0..4 {
            h.set(format!("f{i}").as_bytes(), b"v", L);
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(b"b"), Some(&b"2"[..]));
        let mut h2 = Hash::new();
        h2.set(b"f", b"123456789", L);
        assert_eq!(h2.encoding(), "hashtable");
    }

    #[test]
    fn pairs_of_every_length_class_read_back() {
        let lens = [0, 1, 13, 14, 15, 16, 127, 128, 300];
        let big = HashLimits {
            entries: 1000,
            value: 1000,
        };
        let mut h = Hash::new();
        let mut model = Vec::new();
        for (i, &fl) in lens.iter().enumerate() {
            for (j, &vl) in lens.iter().enumerate() {
                // Unique, and exactly `fl` long where `fl` fits the tag.
                let mut f = format!("{i}.{j}").into_bytes();
                f.resize(fl.max(f.len()), b'x');
                let v = vec![b'v'; vl];
                assert!(h.set(&f, &v, big));
                model.push((f, v));
            }
        }
        // Rewrite every value with another length class, then read all back.
        for (k, (f, v)) in model.iter_mut().enumerate() {
            *v = vec![b'w'; lens[(k * 7) % lens.len()]];
            assert!(!h.set(f, v, big));
        }
        assert_eq!(h.encoding(), "listpack");
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(got, model);
        for (f, v) in &model {
            assert_eq!(h.get(f), Some(&v[..]));
        }
        for (f, _) in model.iter().step_by(2) {
            assert!(h.remove(f));
        }
        let left: Vec<_> = model.iter().skip(1).step_by(2).cloned().collect();
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(got, left);
    }

    #[test]
    fn table_scan_visits_everything() {
        let mut h = Hash::new();
        h.convert();
        for i in 0..1000 {
            h.set(format!("f{i}").as_bytes(), b"v", L);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, 7, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        assert!(h.random(12345).is_some());
        for i in 0..1000 {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        // Back to what an empty table holds.
        assert_eq!(
            h.heap_bytes(),
            Hash::Table(Box::new(Table::new())).heap_bytes()
        );
        h.set(b"x", b"y", L);
        let full = h.heap_bytes();
        let copy = h.clone();
        assert!(h.heap_bytes() <= full);
        drop(copy);
        assert_eq!(h.heap_bytes(), full);
    }
}
#[cfg(test)]
mod size {
    /// Adding hashes must not make every value (strings included) bigger.
    #[test]
    fn a_hash_is_no_larger_than_a_string() {
        assert!(std::mem::size_of::<super::Hash>() <= std::mem::size_of::<super::super::Str>());
        assert_eq!(
            std::mem::size_of::<super::super::Value>(),
            std::mem::size_of::<super::super::Str>()
        );
    }
}
