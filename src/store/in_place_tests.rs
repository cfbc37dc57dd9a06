//! Values changed in place (`Locked::update` on a value published with an
//! in-place tag) with real sets, small enough for miri: each thread lowers
//! its own in-place threshold (`types::TEST_IN_PLACE_MIN`) to 4 members.
//! Writers add and remove members in place while readers read the set the
//! way the command context does (lock-free through a view for a
//! copy-on-write value, under the latch for one changed in place) and
//! snapshots copy it. Under miri this checks the in-place write for data
//! races with every reader; the loom models (`loom-tests/tests/in_place.rs`)
//! check the protocol's orderings.

use super::keyspace::{Clock, Keyspace};
use super::Store;
use crate::types::{Set, Value, TEST_IN_PLACE_MIN};
use crossbeam_epoch as epoch;

const T0: u64 = 1_000_000;
const MIN: usize = 4;

fn rounds() -> u64 {
    if cfg!(miri) {
        12
    } else {
        5_000
    }
}

fn small_threshold() {
    TEST_IN_PLACE_MIN.with(|c| c.set(Some(MIN)));
}

/// SADD (`add`) or SREM of `m` on the set under `key`, as one command.
fn change(ks: &Keyspace, key: &[u8], m: &str, add: bool) -> Option<bool> {
    let guard = epoch::pin();
    let mut l = ks.lock(key, Clock::at(T0), &guard);
    l.update(|v| match v {
        Value::Set(s) if add => s.insert(m.as_bytes(), 512),
        Value::Set(s) => s.remove(m.as_bytes()),
        _ => unreachable!("only sets here"),
    })
}

/// The set's members as the read path sees them, and whether it was read
/// under the latch.
fn read(ks: &Keyspace, key: &[u8]) -> Option<(usize, bool)> {
    let guard = epoch::pin();
    let clock = Clock::at(T0);
    let view = ks.get(key, clock, &guard)?;
    let count = |v: &Value| match v {
        Value::Set(s) => {
            let n = s.iter().count();
            assert_eq!(n, s.len(), "a set read while it changed");
            n
        }
        _ => unreachable!("only sets here"),
    };
    if let Some(v) = view.value() {
        return Some((count(v), false));
    }
    let l = ks.lock_existing(key, clock, &guard)?;
    l.value().map(|v| (count(v), true))
}

#[test]
fn a_set_is_changed_in_place_and_read_under_its_latch() {
    small_threshold();
    let store = Store::new(1);
    let clock = Clock::at(T0);
    let guard = epoch::pin();
    let ks = store.db(0, &guard);
    let add = |m: &str| change(ks, b"s", m, true);
    ks.lock(b"s", clock, &guard)
        .set(Value::Set(Set::new_table()));
    for m in ["a", "b", "c"] {
        assert_eq!(add(m), Some(true));
    }
    // Below the threshold: copy-on-write, read lock-free.
    assert_eq!(read(ks, b"s"), Some((3, false)));
    assert_eq!(add("d"), Some(true));
    // Published with 4 members: changed in place from now on.
    assert_eq!(read(ks, b"s"), Some((4, true)));
    let before = ks.get(b"s", clock, &guard).unwrap().slot.stamp();
    assert_eq!(add("e"), Some(true));
    assert_eq!(add("e"), Some(false));
    let after = ks.get(b"s", clock, &guard).unwrap();
    assert_ne!(
        after.slot.stamp(),
        before,
        "an in-place change makes a new version"
    );
    assert_eq!(after.type_name(), "set");
    assert_eq!(read(ks, b"s"), Some((5, true)));
    // Replaced by a small value: lock-free again.
    ks.lock(b"s", clock, &guard)
        .set(Value::Set(Set::new_table()));
    assert_eq!(read(ks, b"s"), Some((0, false)));
    ks.lock(b"s", clock, &guard).delete();
    assert_eq!(read(ks, b"s"), None);
}

#[test]
fn in_place_changes_race_with_readers_and_snapshots() {
    small_threshold();
    let store = Store::new(1);
    let clock = Clock::at(T0);
    {
        let guard = epoch::pin();
        let mut s = Set::new_table();
        for i in 0..MIN + 2 {
            s.insert(format!("base{i}").as_bytes(), 512);
        }
        store
            .db(0, &guard)
            .lock(b"s", clock, &guard)
            .set(Value::Set(s));
    }
    std::thread::scope(|sc| {
        for w in 0..2u64 {
            let store = &store;
            sc.spawn(move || {
                small_threshold();
                for n in 0..rounds() {
                    let guard = epoch::pin();
                    let ks = store.db(0, &guard);
                    let m = format!("w{w}-{}", n % 8);
                    change(ks, b"s", &m, n % 3 != 2);
                }
            });
        }
        let store = &store;
        sc.spawn(move || {
            small_threshold();
            for _ in 0..rounds() {
                let guard = epoch::pin();
                let (n, latched) = read(store.db(0, &guard), b"s").expect("the set stays");
                assert!(n >= MIN + 2 && latched, "{n} members, latched: {latched}");
            }
        });
        sc.spawn(move || {
            small_threshold();
            for _ in 0..rounds().min(40) {
                let mut snap = store.snapshot();
                while let Some(batch) = snap.next_batch() {
                    for r in batch {
                        let Value::Set(s) = &r.value else {
                            panic!("not a set")
                        };
                        assert_eq!(s.iter().count(), s.len(), "a set copied while it changed");
                        assert!(s.len() >= MIN + 2);
                    }
                }
            }
        });
    });
}
