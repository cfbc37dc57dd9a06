//! Small multi-threaded tests of the keyspace, sized to also run under miri
//! (`scripts/miri.sh`), which checks the unsafe code in `keyspace.rs` and
//! `slot.rs` (epoch-deferred frees, pointer loads under a guard) for use
//! after free, data races and leaks while two threads insert, overwrite,
//! delete, expire and scan at once.
//!
//! Time is a fixed [`Clock`] rather than the wall clock: expiry becomes
//! deterministic, and miri's isolation forbids reading the real time anyway.

use super::keyspace::{lock_many, read_many, Clock, Keyspace};
use crate::types::{Str, Value};
use crossbeam_epoch as epoch;
use std::collections::HashSet;

/// Operations per thread: a few dozen under miri (it interprets every
/// instruction), enough to contend for real in a normal test run.
const OPS: usize = if cfg!(miri) { 24 } else { 3000 };
/// Keys present before the threads start and never touched by them: every
/// scan must return each of them.
const STABLE: usize = if cfg!(miri) { 6 } else { 200 };

const T0: u64 = 1_000_000;

fn at(now_ms: u64) -> Clock {
    Clock {
        now_ms,
        lru: Some(1),
    }
}

fn int(n: i64) -> Value {
    Value::Str(Str::Int(n))
}

fn text(s: &str) -> Value {
    Value::Str(Str::from_arg(s.as_bytes()))
}

fn get_int(ks: &Keyspace, key: &[u8], clock: Clock) -> Option<i64> {
    let guard = epoch::pin();
    let v = ks.get(key, clock, &guard)?;
    v.value()
        .expect("copy-on-write")
        .as_str()
        .and_then(Str::as_int)
}

/// GET as the server does it: copy the bytes out while pinned.
fn get_bytes(ks: &Keyspace, key: &[u8], clock: Clock) -> Option<Vec<u8>> {
    let guard = epoch::pin();
    let v = ks.get(key, clock, &guard)?;
    v.value()
        .expect("copy-on-write")
        .as_str()
        .map(|s| s.bytes().into_owned())
}

/// Adds `by` to `key` under its latch (INCRBY).
fn incr(ks: &Keyspace, key: &[u8], by: i64, clock: Clock) -> i64 {
    let guard = epoch::pin();
    let mut l = ks.lock(key, clock, &guard);
    let cur = l
        .value()
        .and_then(Value::as_str)
        .and_then(Str::as_int)
        .unwrap_or(0);
    l.set(int(cur + by));
    cur + by
}

fn set(ks: &Keyspace, key: &[u8], v: Value, expire: Option<u64>, clock: Clock) {
    let guard = epoch::pin();
    ks.lock(key, clock, &guard).set_with_expire(v, expire);
}

fn del(ks: &Keyspace, key: &[u8], clock: Clock) -> bool {
    let guard = epoch::pin();
    let deleted = ks
        .lock_existing(key, clock, &guard)
        .is_some_and(|mut l| l.delete());
    deleted
}

/// One writer's churn over its own keys plus two shared counters:
/// insert, overwrite with growing strings (embstr -> raw), short TTLs,
/// deletes, and a multi-key write that keeps both counters equal.
fn churn(ks: &Keyspace, id: usize) {
    let clock = at(T0);
    for i in 0..OPS {
        let key = format!("t{id}:{}", i % 8);
        set(ks, key.as_bytes(), text(&"x".repeat(i % 50)), None, clock);
        assert_eq!(
            get_bytes(ks, key.as_bytes(), clock).map(|b| b.len()),
            Some(i % 50)
        );
        if i % 3 == 0 {
            // Expires at T0 + 1: alive now, gone for any later clock.
            set(ks, key.as_bytes(), int(i as i64), Some(T0 + 1), clock);
        }
        if i % 5 == 0 {
            assert!(del(ks, key.as_bytes(), clock));
            assert_eq!(get_bytes(ks, key.as_bytes(), clock), None);
        }
        incr(ks, b"shared", 1, clock);
        let guard = epoch::pin();
        let mut pair = lock_many(
            &[(ks, b"pair:a".as_slice()), (ks, b"pair:b".as_slice())],
            clock,
            &guard,
        );
        for k in [b"pair:a".as_slice(), b"pair:b".as_slice()] {
            let l = pair.get(ks, k);
            let n = l
                .value()
                .and_then(Value::as_str)
                .and_then(Str::as_int)
                .unwrap_or(0);
            l.set(int(n + 1));
        }
    }
}

/// Scans the whole keyspace in small pages while writers run; returns the
/// keys seen.
fn scan_all(ks: &Keyspace) -> HashSet<Vec<u8>> {
    let mut seen = HashSet::new();
    let mut cursor = 0;
    loop {
        let mut page = 0;
        cursor = ks.scan(cursor, at(T0), 30, |k, view| {
            assert!(view.value().expect("copy-on-write").as_str().is_some());
            seen.insert(k.to_vec());
            page += 1;
            page < 3
        });
        if cursor == 0 {
            return seen;
        }
    }
}

/// Reads both counters of the multi-key write at one instant: they are
/// written together, so they must always be equal.
fn check_pair(ks: &Keyspace) {
    let guard = epoch::pin();
    let vals =
        read_many(ks, &[b"pair:a", b"pair:b"], at(T0), &guard).expect("strings are copy-on-write");
    let n: Vec<Option<i64>> = vals
        .iter()
        .map(|v| v.and_then(Value::as_str).and_then(Str::as_int))
        .collect();
    assert_eq!(n[0], n[1], "MGET saw half of a multi-key write");
}

/// Runs the epoch's deferred frees left by this test's threads, so that
/// miri's leak check sees only memory the keyspace itself lost: crossbeam
/// frees retired garbage only as the epoch advances, and never at exit.
fn drain_garbage() {
    for _ in 0..256 {
        epoch::pin().flush();
    }
}

#[test]
fn two_threads_insert_overwrite_delete_scan_expire() {
    let ks = Keyspace::new();
    let stable: Vec<String> = (0..STABLE).map(|i| format!("stable:{i}")).collect();
    for k in &stable {
        set(&ks, k.as_bytes(), text(k), None, at(T0));
    }

    std::thread::scope(|s| {
        for id in 0..2 {
            let ks = &ks;
            s.spawn(move || churn(ks, id));
        }
        // The test thread is a reader: scans and atomic multi-key reads.
        for _ in 0..if cfg!(miri) { 2 } else { 50 } {
            let seen = scan_all(&ks);
            for k in &stable {
                assert!(seen.contains(k.as_bytes()), "scan missed {k}");
            }
            check_pair(&ks);
        }
    });

    let now = at(T0);
    assert_eq!(get_int(&ks, b"shared", now), Some(2 * OPS as i64));
    assert_eq!(get_int(&ks, b"pair:a", now), Some(2 * OPS as i64));
    assert_eq!(get_int(&ks, b"pair:b", now), Some(2 * OPS as i64));
    for k in &stable {
        assert_eq!(
            get_bytes(&ks, k.as_bytes(), now),
            Some(k.as_bytes().to_vec())
        );
    }

    // Later, keys with a TTL are invisible, and active expiry reclaims them.
    let later = at(T0 + 10);
    let with_ttl = ks.expires_len();
    let before = ks.len();
    // One round wanting every key walks the whole index once.
    let round = ks.expire_cycle(later, usize::MAX);
    assert_eq!(round.sampled, with_ttl);
    assert_eq!(round.expired, with_ttl);
    assert_eq!(ks.len(), before - with_ttl);
    assert_eq!(ks.expires_len(), 0);
    let mut live = 0;
    ks.walk(later, |_, _| live += 1);
    assert_eq!(live, ks.len());
    drop(ks);
    drain_garbage();
}

#[test]
fn readers_race_a_writer_on_one_key() {
    // A value replaced while readers copy it out must stay readable until
    // they unpin (the epoch-deferred free that miri checks).
    let ks = Keyspace::new();
    let clock = at(T0);
    set(&ks, b"k", text("v0"), None, clock);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 1..=OPS {
                set(
                    &ks,
                    b"k",
                    text(&format!("v{i}-{}", "y".repeat(i % 60))),
                    None,
                    clock,
                );
            }
            assert!(del(&ks, b"k", clock));
        });
        s.spawn(|| {
            for _ in 0..OPS {
                if let Some(b) = get_bytes(&ks, b"k", clock) {
                    assert_eq!(b[0], b'v');
                }
            }
        });
    });
    assert_eq!(get_bytes(&ks, b"k", clock), None);
    assert!(ks.is_empty());
    drop(ks);
    drain_garbage();
}
