//! Single-key models: the slot latch, the sequence-locked read, delete against
//! write, WATCH's stamp check, and version uniqueness.
#![cfg(loom)]

use ferrite_loom_tests::latch::{make_version, ThreadIds, DEAD};
use ferrite_loom_tests::{ModelSlot, Versions};
use loom::sync::Arc;
use loom::thread;

/// (a) Two writers increment one key under its latch: neither update is lost.
#[test]
fn concurrent_increments_lose_nothing() {
    loom::model(|| {
        let slot = Arc::new(ModelSlot::new(make_version(0, 1), 0, 0));
        let writers: Vec<_> = (1..=2)
            .map(|t| {
                let slot = slot.clone();
                thread::spawn(move || {
                    let mut versions = Versions::new(t);
                    let held = slot.stamp.latch().expect("never deleted");
                    let (v, _) = slot.read_latched(&held);
                    slot.commit(held, Some(v + 1), None, versions.next_version());
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let ((v, _), _) = slot.read();
        assert_eq!(v, 2, "an increment was lost");
    });
}

/// (a') Three writers on one key: two of them wait on the same holder, the
/// case loom needs the pruning in `latch::backoff` for.
#[test]
fn three_writers_on_one_key() {
    loom::model(|| {
        let slot = Arc::new(ModelSlot::new(make_version(0, 1), 0, 0));
        let writers: Vec<_> = (1..=3)
            .map(|t| {
                let slot = slot.clone();
                thread::spawn(move || {
                    let held = slot.stamp.latch().expect("never deleted");
                    let (v, _) = slot.read_latched(&held);
                    slot.commit(held, Some(v + 1), None, make_version(t, 1));
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(slot.read().0 .0, 3, "an increment was lost");
    });
}

/// (b) A reader racing a writer sees the (value, expire) pair before or after
/// the write, never half of each.
#[test]
fn reader_never_sees_a_torn_pair() {
    loom::model(|| {
        let slot = Arc::new(ModelSlot::new(make_version(0, 1), 0, 0));
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || {
                let held = slot.stamp.latch().expect("never deleted");
                slot.commit(held, Some(1), Some(1), make_version(1, 1));
            })
        };
        let (pair, stamp) = slot.read();
        assert!(pair == (0, 0) || pair == (1, 1), "torn read: {pair:?}");
        // The stamp returned with the pair identifies it.
        let expected = if pair == (0, 0) {
            make_version(0, 1)
        } else {
            make_version(1, 1)
        };
        assert_eq!(stamp >> 2, expected, "stamp does not match the pair read");
        writer.join().unwrap();
        assert_eq!(slot.read().0, (1, 1));
    });
}

/// (b') Two successive writes: a reader still sees only whole pairs.
#[test]
fn reader_never_sees_a_torn_pair_across_two_writes() {
    loom::model(|| {
        let slot = Arc::new(ModelSlot::new(make_version(0, 1), 0, 0));
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || {
                let mut versions = Versions::new(1);
                for n in 1..=2 {
                    let held = slot.stamp.latch().expect("never deleted");
                    slot.commit(held, Some(n), Some(n), versions.next_version());
                }
            })
        };
        let ((v, e), _) = slot.read();
        assert_eq!(v, e, "torn read");
        writer.join().unwrap();
    });
}

/// What the writer of the delete-vs-write model managed to do.
#[derive(Debug, PartialEq, Eq)]
enum WriteOutcome {
    Wrote,
    SawDead,
}

/// (c) One thread deletes the key (unlink + DEAD) while another latches and
/// writes: the write lands before the delete (and the delete sees it) or the
/// writer is told the slot is dead; a dead slot is never written.
#[test]
fn delete_against_write() {
    loom::model(|| {
        let slot = Arc::new(ModelSlot::new(make_version(0, 1), 10, 0));
        let deleter = {
            let slot = slot.clone();
            thread::spawn(move || {
                let held = slot.stamp.latch().expect("only this thread deletes");
                slot.unlink(held, make_version(1, 1))
            })
        };
        let outcome = match slot.stamp.latch() {
            Some(held) => {
                assert_eq!(slot.stamp.load() & DEAD, 0, "latched a dead slot");
                let (v, _) = slot.read_latched(&held);
                assert_eq!(v, 10, "wrote over a deleted value");
                slot.commit(held, Some(20), None, make_version(2, 1));
                WriteOutcome::Wrote
            }
            None => WriteOutcome::SawDead,
        };
        let deleted = deleter.join().unwrap();
        match outcome {
            WriteOutcome::Wrote => assert_eq!(deleted, 20, "the delete missed the write"),
            WriteOutcome::SawDead => assert_eq!(deleted, 10),
        }
        // The delete was last either way: the slot is dead and empty.
        assert_eq!(slot.value.load(loom::sync::atomic::Ordering::Acquire), 0);
        assert!(slot.stamp.latch().is_none(), "a dead slot could be latched");
        assert!(slot.stamp.try_latch().is_err());
    });
}

/// What a watcher concluded at EXEC time.
#[derive(Debug, PartialEq, Eq)]
enum Exec {
    /// Stamp unchanged: the transaction runs and sees this value.
    Runs(u64),
    Aborts,
}

/// WATCH then EXEC as MULTI/EXEC does it: remember the stamp, later latch the
/// key and compare. Returns the EXEC decision and the value watched.
fn watch_then_exec(slot: &ModelSlot) -> (u64, Exec) {
    let ((watched_value, _), watched) = slot.read();
    let decision = match slot.stamp.latch() {
        None => Exec::Aborts, // deleted since WATCH
        Some(held) => {
            let unchanged = held.before == watched;
            let (v, _) = slot.read_latched(&held);
            slot.release(held);
            if unchanged {
                Exec::Runs(v)
            } else {
                Exec::Aborts
            }
        }
    };
    (watched_value, decision)
}

/// (d) A write between WATCH and EXEC aborts the transaction; a transaction
/// that runs sees exactly the value it watched.
#[test]
fn watch_detects_a_concurrent_write() {
    loom::model(|| {
        let slot = Arc::new(ModelSlot::new(make_version(0, 1), 0, 0));
        let before = slot.stamp.load();
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || {
                let held = slot.stamp.latch().expect("never deleted");
                slot.commit(held, Some(1), None, make_version(1, 1));
            })
        };
        let (watched_value, decision) = watch_then_exec(&slot);
        if let Exec::Runs(v) = decision {
            assert_eq!(v, watched_value, "EXEC ran on a value changed since WATCH");
        }
        writer.join().unwrap();
        // Once the write is known to have happened, the stamp shows it.
        assert_ne!(
            slot.stamp.load(),
            before,
            "the write left the stamp unchanged"
        );
    });
}

/// (d') With no write, or a writer that latched and released without a change
/// (a command that failed), WATCH reports no change.
#[test]
fn watch_without_a_write_reports_nothing() {
    loom::model(|| {
        let slot = Arc::new(ModelSlot::new(make_version(0, 1), 5, 0));
        let idle = {
            let slot = slot.clone();
            thread::spawn(move || {
                let held = slot.stamp.latch().expect("never deleted");
                slot.release(held);
            })
        };
        let (watched_value, decision) = watch_then_exec(&slot);
        assert_eq!(watched_value, 5);
        assert_eq!(
            decision,
            Exec::Runs(5),
            "a no-op latch aborted a transaction"
        );
        idle.join().unwrap();
    });
}

/// (d'') A delete between WATCH and EXEC aborts too.
#[test]
fn watch_detects_a_concurrent_delete() {
    loom::model(|| {
        let slot = Arc::new(ModelSlot::new(make_version(0, 1), 7, 0));
        let deleter = {
            let slot = slot.clone();
            thread::spawn(move || {
                let held = slot.stamp.latch().expect("only this thread deletes");
                slot.unlink(held, make_version(1, 1));
            })
        };
        let (watched_value, decision) = watch_then_exec(&slot);
        match decision {
            Exec::Runs(v) => assert_eq!(v, watched_value),
            Exec::Aborts => {}
        }
        deleter.join().unwrap();
        let (_, after) = watch_then_exec(&slot);
        assert_eq!(after, Exec::Aborts, "a dead slot let EXEC run");
    });
}

/// (f) Versions: concurrent threads draw ids from the production id pool and
/// make versions; a thread starting after another exited reuses its id and
/// continues its counter. No version is ever produced twice.
#[test]
fn versions_are_unique_across_threads() {
    loom::model(|| {
        let ids = Arc::new(ThreadIds::new());
        let make = |ids: Arc<ThreadIds>| {
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
    });
}

/// (f') The version layout keeps thread ids and counters apart.
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
