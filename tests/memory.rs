//! Memory regression tests against the real binary: values that are overwritten, deleted,
//! expired or flushed must actually be freed.
//!
//! Ferrite retires a replaced value to the epoch collector (crossbeam-epoch) instead of freeing
//! it on the spot, because lock-free readers may still hold it. If reclamation of those
//! deferred frees falls behind the rate at which commands retire small values, memory grows
//! without bound under a workload whose live data does not grow at all (a leak in all but name).
//! Every test here ends with live data of the same size as at its baseline, drops a great many
//! small values (or keys, or expiry entries) through one path, and asserts that `used_memory`
//! (jemalloc's allocated bytes) comes back to within [`BOUND`] of the baseline. Each test drops
//! at least 200,000 of them, so a leak of about 30 bytes per operation already exceeds the
//! bound. The flush tests compare with the fresh, empty server instead.
//!
//! The assertions are on memory figures only, never on timings: the one wait,
//! [`assert_returns_to`], polls for at most [`SETTLE`] and fails with the figures it saw.
//! INFO memory's `ferrite_reclaim_pending` (bytes retired but not yet freed) must be below
//! [`PENDING_LIMIT`] once memory has settled.
//!
//! Each test starts its own server and pipelines its commands ([`BATCH`] per write), so it does
//! a few seconds of work even on a loaded 2-core machine.

mod common;

use common::{encode_command, RawConn, Reply, Server};
use std::time::{Duration, Instant};

const MB: u64 = 1 << 20;
/// How far above its baseline `used_memory` may end.
const BOUND: u64 = 4 * MB;
/// Upper limit of `ferrite_reclaim_pending` once memory has settled (when the server reports it).
const PENDING_LIMIT: u64 = MB;
/// Longest wait for deferred frees to be carried out.
const SETTLE: Duration = Duration::from_secs(5);
/// Commands per pipelined write.
const BATCH: usize = 1000;
/// Iterations of each single-path test in section "one path at a time".
const ITERATIONS: usize = 200_000;
/// Warm-up iterations run before a baseline is taken, so connection buffers and other
/// one-time allocations of the path under test are part of the baseline.
const WARM_UP: usize = 1000;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The text of `INFO memory`.
fn info_memory(conn: &mut RawConn) -> String {
    match conn.cmd_parsed(&["INFO", "memory"]) {
        Reply::Bulk(b) => String::from_utf8(b).expect("INFO is UTF-8"),
        other => panic!("INFO memory: unexpected reply {other}"),
    }
}

/// Field `name` of an INFO text, if present.
fn info_field(info: &str, name: &str) -> Option<u64> {
    info.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        Some(
            value
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("INFO field {name}: {value:?} is not a number: {e}")),
        )
    })
}

/// `used_memory`: bytes the allocator has handed out and not got back.
fn used_memory(conn: &mut RawConn) -> u64 {
    let info = info_memory(conn);
    info_field(&info, "used_memory")
        .unwrap_or_else(|| panic!("INFO memory has no used_memory field:\n{info}"))
}

/// `ferrite_reclaim_pending`: bytes retired but not yet freed. `None` if the server does not
/// report it.
fn reclaim_pending(conn: &mut RawConn) -> Option<u64> {
    info_field(&info_memory(conn), "ferrite_reclaim_pending")
}

/// Commands encoded back to back, to be sent in one write by [`pipeline`].
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    len: usize,
}

impl Batch {
    fn push<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.bytes.extend_from_slice(&encode_command(args));
        self.len += 1;
    }
}

/// Sends every command of `batch` in one write, then reads all the replies (raw bytes) and
/// empties the batch. Panics on an error reply: every command of these tests must succeed.
fn pipeline(conn: &mut RawConn, batch: &mut Batch) -> Vec<Vec<u8>> {
    conn.send_raw(&batch.bytes);
    let replies: Vec<Vec<u8>> = (0..batch.len).map(|_| conn.read_reply()).collect();
    if let Some(err) = replies.iter().find(|r| r.starts_with(b"-")) {
        panic!("error reply in a pipeline: {}", common::fmt_reply(err));
    }
    batch.bytes.clear();
    batch.len = 0;
    replies
}

/// Runs iterations `range` of `op`, which adds one iteration's commands to the batch; the
/// commands are pipelined [`BATCH`] at a time (a batch ends between iterations).
fn repeat(
    conn: &mut RawConn,
    range: std::ops::Range<usize>,
    mut op: impl FnMut(&mut Batch, usize),
) {
    let mut batch = Batch::default();
    for i in range {
        op(&mut batch, i);
        if batch.len >= BATCH {
            pipeline(conn, &mut batch);
        }
    }
    if batch.len > 0 {
        pipeline(conn, &mut batch);
    }
}

/// A 32-byte value that differs with `i` and `salt` (at most 8 bytes), so no two writes of a
/// test store the same bytes.
fn value(salt: &str, i: usize) -> Vec<u8> {
    assert!(salt.len() <= 8, "salt {salt:?} longer than 8 bytes");
    let v = format!("{salt:.>8}{i:024}");
    assert_eq!(v.len(), 32);
    v.into_bytes()
}

fn key(prefix: &str, i: usize) -> Vec<u8> {
    format!("{prefix}:{i}").into_bytes()
}

fn dbsize(conn: &mut RawConn) -> i64 {
    conn.cmd_parsed(&["DBSIZE"])
        .as_int()
        .expect("DBSIZE replies with an integer")
}

/// The bounded wait for deferred frees: polls `used_memory` every 100 ms (sending a PING or two
/// in between, so the server is not idle) for at most [`SETTLE`], until it is at most `bound`
/// above `baseline` and `ferrite_reclaim_pending` is below [`PENDING_LIMIT`].
/// Fails with the figures if that never happens; `what` names the workload.
fn assert_returns_to(conn: &mut RawConn, baseline: u64, bound: u64, what: &str) {
    let start = Instant::now();
    let mut peak = 0;
    let mut polls = 0;
    let (used, pending) = loop {
        let info = info_memory(conn);
        let used = info_field(&info, "used_memory").expect("INFO memory has used_memory");
        let pending = info_field(&info, "ferrite_reclaim_pending");
        peak = peak.max(used);
        polls += 1;
        let settled = used <= baseline + bound && pending.is_none_or(|p| p < PENDING_LIMIT);
        if settled || start.elapsed() >= SETTLE {
            break (used, pending);
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
    };
    let server_peak = info_field(&info_memory(conn), "used_memory_peak").unwrap_or(0);
    let figures = format!(
        "baseline {baseline} B, after {used} B ({:+} B = {:+.1} MiB, bound {:.1} MiB), \
         peak observed while waiting {peak} B, server used_memory_peak {server_peak} B, \
         ferrite_reclaim_pending {pending:?}, {polls} polls over {:?}",
        used as i64 - baseline as i64,
        (used as f64 - baseline as f64) / MB as f64,
        bound as f64 / MB as f64,
        start.elapsed(),
    );
    assert!(
        used <= baseline + bound,
        "{what}: used_memory did not come back to within {:.1} MiB of its baseline within \
         {SETTLE:?}: {figures}",
        bound as f64 / MB as f64
    );
    // A fresh reading: the figure must stay low, not merely have dipped once.
    let p = reclaim_pending(conn).expect("INFO memory reports ferrite_reclaim_pending");
    assert!(
        p < PENDING_LIMIT,
        "{what}: ferrite_reclaim_pending still {p} B (limit {PENDING_LIMIT}) after the wait: \
         {figures}"
    );
    eprintln!("{what}: {figures}");
}

// ---------------------------------------------------------------------------------------------
// Overwrites
// ---------------------------------------------------------------------------------------------

/// The simplest form of the leak: one key overwritten 1,000,000 times. The live data is one
/// 32-byte string throughout, so every byte above the baseline is a retired value that was
/// never freed (the old value of each SET is retired to the epoch collector).
#[test]
fn overwriting_one_key_frees_old_values() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"SET".as_slice(), b"k", &value("first", 0)]),
        b"+OK\r\n"
    );
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..1_000_000, |b, i| {
        b.push(&[b"SET".as_slice(), b"k", &value("v", i)])
    });
    assert_eq!(dbsize(&mut c), 1);
    let last = c.cmd_parsed(&["GET", "k"]);
    assert_eq!(last.as_bytes(), Some(&value("v", 999_999)[..]));
    assert_returns_to(&mut c, baseline, BOUND, "1,000,000 SETs of one key");
}

/// Overwrites spread over many keys (100,000 keys, 5 rounds): retired values come from every
/// part of the keyspace, not one hot slot. The baseline is taken after the first round, when
/// all 100,000 keys exist; four more rounds of overwrites must not add to it.
#[test]
fn overwriting_many_keys_frees_old_values() {
    const KEYS: usize = 100_000;
    let s = Server::start();
    let mut c = s.raw();
    repeat(&mut c, 0..KEYS, |b, i| {
        b.push(&[b"SET".as_slice(), &key("k", i), &value("round0", i)])
    });
    assert_eq!(dbsize(&mut c), KEYS as i64);
    let baseline = used_memory(&mut c);
    for round in 1..5 {
        let salt = format!("round{round}");
        repeat(&mut c, 0..KEYS, |b, i| {
            b.push(&[b"SET".as_slice(), &key("k", i), &value(&salt, i)])
        });
    }
    assert_eq!(dbsize(&mut c), KEYS as i64);
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "4 more rounds of SET over 100,000 keys",
    );
}

// ---------------------------------------------------------------------------------------------
// Flushes
// ---------------------------------------------------------------------------------------------

/// Loads 200,000 keys into a fresh server (150,000 in db 0 and 50,000 in db 1 for FLUSHALL, all
/// in db 0 for FLUSHDB), runs `flush`, and checks that memory goes back to the empty server's.
fn flush_returns_memory(flush: &[&str]) {
    const KEYS: usize = 200_000;
    let all = flush[0].eq_ignore_ascii_case("FLUSHALL");
    let s = Server::start();
    let mut c = s.raw();
    let baseline = used_memory(&mut c);
    let in_db0 = if all { 150_000 } else { KEYS };
    repeat(&mut c, 0..in_db0, |b, i| {
        b.push(&[b"SET".as_slice(), &key("k", i), &value("flush", i)])
    });
    if all {
        assert_eq!(c.cmd(&["SELECT", "1"]), b"+OK\r\n");
        repeat(&mut c, in_db0..KEYS, |b, i| {
            b.push(&[b"SET".as_slice(), &key("k", i), &value("flush", i)])
        });
        assert_eq!(dbsize(&mut c), (KEYS - in_db0) as i64);
        assert_eq!(c.cmd(&["SELECT", "0"]), b"+OK\r\n");
    }
    assert_eq!(dbsize(&mut c), in_db0 as i64);
    let loaded = used_memory(&mut c);
    assert!(
        loaded > baseline + 2 * BOUND,
        "{KEYS} keys should take well over {} MiB: {baseline} -> {loaded}",
        2 * BOUND / MB
    );
    assert_eq!(c.cmd(flush), b"+OK\r\n");
    assert_eq!(dbsize(&mut c), 0);
    if all {
        assert_eq!(c.cmd(&["SELECT", "1"]), b"+OK\r\n");
        assert_eq!(dbsize(&mut c), 0);
        assert_eq!(c.cmd(&["SELECT", "0"]), b"+OK\r\n");
    }
    let what = format!("{} after loading {KEYS} keys ({loaded} B)", flush.join(" "));
    assert_returns_to(&mut c, baseline, BOUND, &what);
}

/// FLUSHALL (no mode) frees every database's keys and values.
#[test]
fn flushall_returns_memory() {
    flush_returns_memory(&["FLUSHALL"]);
}

/// FLUSHALL SYNC frees every database's keys and values.
#[test]
fn flushall_sync_returns_memory() {
    flush_returns_memory(&["FLUSHALL", "SYNC"]);
}

/// FLUSHALL ASYNC frees every database's keys and values (in the background, but soon).
#[test]
fn flushall_async_returns_memory() {
    flush_returns_memory(&["FLUSHALL", "ASYNC"]);
}

/// FLUSHDB (no mode) frees the current database's keys and values.
#[test]
fn flushdb_returns_memory() {
    flush_returns_memory(&["FLUSHDB"]);
}

/// FLUSHDB SYNC frees the current database's keys and values.
#[test]
fn flushdb_sync_returns_memory() {
    flush_returns_memory(&["FLUSHDB", "SYNC"]);
}

/// FLUSHDB ASYNC frees the current database's keys and values (in the background, but soon).
#[test]
fn flushdb_async_returns_memory() {
    flush_returns_memory(&["FLUSHDB", "ASYNC"]);
}

// ---------------------------------------------------------------------------------------------
// One path at a time: each test retires values through one command path, ITERATIONS times,
// with the live data the same size at the end as at the baseline.
// ---------------------------------------------------------------------------------------------

/// Runs `op` for [`WARM_UP`] iterations, takes the baseline, runs it for [`ITERATIONS`] more,
/// checks the final key count with `keys_after`, and waits for memory to return to the baseline.
fn path_returns_memory(
    c: &mut RawConn,
    what: &str,
    keys_after: i64,
    mut op: impl FnMut(&mut Batch, usize),
) {
    repeat(c, 0..WARM_UP, &mut op);
    assert_eq!(dbsize(c), keys_after, "{what}: keys after the warm-up");
    let baseline = used_memory(c);
    repeat(c, WARM_UP..WARM_UP + ITERATIONS, &mut op);
    assert_eq!(dbsize(c), keys_after, "{what}: keys at the end");
    assert_returns_to(c, baseline, BOUND, &format!("{ITERATIONS} x {what}"));
}

/// DEL frees the value and the key's map entry: 200,000 distinct keys are each created and
/// deleted, so the keyspace is empty at the baseline and at the end.
#[test]
fn del_frees_values() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(&mut c, "SET k:i v; DEL k:i", 0, |b, i| {
        let k = key("k", i);
        b.push(&[b"SET".as_slice(), &k, &value("del", i)]);
        b.push(&[b"DEL".as_slice(), &k]);
    });
}

/// UNLINK (Redis's "free in the background" DEL) frees the value and the key's entry too.
#[test]
fn unlink_frees_values() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(&mut c, "SET k:i v; UNLINK k:i", 0, |b, i| {
        let k = key("k", i);
        b.push(&[b"SET".as_slice(), &k, &value("unlink", i)]);
        b.push(&[b"UNLINK".as_slice(), &k]);
    });
}

/// Lazy expiry: a key that has expired is deleted by the command that finds it (here GET),
/// and that deletion must free it like DEL does. Rounds of 1,000 keys set with PX 1, a short
/// sleep, then a GET of each (which must miss); the active expiry cycle (10 times a second)
/// takes at most a few of them first.
#[test]
fn lazy_expiry_frees_values() {
    const ROUND: usize = 1000;
    let s = Server::start();
    let mut c = s.raw();
    let round = |c: &mut RawConn, r: usize| {
        let mut batch = Batch::default();
        for i in 0..ROUND {
            let v = value("lazy", r * ROUND + i);
            batch.push(&[b"SET".as_slice(), &key("k", i), &v, b"PX", b"1"]);
        }
        pipeline(c, &mut batch);
        std::thread::sleep(Duration::from_millis(3));
        for i in 0..ROUND {
            batch.push(&[b"GET".as_slice(), &key("k", i)]);
        }
        for (i, reply) in pipeline(c, &mut batch).iter().enumerate() {
            assert_eq!(
                reply, b"$-1\r\n",
                "GET k:{i} 3 ms after SET k:{i} v PX 1, round {r}"
            );
        }
    };
    round(&mut c, 0);
    assert_eq!(dbsize(&mut c), 0);
    let baseline = used_memory(&mut c);
    for r in 1..=ITERATIONS / ROUND {
        round(&mut c, r);
    }
    assert_eq!(dbsize(&mut c), 0);
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        &format!("{ITERATIONS} keys set with PX 1 and expired by GET"),
    );
}

/// Active expiry: keys with a TTL that nobody reads are deleted by the server's expiry cycle,
/// which must free them. Four rounds of 50,000 keys with PX 50, each waited out until DBSIZE
/// is 0 (at most 10 s a round).
#[test]
fn active_expiry_frees_values() {
    const ROUND: usize = 50_000;
    const ROUNDS: usize = 4;
    let s = Server::start();
    let mut c = s.raw();
    let round = |c: &mut RawConn, r: usize, keys: usize| {
        repeat(c, 0..keys, |b, i| {
            let v = value("active", r * ROUND + i);
            b.push(&[b"SET".as_slice(), &key("k", i), &v, b"PX", b"50"]);
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let n = dbsize(c);
            if n == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {r}: {n} of {keys} keys set with PX 50 still there after 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // A small warm-up round ([`WARM_UP`] keys) so the connection's buffers and the expiry
    // index exist before the baseline; the baseline is still an empty keyspace, as at the end.
    round(&mut c, 0, WARM_UP);
    let baseline = used_memory(&mut c);
    for r in 1..=ROUNDS {
        round(&mut c, r, ROUND);
    }
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        &format!(
            "{} keys with PX 50 removed by active expiry",
            ROUNDS * ROUND
        ),
    );
}

/// RENAME over an existing key replaces the destination's value and removes the source key:
/// both the overwritten destination value and the source's entry must be freed. Each iteration
/// is `SET a v; SET b w; RENAME a b`; at the end, as at the baseline, only `b` exists.
#[test]
fn rename_over_existing_key_frees_values() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(&mut c, "SET a v; SET b w; RENAME a b", 1, |b, i| {
        b.push(&[b"SET".as_slice(), b"a", &value("a", i)]);
        b.push(&[b"SET".as_slice(), b"b", &value("b", i)]);
        b.push(&[b"RENAME".as_slice(), b"a", b"b"]);
    });
}

/// SET ... GET returns the old value and replaces it; the old value must still be freed once
/// the reply has been written.
#[test]
fn set_get_frees_old_values() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(&mut c, "SET k v GET", 1, |b, i| {
        b.push(&[b"SET".as_slice(), b"k", &value("setget", i), b"GET"]);
    });
}

/// GETDEL returns the value and deletes the key; the value must be freed after the reply.
#[test]
fn getdel_frees_values() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(&mut c, "SET k v; GETDEL k", 0, |b, i| {
        b.push(&[b"SET".as_slice(), b"k", &value("getdel", i)]);
        b.push(&[b"GETDEL".as_slice(), b"k"]);
    });
}

/// GETEX changes only a key's expiry, but that replaces the key's expiry metadata (and its
/// entry in the expiry index); what it replaces must be freed. The value itself is set once;
/// each iteration is `GETEX k EX <t>; GETEX k PERSIST`, so at the end, as at the baseline,
/// `k` exists without a TTL.
#[test]
fn getex_frees_replaced_expiry_metadata() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[b"SET".as_slice(), b"k", &value("getex", 0)]),
        b"+OK\r\n"
    );
    path_returns_memory(&mut c, "GETEX k EX t; GETEX k PERSIST", 1, |b, i| {
        let secs = (100 + i % 1000).to_string();
        b.push(&[b"GETEX".as_slice(), b"k", b"EX", secs.as_bytes()]);
        b.push(&[b"GETEX".as_slice(), b"k", b"PERSIST"]);
    });
    assert_eq!(c.cmd(&["TTL", "k"]), b":-1\r\n");
}

/// APPEND to a string whose buffer a COPY shares must copy, and free what it replaces: each
/// iteration is `SET s abc; COPY s c REPLACE; APPEND s xyz`, so `s` and `c` are replaced every
/// time (at the end, as at the baseline, `s` is "abc..xyz" and `c` is "abc..").
#[test]
fn append_after_copy_frees_replaced_values() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(
        &mut c,
        "SET s v; COPY s c REPLACE; APPEND s xyz",
        2,
        |b, i| {
            b.push(&[b"SET".as_slice(), b"s", &value("append", i)]);
            b.push(&[b"COPY".as_slice(), b"s", b"c", b"REPLACE"]);
            b.push(&[b"APPEND".as_slice(), b"s", b"xyz"]);
        },
    );
    let s_val = c.cmd(&["GET", "s"]);
    let c_val = c.cmd(&["GET", "c"]);
    let last = value("append", WARM_UP + ITERATIONS - 1);
    let mut appended = last.clone();
    appended.extend_from_slice(b"xyz");
    assert_eq!(Reply::from_raw(&s_val).as_bytes(), Some(&appended[..]));
    assert_eq!(Reply::from_raw(&c_val).as_bytes(), Some(&last[..]));
}

// ---------------------------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------------------------

/// Small (listpack) hashes created and deleted: each iteration is `HSET h:i` with 8 fields,
/// then `DEL h:i`, so the keyspace is empty at the baseline and at the end.
#[test]
fn del_frees_small_hashes() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(&mut c, "HSET h:i (8 fields); DEL h:i", 0, |b, i| {
        let k = key("h", i);
        let v = value("hash", i);
        let mut args: Vec<&[u8]> = vec![b"HSET", &k];
        for f in [b"f1", b"f2", b"f3", b"f4", b"f5", b"f6", b"f7", b"f8"] {
            args.push(f);
            args.push(&v);
        }
        b.push(&args);
        b.push(&[b"DEL".as_slice(), &k]);
    });
}

/// Large (hashtable) hashes: every field write to a persistent map retires the path it
/// copied, and DEL retires the whole map. One hash of 20,000 fields is overwritten field by
/// field 200,000 times, then it and 20 more built and deleted whole; memory must come back to
/// the baseline taken with the hash at full size.
#[test]
fn large_hash_writes_and_deletes_free_memory() {
    const FIELDS: usize = 20_000;
    let s = Server::start();
    let mut c = s.raw();
    let fill = |c: &mut RawConn, key: &[u8], salt: &str| {
        repeat(c, 0..FIELDS / 100, |b, chunk| {
            let vals: Vec<(Vec<u8>, Vec<u8>)> = (chunk * 100..chunk * 100 + 100)
                .map(|i| (format!("field:{i}").into_bytes(), value(salt, i)))
                .collect();
            let mut args: Vec<&[u8]> = vec![b"HSET", key];
            for (f, v) in &vals {
                args.push(f);
                args.push(v);
            }
            b.push(&args);
        });
    };
    fill(&mut c, b"big", "first");
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING", "big"]),
        b"$9\r\nhashtable\r\n"
    );
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..ITERATIONS, |b, i| {
        let f = format!("field:{}", i % FIELDS).into_bytes();
        b.push(&[b"HSET".as_slice(), b"big", &f, &value("over", i)]);
    });
    for round in 0..20 {
        fill(&mut c, b"tmp", "tmp");
        assert_eq!(
            c.cmd(&["HLEN", "tmp"]),
            format!(":{FIELDS}\r\n").as_bytes(),
            "round {round}"
        );
        assert_eq!(c.cmd(&["DEL", "tmp"]), b":1\r\n");
    }
    assert_eq!(dbsize(&mut c), 1);
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "200,000 HSETs into a 20,000-field hash and 20 such hashes deleted",
    );
}

/// The last version of a large hash dropped by DEL with nothing written after it: its
/// memory comes back although no later garbage pushes the worker's retired values along (it
/// used to stay until that worker retired more: 35 MB after DEL of 200,000 fields, for good on
/// an idle server).
#[test]
fn deleted_large_hash_is_freed_without_later_writes() {
    let s = Server::start();
    let mut c = s.raw();
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..2_000, |b, chunk| {
        let vals: Vec<(Vec<u8>, Vec<u8>)> = (chunk * 100..chunk * 100 + 100)
            .map(|i| (format!("field:{i}").into_bytes(), value("big", i)))
            .collect();
        let mut args: Vec<&[u8]> = vec![b"HSET", b"big"];
        for (f, v) in &vals {
            args.push(f);
            args.push(v);
        }
        b.push(&args);
    });
    assert_eq!(c.cmd(&["HLEN", "big"]), b":200000\r\n");
    assert_eq!(c.cmd(&["DEL", "big"]), b":1\r\n");
    assert_returns_to(&mut c, baseline, BOUND, "DEL of a 200,000-field hash");
}

// ---------------------------------------------------------------------------------------------
// Sets
// ---------------------------------------------------------------------------------------------

/// A large hashtable set built member by member (each SADD publishes a new version sharing
/// most of the previous one's tree, the replaced nodes being retired), half removed again,
/// then deleted: its memory comes back.
#[test]
fn large_set_is_freed() {
    let s = Server::start();
    let mut c = s.raw();
    repeat(&mut c, 0..WARM_UP, |b, i| {
        b.push(&[b"SADD".as_slice(), b"warm", &value("warm", i)]);
    });
    assert_eq!(c.cmd_parsed(&["DEL", "warm"]).as_int(), Some(1));
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..100_000, |b, i| {
        b.push(&[b"SADD".as_slice(), b"big", &value("set", i)]);
    });
    assert_eq!(c.cmd_parsed(&["SCARD", "big"]).as_int(), Some(100_000));
    assert_eq!(
        c.cmd_parsed(&["OBJECT", "ENCODING", "big"]).as_bytes(),
        Some(&b"hashtable"[..])
    );
    let grown = used_memory(&mut c);
    assert!(
        grown > baseline + 3 * MB,
        "100,000 members of 32 bytes should be counted: baseline {baseline}, now {grown}"
    );
    repeat(&mut c, 0..50_000, |b, i| {
        b.push(&[b"SREM".as_slice(), b"big", &value("set", i * 2)]);
    });
    assert_eq!(c.cmd_parsed(&["SCARD", "big"]).as_int(), Some(50_000));
    assert_eq!(c.cmd_parsed(&["DEL", "big"]).as_int(), Some(1));
    assert_returns_to(&mut c, baseline, BOUND, "100,000 SADDs, 50,000 SREMs, DEL");
}

/// Small intset sets created, grown and emptied by SREM (which deletes the key).
#[test]
fn emptied_sets_are_freed() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(
        &mut c,
        "SADD k:i 1 2 3; SADD k:i 4; SREM k:i 1 2 3 4",
        0,
        |b, i| {
            let k = key("k", i);
            b.push(&[b"SADD".as_slice(), &k, b"1", b"2", b"3"]);
            b.push(&[b"SADD".as_slice(), &k, b"4"]);
            b.push(&[b"SREM".as_slice(), &k, b"1", b"2", b"3", b"4"]);
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

/// A large list built element by element (each push publishes a version sharing all but its
/// end node and a path with the previous one), popped from both ends, overwritten with LSET,
/// trimmed, then deleted: its memory comes back.
#[test]
fn large_list_is_freed() {
    let s = Server::start();
    let mut c = s.raw();
    repeat(&mut c, 0..WARM_UP, |b, i| {
        b.push(&[b"RPUSH".as_slice(), b"warm", &value("warm", i)]);
    });
    assert_eq!(c.cmd_parsed(&["DEL", "warm"]).as_int(), Some(1));
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..200_000, |b, i| {
        let cmd: &[u8] = if i % 2 == 0 { b"RPUSH" } else { b"LPUSH" };
        b.push(&[cmd, b"big", &value("list", i)]);
    });
    assert_eq!(c.cmd_parsed(&["LLEN", "big"]).as_int(), Some(200_000));
    let grown = used_memory(&mut c);
    assert!(
        grown > baseline + 6 * MB,
        "200,000 elements of 32 bytes should be counted: baseline {baseline}, now {grown}"
    );
    repeat(&mut c, 0..50_000, |b, i| {
        let idx = ((i * 7919) % 150_000).to_string().into_bytes();
        b.push(&[b"LSET".as_slice(), b"big", &idx, &value("over", i)]);
    });
    repeat(&mut c, 0..500, |b, _| {
        b.push(&[b"LPOP".as_slice(), b"big", b"50"]);
        b.push(&[b"RPOP".as_slice(), b"big", b"50"]);
    });
    assert_eq!(c.cmd_parsed(&["LLEN", "big"]).as_int(), Some(150_000));
    assert_eq!(
        c.cmd_parsed(&["LTRIM", "big", "1000", "-1000"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(c.cmd_parsed(&["DEL", "big"]).as_int(), Some(1));
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "200,000 pushes, 50,000 LSETs, pops, LTRIM, DEL",
    );
}

/// Large lists overwritten by another value, and flushed: their memory comes back.
#[test]
fn overwritten_and_flushed_lists_are_freed() {
    let s = Server::start();
    let mut c = s.raw();
    let baseline = used_memory(&mut c);
    for round in 0..5 {
        repeat(&mut c, 0..1_000, |b, chunk| {
            let vals: Vec<Vec<u8>> = (chunk * 100..chunk * 100 + 100)
                .map(|i| value("l", i))
                .collect();
            let mut args: Vec<&[u8]> = vec![b"RPUSH", b"l"];
            args.extend(vals.iter().map(|v| v.as_slice()));
            b.push(&args);
        });
        assert_eq!(c.cmd_parsed(&["LLEN", "l"]).as_int(), Some(100_000));
        if round % 2 == 0 {
            assert_eq!(c.cmd_parsed(&["SET", "l", "v"]), Reply::Simple("OK".into()));
            assert_eq!(c.cmd_parsed(&["DEL", "l"]).as_int(), Some(1));
        } else {
            c.cmd(&["FLUSHALL"]);
        }
    }
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "100,000-element lists overwritten by SET, and flushed",
    );
}

/// Small lists created and emptied by pops (which delete the key).
#[test]
fn emptied_lists_are_freed() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(
        &mut c,
        "RPUSH k:i a b c; LPUSH k:i d; LPOP k:i 4",
        0,
        |b, i| {
            let k = key("k", i);
            let v = value("e", i);
            b.push(&[b"RPUSH".as_slice(), &k, &v, b"b", b"c"]);
            b.push(&[b"LPUSH".as_slice(), &k, b"d"]);
            b.push(&[b"LPOP".as_slice(), &k, b"4"]);
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Sorted sets
// ---------------------------------------------------------------------------------------------

/// Small (listpack) sorted sets created, updated and emptied by ZREM (which deletes the key).
#[test]
fn emptied_small_zsets_are_freed() {
    let s = Server::start();
    let mut c = s.raw();
    path_returns_memory(
        &mut c,
        "ZADD z:i 1 a 2 b 3 c; ZINCRBY z:i 1 a; ZREM z:i a b c",
        0,
        |b, i| {
            let k = key("z", i);
            b.push(&[b"ZADD".as_slice(), &k, b"1", b"a", b"2", b"b", b"3", b"c"]);
            b.push(&[b"ZINCRBY".as_slice(), &k, b"1", b"a"]);
            b.push(&[b"ZREM".as_slice(), &k, b"a", b"b", b"c"]);
        },
    );
}

/// A large (skiplist) sorted set: every ZADD path-copies both persistent trees and retires
/// the replaced nodes; overwriting scores 200,000 times, then building and deleting 20 more
/// such sorted sets (by DEL, ZREMRANGEBYRANK and FLUSHDB-free paths), must come back to the
/// baseline taken with the sorted set at full size.
#[test]
fn large_zset_writes_and_deletes_free_memory() {
    const MEMBERS: usize = 20_000;
    let s = Server::start();
    let mut c = s.raw();
    let fill = |c: &mut RawConn, key: &[u8], salt: &str| {
        repeat(c, 0..MEMBERS / 100, |b, chunk| {
            let vals: Vec<(Vec<u8>, Vec<u8>)> = (chunk * 100..chunk * 100 + 100)
                .map(|i| (((i * 7) % 1000).to_string().into_bytes(), value(salt, i)))
                .collect();
            let mut args: Vec<&[u8]> = vec![b"ZADD", key];
            for (s, m) in &vals {
                args.push(s);
                args.push(m);
            }
            b.push(&args);
        });
    };
    fill(&mut c, b"big", "first");
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "big"]), b"$8\r\nskiplist\r\n");
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..ITERATIONS, |b, i| {
        let m = value("first", i % MEMBERS);
        let score = (i % 5000).to_string().into_bytes();
        b.push(&[b"ZADD".as_slice(), b"big", &score, &m]);
    });
    for round in 0..20 {
        fill(&mut c, b"tmp", "tmp");
        assert_eq!(
            c.cmd(&["ZCARD", "tmp"]),
            format!(":{MEMBERS}\r\n").as_bytes(),
            "round {round}"
        );
        if round % 2 == 0 {
            assert_eq!(c.cmd(&["DEL", "tmp"]), b":1\r\n");
        } else {
            assert_eq!(
                c.cmd(&["ZREMRANGEBYRANK", "tmp", "0", "-1"]),
                format!(":{MEMBERS}\r\n").as_bytes()
            );
        }
    }
    assert_eq!(dbsize(&mut c), 1);
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "200,000 ZADDs into a 20,000-member sorted set and 20 such sorted sets deleted",
    );
}

/// The last version of a large sorted set dropped by DEL with nothing written after it is
/// freed at once (as for hashes).
#[test]
fn deleted_large_zset_is_freed_without_later_writes() {
    let s = Server::start();
    let mut c = s.raw();
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..1_000, |b, chunk| {
        let vals: Vec<(Vec<u8>, Vec<u8>)> = (chunk * 100..chunk * 100 + 100)
            .map(|i| (i.to_string().into_bytes(), value("big", i)))
            .collect();
        let mut args: Vec<&[u8]> = vec![b"ZADD", b"big"];
        for (s, m) in &vals {
            args.push(s);
            args.push(m);
        }
        b.push(&args);
    });
    assert_eq!(c.cmd(&["ZCARD", "big"]), b":100000\r\n");
    let grown = used_memory(&mut c);
    assert!(
        grown > baseline + 5 * MB,
        "100,000 members should be counted: baseline {baseline}, now {grown}"
    );
    assert_eq!(c.cmd(&["DEL", "big"]), b":1\r\n");
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "DEL of a 100,000-member sorted set",
    );
}

/// FLUSHALL of big sorted sets returns their memory.
#[test]
fn flushall_frees_large_zsets() {
    let s = Server::start();
    let mut c = s.raw();
    let baseline = used_memory(&mut c);
    for k in 0..5 {
        let key = format!("z{k}").into_bytes();
        repeat(&mut c, 0..200, |b, chunk| {
            let vals: Vec<(Vec<u8>, Vec<u8>)> = (chunk * 100..chunk * 100 + 100)
                .map(|i| ((i % 77).to_string().into_bytes(), value("fl", i)))
                .collect();
            let mut args: Vec<&[u8]> = vec![b"ZADD", &key];
            for (s, m) in &vals {
                args.push(s);
                args.push(m);
            }
            b.push(&args);
        });
    }
    assert_eq!(dbsize(&mut c), 5);
    assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "FLUSHALL of five 20,000-member sorted sets",
    );
}

/// Pipelined writes to one collection key run under one latch, changing a private copy in
/// place (runs on one key): 200,000 pushes and pops, adds and removes on a list, a set, a hash
/// and a sorted set leave nothing behind once the keys are deleted.
#[test]
fn pipelined_collection_writes_on_one_key_free_their_copies() {
    let s = Server::start();
    let mut c = s.raw();
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..200_000, |b, i| {
        let v = value("run", i);
        let m = value("run", i % 5_000);
        // Sixteen consecutive commands on one key, so the batch forms runs on it.
        let add = i % 2 == 0;
        let old = value("run", (i + 7) % 5_000);
        match (i / 16 % 4, add) {
            (0, true) => b.push(&[b"RPUSH".as_slice(), b"l", &v]),
            (0, false) => b.push(&[b"LPOP".as_slice(), b"l"]),
            (1, true) => b.push(&[b"SADD".as_slice(), b"s", &m]),
            (1, false) => b.push(&[b"SREM".as_slice(), b"s", &old]),
            (2, true) => b.push(&[b"HSET".as_slice(), b"h", &m, &v]),
            (2, false) => b.push(&[b"HDEL".as_slice(), b"h", &old]),
            (_, true) => b.push(&[b"ZADD".as_slice(), b"z", b"1", &m]),
            (_, false) => b.push(&[b"ZREM".as_slice(), b"z", &old]),
        }
    });
    // The list ends empty (each push is popped next); the others keep members.
    assert_eq!(c.cmd_parsed(&["DEL", "l", "s", "h", "z"]).as_int(), Some(3));
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "200,000 pipelined collection writes on four keys, then DEL",
    );
}

/// Transactions give memory back: 100,000 MULTI/EXEC blocks overwriting 10,000 keys (their
/// latches are undoable, so a large hash is copied on write rather than changed in place),
/// each block after WATCHing an absent key (a registration in the keyspace, dropped by EXEC),
/// and every tenth block DISCARDed. Afterwards `used_memory` is back at the baseline taken
/// once the keys and the hash exist.
#[test]
fn transactions_give_memory_back() {
    const KEYS: usize = 10_000;
    let s = Server::start();
    let mut c = s.raw();
    repeat(&mut c, 0..KEYS, |b, i| {
        b.push(&[b"SET".as_slice(), &key("t", i), &value("first", i)])
    });
    repeat(&mut c, 0..2_000, |b, i| {
        b.push(&[b"HSET".as_slice(), b"big", &key("f", i), &value("h0", i)])
    });
    let baseline = used_memory(&mut c);
    repeat(&mut c, 0..100_000, |b, i| {
        b.push(&[b"WATCH".as_slice(), &key("absent", i)]);
        b.push(&[b"MULTI".as_slice()]);
        b.push(&[b"SET".as_slice(), &key("t", i % KEYS), &value("tx", i)]);
        b.push(&[
            b"HSET".as_slice(),
            b"big",
            &key("f", i % 2_000),
            &value("h", i),
        ]);
        if i % 10 == 9 {
            b.push(&[b"DISCARD".as_slice()]);
        } else {
            b.push(&[b"EXEC".as_slice()]);
        }
    });
    assert_eq!(dbsize(&mut c), KEYS as i64 + 1);
    // Block 99,998 ran (EXEC); key t:9999 is written only by blocks ending
    // in 9, all discarded, so it keeps its first value.
    let last = c.cmd_parsed(&["GET", "t:9998"]);
    assert_eq!(last.as_bytes(), Some(&value("tx", 99_998)[..]));
    let untouched = c.cmd_parsed(&["GET", "t:9999"]);
    assert_eq!(untouched.as_bytes(), Some(&value("first", 9_999)[..]));
    assert_returns_to(&mut c, baseline, BOUND, "100,000 transactions");
}
