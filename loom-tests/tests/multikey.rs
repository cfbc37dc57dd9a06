//! Multi-key models on the real keyspace: `lock_many`'s canonical latch
//! order and `read_many`'s optimistic reads with their latching fallback
//! (`src/store/keyspace.rs`). Under loom `read_many` makes one optimistic
//! attempt before it latches, so each model explores both paths. Each
//! protocol has a negative control (`keyspace::loom_breaks`).
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_bounded, model_broken, model_broken_bounded};
use ferrite_loom_tests::keyspace::loom_breaks;
use ferrite_loom_tests::store::key::hash_key;
use ferrite_loom_tests::store::{lock_many, read_many, Clock, Keyspace, Locked};
use ferrite_loom_tests::sync::pin;
use ferrite_loom_tests::types::Value;
use loom::thread;
use std::sync::Arc;

const CLOCK: Clock = Clock {
    now_ms: 1_000,
    lru: None,
};
/// Two keys in different buckets of the models' 4-bucket tables and in
/// different stripes of the keyspace's creation counts (2 under loom), so a
/// creation of one does not move the other's count (loom runs hash keys
/// with a fixed seed; see `keys_are_placed_as_the_models_assume`).
const A: &[u8] = b"a0";
const B: &[u8] = b"b";

#[test]
fn keys_are_placed_as_the_models_assume() {
    let (a, b) = (hash_key(A), hash_key(B));
    assert_ne!(a & 3, b & 3, "A and B share a bucket");
    assert_ne!(a % 2, b % 2, "A and B share a creation stripe");
}

/// A keyspace holding `keys`, each = `value`.
fn keyspace_with(keys: &[&[u8]], value: u64) -> Arc<Keyspace> {
    let ks = Keyspace::new();
    {
        let g = pin();
        for k in keys {
            ks.lock(k, CLOCK, &g).set(Value::new(value));
        }
    }
    Arc::new(ks)
}

/// MSET of `keys` (named in this order) to `value`.
fn mset(ks: &Keyspace, keys: &[&[u8]], value: u64) {
    let g = pin();
    let pairs: Vec<(&Keyspace, &[u8])> = keys.iter().map(|k| (ks, *k)).collect();
    let mut set = lock_many(&pairs, CLOCK, &g);
    for i in 0..keys.len() {
        set.nth(i).set(Value::new(value));
    }
}

/// MGET: each key's value (0 = absent).
fn mget(ks: &Keyspace, keys: &[&[u8]]) -> Vec<u64> {
    let g = pin();
    read_many(ks, keys, CLOCK, &g)
        .expect("copy-on-write values")
        .into_iter()
        .map(|v| v.map_or(0, |v| v.get()))
        .collect()
}

// ---------------------------------------------------------------------------
// Canonical latch order.

/// Two MSETs name the same two keys in opposite orders: they never
/// deadlock (a deadlock spins until loom gives up on the execution), and
/// the one that commits last wins on both keys.
fn opposite_orders() {
    let ks = keyspace_with(&[A, B], 0);
    let w1 = {
        let ks = ks.clone();
        thread::spawn(move || mset(&ks, &[A, B], 1))
    };
    let w2 = {
        let ks = ks.clone();
        thread::spawn(move || mset(&ks, &[B, A], 2))
    };
    w1.join().unwrap();
    w2.join().unwrap();
    let seen = mget(&ks, &[A, B]);
    assert!(
        seen == [1, 1] || seen == [2, 2],
        "writers interleaved: {seen:?}"
    );
}

#[test]
fn opposite_orders_do_not_deadlock() {
    model(opposite_orders);
}

/// Duplicate keys in one command are latched once (a second latch of the
/// same slot by the same thread would spin forever).
#[test]
fn duplicate_keys_are_latched_once() {
    model(|| {
        let ks = keyspace_with(&[A, B], 0);
        mset(&ks, &[A, B, A], 9);
        assert_eq!(mget(&ks, &[A, B, A]), [9, 9, 9]);
    });
}

// ---------------------------------------------------------------------------
// Optimistic multi-key reads.

/// An MSET of both keys against an MGET of both: the reader sees both old
/// or both new, never one of each, whether its optimistic read validated or
/// it fell back to latching.
fn mget_vs_mset() {
    let ks = keyspace_with(&[A, B], 0);
    let writer = {
        let ks = ks.clone();
        thread::spawn(move || mset(&ks, &[A, B], 1))
    };
    let reader = {
        let ks = ks.clone();
        thread::spawn(move || {
            let seen = mget(&ks, &[A, B]);
            assert_eq!(seen[0], seen[1], "MGET saw half of an MSET: {seen:?}");
        })
    };
    writer.join().unwrap();
    reader.join().unwrap();
}

#[test]
fn mget_never_sees_half_an_mset() {
    model(mget_vs_mset);
}

/// RENAME as the server runs it: both keys latched by `lock_many`, the
/// value taken from one and set on the other.
fn rename(ks: &Keyspace, from: &[u8], to: &[u8]) {
    let g = pin();
    let mut set = lock_many(&[(ks, from), (ks, to)], CLOCK, &g);
    let (value, expire) = set.nth(0).take().expect("the source exists");
    set.nth(1).set_with_expire(value, expire);
}

/// A value renamed back and forth (RENAME b a, a b, b a, as the clients of
/// `tests/concurrency.rs` do), read by `EXISTS a b` (an MGET): the reader
/// sees it under exactly one name. Its optimistic read can see both keys
/// absent (a before the first rename, b after it); then "still absent" is
/// true again after the second and third, and only the creation counts
/// show that a key was created in between. The reader yields between the
/// steps of its optimistic read (`sync::model_yield` in `read_many`) and the
/// renamer between renames, so a rename can fall between any two steps
/// without spending a preemption; the failing order needs three such
/// renames, which with arbitrary preemptions takes loom's bound of three
/// and hours of exploration.
fn rename_storm() {
    let ks = keyspace_with(&[B], 7);
    let renamer = {
        let ks = ks.clone();
        thread::spawn(move || {
            for (from, to) in [(B, A), (A, B), (B, A)] {
                rename(&ks, from, to);
                thread::yield_now();
            }
        })
    };
    let reader = {
        let ks = ks.clone();
        thread::spawn(move || {
            let seen = mget(&ks, &[A, B]);
            let present = seen.iter().filter(|&&v| v != 0).count();
            assert_eq!(present, 1, "EXISTS a b saw {seen:?}");
        })
    };
    renamer.join().unwrap();
    reader.join().unwrap();
    assert_eq!(mget(&ks, &[A, B]), [7, 0]);
}

/// Preemptions of the rename storm: with the reader's yields between its
/// steps (`sync::model_yield`), one more preemption anywhere explores
/// 200,000 executions in about 20 s; two take over 5 minutes.
const STORM_PREEMPTIONS: usize = 1;

#[test]
fn absent_keys_are_validated_by_creation_count() {
    model_bounded(STORM_PREEMPTIONS, rename_storm);
}

// ---------------------------------------------------------------------------
// Negative controls.

/// Latching in the order the keys were named: each MSET holds one key and
/// waits for the other forever, and loom stops the execution.
#[test]
#[should_panic(expected = "maximum number of branches")]
fn broken_lock_many_in_request_order_deadlocks() {
    model_broken(&loom_breaks::LOCK_MANY_IN_REQUEST_ORDER, opposite_orders);
}

/// Returning the optimistic reads unvalidated: MGET sees half an MSET.
#[test]
#[should_panic(expected = "MGET saw half of an MSET")]
fn broken_read_many_without_validation_sees_half_an_mset() {
    model_broken(&loom_breaks::READ_MANY_SKIPS_VALIDATION, mget_vs_mset);
}

/// Confirming absent keys only by looking again (the check `read_many` had
/// before the creation counts): EXISTS a b sees neither key.
#[test]
#[should_panic(expected = "EXISTS a b saw")]
fn broken_read_many_looking_again_misses_a_renamed_key() {
    model_broken_bounded(
        &loom_breaks::READ_MANY_LOOKS_AGAIN,
        STORM_PREEMPTIONS,
        rename_storm,
    );
}

/// One transaction as EXEC runs it (`commands::multi`): `first` is latched up
/// front (undoable) and incremented; then `second`, which no argument named,
/// is try-latched. If another thread holds it, everything is abandoned and
/// the transaction runs again with both keys latched up front.
fn tx_increment(ks: &Keyspace, first: &[u8], second: &[u8]) {
    fn incr(l: &mut Locked<'_>) {
        let n = l.value().map_or(0, |v| v.get());
        l.set(Value::new(n + 1));
    }
    let g = pin();
    {
        let mut set = lock_many(&[(ks, first)], CLOCK, &g);
        set.make_undoable();
        incr(set.nth(0));
        match ks.try_lock(second, CLOCK, &g) {
            Some(mut l) => {
                l.make_undoable();
                incr(&mut l);
                return;
            }
            None => set.abandon(),
        }
    }
    let mut set = lock_many(&[(ks, first), (ks, second)], CLOCK, &g);
    set.make_undoable();
    incr(set.nth(0));
    incr(set.nth(1));
}

/// Two transactions that each meet the other's up-front key: neither waits
/// for the other while holding a latch (no deadlock), an abandoned round
/// publishes nothing, and each increments both keys exactly once.
fn two_transactions_retrying() {
    let ks = keyspace_with(&[A, B], 0);
    let t = {
        let ks = ks.clone();
        thread::spawn(move || tx_increment(&ks, B, A))
    };
    tx_increment(&ks, A, B);
    t.join().unwrap();
    assert_eq!(
        mget(&ks, &[A, B]),
        vec![2, 2],
        "each transaction increments each key once"
    );
}

#[test]
fn transactions_that_meet_a_held_key_undo_and_retry() {
    model(two_transactions_retrying);
}

#[test]
#[should_panic(expected = "each transaction increments each key once")]
fn negative_control_abandon_publishes() {
    model_broken(&loom_breaks::ABANDON_PUBLISHES, two_transactions_retrying);
}
