//! The snapshot protocol under concurrent writers: multi-key writers keep
//! pairs of keys equal (MSET of both), other writers churn unrelated keys and
//! make the table grow, and snapshots taken meanwhile must each hold every
//! key exactly once, every pair equal (or both absent), and every key that
//! nobody touched.

use super::keyspace::{lock_many, Clock};
use super::snapshot::Record;
use super::Store;
use crate::types::{Str, Value};
use crossbeam_epoch as epoch;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

const T0: u64 = 1_000_000;

fn text(s: &str) -> Value {
    Value::Str(Str::from_arg(s.as_bytes()))
}

fn as_text(v: &Value) -> String {
    String::from_utf8(v.as_str().unwrap().bytes().into_owned()).unwrap()
}

fn scaled(small: usize, large: usize) -> usize {
    if cfg!(miri) {
        small
    } else {
        large
    }
}

/// Checks one snapshot's records; returns how many pairs it held.
fn check(records: &[Record], pairs: usize, stable: usize) -> usize {
    let mut by_key: HashMap<Vec<u8>, String> = HashMap::new();
    for r in records {
        assert_eq!(r.db, 0);
        let prev = by_key.insert(r.key.to_vec(), as_text(&r.value));
        assert!(prev.is_none(), "key {:?} twice in one snapshot", r.key);
    }
    for i in 0..stable {
        assert_eq!(
            by_key
                .get(format!("stable:{i}").as_bytes())
                .map(String::as_str),
            Some("s"),
            "stable:{i} missing"
        );
    }
    let mut present = 0;
    for i in 0..pairs {
        let a = by_key.get(format!("a:{i}").as_bytes());
        let b = by_key.get(format!("b:{i}").as_bytes());
        assert_eq!(a, b, "pair {i} torn in a snapshot");
        present += a.is_some() as usize;
    }
    present
}

#[test]
fn snapshots_are_consistent_cuts_under_concurrent_writers() {
    let store = Store::new(1);
    let pairs = scaled(4, 200);
    let stable = scaled(10, 2_000);
    let clock = Clock::at(T0);
    {
        let guard = epoch::pin();
        let db = store.db(0, &guard);
        for i in 0..stable {
            db.lock(format!("stable:{i}").as_bytes(), clock, &guard)
                .set(text("s"));
        }
    }
    let stop = AtomicBool::new(false);
    let snapshots = scaled(2, 40);
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (store, stop) = (&store, &stop);
            s.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let i = (n * 7 + w * 13) as usize % pairs;
                    let (a, b) = (format!("a:{i}"), format!("b:{i}"));
                    let guard = epoch::pin();
                    let db = store.db(0, &guard);
                    let mut set =
                        lock_many(&[(db, a.as_bytes()), (db, b.as_bytes())], clock, &guard);
                    if n.is_multiple_of(5) {
                        set.nth(0).delete();
                        set.nth(1).delete();
                    } else {
                        let v = format!("{w}-{n}");
                        set.nth(0).set(text(&v));
                        set.nth(1).set(text(&v));
                    }
                    drop(set);
                    // Churn: keys that come and go make the table resize
                    // between snapshots.
                    let k = format!("churn:{w}:{}", n % 3000);
                    if n.is_multiple_of(2) {
                        db.lock(k.as_bytes(), clock, &guard).set(text("c"));
                    } else {
                        db.lock(k.as_bytes(), clock, &guard).delete();
                    }
                    if cfg!(miri) && n > 60 {
                        break;
                    }
                }
            });
        }
        let (store, stop) = (&store, &stop);
        s.spawn(move || {
            /// Stops the writers however this thread ends (a failed check).
            struct StopOnDrop<'a>(&'a AtomicBool);
            impl Drop for StopOnDrop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                }
            }
            let _stop = StopOnDrop(stop);
            let mut with_pairs = 0;
            for _ in 0..snapshots {
                let mut snap = store.snapshot();
                let mut records = Vec::new();
                while let Some(batch) = snap.next_batch() {
                    records.extend(batch.into_iter().filter(|r| !r.key.starts_with(b"churn:")));
                }
                drop(snap);
                with_pairs += (check(&records, pairs, stable) > 0) as usize;
            }
            assert!(with_pairs > 0, "no snapshot saw any pair");
        });
    });
}

/// A snapshot dropped half-way still completes the protocol: the next one
/// is whole.
#[test]
fn an_abandoned_snapshot_leaves_the_next_one_whole() {
    let store = Store::new(2);
    let clock = Clock::at(T0);
    let keys = scaled(20, 5_000);
    {
        let guard = epoch::pin();
        for db in 0..2 {
            let ks = store.db(db, &guard);
            for i in 0..keys {
                ks.lock(format!("k:{i}").as_bytes(), clock, &guard)
                    .set(text("v"));
            }
        }
    }
    let mut first = store.snapshot();
    let _ = first.next_batch();
    drop(first);
    let mut snap = store.snapshot();
    let mut n = [0usize; 2];
    while let Some(batch) = snap.next_batch() {
        for r in batch {
            n[r.db] += 1;
        }
    }
    assert_eq!(n, [keys, keys]);
}
