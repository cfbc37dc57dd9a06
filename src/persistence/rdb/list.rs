//! Lists in Redis 7.0's RDB forms.
//!
//! * `RDB_TYPE_LIST_QUICKLIST_2` (18), what Redis 7.0 writes: the node
//!   count, then per node its container (2 = packed listpack, 1 = plain:
//!   one element stored raw) and the node as an RDB string.
//! * `RDB_TYPE_LIST_QUICKLIST` (14, RDB 7 to 9): the node count, then each
//!   node as a ziplist in an RDB string.
//! * `RDB_TYPE_LIST` (1, before RDB 7): a count, then each element.
//!
//! Loaded nodes are kept as they come (re-encoded canonically); empty
//! nodes are skipped, and a list left empty is refused, as Redis does.

use super::{listpack, string, write_len, RdbError, Reader, Result};
use crate::types::list::{End, List};

/// Value type byte of a list saved element by element.
pub const TYPE_LIST: u8 = 1;
/// Value type byte of a quicklist of ziplists.
pub const TYPE_LIST_QUICKLIST: u8 = 14;
/// Value type byte of a quicklist of listpacks and plain nodes.
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;

const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Appends `list`'s type byte and body, as Redis 7.0 writes it.
pub fn write(out: &mut Vec<u8>, list: &List, compress: bool) {
    out.push(TYPE_LIST_QUICKLIST_2);
    write_len(out, list.nodes().count() as u64);
    for node in list.nodes() {
        write_len(out, CONTAINER_PACKED);
        string::write_bytes(out, node.listpack(), compress);
    }
}

/// Reads a list body of type `ty` (one of the three above). `fill` is
/// `list-max-listpack-size`: the loaded list's node limit from now on (it
/// also packs a plain `RDB_TYPE_LIST`), as in Redis's loader.
pub fn read(r: &mut Reader<'_>, ty: u8, fill: i32) -> Result<List> {
    let len = r.plain_length()?;
    if len == 0 {
        return Err(RdbError::Corrupt("empty list"));
    }
    let mut list = List::new(fill);
    if ty == TYPE_LIST {
        for _ in 0..len {
            let e = string::read(r)?.into_bytes();
            list.push(End::Tail, &e);
        }
        return Ok(list);
    }
    for _ in 0..len {
        let container = if ty == TYPE_LIST_QUICKLIST_2 {
            r.plain_length()?
        } else {
            CONTAINER_PACKED
        };
        if container != CONTAINER_PACKED && container != CONTAINER_PLAIN {
            return Err(RdbError::Corrupt("quicklist integrity check failed"));
        }
        let data = string::read(r)?.into_bytes();
        if data.is_empty() {
            return Err(RdbError::Corrupt("empty quicklist node"));
        }
        let items = if container == CONTAINER_PLAIN {
            vec![data]
        } else if ty == TYPE_LIST_QUICKLIST_2 {
            listpack::read(&data)?
        } else {
            listpack::read_ziplist(&data)?
        };
        if !items.is_empty() {
            list.append_node(&items);
        }
    }
    if list.is_empty() {
        return Err(RdbError::Corrupt("empty list"));
    }
    Ok(list)
}
