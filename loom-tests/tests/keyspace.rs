//! Keys that come and go, on the real keyspace (`src/store/keyspace.rs`
//! over `table.rs`, `slot.rs`, `latch.rs`, `expiry.rs`): creation against
//! deletion of one key, and lazy expiry against a writer. Each model has a
//! negative control that breaks the rule it checks.
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_broken};
use ferrite_loom_tests::keyspace::loom_breaks as keyspace_breaks;
use ferrite_loom_tests::latch::loom_breaks as latch_breaks;
use ferrite_loom_tests::store::{Clock, Keyspace};
use ferrite_loom_tests::sync::pin;
use ferrite_loom_tests::types::Value;
use loom::thread;
use std::sync::Arc;

const NOW: u64 = 1_000;
const CLOCK: Clock = Clock {
    now_ms: NOW,
    lru: None,
};
const KEY: &[u8] = b"k";

/// The key's (value, deadline) as a reader sees it now.
fn get(ks: &Keyspace) -> Option<(u64, u64)> {
    let g = pin();
    ks.get(KEY, CLOCK, &g)
        .map(|v| (v.value().expect("copy-on-write").get(), v.expire))
}

/// After the threads joined: the keyspace holds `KEY` = `value` (or
/// nothing), and its key count agrees.
fn check(ks: &Keyspace, value: Option<u64>) {
    assert_eq!(get(ks).map(|(v, _)| v), value, "the key's final value");
    assert_eq!(ks.len(), value.is_some() as usize, "DBSIZE is wrong");
    assert_eq!(
        ks.stamp_of(KEY, &pin()).is_some(),
        value.is_some(),
        "the table holds a node it should not, or lacks one"
    );
}

/// SET k 2 ...
fn set(ks: &Keyspace, value: u64) {
    let g = pin();
    ks.lock(KEY, CLOCK, &g).set(Value::new(value));
}

// ---------------------------------------------------------------------------
// Create against delete of one key.

/// The key is absent. One thread latches it and writes nothing (`SET k v
/// XX` on a missing key): unless the writer was first, it creates the
/// key's node, latched from birth, and unlinks it again. Another sets the key meanwhile; it may find the
/// doomed node and wait for its latch. Its value is never lost: the doomed
/// node is marked dead as it is unlinked, and the writer looks again.
fn create_vs_delete() {
    let ks = Arc::new(Keyspace::new());
    let abandon = {
        let ks = ks.clone();
        thread::spawn(move || {
            let g = pin();
            // Finds the key absent, or set by the writer already.
            drop(ks.lock(KEY, CLOCK, &g));
        })
    };
    let writer = {
        let ks = ks.clone();
        thread::spawn(move || set(&ks, 2))
    };
    abandon.join().unwrap();
    writer.join().unwrap();
    check(&ks, Some(2));
}

#[test]
fn create_vs_delete_of_one_key() {
    model(create_vs_delete);
}

/// The key holds 1. DEL against SET k 2: whichever latched first, the end
/// state is the one the order says (SET then DEL: gone; DEL then SET: 2).
fn delete_vs_set() {
    let ks = Arc::new(Keyspace::new());
    set(&ks, 1);
    let deleter = {
        let ks = ks.clone();
        thread::spawn(move || {
            let g = pin();
            let mut l = ks.lock_existing(KEY, CLOCK, &g)?;
            let deleted = l.value().map(|v| v.get());
            l.delete();
            deleted
        })
    };
    let writer = {
        let ks = ks.clone();
        thread::spawn(move || {
            let g = pin();
            let mut l = ks.lock(KEY, CLOCK, &g);
            let seen = l.value().map(|v| v.get());
            l.set(Value::new(2));
            seen
        })
    };
    let deleted = deleter.join().unwrap();
    let seen = writer.join().unwrap();
    match (deleted, seen) {
        // DEL first: SET found no key and created it again.
        (Some(1), None) => check(&ks, Some(2)),
        // SET first: DEL deleted its value.
        (Some(2), Some(1)) => check(&ks, None),
        other => panic!("impossible outcome (deleted, seen) = {other:?}"),
    }
}

#[test]
fn delete_vs_set_of_one_key() {
    model(delete_vs_set);
}

// ---------------------------------------------------------------------------
// Lazy expiry against a writer.

/// The key holds 1 with a deadline that has passed. A writer sets 2 without
/// a deadline (it latches the expired key, which counts as absent) while a
/// reader finds the key expired and deletes it through `lock_existing`. The
/// new value is never lost: the reader deletes only if the key is still
/// expired once it holds the latch. The reader never returns the expired
/// value.
fn lazy_expiry_vs_writer() {
    let ks = Arc::new(Keyspace::new());
    {
        let g = pin();
        let before = Clock {
            now_ms: 0,
            lru: None,
        };
        ks.lock(KEY, before, &g)
            .set_with_expire(Value::new(1), Some(NOW - 1));
    }
    assert_eq!(ks.expires_len(), 1);
    let writer = {
        let ks = ks.clone();
        thread::spawn(move || {
            let g = pin();
            let mut l = ks.lock(KEY, CLOCK, &g);
            assert!(!l.exists(), "an expired key counts as absent");
            l.set_with_expire(Value::new(2), None);
        })
    };
    let reader = {
        let ks = ks.clone();
        thread::spawn(move || {
            let seen = get(&ks);
            assert!(
                seen.is_none() || seen == Some((2, 0)),
                "a read returned {seen:?}"
            );
        })
    };
    writer.join().unwrap();
    reader.join().unwrap();
    assert_eq!(
        get(&ks),
        Some((2, 0)),
        "the value written over an expired key was lost"
    );
    assert_eq!(ks.len(), 1, "DBSIZE is wrong");
    assert_eq!(ks.expires_len(), 0, "the expiry index still holds the key");
}

#[test]
fn lazy_expiry_never_deletes_a_new_value() {
    model(lazy_expiry_vs_writer);
}

// ---------------------------------------------------------------------------
// Negative controls.

/// Unlinking without marking the slot dead: the writer, waiting for the
/// latch of the node being unlinked, latches it once released and writes
/// into a node no longer in the table.
#[test]
#[should_panic(expected = "the key's final value")]
fn broken_unlink_without_dead_loses_a_created_key() {
    model_broken(&latch_breaks::KILL_LEAVES_SLOT_LIVE, create_vs_delete);
}

/// The same break: SET waits for DEL's latch and writes into the unlinked
/// node.
#[test]
#[should_panic(expected = "the key's final value")]
fn broken_unlink_without_dead_loses_a_set_after_del() {
    model_broken(&latch_breaks::KILL_LEAVES_SLOT_LIVE, delete_vs_set);
}

/// Lazy expiry deleting without re-checking under the latch deletes the
/// writer's new value.
#[test]
#[should_panic(expected = "the value written over an expired key was lost")]
fn broken_lazy_expiry_without_recheck_deletes_a_new_value() {
    model_broken(
        &keyspace_breaks::LAZY_EXPIRY_SKIPS_RECHECK,
        lazy_expiry_vs_writer,
    );
}
