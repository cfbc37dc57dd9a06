//! A key's slot: the unit of atomicity of the keyspace.

use super::latch::Stamp;
use crate::sync::{self as epoch, Atomic, AtomicU64, Guard, Ordering, Shared};
use crate::types::Value;
// The access word is a relaxed hint, in no protocol: std's even under loom,
// so the model checker does not branch on it.
use std::sync::atomic::AtomicU32;

/// One key's state. It heads the key's node in the keyspace's table
/// (`store::node`), so its address is stable for as long as any pinned
/// reader can reach it.
#[repr(C)]
pub struct Slot {
    pub(crate) stamp: Stamp,
    /// Epoch-managed pointer to the value; null while a freshly created slot
    /// has no value yet, or after the key was deleted. Tagged
    /// (`Value::in_place_tag`) for a value its latch holder changes in
    /// place, which only the latch holder may read; untagged values are
    /// immutable once published.
    pub(crate) value: Atomic<Value>,
    /// Absolute expiry in Unix milliseconds, 0 = persistent.
    pub(crate) expire: AtomicU64,
    /// LRU clock (seconds) of the last access, for OBJECT IDLETIME and eviction.
    pub(crate) access: AtomicU32,
    /// Length of the key stored right after the slot in its node; here, it
    /// fills what would be padding (the node stays 32 bytes plus the key).
    pub(crate) key_len: u32,
}

impl Slot {
    pub(crate) fn new_latched(access: u32, key_len: u32) -> (Slot, super::latch::Held) {
        let (stamp, held) = Stamp::new_latched(super::latch::next_version());
        (
            Slot {
                stamp,
                value: Atomic::null(),
                expire: AtomicU64::new(0),
                access: AtomicU32::new(access),
                key_len,
            },
            held,
        )
    }

    /// The stamp word (version + flags), for WATCH-style change detection.
    pub fn stamp(&self) -> u64 {
        self.stamp.load()
    }

    /// Reads (value, expire) consistently under the sequence lock.
    pub(crate) fn read<'g>(&self, guard: &'g Guard) -> (Shared<'g, Value>, u64, u64) {
        let ((v, e), s) = self.stamp.read_consistent(|| {
            (
                self.value.load(Ordering::Acquire, guard),
                self.expire.load(Ordering::Acquire),
            )
        });
        (v, e, s)
    }

    /// Records an access under clock word `clock` (see `store::access`).
    /// Writes only when the word changes, so a hot key read by every thread
    /// is written at most once per clock tick (LRU) or counter step (LFU).
    pub fn touch(&self, clock: u32) {
        let old = self.access.load(Ordering::Relaxed);
        let new = super::access::on_access(old, clock);
        if old != new {
            self.access.store(new, Ordering::Relaxed);
        }
    }

    /// Overwrites the access word (RESTORE ... IDLETIME / FREQ).
    pub fn set_access(&self, word: u32) {
        self.access.store(word, Ordering::Relaxed);
    }

    pub fn access_clock(&self) -> u32 {
        self.access.load(Ordering::Relaxed)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // A slot is dropped only when its node is freed, which the epoch defers until every guard pinned while the node was
        // reachable has unpinned; any reader of `value` held such a guard.
        // SAFETY: no reader can still dereference the value pointer.
        unsafe {
            let guard = epoch::unprotected();
            let v = self.value.load(Ordering::Relaxed, guard);
            if !v.is_null() {
                drop(v.with_tag(0).into_owned());
            }
        }
    }
}
