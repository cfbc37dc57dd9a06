//! Concurrency tests against the real binary: many connections at once, each
//! checking an invariant that only holds if every command is atomic.
//!
//! Each test runs a bounded number of operations (and stops early at a time
//! limit), so it finishes in a few seconds even on a loaded 2-core machine.
//! The server runs with more worker threads than this machine has cores, so
//! commands are preempted mid-way as well as run in parallel.

mod common;

use common::{RawConn, Reply, Server};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Wall-clock budget of each test's concurrent phase.
const PHASE: Duration = Duration::from_secs(4);

fn server() -> Server {
    Server::with_args(&["--threads", "4"])
}

/// Sends every command, then reads every reply (one round trip for all).
fn pipeline(conn: &mut RawConn, cmds: &[Vec<Vec<u8>>]) -> Vec<Reply> {
    let mut bytes = Vec::new();
    for c in cmds {
        bytes.extend_from_slice(&common::encode_command(c));
    }
    conn.send_raw(&bytes);
    cmds.iter()
        .map(|_| Reply::from_raw(&conn.read_reply()))
        .collect()
}

fn call(conn: &mut RawConn, args: &[&[u8]]) -> Reply {
    conn.send(args);
    Reply::from_raw(&conn.read_reply())
}

fn cmd(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

fn is_ok(r: &Reply) -> bool {
    matches!(r, Reply::Simple(s) if s == "OK")
}

/// (a) 8 connections × 2000 INCR on 4 shared counters, pipelined, while the
/// same connections SET/GET/DEL private keys and a shared scratch key.
/// Every INCR reply is distinct per counter (no two increments saw the same
/// value) and each counter ends at exactly the number of increments.
#[test]
fn incr_on_overlapping_keys_loses_nothing() {
    const CLIENTS: usize = 8;
    const INCRS: usize = 2000;
    const COUNTERS: usize = 4;
    const BATCH: usize = 25;
    let srv = server();
    let start = Barrier::new(CLIENTS);
    let replies: Vec<Vec<Vec<i64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (srv, start) = (&srv, &start);
                s.spawn(move || {
                    let mut conn = srv.raw();
                    let mut seen = vec![Vec::new(); COUNTERS];
                    start.wait();
                    for batch in 0..INCRS / BATCH {
                        let mut cmds = Vec::new();
                        for j in 0..BATCH {
                            let i = batch * BATCH + j;
                            let counter = format!("counter:{}", (i + c) % COUNTERS);
                            cmds.push(cmd(&[b"INCR", counter.as_bytes()]));
                        }
                        let own = format!("own:{c}:{}", batch % 10);
                        let val = format!("v{c}-{batch}");
                        cmds.push(cmd(&[b"SET", own.as_bytes(), val.as_bytes()]));
                        cmds.push(cmd(&[b"GET", own.as_bytes()]));
                        cmds.push(cmd(&[b"SET", b"scratch", val.as_bytes()]));
                        cmds.push(cmd(&[b"GET", b"scratch"]));
                        if batch % 2 == 0 {
                            cmds.push(cmd(&[b"DEL", own.as_bytes()]));
                            cmds.push(cmd(&[b"DEL", b"scratch"]));
                        }
                        let r = pipeline(&mut conn, &cmds);
                        for (j, reply) in r[..BATCH].iter().enumerate() {
                            let i = batch * BATCH + j;
                            let n = reply
                                .as_int()
                                .unwrap_or_else(|| panic!("INCR replied {reply}"));
                            seen[(i + c) % COUNTERS].push(n);
                        }
                        assert!(is_ok(&r[BATCH]), "SET replied {}", r[BATCH]);
                        assert_eq!(
                            r[BATCH + 1].as_bytes(),
                            Some(val.as_bytes()),
                            "GET of own key"
                        );
                        assert!(is_ok(&r[BATCH + 2]));
                        match &r[BATCH + 3] {
                            Reply::Bulk(b) => assert!(b.starts_with(b"v"), "scratch torn: {b:?}"),
                            Reply::NullBulk => {}
                            other => panic!("GET scratch replied {other}"),
                        }
                        if batch % 2 == 0 {
                            assert_eq!(r[BATCH + 4].as_int(), Some(1), "DEL of own key");
                            assert!(matches!(r[BATCH + 5].as_int(), Some(0 | 1)));
                        }
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let per_counter = (CLIENTS * INCRS / COUNTERS) as i64;
    let mut conn = srv.raw();
    for k in 0..COUNTERS {
        let mut all: Vec<i64> = replies.iter().flat_map(|r| r[k].iter().copied()).collect();
        all.sort_unstable();
        let expected: Vec<i64> = (1..=per_counter).collect();
        assert!(
            all == expected,
            "counter:{k}: INCR replies are not exactly 1..={per_counter}"
        );
        let key = format!("counter:{k}");
        let v = call(&mut conn, &[b"GET", key.as_bytes()]);
        assert_eq!(v.as_bytes(), Some(per_counter.to_string().as_bytes()));
    }
}

/// Runs `work(id, conn)` on `n` threads with their own connection until it
/// returns false, `PHASE` passes, or `stop` is set.
fn run_clients<F>(srv: &Server, n: usize, stop: &AtomicBool, work: F)
where
    F: Fn(usize, &mut RawConn) -> bool + Sync,
{
    let deadline = Instant::now() + PHASE;
    std::thread::scope(|s| {
        for id in 0..n {
            let work = &work;
            s.spawn(move || {
                let mut conn = srv.raw();
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    if !work(id, &mut conn) {
                        break;
                    }
                }
            });
        }
    });
}

/// (b) Writers MSET two keys (in both argument orders) to a value unique to
/// the writer and iteration; readers MGET both: a reader never sees the two
/// keys from different MSETs.
#[test]
fn mget_never_sees_half_of_an_mset() {
    const WRITERS: usize = 4;
    const READERS: usize = 4;
    const ROUNDS: u64 = 1500;
    let srv = server();
    let stop = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let done_writers = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let counter = AtomicU64::new(0);
            run_clients(&srv, WRITERS, &stop, |id, conn| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let v = format!("w{id}-{n}");
                let (a, b) = if id % 2 == 0 {
                    (&b"k1"[..], &b"k2"[..])
                } else {
                    (&b"k2"[..], &b"k1"[..])
                };
                let r = call(conn, &[b"MSET", a, v.as_bytes(), b, v.as_bytes()]);
                assert!(is_ok(&r), "MSET replied {r}");
                n < ROUNDS * WRITERS as u64
            });
            done_writers.store(1, Ordering::Relaxed);
        });
        s.spawn(|| {
            run_clients(&srv, READERS, &stop, |_, conn| {
                let r = call(conn, &[b"MGET", b"k1", b"k2"]);
                let items = r.as_array().unwrap_or_else(|| panic!("MGET replied {r}"));
                reads.fetch_add(1, Ordering::Relaxed);
                assert!(
                    items[0] == items[1],
                    "MGET saw two different MSETs: {} / {}",
                    items[0],
                    items[1]
                );
                done_writers.load(Ordering::Relaxed) == 0
            });
        });
    });
    assert!(reads.load(Ordering::Relaxed) > 0);
}

/// (c) One value is renamed back and forth between `a` and `b` by several
/// clients while others ask `EXISTS a b` (atomic over both keys): the answer
/// is always 1, and in the end exactly one name holds the original value.
#[test]
fn rename_back_and_forth_never_loses_the_value() {
    let srv = server();
    let mut conn = srv.raw();
    assert!(is_ok(&call(&mut conn, &[b"SET", b"a", b"payload"])));
    let stop = AtomicBool::new(false);
    let renames = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            run_clients(&srv, 4, &stop, |id, conn| {
                let (from, to) = if id % 2 == 0 {
                    (&b"a"[..], &b"b"[..])
                } else {
                    (&b"b"[..], &b"a"[..])
                };
                match call(conn, &[b"RENAME", from, to]) {
                    r if is_ok(&r) => {
                        renames.fetch_add(1, Ordering::Relaxed);
                    }
                    Reply::Error(e) if e == "ERR no such key" => {}
                    other => panic!("RENAME replied {other}"),
                }
                renames.load(Ordering::Relaxed) < 20_000
            });
        });
        s.spawn(|| {
            run_clients(&srv, 3, &stop, |_, conn| {
                let r = call(conn, &[b"EXISTS", b"a", b"b"]);
                assert_eq!(
                    r.as_int(),
                    Some(1),
                    "EXISTS a b saw the value under neither or both names"
                );
                true
            });
        });
        s.spawn(|| {
            // Stop the readers once the renamers are done.
            let deadline = Instant::now() + PHASE;
            while renames.load(Ordering::Relaxed) < 20_000 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    assert!(renames.load(Ordering::Relaxed) > 0, "no RENAME succeeded");
    let a = call(&mut conn, &[b"GET", b"a"]);
    let b = call(&mut conn, &[b"GET", b"b"]);
    let values: Vec<&Reply> = [&a, &b]
        .into_iter()
        .filter(|r| **r != Reply::NullBulk)
        .collect();
    assert_eq!(values.len(), 1, "a={a} b={b}");
    assert_eq!(values[0].as_bytes(), Some(&b"payload"[..]));
}

/// A value in a self-checking format: its number, then that many bytes.
fn checked_value(n: u64) -> Vec<u8> {
    let mut v = format!("{n}:").into_bytes();
    v.extend(std::iter::repeat_n(b'x', (n % 200) as usize));
    v
}

fn is_checked_value(v: &[u8]) -> bool {
    let Some(colon) = v.iter().position(|&b| b == b':') else {
        return false;
    };
    let Ok(n) = std::str::from_utf8(&v[..colon])
        .unwrap_or("")
        .parse::<u64>()
    else {
        return false;
    };
    v[colon + 1..].len() == (n % 200) as usize && v[colon + 1..].iter().all(|&b| b == b'x')
}

/// COPY under concurrent overwrites of the source (and of the destination
/// by other copies): every COPY finds the source, and every value read at
/// the destination is one whole value some writer wrote.
#[test]
fn copy_under_concurrent_overwrites() {
    let srv = server();
    let mut conn = srv.raw();
    assert!(is_ok(&call(
        &mut conn,
        &[b"SET", b"src", &checked_value(0)]
    )));
    let stop = AtomicBool::new(false);
    let counter = AtomicU64::new(1);
    let copies = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            run_clients(&srv, 3, &stop, |_, conn| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                assert!(is_ok(&call(conn, &[b"SET", b"src", &checked_value(n)])));
                n < 20_000
            });
        });
        s.spawn(|| {
            run_clients(&srv, 3, &stop, |_, conn| {
                let r = call(conn, &[b"COPY", b"src", b"dst", b"REPLACE"]);
                assert_eq!(r.as_int(), Some(1), "COPY src dst REPLACE replied {r}");
                let v = call(conn, &[b"GET", b"dst"]);
                let bytes = v
                    .as_bytes()
                    .unwrap_or_else(|| panic!("GET dst replied {v}"));
                assert!(is_checked_value(bytes), "dst holds a torn value: {v}");
                copies.fetch_add(1, Ordering::Relaxed) < 10_000
            });
        });
        s.spawn(|| {
            // Without REPLACE, COPY to an existing key must refuse, atomically.
            run_clients(&srv, 1, &stop, |_, conn| {
                let r = call(conn, &[b"COPY", b"src", b"dst"]);
                assert!(matches!(r.as_int(), Some(0 | 1)), "COPY replied {r}");
                copies.load(Ordering::Relaxed) < 10_000
            });
        });
    });
    assert!(copies.load(Ordering::Relaxed) > 0);
    let v = call(&mut conn, &[b"GET", b"dst"]);
    assert!(is_checked_value(v.as_bytes().expect("dst exists")));
}

/// SWAPDB 0 1 repeated while clients read and write in both databases.
/// Each database holds its own keys plus the same `both:*` keys, which the
/// writers overwrite with plain SET (so no write ever creates a key). A
/// database is always one whole keyspace (DBSIZE is one of the two sizes, a
/// multi-key EXISTS over one database's own keys is all or nothing), and
/// after the storm no key was created or lost.
#[test]
fn swapdb_conserves_keys() {
    const N0: usize = 40;
    const N1: usize = 25;
    const BOTH: usize = 5;
    let srv = server();
    let mut conn = srv.raw();
    let names = |prefix: &str, n: usize| -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("{prefix}:{i}").into_bytes())
            .collect()
    };
    let (d0, d1, both) = (names("d0", N0), names("d1", N1), names("both", BOTH));
    for (db, keys) in [(&b"0"[..], &d0), (&b"1"[..], &d1)] {
        assert!(is_ok(&call(&mut conn, &[b"SELECT", db])));
        for k in keys.iter().chain(&both) {
            assert!(is_ok(&call(&mut conn, &[b"SET", k, b"init"])));
        }
    }
    let sizes = [(N0 + BOTH) as i64, (N1 + BOTH) as i64];
    let stop = AtomicBool::new(false);
    let swaps = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            run_clients(&srv, 2, &stop, |_, conn| {
                let r = call(conn, &[b"SWAPDB", b"0", b"1"]);
                assert!(is_ok(&r), "SWAPDB replied {r}");
                swaps.fetch_add(1, Ordering::Relaxed) < 20_000
            });
        });
        s.spawn(|| {
            run_clients(&srv, 4, &stop, |id, conn| {
                let db: &[u8] = if id % 2 == 0 { b"0" } else { b"1" };
                assert!(is_ok(&call(conn, &[b"SELECT", db])));
                let size = call(conn, &[b"DBSIZE"]).as_int().expect("DBSIZE");
                assert!(sizes.contains(&size), "DBSIZE {size}: not one of {sizes:?}");
                for keys in [&d0, &d1] {
                    let mut args: Vec<&[u8]> = vec![b"EXISTS"];
                    args.extend(keys.iter().map(|k| k.as_slice()));
                    let n = call(conn, &args).as_int().expect("EXISTS");
                    assert!(
                        n == 0 || n == keys.len() as i64,
                        "EXISTS over one database's keys = {n}"
                    );
                }
                let key = &both[id % BOTH];
                assert!(is_ok(&call(
                    conn,
                    &[b"SET", key, format!("w{id}").as_bytes()]
                )));
                let g = call(conn, &[b"GET", key]);
                assert!(
                    matches!(g, Reply::Bulk(_)),
                    "GET {} replied {g}",
                    String::from_utf8_lossy(key)
                );
                swaps.load(Ordering::Relaxed) < 20_000
            });
        });
    });
    assert!(swaps.load(Ordering::Relaxed) > 0);
    let mut found: Vec<HashSet<Vec<u8>>> = Vec::new();
    for db in [&b"0"[..], &b"1"[..]] {
        assert!(is_ok(&call(&mut conn, &[b"SELECT", db])));
        let r = call(&mut conn, &[b"KEYS", b"*"]);
        found.push(
            r.as_array()
                .expect("KEYS")
                .iter()
                .map(|k| k.as_bytes().unwrap().to_vec())
                .collect(),
        );
    }
    let expect =
        |own: &[Vec<u8>]| -> HashSet<Vec<u8>> { own.iter().chain(&both).cloned().collect() };
    let (e0, e1) = (expect(&d0), expect(&d1));
    assert!(
        (found[0] == e0 && found[1] == e1) || (found[0] == e1 && found[1] == e0),
        "keys were created, lost or mixed between the databases"
    );
}

/// DBSIZE must never count a key that does not exist, not even for an instant:
/// a write to a missing key that ends up writing nothing (SET ... XX) latches
/// a freshly inserted, empty slot, which must not be counted.
#[test]
fn dbsize_never_counts_a_key_that_does_not_exist() {
    let srv = server();
    let stop = AtomicBool::new(false);
    let phantoms = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            run_clients(&srv, 2, &stop, |_, conn| {
                let r = call(conn, &[b"SET", b"missing", b"v", b"XX"]);
                assert_eq!(r, Reply::NullBulk);
                true
            });
        });
        s.spawn(|| {
            run_clients(&srv, 1, &stop, |_, conn| {
                if call(conn, &[b"DBSIZE"]).as_int() != Some(0) {
                    phantoms.fetch_add(1, Ordering::Relaxed);
                }
                true
            });
            stop.store(true, Ordering::Relaxed);
        });
    });
    assert_eq!(
        phantoms.load(Ordering::Relaxed),
        0,
        "DBSIZE counted a key that never existed"
    );
}
