//! Loom models of APPEND's in-place growth (`src/types/raw_str.rs`): values
//! sharing one buffer (an old value still read by a pinned reader, a COPY of
//! it) must never see their bytes change, and two appends racing for the same
//! spare bytes must not both write them. The buffer's bytes are loom cells, so
//! loom also reports any read and write of one byte that are not ordered.
#![cfg(loom)]

use ferrite_loom_tests::raw_str::RawStr;
use loom::sync::atomic::{AtomicPtr, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Two appends to values sharing a buffer (a key and its COPY), while a
/// reader reads the value both started from.
#[test]
fn racing_appends_on_one_buffer() {
    loom::model(|| {
        let base = RawStr::with_capacity(b"ab", 6);
        let (a, b) = (base.clone(), base.clone());
        let ta = thread::spawn(move || a.appended(b"X"));
        let tb = thread::spawn(move || b.appended(b"YZ"));
        assert_eq!(base.to_vec(), b"ab");
        let (ra, rb) = (ta.join().unwrap(), tb.join().unwrap());
        assert_eq!(ra.to_vec(), b"abX");
        assert_eq!(rb.to_vec(), b"abYZ");
        assert_eq!(base.to_vec(), b"ab");
    });
}

/// A line of in-place appends published through a slot-like pointer (release
/// on store, acquire on load, as the keyspace publishes values), read by
/// another thread while the next append claims more of the same buffer.
#[test]
fn publish_then_read_while_appending() {
    loom::model(|| {
        let first = Box::into_raw(Box::new(RawStr::with_capacity(b"a", 4)));
        let slot = Arc::new(AtomicPtr::new(first));
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || {
                let mut replaced = Vec::new();
                for extra in [&b"b"[..], b"c"] {
                    let cur = slot.load(Ordering::Acquire);
                    // SAFETY: values are freed only after both threads are
                    // done (the epoch's job in the real keyspace).
                    let next = Box::into_raw(Box::new(unsafe { &*cur }.appended(extra)));
                    slot.store(next, Ordering::Release);
                    replaced.push(cur as usize);
                }
                replaced
            })
        };
        // The reader is a thread spawned after the writer, not the main
        // thread: loom 0.7.2 remembers one last access per atomic, and a read
        // on the main thread before the writer's accesses hid every
        // interleaving (1 execution explored; tokio-rs/loom#166).
        let reader = {
            let slot = slot.clone();
            thread::spawn(move || {
                // SAFETY: as above.
                let seen = unsafe { &*slot.load(Ordering::Acquire) }.to_vec();
                assert!(
                    [&b"a"[..], b"ab", b"abc"].contains(&&seen[..]),
                    "torn value {seen:?}"
                );
            })
        };
        reader.join().unwrap();
        let replaced = writer.join().unwrap();
        let last = slot.load(Ordering::Acquire);
        // SAFETY: as above.
        assert_eq!(unsafe { &*last }.to_vec(), b"abc");
        for p in replaced.into_iter().chain([last as usize]) {
            // SAFETY: each pointer came from Box::into_raw and is freed once;
            // no thread uses them any more.
            drop(unsafe { Box::from_raw(p as *mut RawStr) });
        }
    });
}
