//! The snapshot protocol (`src/store/snapshot.rs`) on the real keyspace:
//! a multi-key writer keeps two keys equal while a snapshot is taken; the
//! snapshot never holds an unequal pair (the stress version with many
//! writers and snapshots is `src/store/snapshot_tests.rs`). Each rule of the
//! protocol has a negative control.
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_broken};
use ferrite_loom_tests::keyspace::loom_breaks as keyspace_breaks;
use ferrite_loom_tests::snapshot::{loom_breaks, Snapshot, SnapshotState};
use ferrite_loom_tests::snapshots::{spawn_snapshot, two_keys};
use ferrite_loom_tests::store::{lock_many, Clock, Keyspace};
use ferrite_loom_tests::sync::pin;
use ferrite_loom_tests::types::Value;
use loom::thread;
use std::sync::Arc;

const CLOCK: Clock = Clock {
    now_ms: 1_000,
    lru: None,
};

/// A keyspace of a store with snapshots, holding `a` = `b` = 0.
fn keyspace_with(a: &[u8], b: &[u8]) -> (Arc<SnapshotState>, Arc<Keyspace>) {
    let state = Arc::new(SnapshotState::default());
    let ks = Arc::new(Keyspace::with_snapshots(state.clone()));
    let g = pin();
    ks.lock(a, CLOCK, &g).set(Value::new(0));
    ks.lock(b, CLOCK, &g).set(Value::new(0));
    (state, ks)
}

/// A writer MSETs both keys from 0 to 1 while a snapshot of the database
/// is taken (the snapshot runs on the thread spawned second, as a reader).
/// The snapshot holds each key once, and both equal: the cut falls before
/// the MSET or after it, never between its keys.
fn snapshot_vs_mset() {
    let (a, b) = two_keys();
    let (state, ks) = keyspace_with(&a, &b);
    let writer = {
        let (ks, a, b) = (ks.clone(), a.clone(), b.clone());
        thread::spawn(move || {
            let g = pin();
            let mut set = lock_many(&[(&*ks, &a[..]), (&*ks, &b[..])], CLOCK, &g);
            set.nth(0).set(Value::new(1));
            set.nth(1).set(Value::new(1));
        })
    };
    let snapshot = spawn_snapshot(state, ks);
    writer.join().unwrap();
    let values = snapshot.join().unwrap();
    assert_eq!(
        values[&a], values[&b],
        "the snapshot holds half of the MSET: {values:?}"
    );
}

#[test]
fn snapshot_never_holds_half_an_mset() {
    model(snapshot_vs_mset);
}

/// One thread sets `a` then `b` with two single-key commands (each reads
/// the snapshot word at its own commit), `a`'s bucket walked first. The
/// snapshot may fall between the two commands but never before the first
/// and after the second: it never holds the new `b` with the old `a`.
fn snapshot_vs_two_sets() {
    let (a, b) = two_keys();
    let (state, ks) = keyspace_with(&a, &b);
    let writer = {
        let (ks, a, b) = (ks.clone(), a.clone(), b.clone());
        thread::spawn(move || {
            let g = pin();
            ks.lock(&a, CLOCK, &g).set(Value::new(1));
            ks.lock(&b, CLOCK, &g).set(Value::new(1));
        })
    };
    let snapshot = spawn_snapshot(state, ks);
    writer.join().unwrap();
    let values = snapshot.join().unwrap();
    assert!(
        values[&a] >= values[&b],
        "the snapshot holds the second SET without the first: {values:?}"
    );
}

#[test]
fn snapshot_never_reorders_two_sets() {
    model(snapshot_vs_two_sets);
}

/// A single-key SET of a value and a deadline racing the snapshot: the
/// snapshot holds the key as it was before (0, none) or after (1, 50 s),
/// never the old value with the new deadline or the reverse. The walk reads
/// a slot's fields without its sequence lock, so this rests on the drain
/// waiting for every commit under the old generation, single-key ones too.
fn snapshot_vs_set_with_deadline() {
    let (a, b) = two_keys();
    let (state, ks) = keyspace_with(&a, &b);
    let writer = {
        let (ks, a) = (ks.clone(), a.clone());
        thread::spawn(move || {
            let g = pin();
            ks.lock(&a, CLOCK, &g)
                .set_with_expire(Value::new(1), Some(50_000));
        })
    };
    let snapshot = thread::spawn(move || {
        let mut snap = Snapshot::start(&state, vec![ks]);
        let mut seen = Vec::new();
        while let Some(batch) = snap.next_batch() {
            seen.extend(
                batch
                    .into_iter()
                    .filter(|r| r.key == a)
                    .map(|r| (r.value.get(), r.expire)),
            );
        }
        seen
    });
    writer.join().unwrap();
    let seen = snapshot.join().unwrap();
    assert!(
        seen == [(0, 0)] || seen == [(1, 50_000)],
        "torn record: {seen:?}"
    );
}

#[test]
fn snapshot_record_of_a_set_in_flight_is_whole() {
    model(snapshot_vs_set_with_deadline);
}

// ---------------------------------------------------------------------------
// Negative controls.

/// Writers publish without handing their bucket over: the walk serializes
/// one key's bucket before the MSET and the other's after it.
#[test]
#[should_panic(expected = "the snapshot holds half of the MSET")]
fn broken_writers_without_handover_tear_a_pair() {
    model_broken(&loom_breaks::WRITERS_SKIP_HANDOVER, snapshot_vs_mset);
}

/// The MSET commits each key under the word it reads at that key's commit:
/// the first key before the snapshot starts, unhanded, the second during
/// it, handed over with its old value.
#[test]
#[should_panic(expected = "the snapshot holds half of the MSET")]
fn broken_commit_outside_the_gate_tears_a_pair() {
    model_broken(&keyspace_breaks::COMMIT_WITHOUT_GATE, snapshot_vs_mset);
}

/// The start does not wait for gates entered under the old generation: the
/// MSET, committing under the old word, publishes its second key after the
/// walk passed its bucket, and its first before the walk reached that one.
#[test]
#[should_panic(expected = "the snapshot holds half of the MSET")]
fn broken_start_without_drain_tears_a_pair() {
    model_broken(&loom_breaks::START_SKIPS_DRAIN, snapshot_vs_mset);
}

/// The SET commits outside the gate: it reads the word before the start
/// (IDLE), the drain does not wait for it, and the walk reads the old value
/// and then the new deadline.
#[test]
#[should_panic(expected = "torn record")]
fn broken_single_key_commit_outside_the_gate_tears_a_record() {
    model_broken(
        &keyspace_breaks::SINGLE_KEY_WITHOUT_GATE,
        snapshot_vs_set_with_deadline,
    );
}

/// Writers publish without handing their bucket over: the walk serializes
/// `a`'s bucket before the first SET and `b`'s after the second.
#[test]
#[should_panic(expected = "the snapshot holds the second SET without the first")]
fn broken_writers_without_handover_reorder_two_sets() {
    model_broken(&loom_breaks::WRITERS_SKIP_HANDOVER, snapshot_vs_two_sets);
}
