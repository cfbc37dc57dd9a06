//! Sets in Redis 7.0's RDB forms: `RDB_TYPE_SET` (a count, then each member
//! as an RDB string) for hashtable sets and `RDB_TYPE_SET_INTSET` (one RDB
//! string holding an intset blob) for intset sets.

use super::{intset, string, write_len, RdbError, Reader, Result};
use crate::types::set::Set;

/// Value type byte of a set saved member by member.
pub const TYPE_SET: u8 = 2;
/// Value type byte of a set saved as an intset blob.
pub const TYPE_SET_INTSET: u8 = 11;

/// Appends `set`'s type byte and body.
pub fn write(out: &mut Vec<u8>, set: &Set, compress: bool) {
    match set {
        Set::Ints(v, width) => {
            out.push(TYPE_SET_INTSET);
            string::write_bytes(out, &intset::encode(v, *width), compress);
        }
        Set::Table(_) => {
            out.push(TYPE_SET);
            write_len(out, set.len() as u64);
            for e in set.iter() {
                e.with_bytes(|b| string::write_bytes(out, b, compress));
            }
        }
    }
}

/// Reads an `RDB_TYPE_SET` body. Like Redis 7.0 the set is an intset while
/// its members are integers and their count is at most `max_intset`; an
/// empty set or a repeated member is corrupt.
pub fn read_set(r: &mut Reader<'_>, max_intset: u64) -> Result<Set> {
    let len = r.plain_length()?;
    if len == 0 {
        return Err(RdbError::Corrupt("empty set"));
    }
    let mut set = if len > max_intset {
        Set::new_table()
    } else {
        Set::default()
    };
    for _ in 0..len {
        let m = string::read(r)?.into_bytes();
        if !set.insert(&m, max_intset) {
            return Err(RdbError::Corrupt("duplicate set member"));
        }
    }
    Ok(set)
}

/// Reads an `RDB_TYPE_SET_INTSET` body; converted to a hashtable when it
/// has more than `max_intset` members, as Redis 7.0 loads it.
pub fn read_intset(r: &mut Reader<'_>, max_intset: u64) -> Result<Set> {
    let blob = string::read(r)?.into_bytes();
    let (ints, width) = intset::decode(&blob).ok_or(RdbError::Corrupt("invalid intset"))?;
    if ints.len() as u64 <= max_intset {
        return Ok(Set::Ints(ints, width));
    }
    let mut set = Set::new_table();
    for i in ints {
        set.insert(itoa::Buffer::new().format(i).as_bytes(), max_intset);
    }
    Ok(set)
}
