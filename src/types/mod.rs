//! Value representations per data type.
//!
//! A value reachable from a slot is immutable once published, with one
//! exception: writers build a new value and swap the slot's pointer
//! (copy-on-write), and the old value is reclaimed only after every reader
//! pinned at the time has unpinned. The exception is a hash, set, sorted
//! set or list of at least [`in_place_min`] elements (hashes, sets and
//! sorted sets in their table encoding): its
//! writers change it in place under the key's latch and its readers latch
//! too ([`Value::in_place_tag`]). All collections are persistent structures
//! (`hash`, `set`, `list`, `zset`), so a copy of one is O(1) either way; see
//! docs/ARCHITECTURE.md, "Large collections: changed in place".

pub mod hash;
pub mod hash_dir;
pub mod list;
pub mod raw_str;
pub mod set;
pub mod string;
pub mod zset;
mod zset_tree;

pub use hash::{Hash, HashLimits};
pub use list::List;
pub use raw_str::RawStr;
pub use set::Set;
pub use string::{EmbStr, Str};
pub use zset::{ZLimits, ZSet};

use std::sync::atomic::{AtomicUsize, Ordering};

/// The size from which a table-encoded hash, set or sorted set, or a list, is changed
/// in place ([`Value::in_place_tag`]). Below it, a write's path copy is
/// cheap and readers of small hot collections need no latch. Settable for
/// benchmarks that compare the two ways (`usize::MAX`: never in place).
static IN_PLACE_MIN: AtomicUsize = AtomicUsize::new(DEFAULT_IN_PLACE_MIN);

/// The default of [`in_place_min`].
pub const DEFAULT_IN_PLACE_MIN: usize = 1_024;

/// See [`IN_PLACE_MIN`].
pub fn in_place_min() -> usize {
    #[cfg(test)]
    if let Some(n) = TEST_IN_PLACE_MIN.with(std::cell::Cell::get) {
        return n;
    }
    IN_PLACE_MIN.load(Ordering::Relaxed)
}

#[cfg(test)]
std::thread_local! {
    /// This thread's [`in_place_min`], for unit tests (under miri, whose
    /// collections must stay small) without changing other tests' values.
    pub static TEST_IN_PLACE_MIN: std::cell::Cell<Option<usize>> =
        const { std::cell::Cell::new(None) };
}

/// Sets [`in_place_min`] (benchmarks; values published later follow it).
pub fn set_in_place_min(n: usize) {
    IN_PLACE_MIN.store(n, Ordering::Relaxed);
}

// The in-place tags (`Value::kind_tag`, up to 4) live in the low bits of a
// slot's pointer to the value, which its alignment leaves free.
const _: () = assert!(std::mem::align_of::<Value>() >= 8);

/// A value stored under a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Str),
    Hash(Hash),
    Set(Set),
    List(List),
    ZSet(ZSet),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Whether freeing this value returns enough memory that it should not
    /// wait behind small garbage (see `store::keyspace::retire`).
    pub fn is_large(&self) -> bool {
        const LARGE: usize = 64 * 1024;
        match self {
            Value::Str(Str::Raw(r)) => r.capacity() >= LARGE,
            Value::Str(_) => false,
            // A table version shares nearly all of itself with the next one
            // (a write copies one path), so retiring it frees little: it
            // waits behind small garbage like any small value.
            Value::Hash(Hash::Listpack(_)) => self.retained_bytes() >= LARGE,
            Value::Hash(Hash::Table(_)) => false,
            // Counted whole, also for a version that shares most of its tree
            // with the next one (sets keep no lineage count yet): such a
            // version flushes the thread's garbage when retired.
            Value::Set(s) => s.heap_bytes() >= LARGE,
            // Like a hash table: a version shares all but an end node and a
            // path of its node vector with the next one.
            Value::List(_) => false,
            // As hashes: a large sorted set's version shares all but a
            // path or two with the next one.
            Value::ZSet(ZSet::Listpack(_)) => self.retained_bytes() >= LARGE,
            Value::ZSet(ZSet::Skiplist(_)) => false,
        }
    }

    /// Whether freeing this value, dropped with no later version of it left
    /// in the keyspace (DEL, expiry, an overwrite by another value), returns
    /// enough memory that it should not wait behind small garbage. A large
    /// hash's last version must not: an idle worker's garbage bag would
    /// keep it until that worker retired more.
    pub fn is_large_dropped(&self) -> bool {
        const LARGE: usize = 64 * 1024;
        match self {
            Value::Hash(h) => h.whole_bytes() >= LARGE,
            Value::List(l) => l.whole_bytes() >= LARGE,
            Value::ZSet(z) => z.whole_bytes() >= LARGE,
            _ => self.is_large(),
        }
    }

    /// Whether `new` is a later version of this value sharing most of its
    /// memory (a write to a large hash copies one path, a write to a list
    /// one node and a path), so that retiring
    /// this one frees little.
    pub fn shares_lineage(&self, new: &Value) -> bool {
        match (self, new) {
            (Value::Hash(a), Value::Hash(b)) => a.same_lineage(b),
            (Value::List(a), Value::List(b)) => a.same_lineage(b),
            (Value::ZSet(a), Value::ZSet(b)) => a.same_lineage(b),
            _ => false,
        }
    }

    /// Bytes this value holds on the heap, itself included: what freeing it
    /// gives back (a raw buffer shared with COPYs is counted in full).
    pub fn retained_bytes(&self) -> usize {
        let inline = std::mem::size_of::<Value>();
        match self {
            Value::Str(Str::Raw(r)) => inline + r.capacity(),
            Value::Str(_) => inline,
            Value::Hash(h) => inline + h.heap_bytes(),
            Value::Set(s) => inline + s.heap_bytes(),
            Value::List(l) => inline + l.heap_bytes(),
            Value::ZSet(z) => inline + z.heap_bytes(),
        }
    }

    /// The type's code in a slot's pointer tag (`store::keyspace`): 1 for
    /// a hash, 2 a set, 3 a sorted set, 4 a list; 0 for strings, never
    /// changed in place.
    pub fn kind_tag(&self) -> usize {
        match self {
            Value::Str(_) => 0,
            Value::Hash(_) => 1,
            Value::Set(_) => 2,
            Value::ZSet(_) => 3,
            Value::List(_) => 4,
        }
    }

    /// The TYPE name of a value whose slot pointer carries tag `tag`.
    pub fn type_name_of_tag(tag: usize) -> &'static str {
        match tag {
            1 => "hash",
            2 => "set",
            3 => "zset",
            4 => "list",
            _ => unreachable!("tag {tag} marks no in-place type"),
        }
    }

    /// Non-zero ([`Value::kind_tag`]) if writers change this value in place
    /// under the key's latch once it is published, instead of publishing a
    /// new version per write: a hash, set or sorted set in its table
    /// encoding, or a list, with at least [`in_place_min`] elements. Readers then hold
    /// the latch to look inside it (the command context's read path does);
    /// every other value is read lock-free. See docs/ARCHITECTURE.md,
    /// "Large collections: changed in place".
    pub fn in_place_tag(&self) -> usize {
        let min = in_place_min();
        let large = match self {
            Value::Str(_) => false,
            Value::List(l) => l.len() >= min,
            Value::Hash(h @ Hash::Table(_)) => h.len() >= min,
            Value::Set(s @ Set::Table(_)) => s.len() >= min,
            Value::ZSet(z @ ZSet::Skiplist(_)) => z.len() >= min,
            Value::Hash(_) | Value::Set(_) | Value::ZSet(_) => false,
        };
        if large {
            self.kind_tag()
        } else {
            0
        }
    }

    pub fn as_str(&self) -> Option<&Str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_hash(&self) -> Option<&Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
}
