//! Models of the keyspace's hash table, `src/store/table.rs`, compiled into
//! this crate as is (with loom's atomics through `src/sync.rs`).
//!
//! Keys are placed in chosen buckets by hand: a key's bucket is
//! `hash & mask` (4 buckets: mask 3, 8 buckets: mask 7) and its tag is
//! `hash >> 56`. Under loom a helper migrates 2 buckets per chunk, so a
//! resize of a 4- or 8-bucket table takes 2 to 4 chunks, shared by the
//! resizing thread and every writer (each helps before it writes).
//!
//! Checks after the threads have joined count the entries with a full SCAN
//! once the resize is finished (no resize running: every bucket is visited
//! exactly once, so a key returned twice is in the table twice).
//!
//! The negative controls at the end switch on one of table.rs's
//! `loom_breaks` (which exist only under `cfg(loom)`) and show that the
//! model of that protocol fails (`ferrite_loom_tests::harness`).
//!
//! **Thread order matters with loom 0.7.2.** Its DPOR keeps one last access
//! per atomic, so when thread U loads an atomic and thread T later loads it
//! and then writes it, T's own load hides U's and loom never runs T's write
//! before U's load (tokio-rs/loom#166, #392: a reader on the main thread
//! racing a table writer explored exactly one execution). Loom's first
//! execution runs the threads one after the other in spawn order, so the
//! models spawn the threads that only read (lookups, SCAN) after the
//! writers, and leave the main thread only the set-up and the checks after
//! the join; then the readers' loads find the writers' stores as the last
//! writes and loom explores the reorderings. The negative controls show the
//! exploration reaches the interesting interleavings. With loom patched to
//! track the last access per thread (`loom-tests/patches/`), these models
//! explore 1.7 to 5.5 times as many executions, and still pass.
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_broken};
use ferrite_loom_tests::sync::pin;
use ferrite_loom_tests::table::{loom_breaks, Entry, RawTable};
use loom::sync::Arc;
use loom::thread;
use std::collections::HashMap;

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

#[derive(Clone, Copy, Debug)]
struct Key {
    hash: u64,
    bytes: &'static [u8],
}

/// A hash in bucket `bucket` of an 8-bucket table (so `bucket & 3` of a
/// 4-bucket one) with tag `tag`.
const fn hash(bucket: u64, tag: u64) -> u64 {
    (tag << 56) | bucket
}

/// Buckets 1 (of 4) and 1 (of 8).
const A: Key = Key {
    hash: hash(1, 0xa1),
    bytes: b"a",
};
/// Bucket 1 of 4 (with A), 5 of 8: a grow splits A and B, a shrink joins
/// them. Same tag as A: only the full comparison tells them apart.
const B: Key = Key {
    hash: hash(5, 0xa1),
    bytes: b"b",
};
/// Bucket 2 of 4, 6 of 8.
const C: Key = Key {
    hash: hash(6, 0xc3),
    bytes: b"c",
};
/// Bucket 0 of 4, 4 of 8 (second in SCAN's cursor order 0, 4, 2, 6, ...).
const D: Key = Key {
    hash: hash(4, 0xd4),
    bytes: b"d",
};
/// Bucket 3 of 4, 7 of 8: a bucket that `resize_to` leaves to the second
/// chunk of a grow.
const K: Key = Key {
    hash: hash(7, 0x5e),
    bytes: b"k",
};

type Table = Arc<RawTable<Node>>;

fn node(k: Key) -> Box<Node> {
    Box::new(Node {
        hash: k.hash,
        key: k.bytes.to_vec(),
    })
}

fn table(buckets: usize, keys: &[Key]) -> Table {
    let t = RawTable::with_buckets(buckets);
    for &k in keys {
        assert!(insert(&t, k));
    }
    assert_eq!(t.buckets(&pin()), (buckets, None));
    Arc::new(t)
}

/// `find_or_insert`: whether it inserted.
fn insert(t: &RawTable<Node>, k: Key) -> bool {
    t.find_or_insert(k.hash, k.bytes, || Box::into_raw(node(k)), &pin())
        .1
}

fn find(t: &RawTable<Node>, k: Key) -> bool {
    t.find(k.hash, k.bytes, &pin()).is_some()
}

/// Finds `k` and removes that entry; returns the removed entry's address
/// (freed after the threads join: a concurrent reader may still hold it, as
/// the epoch would let it).
fn remove(t: &RawTable<Node>, k: Key) -> Option<usize> {
    let g = pin();
    let e = t.find(k.hash, k.bytes, &g)?;
    t.remove(e, &g).then_some(e as *const Node as usize)
}

fn free(removed: impl IntoIterator<Item = usize>) {
    for p in removed {
        // SAFETY: unlinked by `remove`, and every thread has joined.
        drop(unsafe { Box::from_raw(p as *mut Node) });
    }
}

/// Buckets a helper migrates per chunk under loom (`MIGRATE_CHUNK`).
const CHUNK: usize = 2;

/// Resizes to `buckets`: the first `before` chunks are migrated now, the
/// rest by the thread returned, which starts the resize if `before` is 0
/// and claims chunks until none is left (other threads may still be
/// migrating theirs when it ends: it does not wait for them, which would be
/// a spin loop).
fn spawn_resize(t: &Table, buckets: usize, before: usize) -> thread::JoinHandle<()> {
    let chunks = t.buckets(&pin()).0.div_ceil(CHUNK);
    assert!(before < chunks);
    if before > 0 {
        t.resize_to(buckets, &pin());
        for _ in 1..before {
            assert!(t.help_resize(&pin()));
        }
    }
    let t = t.clone();
    thread::spawn(move || {
        if before == 0 {
            t.resize_to(buckets, &pin());
        }
        for _ in before.max(1)..chunks {
            t.help_resize(&pin());
        }
    })
}

/// A full SCAN: every entry returned, in order, duplicates included.
fn full_scan(t: &RawTable<Node>) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = t.scan(cursor, &pin(), |e| seen.push(e.key.clone()));
        if cursor == 0 {
            return seen;
        }
    }
}

/// After the threads joined: finishes any resize, then checks that the
/// table holds exactly `expected`, each once, in a table of `buckets`.
fn check_contents(t: &RawTable<Node>, expected: &[Key], buckets: usize) {
    while t.help_resize(&pin()) {}
    assert_eq!(t.buckets(&pin()), (buckets, None));
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for k in full_scan(t) {
        *counts.entry(k).or_default() += 1;
    }
    for (k, n) in &counts {
        assert!(*n == 1, "duplicate: key {:?} is in the table {n} times", k);
    }
    let mut want: Vec<Vec<u8>> = expected.iter().map(|k| k.bytes.to_vec()).collect();
    let mut got: Vec<Vec<u8>> = counts.into_keys().collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "the table holds the wrong keys");
    assert_eq!(t.len(), expected.len(), "len() is wrong");
    for &k in expected {
        assert!(find(t, k), "{:?} is in the table but find misses it", k);
    }
}

// ---------------------------------------------------------------------------
// Insert and lookup racing a resize.

/// `old` is in the table before the threads start. One thread resizes
/// `from` -> `to` buckets (after `before` chunks were migrated); a writer
/// inserts `new` (in `old`'s bucket of the small table) and then `old` again
/// (present: must not be inserted); a reader looks `old` up meanwhile. A key
/// present throughout is always found, the new key is there after the join,
/// and no key is there twice.
fn insert_and_lookup_race_resize(from: usize, to: usize, before: usize, old: Key, new: Key) {
    let t = table(from, &[old]);
    let resizer = spawn_resize(&t, to, before);
    let writer = {
        let t = t.clone();
        thread::spawn(move || {
            assert!(insert(&t, new), "a new key was not inserted");
            assert!(
                !insert(&t, old),
                "duplicate: an existing key was inserted again"
            );
        })
    };
    let reader = {
        let t = t.clone();
        thread::spawn(move || {
            assert!(find(&t, old), "a key present throughout was not found");
        })
    };
    for th in [resizer, writer, reader] {
        th.join().unwrap();
    }
    check_contents(&t, &[old, new], to);
}

/// 4 -> 8 in two chunks, both concurrent: A's bucket 1 splits into 1 and 5,
/// where B goes.
#[test]
fn grow_insert_and_lookup() {
    model(|| insert_and_lookup_race_resize(4, 8, 0, A, B));
}

/// 8 -> 4 in four chunks, the last two concurrent (buckets 0-3 are MOVED
/// when the threads start): B's bucket 5 merges into 1, where A goes.
#[test]
fn shrink_insert_and_lookup() {
    model(|| insert_and_lookup_race_resize(8, 4, 2, B, A));
}

// ---------------------------------------------------------------------------
// Delete racing a resize.

/// A, B (one bucket of the small table, two of the big one) and C are in the
/// table; one thread resizes while another removes `gone`, then looks it up
/// (not found) and looks up `kept` (found). After the join the table holds
/// `kept` and C, each once, and `len()` is 2.
fn delete_races_resize(from: usize, to: usize, gone: Key, kept: Key) {
    let t = table(from, &[A, B, C]);
    let resizer = spawn_resize(&t, to, 0);
    let deleter = {
        let t = t.clone();
        thread::spawn(move || {
            let removed = remove(&t, gone).expect("the key to delete was not found");
            assert!(!find(&t, gone), "a removed key is still found");
            assert!(find(&t, kept), "a key present throughout was not found");
            removed
        })
    };
    resizer.join().unwrap();
    let removed = deleter.join().unwrap();
    check_contents(&t, &[kept, C], to);
    free([removed]);
}

#[test]
fn grow_delete() {
    model(|| delete_races_resize(4, 8, A, B));
}

#[test]
fn shrink_delete() {
    model(|| delete_races_resize(8, 4, B, A));
}

// ---------------------------------------------------------------------------
// Create against delete of one key.

/// `writers` threads `find_or_insert` K while (with `deleter`) another
/// removes K if it finds it. With `grow_first`, a grow from 4 to 8 buckets
/// is under way when the threads start (the first chunk, buckets 0 and 1,
/// is migrated; K's bucket 3 is not), and the first writer's help migrates
/// the rest, so the others meet the migration of K's bucket. Afterwards K
/// is in the table at most once, and exactly as often as inserts minus
/// removals say.
fn create_and_delete(writers: usize, deleter: bool, grow_first: bool) {
    let t = table(4, &[]);
    if grow_first {
        t.resize_to(8, &pin());
        assert_eq!(t.buckets(&pin()), (4, Some(8)), "the grow is not under way");
    }
    let writers: Vec<_> = (0..writers)
        .map(|_| {
            let t = t.clone();
            thread::spawn(move || insert(&t, K))
        })
        .collect();
    let deleter = deleter.then(|| {
        let t = t.clone();
        thread::spawn(move || remove(&t, K))
    });
    let inserted = writers
        .into_iter()
        .map(|w| w.join().unwrap() as usize)
        .sum::<usize>();
    let removed = deleter.and_then(|d| d.join().unwrap());
    while t.help_resize(&pin()) {}
    let times = full_scan(&t).iter().filter(|k| k == &K.bytes).count();
    assert!(times <= 1, "duplicate: K is in the table {times} times");
    assert_eq!(
        times,
        inserted - removed.is_some() as usize,
        "inserts and removals do not add up"
    );
    let expected: &[Key] = if times == 1 { &[K] } else { &[] };
    check_contents(&t, expected, if grow_first { 8 } else { 4 });
    free(removed);
}

/// Two creators and a deleter of one key.
#[test]
fn create_and_delete_same_key() {
    model(|| create_and_delete(2, true, false));
}

/// Two creators of one key while its bucket is migrated. (Two creators and
/// a deleter during a migration take loom over 3 million executions.)
#[test]
fn create_twice_during_grow() {
    model(|| create_and_delete(2, false, true));
}

/// A creator and a deleter of one key while its bucket is migrated.
#[test]
fn create_and_delete_during_grow() {
    model(|| create_and_delete(1, true, true));
}

// ---------------------------------------------------------------------------
// SCAN across a resize.

/// One thread runs a full SCAN while another resizes the table (after
/// `before` chunks were migrated): B and D (buckets 5 and 4 of 8, 1 and 0
/// of 4), present throughout, are returned at least once.
fn scan_across_resize(from: usize, to: usize, before: usize) {
    let keys = [B, D];
    let t = table(from, &keys);
    let resizer = spawn_resize(&t, to, before);
    let scanner = {
        let t = t.clone();
        thread::spawn(move || {
            let seen = full_scan(&t);
            for k in keys {
                assert!(
                    seen.iter().any(|s| s == k.bytes),
                    "SCAN missed a key present throughout: {:?} (returned {:?})",
                    k,
                    seen
                );
            }
        })
    };
    resizer.join().unwrap();
    scanner.join().unwrap();
    check_contents(&t, &keys, to);
}

#[test]
fn scan_across_grow() {
    model(|| scan_across_resize(4, 8, 0));
}

#[test]
fn scan_across_shrink() {
    model(|| scan_across_resize(8, 4, 2));
}

// ---------------------------------------------------------------------------
// Negative controls: each breaks one protocol and expects its model to fail.

/// `find` reads a MOVED bucket's own chain instead of following it into the
/// next table. The delete model fails: the deleting thread removes A from
/// the next table (A's bucket is MOVED) while the resizer still migrates the
/// other chunk, so the current table is the old one; its find of A then
/// reads the old bucket, which still holds A's pointer.
#[test]
#[should_panic(expected = "a removed key is still found")]
fn broken_find_ignoring_moved_finds_a_removed_key() {
    model_broken(&loom_breaks::FIND_IGNORES_MOVED, || {
        delete_races_resize(4, 8, A, B)
    });
}

/// Writers go straight to the next table while a resize runs, without
/// latching the old bucket and checking MOVED. The insert model fails: the
/// writer (having helped with the second chunk) latches A's bucket in the
/// next table before the resizer has migrated A's old bucket, does not find
/// A there and inserts it again; the migration then adds the old A.
#[test]
#[should_panic(expected = "duplicate")]
fn broken_writers_skipping_the_old_bucket_duplicate_a_key() {
    model_broken(&loom_breaks::WRITERS_SKIP_OLD_BUCKET, || {
        insert_and_lookup_race_resize(4, 8, 0, A, B)
    });
}

/// `find_or_insert` looks the key up before latching and inserts without
/// looking again under the latch. The create/delete model fails: both
/// writers look, find no K, and insert one each.
#[test]
#[should_panic(expected = "duplicate")]
fn broken_unlatched_insert_check_duplicates_a_key() {
    model_broken(&loom_breaks::INSERT_CHECKS_UNLATCHED, || {
        create_and_delete(2, true, false)
    });
}

/// SCAN skips the small table's bucket while a resize runs. The grow model
/// fails: when a SCAN step finds the grow under way, the small (old) table's
/// buckets that are not MOVED yet hold their keys, and the step visits only
/// the big (next) table's buckets.
#[test]
#[should_panic(expected = "SCAN missed a key")]
fn broken_scan_skipping_the_small_bucket_misses_a_key() {
    model_broken(&loom_breaks::SCAN_SKIPS_SMALL_BUCKET, || {
        scan_across_resize(4, 8, 0)
    });
}

/// SCAN during a shrink reads the next (small) table's bucket before the old
/// table's, as table.rs did before: the shrink model fails. A step reads the
/// small table's bucket 1 (B not there yet), the resizer then migrates the
/// old bucket 5 (B goes to the small bucket 1, bucket 5 becomes MOVED), and
/// the step skips bucket 5 as MOVED: B, present throughout, is never
/// returned.
#[test]
#[should_panic(expected = "SCAN missed a key")]
fn broken_scan_reading_the_next_table_first_misses_a_key() {
    model_broken(&loom_breaks::SCAN_READS_NEXT_FIRST, || {
        scan_across_resize(8, 4, 2)
    });
}
