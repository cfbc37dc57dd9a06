//! RDB hashes: `RDB_TYPE_HASH` (4, a length then field/value strings),
//! `RDB_TYPE_HASH_LISTPACK` (16, one listpack blob) and, for loading only,
//! `RDB_TYPE_HASH_ZIPLIST` (13, the ziplist blob of RDB 9 and older).
//!
//! Writing follows Redis: a listpack hash is saved as type 16 with the same
//! listpack bytes Redis would hold, a table as type 4.

use super::{listpack, string, RdbError, Reader, Result};
use crate::types::{Hash, HashLimits};

pub const TYPE_HASH: u8 = 4;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_HASH_LISTPACK: u8 = 16;

/// Appends the type byte and body of `h`.
pub fn write(out: &mut Vec<u8>, h: &Hash, compress: bool) {
    match h {
        Hash::Listpack(_) => {
            out.push(TYPE_HASH_LISTPACK);
            let lp = listpack::write(h.iter().flat_map(|(f, v)| [f, v]));
            string::write_bytes(out, &lp, compress);
        }
        Hash::Table(_) => {
            out.push(TYPE_HASH);
            super::write_len(out, h.len() as u64);
            for (f, v) in h.iter() {
                string::write_bytes(out, f, compress);
                string::write_bytes(out, v, compress);
            }
        }
    }
}

const DUPLICATE: RdbError = RdbError::Corrupt("empty hash, odd element count or duplicate field");

fn pairs(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    if !items.len().is_multiple_of(2) {
        return Err(DUPLICATE);
    }
    let mut it = items.into_iter();
    let mut out = Vec::with_capacity(it.len() / 2);
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        out.push((f, v));
    }
    Ok(out)
}

/// Reads the body of a hash of RDB type `ty` (one of the three above).
pub fn read(r: &mut Reader<'_>, ty: u8, limits: HashLimits) -> Result<Hash> {
    let (pairs, packed) = match ty {
        TYPE_HASH => {
            let n = r.plain_length()?;
            // Each pair takes at least two bytes: a bound on what to reserve.
            if n > r.remaining() as u64 / 2 {
                return Err(RdbError::Truncated);
            }
            let mut v = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let f = string::read(r)?.into_bytes();
                let val = string::read(r)?.into_bytes();
                v.push((f, val));
            }
            (v, false)
        }
        TYPE_HASH_LISTPACK => (
            pairs(listpack::read(&string::read(r)?.into_bytes())?)?,
            true,
        ),
        TYPE_HASH_ZIPLIST => (
            pairs(listpack::read_ziplist(&string::read(r)?.into_bytes())?)?,
            true,
        ),
        _ => return Err(RdbError::Corrupt("not a hash type")),
    };
    Hash::from_pairs(pairs, packed, limits).ok_or(DUPLICATE)
}
