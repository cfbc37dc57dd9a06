//! The stop-the-world protocol (`src/store/world.rs`): a transaction that
//! runs alone never overlaps a batch on another thread. The shared state is
//! a loom cell: a read or write of it by a batch while the stopper writes
//! it fails the model.
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_broken};
use ferrite_loom_tests::store::world::{self, loom_breaks};
use loom::cell::UnsafeCell;
use loom::thread;
use std::sync::Arc;

struct Shared(UnsafeCell<u64>);
// SAFETY: the model checks that the cell is never accessed concurrently.
unsafe impl Sync for Shared {}

/// A batch: enters (retrying while stopped), reads and writes the cell, leaves.
fn batch(s: &Shared) {
    while !world::enter() {
        loom::thread::yield_now();
    }
    // SAFETY: the protocol under test (loom reports any overlap).
    s.0.with_mut(|p| unsafe { *p += 1 });
    world::exit();
}

/// One thread runs a batch while another runs alone: never at once, and
/// both increments land.
fn batch_vs_alone() {
    let s = Arc::new(Shared(UnsafeCell::new(0)));
    let s2 = s.clone();
    let t = thread::spawn(move || batch(&s2));
    world::alone(|| {
        // SAFETY: the protocol under test (loom reports any overlap).
        s.0.with_mut(|p| unsafe { *p += 10 });
    });
    t.join().unwrap();
    // SAFETY: both threads are done.
    assert_eq!(s.0.with(|p| unsafe { *p }), 11);
}

#[test]
fn alone_never_overlaps_a_batch() {
    model(batch_vs_alone);
}

/// The stopper runs from inside its own batch (EXEC inside a pipeline), as
/// does the other thread's stopper: neither waits for the other forever.
#[test]
fn two_stoppers_inside_batches_both_finish() {
    model(|| {
        let s = Arc::new(Shared(UnsafeCell::new(0)));
        let s2 = s.clone();
        let t = thread::spawn(move || {
            while !world::enter() {
                loom::thread::yield_now();
            }
            // SAFETY: alone (loom reports any overlap).
            world::alone(|| s2.0.with_mut(|p| unsafe { *p += 1 }));
            world::exit();
        });
        while !world::enter() {
            loom::thread::yield_now();
        }
        // SAFETY: alone (loom reports any overlap).
        world::alone(|| s.0.with_mut(|p| unsafe { *p += 1 }));
        world::exit();
        t.join().unwrap();
        // SAFETY: both threads are done.
        assert_eq!(s.0.with(|p| unsafe { *p }), 2);
    });
}

#[test]
#[should_panic(expected = "Causality violation")]
fn negative_control_stop_without_waiting() {
    model_broken(&loom_breaks::STOP_SKIPS_WAIT, batch_vs_alone);
}
