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

/// Stops the writers however the snapshot thread ends (a failed check).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
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

/// A large set changed in place (`Locked::update` on a value published
/// with an in-place tag) is copied by snapshots as a consistent cut: two
/// writers add the same member to both sets of a pair in one command while
/// snapshots are taken, and every snapshot holds both sets of a pair with
/// the same members, the ones added before its cut (each also checks, by
/// the set's length, that none was copied while it changed).
#[test]
#[cfg_attr(
    miri,
    ignore = "a set large enough to be changed in place takes minutes under miri"
)]
fn snapshots_of_sets_changed_in_place_are_consistent() {
    use crate::types::Set;
    let store = Store::new(1);
    let clock = Clock::at(T0);
    let base = crate::types::in_place_min() + 10;
    let pairs = 3;
    let big = |tag: &str| {
        let mut s = Set::new_table();
        for i in 0..base {
            s.insert(format!("{tag}{i}").as_bytes(), 512);
        }
        Value::Set(s)
    };
    {
        let guard = epoch::pin();
        let db = store.db(0, &guard);
        for i in 0..pairs {
            db.lock(format!("a:{i}").as_bytes(), clock, &guard)
                .set(big("m"));
            db.lock(format!("b:{i}").as_bytes(), clock, &guard)
                .set(big("m"));
            let l = db.lock(format!("a:{i}").as_bytes(), clock, &guard);
            let v = l.value().expect("set");
            assert_ne!(
                v.in_place_tag(),
                0,
                "the test's sets must be changed in place"
            );
        }
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (store, stop) = (&store, &stop);
            s.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 20_000 {
                    n += 1;
                    let i = (n * 7 + w * 13) as usize % pairs;
                    let (a, b) = (format!("a:{i}"), format!("b:{i}"));
                    let member = format!("w{w}-{n}");
                    let guard = epoch::pin();
                    let db = store.db(0, &guard);
                    let mut set =
                        lock_many(&[(db, a.as_bytes()), (db, b.as_bytes())], clock, &guard);
                    for k in 0..2 {
                        let added = set.nth(k).update(|v| match v {
                            Value::Set(s) => s.insert(member.as_bytes(), 512),
                            _ => unreachable!(),
                        });
                        assert_eq!(added, Some(true));
                    }
                }
            });
        }
        let (store, stop) = (&store, &stop);
        s.spawn(move || {
            let _stop = StopOnDrop(stop);
            for _ in 0..30 {
                let mut snap = store.snapshot();
                let mut sets: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
                while let Some(batch) = snap.next_batch() {
                    for r in batch {
                        let Value::Set(s) = &r.value else {
                            panic!("not a set")
                        };
                        let mut members: Vec<Vec<u8>> =
                            s.iter().map(|e| e.with_bytes(|b| b.to_vec())).collect();
                        assert_eq!(members.len(), s.len(), "a set copied while it changed");
                        members.sort();
                        assert!(sets.insert(r.key.to_vec(), members).is_none());
                    }
                }
                for i in 0..pairs {
                    let a = &sets[format!("a:{i}").as_bytes()];
                    let b = &sets[format!("b:{i}").as_bytes()];
                    assert_eq!(a, b, "pair {i} torn in a snapshot");
                    assert!(a.len() >= base);
                }
            }
        });
    });
}
