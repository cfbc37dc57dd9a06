//! `raw` strings that APPEND extends in place.
//!
//! Values are immutable once published (readers copy them under no lock), so
//! a naive APPEND copies the whole string and building a string by many small
//! appends is quadratic; Redis appends in place with spare capacity instead.
//! A [`RawStr`] is a length over a shared buffer with spare capacity. APPEND
//! claims the bytes just past its length with one compare-and-swap on the
//! buffer's claimed mark, writes them, and returns a longer `RawStr` over the
//! same buffer, which the caller publishes in the slot as usual. Bytes below
//! any `RawStr`'s length are never written again: the claimed mark only
//! grows, and a writer writes only bytes it claimed. So the old value (still
//! readable by pinned readers), the new one, and any COPY sharing the buffer
//! stay intact; an APPEND whose claim fails (another value on the buffer got
//! there first) or that needs more room copies into a new buffer with spare
//! capacity, as Redis's greedy growth does.
//!
//! The claim protocol is model-checked in `loom-tests/` (this file is
//! compiled there with `cfg(loom)`, storing bytes in loom cells so that loom
//! reports any two accesses of one byte that race).

#[cfg(loom)]
use loom::{
    cell::UnsafeCell,
    sync::atomic::{AtomicUsize, Ordering},
    sync::Arc,
};
#[cfg(not(loom))]
use std::{
    cell::UnsafeCell,
    sync::atomic::{AtomicUsize, Ordering},
    sync::Arc,
};

/// Redis's greedy growth limit (`SDS_MAX_PREALLOC`): below it capacity
/// doubles, above it grows by this much.
const MAX_PREALLOC: usize = 1024 * 1024;

struct Buf {
    bytes: Box<[UnsafeCell<u8>]>,
    /// Bytes `[0, claimed)` belong to some `RawStr` (or are being written by
    /// the append that claimed them); never decreases.
    claimed: AtomicUsize,
}

// The bytes are shared between threads under the claim protocol: a byte is
// written only by the one append whose compare-and-swap claimed it, before
// that append's result is published to anyone, and read only through
// `RawStr`s whose length covers it, which exist only after it was written and
// are published to other threads with release/acquire (the slot's value
// pointer). No byte is ever written after a `RawStr` covering it exists.
// SAFETY: every shared access follows the claim protocol above.
unsafe impl Sync for Buf {}
// SAFETY: `Buf` owns its bytes; moving it between threads moves plain bytes.
unsafe impl Send for Buf {}

impl Buf {
    /// A buffer holding `parts` one after another, with `cap` bytes in all
    /// (at least their total length); every part's bytes are claimed.
    fn new(parts: &[&[u8]], cap: usize) -> Buf {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let cap = cap.max(len);
        #[cfg(not(loom))]
        let bytes = {
            let mut v = vec![0u8; cap];
            let mut at = 0;
            for p in parts {
                v[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            into_cells(v.into_boxed_slice())
        };
        #[cfg(loom)]
        let bytes = parts
            .iter()
            .flat_map(|p| p.iter().copied())
            .chain(std::iter::repeat(0).take(cap - len))
            .map(UnsafeCell::new)
            .collect();
        Buf {
            bytes,
            claimed: AtomicUsize::new(len),
        }
    }

    /// Writes `data` at `at`.
    ///
    /// # Safety
    /// The caller claimed `[at, at + data.len())` with a successful
    /// compare-and-swap of `claimed`, and no `RawStr` covering it exists yet.
    unsafe fn write(&self, at: usize, data: &[u8]) {
        assert!(at + data.len() <= self.bytes.len());
        // In bounds (asserted); the range is exclusively ours by the caller's
        // claim, so nothing else reads or writes it meanwhile. The pointer
        // comes from the whole slice, so it may address all of it.
        #[cfg(not(loom))]
        // SAFETY: exclusive, in-bounds range (above).
        unsafe {
            let dst = UnsafeCell::raw_get(self.bytes.as_ptr().add(at));
            std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
        }
        #[cfg(loom)]
        for (i, b) in data.iter().enumerate() {
            // SAFETY: as above; loom checks the exclusivity claim.
            self.bytes[at + i].with_mut(|p| unsafe { *p = *b });
        }
    }
}

/// Reinterprets boxed bytes as cells, keeping the allocation.
#[cfg(not(loom))]
fn into_cells(b: Box<[u8]>) -> Box<[UnsafeCell<u8>]> {
    // `UnsafeCell<u8>` is `repr(transparent)` over `u8`, so a boxed `[u8]` is
    // a valid boxed `[UnsafeCell<u8>]` of the same length and layout.
    // SAFETY: identical layout; the box's ownership moves to the result.
    unsafe { Box::from_raw(Box::into_raw(b) as *mut [UnsafeCell<u8>]) }
}

/// A `raw` string: the first `len` bytes of a shared buffer.
#[derive(Clone)]
pub struct RawStr {
    buf: Arc<Buf>,
    len: usize,
}

impl RawStr {
    /// A copy of `data` with no spare capacity (SET, RESTORE).
    pub fn new(data: &[u8]) -> RawStr {
        RawStr::with_capacity(data, data.len())
    }

    /// Takes over `data`'s allocation (RESTORE, RDB loading, SETRANGE).
    #[cfg(not(loom))]
    pub fn from_vec(data: Vec<u8>) -> RawStr {
        let len = data.len();
        let bytes = into_cells(data.into_boxed_slice());
        RawStr {
            buf: Arc::new(Buf {
                bytes,
                claimed: AtomicUsize::new(len),
            }),
            len,
        }
    }

    /// A copy of `data` with room for `cap` bytes in all.
    pub fn with_capacity(data: &[u8], cap: usize) -> RawStr {
        RawStr {
            buf: Arc::new(Buf::new(&[data], cap)),
            len: data.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes the buffer can hold in all.
    pub fn capacity(&self) -> usize {
        self.buf.bytes.len()
    }

    /// This string followed by `extra`: in place when this is the longest
    /// string on its buffer and the buffer has room, otherwise a copy with
    /// spare capacity (doubling up to 1 MiB, then 1 MiB more).
    pub fn appended(&self, extra: &[u8]) -> RawStr {
        let new_len = self.len + extra.len();
        if extra.is_empty() {
            return self.clone();
        }
        if new_len <= self.capacity()
            && self
                .buf
                .claimed
                .compare_exchange(self.len, new_len, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // The compare-and-swap claimed `[self.len, new_len)` for us alone
            // (the mark only grows, so nobody claimed it before and nobody can
            // after), and the `RawStr` covering it is made below.
            // SAFETY: claimed by the compare-and-swap, not yet covered.
            unsafe { self.buf.write(self.len, extra) };
            return RawStr {
                buf: self.buf.clone(),
                len: new_len,
            };
        }
        self.with_bytes(|old| RawStr::concat(old, extra))
    }

    /// `a` followed by `b` in a new buffer with spare capacity (doubling up
    /// to 1 MiB, then 1 MiB more), as Redis grows a string it appends to.
    pub fn concat(a: &[u8], b: &[u8]) -> RawStr {
        let len = a.len() + b.len();
        let cap = if len < MAX_PREALLOC {
            len * 2
        } else {
            len + MAX_PREALLOC
        };
        RawStr {
            buf: Arc::new(Buf::new(&[a, b], cap)),
            len,
        }
    }

    /// Runs `f` over the string's bytes.
    #[cfg(not(loom))]
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }

    #[cfg(loom)]
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.to_vec())
    }

    /// The bytes, copied (loom cells cannot be borrowed as a slice).
    #[cfg(loom)]
    pub fn to_vec(&self) -> Vec<u8> {
        self.buf.bytes[..self.len]
            .iter()
            // SAFETY: bytes below `len` are never written again.
            .map(|c| c.with(|p| unsafe { *p }))
            .collect()
    }
}

#[cfg(not(loom))]
impl std::ops::Deref for RawStr {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // `UnsafeCell<u8>` is `repr(transparent)` over `u8`; the first `len`
        // bytes are in bounds and initialized, and no byte below `len` is
        // written while this `RawStr` exists (see `Buf`'s Sync comment), so a
        // shared slice over them is sound for as long as `self` lives.
        // SAFETY: in bounds, initialized, never written while borrowed.
        unsafe {
            std::slice::from_raw_parts(UnsafeCell::raw_get(self.buf.bytes.as_ptr()), self.len)
        }
    }
}

#[cfg(not(loom))]
impl PartialEq for RawStr {
    fn eq(&self, other: &RawStr) -> bool {
        **self == **other
    }
}

#[cfg(not(loom))]
impl std::fmt::Debug for RawStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawStr({:?})", String::from_utf8_lossy(self))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn appends_in_place_with_greedy_growth() {
        let mut s = RawStr::new(b"hello");
        assert_eq!(s.capacity(), 5);
        s = s.appended(b" world");
        assert_eq!(&*s, b"hello world");
        assert_eq!(s.capacity(), 22);
        let buf = Arc::as_ptr(&s.buf);
        for _ in 0..11 {
            s = s.appended(b"!");
        }
        assert_eq!(&*s, b"hello world!!!!!!!!!!!");
        assert_eq!(
            Arc::as_ptr(&s.buf),
            buf,
            "appends within capacity reuse the buffer"
        );
        s = s.appended(b"?");
        assert_ne!(Arc::as_ptr(&s.buf), buf);
        assert_eq!(s.len(), 23);
    }

    #[test]
    fn old_values_and_copies_stay_intact() {
        let base = RawStr::with_capacity(b"abc", 16);
        let copy = base.clone();
        let a = base.appended(b"XY");
        // `copy` is no longer the longest string on the buffer: it must copy.
        let b = copy.appended(b"Z");
        assert_eq!(&*base, b"abc");
        assert_eq!(&*copy, b"abc");
        assert_eq!(&*a, b"abcXY");
        assert_eq!(&*b, b"abcZ");
        assert!(!Arc::ptr_eq(&a.buf, &b.buf));
        // The in-place line goes on.
        let a2 = a.appended(b"W");
        assert!(Arc::ptr_eq(&a.buf, &a2.buf));
        assert_eq!(&*a2, b"abcXYW");
        assert_eq!(&*a, b"abcXY");
        assert_eq!(&*base.appended(b""), b"abc");
    }

    /// Many threads append to clones of one value; every result holds exactly
    /// its own bytes (miri checks the unsafe accesses for races).
    #[test]
    fn concurrent_appends_to_shared_buffer() {
        let base = RawStr::with_capacity(b"base", 64);
        let results: Vec<(u8, RawStr)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4u8)
                .map(|i| {
                    let mine = base.clone();
                    s.spawn(move || (i, mine.appended(&[b'0' + i; 3]).appended(&[b'a' + i])))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, r) in results {
            let mut want = b"base".to_vec();
            want.extend_from_slice(&[b'0' + i; 3]);
            want.push(b'a' + i);
            assert_eq!(&*r, &want[..]);
        }
        assert_eq!(&*base, b"base");
    }
}
