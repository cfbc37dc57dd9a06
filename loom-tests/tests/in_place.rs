//! Values changed in place under the key's latch (`Locked::update` on a
//! value published with an in-place tag: the server's large hashes, sets
//! and sorted sets), on the real keyspace. The model's values keep their
//! integer in a loom cell, so any read that overlaps an in-place write, or
//! two writes, fails the model ("Causality violation"), besides the
//! assertions on what is read:
//!
//! * a reader that reads as the command context does (lock-free through a
//!   view, under the latch for an in-place value) never overlaps the
//!   writer and sees the increments in order;
//! * a snapshot never copies the value while it is changed, and its cut
//!   never falls between the keys of a command that changed one of them in
//!   place (the change holds the gate, which the command's commit enters
//!   again under the same word).
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_broken};
use ferrite_loom_tests::keyspace::loom_breaks as keyspace_breaks;
use ferrite_loom_tests::snapshot::{loom_breaks as snapshot_breaks, SnapshotState};
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

/// A keyspace with snapshots holding `a` = 0 changed in place and `b` = 0
/// copy-on-write.
fn keyspace_with(a: &[u8], b: &[u8]) -> (Arc<SnapshotState>, Arc<Keyspace>) {
    let state = Arc::new(SnapshotState::default());
    let ks = Arc::new(Keyspace::with_snapshots(state.clone()));
    let g = pin();
    ks.lock(a, CLOCK, &g).set(Value::in_place(0));
    ks.lock(b, CLOCK, &g).set(Value::new(0));
    (state, ks)
}

/// Adds 1 to a value (an `update` that always changes it).
fn bump(v: &mut Value) -> bool {
    let n = v.get();
    v.set(n + 1);
    true
}

/// One command incrementing `key` through `Locked::update`.
fn increment(ks: &Keyspace, key: &[u8]) {
    let g = pin();
    assert_eq!(ks.lock(key, CLOCK, &g).update(bump), Some(true));
}

/// Reads `key` as the command context's read path does
/// (`commands::access`, `Keys::lookup`): through a view if the value is
/// copy-on-write, under the key's latch if it is changed in place.
fn read(ks: &Keyspace, key: &[u8]) -> u64 {
    let g = pin();
    let view = ks.get(key, CLOCK, &g).expect("the key exists");
    if let Some(v) = view.value() {
        return v.get();
    }
    let l = ks.lock_existing(key, CLOCK, &g).expect("the key exists");
    l.value().expect("the key has a value").get()
}

/// A writer increments `a` in place twice (two commands) while a reader
/// (spawned second) reads it twice.
fn reader_vs_in_place_writer() {
    let (a, b) = two_keys();
    let (_state, ks) = keyspace_with(&a, &b);
    let writer = {
        let (ks, a) = (ks.clone(), a.clone());
        thread::spawn(move || {
            increment(&ks, &a);
            increment(&ks, &a);
        })
    };
    let reader = {
        let (ks, a) = (ks.clone(), a.clone());
        thread::spawn(move || {
            let first = read(&ks, &a);
            let second = read(&ks, &a);
            assert!(
                first <= second && second <= 2,
                "reads went back: {first}, {second}"
            );
        })
    };
    writer.join().unwrap();
    reader.join().unwrap();
    assert_eq!(read(&ks, &a), 2, "an increment was lost");
}

#[test]
fn reader_never_overlaps_an_in_place_write() {
    model(reader_vs_in_place_writer);
}

/// Two single-key commands increment `a` in place while a snapshot is
/// taken: the snapshot copies `a` before, between or after them, never
/// while one of them writes.
fn snapshot_vs_in_place_writes() {
    let (a, b) = two_keys();
    let (state, ks) = keyspace_with(&a, &b);
    let writer = {
        let (ks, a) = (ks.clone(), a.clone());
        thread::spawn(move || {
            increment(&ks, &a);
            increment(&ks, &a);
        })
    };
    let snapshot = spawn_snapshot(state, ks);
    writer.join().unwrap();
    let values = snapshot.join().unwrap();
    assert!(values[&a] <= 2, "{values:?}");
}

#[test]
fn snapshot_never_copies_a_value_changed_in_place() {
    model(snapshot_vs_in_place_writes);
}

/// One command increments `a` in place and sets `b` to 1 (copy-on-write)
/// under `lock_many`, while a snapshot is taken: the snapshot holds both
/// old values or both new ones.
fn snapshot_vs_in_place_and_set() {
    let (a, b) = two_keys();
    let (state, ks) = keyspace_with(&a, &b);
    let writer = {
        let (ks, a, b) = (ks.clone(), a.clone(), b.clone());
        thread::spawn(move || {
            let g = pin();
            let mut set = lock_many(&[(&*ks, &a[..]), (&*ks, &b[..])], CLOCK, &g);
            assert_eq!(set.nth(0).update(bump), Some(true));
            set.nth(1).set(Value::new(1));
        })
    };
    let snapshot = spawn_snapshot(state, ks);
    writer.join().unwrap();
    let values = snapshot.join().unwrap();
    assert_eq!(
        values[&a], values[&b],
        "the snapshot holds half of the command: {values:?}"
    );
}

#[test]
fn snapshot_never_holds_half_a_command_changing_in_place() {
    model(snapshot_vs_in_place_and_set);
}

// ---------------------------------------------------------------------------
// Negative controls.

/// A view hands out the in-place value: the reader reads it while the
/// writer changes it.
#[test]
#[should_panic(expected = "Causality violation")]
fn broken_view_of_an_in_place_value_overlaps_the_writer() {
    model_broken(
        &keyspace_breaks::VIEW_READS_IN_PLACE,
        reader_vs_in_place_writer,
    );
}

/// The in-place change is made outside the gate: the snapshot's walk,
/// which the drain did not hold back, copies `a` while it changes.
#[test]
#[should_panic(expected = "Causality violation")]
fn broken_in_place_change_outside_the_gate_overlaps_the_walk() {
    model_broken(
        &keyspace_breaks::IN_PLACE_OUTSIDE_THE_GATE,
        snapshot_vs_in_place_writes,
    );
}

/// The command's commit enters the gate again under the word it reads
/// then, not the one its in-place change was made under: the drain stops
/// waiting for it, the walk copies `a` as changed and `b` is handed over
/// with its old value.
#[test]
#[should_panic(expected = "the snapshot holds half of the command")]
fn broken_gate_reentry_with_a_new_word_tears_a_command() {
    model_broken(
        &snapshot_breaks::GATE_REENTRY_TAKES_NEW_WORD,
        snapshot_vs_in_place_and_set,
    );
}
