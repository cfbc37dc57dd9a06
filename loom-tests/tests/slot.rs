//! Single-key models on the real keyspace (`src/store/keyspace.rs`,
//! `slot.rs`, `latch.rs`): writers latching one key, the sequence-locked
//! read against a writer, and version uniqueness. Each protocol has a
//! negative control that switches on one of `latch::loom_breaks`.
//!
//! Threads that only read are spawned after the writers (loom 0.7.2's DPOR
//! explores the reorderings only then; see `tests/table.rs`).
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_broken};
use ferrite_loom_tests::latch::{loom_breaks, make_version, ThreadIds};
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

/// A keyspace holding `KEY` = `value`, with deadline `expire` (0: none).
fn keyspace_with(value: u64, expire: u64) -> Arc<Keyspace> {
    let ks = Keyspace::new();
    {
        let g = pin();
        let mut l = ks.lock(KEY, CLOCK, &g);
        l.set_with_expire(Value::new(value), (expire != 0).then_some(expire));
    }
    Arc::new(ks)
}

/// The key's value and deadline as a reader sees them now.
fn get(ks: &Keyspace) -> Option<(u64, u64)> {
    let g = pin();
    ks.get(KEY, CLOCK, &g)
        .map(|v| (v.value().expect("copy-on-write").get(), v.expire))
}

/// INCR: latch, read, write one more.
fn incr(ks: &Keyspace) {
    let g = pin();
    let mut l = ks.lock(KEY, CLOCK, &g);
    let n = l.value().map_or(0, |v| v.get());
    l.set(Value::new(n + 1));
}

/// `writers` threads increment one key: no increment is lost.
fn increments(writers: u64) {
    let ks = keyspace_with(0, 0);
    let threads: Vec<_> = (0..writers)
        .map(|_| {
            let ks = ks.clone();
            thread::spawn(move || incr(&ks))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(get(&ks), Some((writers, 0)), "an increment was lost");
}

#[test]
fn two_writers_lose_no_increment() {
    model(|| increments(2));
}

/// Two of the writers wait on the same holder: the case loom needs the
/// pruning in `latch::backoff` for (tokio-rs/loom#53).
#[test]
fn three_writers_lose_no_increment() {
    model(|| increments(3));
}

/// A writer replaces (value, deadline) = (1, 10 s) with (2, 20 s) while a
/// reader reads the key: the reader sees one pair or the other, never half
/// of each, and the stamp it returns with the pair is the one that pair was
/// published with. A latch that changes nothing keeps the stamp.
fn torn_pair() {
    let ks = keyspace_with(1, 10_000);
    let before = ks.stamp_of(KEY, &pin()).unwrap();
    let writer = {
        let ks = ks.clone();
        thread::spawn(move || {
            let g = pin();
            let mut l = ks.lock(KEY, CLOCK, &g);
            l.set_with_expire(Value::new(2), Some(20_000));
        })
    };
    let reader = {
        let ks = ks.clone();
        thread::spawn(move || {
            let g = pin();
            let view = ks.get(KEY, CLOCK, &g).expect("the key is always there");
            let pair = (view.value().expect("copy-on-write").get(), view.expire);
            assert!(
                pair == (1, 10_000) || pair == (2, 20_000),
                "torn read: {pair:?}"
            );
            assert_eq!(
                view.stamp == before,
                pair.0 == 1,
                "the stamp read with a pair is not the stamp it was published with"
            );
        })
    };
    writer.join().unwrap();
    reader.join().unwrap();
    let g = pin();
    let after = ks.stamp_of(KEY, &g).unwrap();
    assert_ne!(after, before, "a write left the stamp unchanged");
    drop(ks.lock(KEY, CLOCK, &g));
    assert_eq!(
        ks.stamp_of(KEY, &g),
        Some(after),
        "a latch without a write changed the stamp"
    );
}

#[test]
fn reader_never_sees_a_torn_pair() {
    model(torn_pair);
}

/// Versions: concurrent threads draw ids from the production id pool and
/// make versions; a thread starting after another exited reuses its id and
/// continues its counter. No version is ever produced twice.
fn versions() {
    let ids = loom::sync::Arc::new(ThreadIds::new());
    let make = |ids: loom::sync::Arc<ThreadIds>| {
        thread::spawn(move || {
            let (id, mut ctr) = ids.acquire();
            let mut out = Vec::new();
            for _ in 0..2 {
                ctr += 1;
                out.push(make_version(id, ctr));
            }
            ids.release(id, ctr);
            out
        })
    };
    let a = make(ids.clone());
    let b = make(ids.clone());
    let mut all = a.join().unwrap();
    // Starts after `a` exited: may take a's id, or b's if b finished too.
    let c = make(ids.clone());
    all.extend(b.join().unwrap());
    all.extend(c.join().unwrap());
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "a version was produced twice");
}

#[test]
fn versions_are_unique_across_threads() {
    model(versions);
}

/// The version layout keeps thread ids and counters apart.
#[test]
fn make_version_is_injective_on_small_inputs() {
    let mut all: Vec<u64> = (1..=8)
        .flat_map(|t| (1..=64).map(move |c| make_version(t, c)))
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n);
}

// ---------------------------------------------------------------------------
// Negative controls.

/// Latching by a load and a store: both writers latch and one increment is
/// lost.
#[test]
#[should_panic(expected = "an increment was lost")]
fn broken_latch_by_load_and_store_loses_an_increment() {
    model_broken(&loom_breaks::LATCH_BY_LOAD_AND_STORE, || increments(2));
}

/// A sequence-lock read that does not re-read the stamp: the reader loads
/// the new value and then the old deadline.
#[test]
#[should_panic(expected = "torn read")]
fn broken_read_without_recheck_tears_a_pair() {
    model_broken(&loom_breaks::READ_SKIPS_RECHECK, torn_pair);
}

/// A reused thread id whose counter starts again repeats the versions its
/// previous owner made.
#[test]
#[should_panic(expected = "a version was produced twice")]
fn broken_reused_id_restarting_its_counter_repeats_a_version() {
    model_broken(&loom_breaks::REUSED_ID_RESTARTS_COUNTER, versions);
}
