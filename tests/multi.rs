//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! * Differential tests against a real redis-server 7.0: queuing, errors while queuing
//!   (EXECABORT), runtime errors inside EXEC, blocking commands, SELECT/SWAPDB/FLUSHDB inside a
//!   transaction, RESP3, and WATCH with a second client writing, deleting, expiring, flushing
//!   and swapping the watched keys (two connections on each side, same script).
//! * Concurrency on Ferrite alone, with 4 worker threads (more than this machine's cores, so
//!   transactions really run at once and running alone has other workers to stop): a bank of accounts moved between by MULTI/EXEC while readers
//!   sum every balance with MGET (never a partial transfer), optimistic WATCH increments from
//!   many clients (exact count), and transactions that run alone (FLUSHDB inside MULTI) racing
//!   ordinary writers.

mod common;

use common::{fmt_reply, Differential, RawConn, Server};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn diff_queuing_errors_and_replies() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        MULTI
        MULTI
        EXEC
        EXEC
        DISCARD
        MULTI
        SET a 1
        INCR a
        GET a
        EXEC
        MULTI
        EXEC
        MULTI
        FOO bar
        SET a 2
        EXEC
        GET a
        MULTI
        GET
        EXEC
        MULTI
        SHUTDOWN
        EXEC
        MULTI
        WATCH a
        SET a 3
        EXEC
        MULTI
        UNWATCH
        EXEC
        MULTI
        SET s 1
        LPUSH s 1
        INCR s
        HSET s f v
        EXEC
        MULTI
        SET q 1
        DISCARD
        EXEC
        EXISTS q
        MULTI
        SET q 1
        RESET
        EXEC
        EXISTS q
        WATCH
        UNWATCH
        RPUSH l a b c
        MULTI
        LPOP l
        BLPOP l 0
        BLPOP nothere 0
        BRPOPLPUSH nothere l 0
        BZPOPMIN nothere 0
        LRANGE l 0 -1
        EXEC
        MULTI
        SELECT 1
        SET k one
        SELECT 100
        SELECT x
        GET k
        EXEC
        GET k
        SELECT 1
        GET k
        DEL k
        SELECT 0
        MULTI
        SET m 1
        SWAPDB 0 1
        GET m
        SELECT 1
        GET m
        FLUSHDB
        DBSIZE
        SELECT 0
        EXEC
        DBSIZE
        MULTI
        SET z 1
        FLUSHALL
        SET y 2
        KEYS *
        EXEC
        @sorted KEYS *
        @unchecked HELLO 3
        MULTI
        SET r3 1
        HGETALL nohash
        ZSCORE nozset m
        EXEC
        SET w3 1
        WATCH w3
        SET w3 2
        MULTI
        GET w3
        EXEC
        @unchecked HELLO 2
        "#,
    );
}

#[test]
fn diff_watch_sees_what_redis_sees() {
    let mut d = Differential::new();
    d.check_two_clients(
        r#"
        # Untouched: EXEC runs. Touched by another client: nil.
        SET x 1
        WATCH x
        MULTI
        GET x
        EXEC
        WATCH x
        @2 SET x 2
        MULTI
        GET x
        EXEC
        # A write that changes nothing still counts; a read does not.
        WATCH x
        @2 GET x
        @2 EXISTS x
        MULTI
        PING
        EXEC
        WATCH x
        @2 SET x 2
        MULTI
        PING
        EXEC
        # The client's own writes before MULTI count too.
        WATCH x
        SET x 3
        MULTI
        PING
        EXEC
        # Deleted, renamed away, expired by command.
        WATCH x
        @2 DEL x
        MULTI
        PING
        EXEC
        SET x 1
        WATCH x
        @2 RENAME x x2
        MULTI
        PING
        EXEC
        SET x 1
        WATCH x
        @2 EXPIRE x 100
        MULTI
        PING
        EXEC
        # Absent keys: created, created and deleted again, left alone, touched in another db.
        DEL a
        WATCH a
        @2 SET a 1
        MULTI
        PING
        EXEC
        DEL a
        WATCH a
        @2 SET a 1
        @2 DEL a
        MULTI
        PING
        EXEC
        WATCH a
        @2 DEL a
        @2 EXPIRE a 10
        MULTI
        PING
        EXEC
        WATCH a
        @2 SELECT 1
        @2 SET a 1
        @2 SELECT 0
        MULTI
        PING
        EXEC
        # Several keys: one touched is enough; UNWATCH forgets; EXEC and DISCARD unwatch.
        SET b 1
        WATCH a b c
        @2 INCR b
        MULTI
        PING
        EXEC
        WATCH b
        UNWATCH
        @2 INCR b
        MULTI
        PING
        EXEC
        WATCH b
        MULTI
        PING
        DISCARD
        @2 INCR b
        MULTI
        PING
        EXEC
        WATCH b
        @2 INCR b
        MULTI
        PING
        EXEC
        @2 INCR b
        MULTI
        PING
        EXEC
        # WATCH remembers the database of each key.
        SELECT 2
        SET w 1
        WATCH w
        SELECT 0
        @2 SET w 2
        MULTI
        PING
        EXEC
        WATCH w
        @2 SELECT 2
        @2 SET w 3
        @2 SELECT 0
        MULTI
        PING
        EXEC
        # FLUSHDB and FLUSHALL touch watched keys that exist, not the absent ones.
        SET f 1
        WATCH f
        @2 FLUSHDB
        MULTI
        PING
        EXEC
        WATCH nof
        @2 FLUSHDB
        MULTI
        PING
        EXEC
        SET f 1
        WATCH f
        @2 FLUSHALL
        MULTI
        PING
        EXEC
        WATCH nof
        @2 FLUSHALL
        @2 SET nof 1
        MULTI
        PING
        EXEC
        # SWAPDB touches keys that exist on either side.
        SELECT 9
        SET sx 1
        WATCH sx
        @2 SWAPDB 9 10
        MULTI
        PING
        EXEC
        WATCH sx
        @2 SWAPDB 9 10
        MULTI
        PING
        EXEC
        WATCH nosx
        @2 SWAPDB 9 10
        MULTI
        PING
        EXEC
        SELECT 0
        @2 FLUSHALL
        # A key that expires after WATCH aborts; one already expired when watched does not,
        # unless it is written.
        SET e 1 PX 100
        WATCH e
        sleep 200
        MULTI
        PING
        EXEC
        SET e2 1 PX 10
        sleep 50
        WATCH e2
        @2 DEL e2
        MULTI
        PING
        EXEC
        SET e3 1 PX 10
        sleep 50
        WATCH e3
        @2 SET e3 2
        MULTI
        PING
        EXEC
        # A transaction's own writes do not abort it, and WATCH inside MULTI is refused.
        WATCH t
        MULTI
        SET t 1
        WATCH t
        EXEC
        GET t
        "#,
    );
}

/// Transfers between 100 accounts with MULTI/EXEC (DECRBY one, INCRBY another) from several
/// clients, while others read all balances with MGET: every read sums to the initial total.
#[test]
fn bank_transfers_are_atomic() {
    const ACCOUNTS: usize = 100;
    const START: i64 = 1000;
    let server = Server::with_args(&["--threads", "4"]);
    let mut setup = server.raw();
    for i in 0..ACCOUNTS {
        setup.cmd(&["SET", &format!("acct:{i}"), &START.to_string()]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let port = server.port();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            let reads = reads.clone();
            thread::spawn(move || {
                let mut c = RawConn::connect_port(port);
                let mut args = vec!["MGET".to_string()];
                args.extend((0..ACCOUNTS).map(|i| format!("acct:{i}")));
                while !stop.load(Ordering::Relaxed) {
                    let reply = common::Reply::from_raw(&c.cmd(&args));
                    let sum: i64 = reply
                        .as_array()
                        .expect("MGET array")
                        .iter()
                        .map(|r| {
                            std::str::from_utf8(r.as_bytes().expect("balance"))
                                .unwrap()
                                .parse::<i64>()
                                .unwrap()
                        })
                        .sum();
                    assert_eq!(sum, START * ACCOUNTS as i64, "MGET saw a partial transfer");
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            thread::spawn(move || {
                let mut c = RawConn::connect_port(port);
                let mut seed = w * 7919 + 1;
                for _ in 0..1500 {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let from = (seed >> 33) as usize % ACCOUNTS;
                    let to = (seed >> 17) as usize % ACCOUNTS;
                    let amount = (seed >> 50) % 50 + 1;
                    // Pipelined, so the transaction's commands arrive in one batch or several.
                    let mut pipe = Vec::new();
                    pipe.extend(common::encode_command(&["MULTI"]));
                    pipe.extend(common::encode_command(&[
                        "DECRBY",
                        &format!("acct:{from}"),
                        &amount.to_string(),
                    ]));
                    pipe.extend(common::encode_command(&[
                        "INCRBY",
                        &format!("acct:{to}"),
                        &amount.to_string(),
                    ]));
                    pipe.extend(common::encode_command(&["EXEC"]));
                    c.send_raw(&pipe);
                    for _ in 0..3 {
                        c.read_reply();
                    }
                    let exec = c.read_reply();
                    assert!(exec.starts_with(b"*2\r\n:"), "EXEC: {}", fmt_reply(&exec));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    let mut args = vec!["MGET".to_string()];
    args.extend((0..ACCOUNTS).map(|i| format!("acct:{i}")));
    let total: i64 = common::Reply::from_raw(&setup.cmd(&args))
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            std::str::from_utf8(r.as_bytes().unwrap())
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, START * ACCOUNTS as i64);
}

/// Optimistic increments: GET under WATCH, then SET the value plus one in MULTI/EXEC, retried
/// while EXEC returns nil. Every client's increments land exactly once.
#[test]
fn watch_increments_are_exact() {
    const CLIENTS: usize = 6;
    const EACH: usize = 300;
    let server = Server::with_args(&["--threads", "4"]);
    let port = server.port();
    let aborts = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let aborts = aborts.clone();
            thread::spawn(move || {
                let mut c = RawConn::connect_port(port);
                for _ in 0..EACH {
                    loop {
                        c.cmd(&["WATCH", "counter"]);
                        let cur = common::Reply::from_raw(&c.cmd(&["GET", "counter"]));
                        let n: u64 = cur
                            .as_bytes()
                            .map_or(0, |b| std::str::from_utf8(b).unwrap().parse().unwrap());
                        c.cmd(&["MULTI"]);
                        c.cmd(&["SET", "counter", &(n + 1).to_string()]);
                        let exec = c.cmd(&["EXEC"]);
                        if exec == b"*1\r\n+OK\r\n" {
                            break;
                        }
                        assert_eq!(exec, b"*-1\r\n", "EXEC: {}", fmt_reply(&exec));
                        aborts.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.raw();
    let total = (CLIENTS * EACH).to_string();
    assert_eq!(
        c.cmd(&["GET", "counter"]),
        format!("${}\r\n{}\r\n", total.len(), total).into_bytes()
    );
    eprintln!("aborted and retried: {}", aborts.load(Ordering::Relaxed));
}

/// A transaction that runs alone (FLUSHDB inside MULTI stops every other client) races
/// clients writing pairs of keys with MSET: the transaction counts the keys, flushes, and
/// writes a marker, and no writer's pair is ever split by it; other clients keep being served.
#[test]
fn transactions_that_run_alone_stop_everyone_else() {
    let server = Server::with_args(&["--threads", "4"]);
    let port = server.port();
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let stop = stop.clone();
            let writes = writes.clone();
            thread::spawn(move || {
                let mut c = RawConn::connect_port(port);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = format!("{w}:{i}");
                    let r = c.cmd(&["MSET", &format!("p{w}a"), &v, &format!("p{w}b"), &v]);
                    assert_eq!(r, b"+OK\r\n");
                    i += 1;
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut c = server.raw();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut rounds = 0;
    while Instant::now() < deadline || rounds < 20 {
        c.cmd(&["MULTI"]);
        for w in 0..3 {
            c.cmd(&["MGET", &format!("p{w}a"), &format!("p{w}b")]);
        }
        c.cmd(&["FLUSHDB"]);
        c.cmd(&["DBSIZE"]);
        let exec = common::Reply::from_raw(&c.cmd(&["EXEC"]));
        let items = exec.as_array().expect("EXEC array");
        for pair in &items[..3] {
            let pair = pair.as_array().unwrap();
            assert_eq!(pair[0], pair[1], "a pair was split: {exec}");
        }
        assert_eq!(
            items[4].as_int(),
            Some(0),
            "a write landed inside the transaction: {exec}"
        );
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(writes.load(Ordering::Relaxed) > 0);
}
