//! A key's node: its slot and its key bytes in one allocation.
//!
//! The table's buckets point at nodes. A node is the 32-byte [`Slot`]
//! followed directly by the key, so a key of 16 bytes costs one 48-byte
//! allocation, where a slot plus a separately allocated key cost two (80 +
//! 16 bytes, with a 40-byte `Key` holding the hash and a `Bytes` handle).
//! Looking a key up then reads the bucket and one node: the tag match in the
//! bucket leads to the node, whose first line holds both the key to compare
//! and the stamp and value pointer to read. Valkey 8.1 embeds keys the same
//! way. The key's hash is not stored: the table keeps 8 bits of it per
//! entry as a tag, and recomputes it (a few nanoseconds for short keys) only
//! to migrate an entry during a resize.

use super::key::hash_key;
use super::slot::Slot;
use super::table::Entry;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::mem::{align_of, size_of};
use std::ptr;

/// A slot with its key stored inline after it (see the module comment).
/// Only ever handled by reference or raw pointer: its size is
/// `size_of::<Node>()` plus the key's length.
#[repr(C)]
pub struct Node {
    pub slot: Slot,
}

impl Node {
    /// The allocation layout of a node for a key of `key_len` bytes.
    fn layout(key_len: usize) -> Layout {
        Layout::from_size_align(size_of::<Node>() + key_len, align_of::<Node>())
            .expect("a key's node fits in memory")
    }

    /// Allocates a node holding `slot` and a copy of `key`. The caller owns
    /// it until it hands it to the table; [`Node::free`] frees it.
    pub fn alloc(key: &[u8], slot: Slot) -> *mut Node {
        debug_assert_eq!(slot.key_len as usize, key.len());
        let layout = Node::layout(key.len());
        // SAFETY: the layout has a non-zero size (the slot's).
        let p = unsafe { alloc(layout) } as *mut Node;
        if p.is_null() {
            handle_alloc_error(layout);
        }
        // `p` is a fresh allocation of `layout`: room for the slot, aligned
        // for it, and `key.len()` bytes after it, which nothing else overlaps.
        // SAFETY: writes stay inside the fresh, unshared allocation.
        unsafe {
            ptr::write(p, Node { slot });
            ptr::copy_nonoverlapping(
                key.as_ptr(),
                (p as *mut u8).add(size_of::<Node>()),
                key.len(),
            );
        }
        p
    }

    /// The key's bytes.
    pub fn key(&self) -> &[u8] {
        let base = self as *const Node as *const u8;
        // Every node is made by `Node::alloc`, which writes `key_len` key
        // bytes right after the slot in the same allocation; they never
        // change while the node lives, and `&self` proves it is alive.
        // SAFETY: the bytes are initialized, immutable and outlive `&self`.
        unsafe {
            std::slice::from_raw_parts(base.add(size_of::<Node>()), self.slot.key_len as usize)
        }
    }

    /// The key's hash (recomputed: see the module comment).
    pub fn hash(&self) -> u64 {
        hash_key(self.key())
    }
}

impl Entry for Node {
    fn hash(&self) -> u64 {
        Node::hash(self)
    }

    fn key(&self) -> &[u8] {
        Node::key(self)
    }

    /// Drops the slot (and with it the value it still holds) and frees the
    /// node's one allocation.
    unsafe fn free(ptr: *mut Node) {
        // Per the contract, `ptr` came from `Node::alloc`, is unreachable and
        // freed once; its layout is recomputed from its key length.
        // SAFETY: a live `Node::alloc` allocation, dropped and freed once.
        unsafe {
            let layout = Node::layout((*ptr).slot.key_len as usize);
            ptr::drop_in_place(ptr);
            dealloc(ptr as *mut u8, layout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_is_slot_plus_key() {
        assert_eq!(size_of::<Slot>(), 32);
        assert_eq!(size_of::<Node>(), 32);
        for key in [&b""[..], b"k", b"key:000000123456", &[7u8; 300]] {
            let (slot, held) = Slot::new_latched(0, key.len() as u32);
            drop(held);
            let p = Node::alloc(key, slot);
            // SAFETY: just allocated, alive until freed below.
            let node = unsafe { &*p };
            assert_eq!(node.key(), key);
            assert_eq!(Entry::hash(node), hash_key(key));
            // SAFETY: made by `Node::alloc`, unshared, freed once.
            unsafe { <Node as Entry>::free(p) };
        }
    }
}
