//! Tests of the hash table (`table.rs`): the map itself, incremental growth
//! and shrinking, SCAN's guarantee across resizes, uniform sampling (a
//! chi-square test), and concurrent writers and readers during resizes.

use super::key::hash_key;
use super::table::{Entry, RawTable};
use crossbeam_epoch as epoch;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::{HashMap, HashSet};

#[derive(Debug)]
struct Node {
    hash: u64,
    key: Vec<u8>,
}

impl Entry for Node {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn key(&self) -> &[u8] {
        &self.key
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

fn insert(t: &RawTable<Node>, k: &[u8]) -> bool {
    let guard = epoch::pin();
    let h = hash_key(k);
    t.find_or_insert(
        h,
        k,
        || {
            Box::into_raw(Box::new(Node {
                hash: h,
                key: k.to_vec(),
            }))
        },
        &guard,
    )
    .1
}

fn contains(t: &RawTable<Node>, k: &[u8]) -> bool {
    let guard = epoch::pin();
    t.find(hash_key(k), k, &guard).is_some()
}

fn remove(t: &RawTable<Node>, k: &[u8]) -> bool {
    let guard = epoch::pin();
    let Some(e) = t.find(hash_key(k), k, &guard) else {
        return false;
    };
    if !t.remove(e, &guard) {
        return false;
    }
    let p = e as *const Node as *mut Node;
    // SAFETY: just unlinked by us; readers are pinned.
    unsafe { crate::sync::retire(&guard, p) };
    true
}

/// Runs every pending resize to the end (single-threaded tests).
fn settle(t: &RawTable<Node>) {
    let guard = epoch::pin();
    while t.help_resize(&guard) {}
}

fn n(small: usize, large: usize) -> usize {
    if cfg!(miri) {
        small
    } else {
        large
    }
}

#[test]
fn insert_find_remove_grow_and_shrink() {
    let t = RawTable::<Node>::new();
    let count = n(80, 50_000);
    for i in 0..count {
        assert!(insert(&t, &key(i)));
        assert!(!insert(&t, &key(i)), "second insert of {i} finds it");
    }
    settle(&t);
    assert_eq!(t.len(), count);
    let guard = epoch::pin();
    let (buckets, _) = t.buckets(&guard);
    // Grown to at most 5 entries per bucket on average (`GROW_LOAD`).
    assert!(buckets * 5 >= count, "grew: {buckets} buckets for {count}");
    drop(guard);
    for i in 0..count {
        assert!(contains(&t, &key(i)), "{i}");
    }
    assert!(!contains(&t, b"nope"));
    for i in 0..count - 10 {
        assert!(remove(&t, &key(i)));
        assert!(!remove(&t, &key(i)));
    }
    for _ in 0..n(200, 2000) {
        // Removals only check the load every 64th operation per thread:
        // churn a little so the shrink triggers, then finish it.
        insert(&t, b"churn");
        remove(&t, b"churn");
    }
    settle(&t);
    let guard = epoch::pin();
    let (buckets, _) = t.buckets(&guard);
    // Shrunk from thousands of buckets. A shrink goes to 2.5-5 keys per
    // bucket for the count when it starts, and a table with at least one key
    // per bucket is left alone: 10 keys end in 4 buckets, or in 8 when the
    // last shrink started at 21 to 40 keys (where the every-64th-operation
    // check falls during the removals decides which).
    assert!(
        buckets == 4 || buckets == 8,
        "shrank: {buckets} buckets for 10 keys"
    );
    drop(guard);
    for i in count - 10..count {
        assert!(contains(&t, &key(i)));
    }
    assert_eq!(t.len(), 10);
}

/// A full SCAN returns every key present for the whole scan at least once,
/// while the table grows (by inserts between steps) or shrinks (by removals),
/// with some steps taken in the middle of a resize.
#[test]
fn scan_returns_every_stable_key_across_growth_and_shrinking() {
    for grow in [true, false] {
        let t = RawTable::<Node>::new();
        let stable = n(40, 5_000);
        let churn = n(160, 40_000);
        for i in 0..stable {
            insert(&t, &key(i));
        }
        if !grow {
            for i in 0..churn {
                insert(&t, format!("tmp:{i}").as_bytes());
            }
            settle(&t);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        let mut resizing_steps = 0;
        loop {
            let guard = epoch::pin();
            cursor = t.scan(cursor, &guard, |e| {
                seen.insert(e.key.clone());
            });
            if t.buckets(&guard).1.is_some() {
                resizing_steps += 1;
            }
            drop(guard);
            assert!(cursor < 1 << 53);
            // Mutate between steps: 40 inserts (or removals) per step.
            for j in 0..40 {
                let i = step * 40 + j;
                if i < churn {
                    let k = format!("tmp:{i}");
                    if grow {
                        insert(&t, k.as_bytes());
                    } else {
                        remove(&t, k.as_bytes());
                    }
                }
            }
            if !grow {
                // Removals leave shrinking to the background thread's
                // check, which this stands for.
                t.maybe_resize(&epoch::pin());
            }
            step += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..stable {
            assert!(seen.contains(&key(i)), "grow={grow}: key {i} missed");
        }
        if !cfg!(miri) {
            assert!(resizing_steps > 0, "grow={grow}: no step saw a resize");
        }
    }
}

/// Sampling is uniform: chi-square over 1,000 keys.
#[test]
fn sampling_is_uniform() {
    let t = RawTable::<Node>::new();
    let keys = n(20, 1000);
    let samples = n(400, 200_000);
    for i in 0..keys {
        insert(&t, &key(i));
    }
    settle(&t);
    let mut rng = StdRng::seed_from_u64(7);
    let mut hits: HashMap<Vec<u8>, u64> = HashMap::new();
    let guard = epoch::pin();
    for _ in 0..samples {
        let e = t.sample(&guard, || rng.random()).expect("non-empty");
        *hits.entry(e.key.clone()).or_default() += 1;
    }
    drop(guard);
    assert_eq!(hits.len(), keys, "every key sampled at least once");
    let expected = samples as f64 / keys as f64;
    let chi2: f64 = (0..keys)
        .map(|i| {
            let o = *hits.get(&key(i)).unwrap_or(&0) as f64;
            (o - expected).powi(2) / expected
        })
        .sum();
    // keys - 1 degrees of freedom: mean keys - 1, sd sqrt(2 (keys - 1)).
    let df = (keys - 1) as f64;
    let limit = df + 6.0 * (2.0 * df).sqrt();
    assert!(
        chi2 < limit,
        "chi-square {chi2:.0} over {limit:.0} (df {df})"
    );
    let guard = epoch::pin();
    let empty = RawTable::<Node>::new();
    assert!(empty.sample(&guard, || rng.random()).is_none());
}

/// Writers insert and remove their own keys while the table resizes under
/// them, readers look up keys that are always present: no reader misses a
/// present key, and every writer's final set is exactly what it left.
#[test]
fn concurrent_writers_and_readers_across_resizes() {
    let t = RawTable::<Node>::new();
    let stable = n(20, 2_000);
    for i in 0..stable {
        insert(&t, &key(i));
    }
    let rounds = n(2, 6);
    let per = n(40, 20_000);
    std::thread::scope(|s| {
        for w in 0..2usize {
            let t = &t;
            s.spawn(move || {
                for r in 0..rounds {
                    for i in 0..per {
                        insert(t, format!("w{w}:{i}").as_bytes());
                    }
                    // Keep the last round's keys.
                    if r + 1 < rounds {
                        for i in 0..per {
                            assert!(remove(t, format!("w{w}:{i}").as_bytes()));
                        }
                    }
                }
            });
        }
        for _ in 0..2 {
            let t = &t;
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(1);
                for _ in 0..n(100, 200_000) {
                    let i = rng.random_range(0..stable);
                    assert!(contains(t, &key(i)), "present key {i} not found");
                }
            });
        }
    });
    settle(&t);
    assert_eq!(t.len(), stable + 2 * per);
    for w in 0..2 {
        for i in 0..per {
            assert!(contains(&t, format!("w{w}:{i}").as_bytes()));
        }
    }
}
