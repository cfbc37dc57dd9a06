//! Runs on one key (`server::connection::runs`): consecutive pipelined requests on one key
//! execute under one latch of that key. Nothing about them may differ from Redis, which runs
//! every command on its own:
//!
//! * hand-written pipelines on one key, each compared reply by reply with redis-server
//!   (type changes, WRONGTYPE in the middle, deletes followed by writes, TTLs, encodings);
//! * a client blocked on the key is served right after the push that fed it, as Redis serves
//!   it after each command, before the pipeline's next command can take the element;
//! * a command that panics in the middle of a run leaves the key as before the run and sends
//!   none of the run's replies (needs the `test-commands` feature, as `panic_safety.rs`);
//! * many clients pipelining to the same keys on 4 worker threads: exact totals, every element
//!   exactly once, and a reader never sees a counter go back.
//!
//! The random differential generator covers runs too (`differential_random.rs`, pipelined).

mod common;

use common::{encode_command, Compare, Differential, Reply, Server};
use std::time::{Duration, Instant};

fn args(line: &str) -> Vec<Vec<u8>> {
    common::split_args(line).expect("a valid command line")
}

/// Sends each group of lines (separated by blank lines) as one pipeline to both servers.
fn check_pipelines(diff: &mut Differential, script: &str) {
    for group in script.split("\n\n") {
        let cmds: Vec<(Vec<Vec<u8>>, Compare)> = group
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| (args(l), Compare::Exact))
            .collect();
        if !cmds.is_empty() {
            diff.check_pipeline(&cmds);
        }
    }
}

#[test]
fn pipelines_on_one_key_reply_as_redis() {
    let mut diff = Differential::with_args(&["--threads", "2"], &[]);
    check_pipelines(
        &mut diff,
        "
        RPUSH q a b c
        LPUSH q z
        LPOP q
        RPOP q 2
        LLEN q
        LRANGE q 0 -1
        LPOP q
        LPOP q
        EXISTS q
        RPUSH q again
        LRANGE q 0 -1

        SET s 10
        INCR s
        INCRBY s 5
        APPEND s x
        INCR s
        GET s
        SET s v EX 100
        DEL s
        SET s w KEEPTTL
        TTL s
        SET s v EX 100
        GETDEL s
        SET s w KEEPTTL
        TTL s
        EXPIRE s 50
        PERSIST s
        TTL s

        SADD st 1 2 3
        OBJECT ENCODING st
        SADD st x
        OBJECT ENCODING st
        SREM st 1 2 3 x
        EXISTS st
        SADD st 5
        OBJECT ENCODING st
        SCARD st
        SPOP st
        EXISTS st

        HSET h a 1 b 2
        HINCRBY h a 10
        HINCRBY h b x
        HINCRBYFLOAT h a 0.5
        HGET h a
        HSETNX h a 9
        HSETNX h c 3
        HDEL h a b c
        EXISTS h
        HSET h f v
        HGETALL h

        ZADD z 1 a 2 b
        ZINCRBY z 5 a
        ZADD z XX CH 0 b 7 c
        ZRANGE z 0 -1 WITHSCORES
        ZADD z INCR inf a
        ZADD z INCR -inf a
        ZPOPMIN z
        ZPOPMAX z 5
        EXISTS z
        ZADD z 3 m

        RPUSH mixed a
        SET mixed plain
        LPUSH mixed b
        GET mixed
        TYPE mixed
        DEL mixed
        LPUSH mixed b
        TYPE mixed
        SADD mixed x
        LRANGE mixed 0 -1
        EXPIREAT mixed 4000000000
        PEXPIRETIME mixed
        ",
    );
    // Fill a list past its first node, a set past the intset limit, a hash and a sorted set
    // past their listpack limits, all in pipelines of single-element writes on one key.
    let mut big = Vec::new();
    for i in 0..700 {
        big.push((args(&format!("RPUSH bl e{i}")), Compare::Exact));
        big.push((args(&format!("SADD bs {i}")), Compare::Exact));
        big.push((args(&format!("HSET bh f{i} {i}")), Compare::Exact));
        big.push((args(&format!("ZADD bz {i} m{i}")), Compare::Exact));
    }
    big.sort_by(|a, b| a.0[1].cmp(&b.0[1]));
    for chunk in big.chunks(100) {
        diff.check_pipeline(chunk);
    }
    check_pipelines(
        &mut diff,
        "
        OBJECT ENCODING bl
        OBJECT ENCODING bs
        OBJECT ENCODING bh
        OBJECT ENCODING bz
        LLEN bl
        LINDEX bl 650
        ZRANK bz m650
        ZSCORE bz m650
        HGET bh f650
        SISMEMBER bs 650
        DUMP bl
        DUMP bz
        ",
    );
}

/// Waits until `n` clients are blocked on the server behind `conn`.
fn wait_blocked(conn: &mut common::RawConn, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = conn.cmd(&["INFO", "clients"]);
        let text = String::from_utf8_lossy(&info);
        if text.contains(&format!("blocked_clients:{n}\r")) {
            return;
        }
        assert!(Instant::now() < deadline, "no {n} blocked clients: {text}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blocked_clients_are_served_between_commands_of_a_run() {
    let mut diff = Differential::with_args(&["--threads", "2"], &[]);
    let (mut fb, mut rb) = diff.new_conns();
    let (mut fw, mut rw) = diff.new_conns();
    fb.send(&["BLPOP", "q", "10"]);
    rb.send(&["BLPOP", "q", "10"]);
    wait_blocked(&mut fw, 1);
    wait_blocked(&mut rw, 1);
    // The waiter must get `a` from the first RPUSH, before LPOP can take anything.
    check_pipelines(
        &mut diff,
        "
        RPUSH q a b
        LPOP q
        LLEN q
        RPUSH q c
        LRANGE q 0 -1
        ",
    );
    let (f, r) = (fb.read_reply(), rb.read_reply());
    assert_eq!(f, r);
    assert_eq!(
        Reply::from_raw(&r),
        Reply::Array(vec![Reply::Bulk(b"q".to_vec()), Reply::Bulk(b"a".to_vec())])
    );
    // A BLMOVE waiter fed by a run on its source: served after that command too.
    fb.send(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "10"]);
    rb.send(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "10"]);
    wait_blocked(&mut fw, 1);
    wait_blocked(&mut rw, 1);
    check_pipelines(
        &mut diff,
        "
        LPUSH src x
        LPUSH src y
        RPOP src
        LLEN src
        LRANGE dst 0 -1
        ",
    );
    let (f, r) = (fb.read_reply(), rb.read_reply());
    assert_eq!(f, r);
    assert_eq!(Reply::from_raw(&r), Reply::Bulk(b"x".to_vec()));
}

#[test]
#[cfg_attr(
    not(feature = "test-commands"),
    ignore = "needs the test-only command: cargo test --features test-commands"
)]
fn a_panic_in_a_run_rolls_back_the_run_and_sends_none_of_its_replies() {
    let srv = Server::with_args(&["--threads", "2"]);
    let mut other = srv.raw();
    assert_eq!(
        other.cmd_parsed(&["RPUSH", "k", "before"]),
        Reply::Integer(1)
    );
    for (i, panic_first) in [false, true].into_iter().enumerate() {
        let mut victim = srv.raw();
        assert_eq!(victim.cmd_parsed(&["PING"]), Reply::Simple("PONG".into()));
        let mut bytes = Vec::new();
        if !panic_first {
            bytes.extend(encode_command(&["RPUSH", "k", "a"]));
            bytes.extend(encode_command(&["RPUSH", "k", "b"]));
            bytes.extend(encode_command(&["EXPIRE", "k", "100"]));
        }
        bytes.extend(encode_command(&["FERRITE-TEST-PANIC-RPUSH", "k", "c"]));
        bytes.extend(encode_command(&["RPUSH", "k", "after"]));
        victim.send_panicking_run(&bytes, &format!("case {i}: "));
        assert_eq!(
            other.cmd_parsed(&["LRANGE", "k", "0", "-1"]),
            Reply::Array(vec![Reply::Bulk(b"before".to_vec())]),
            "case {i}: the key is as before the run"
        );
        assert_eq!(other.cmd_parsed(&["TTL", "k"]), Reply::Integer(-1));
        // The latch was released.
        assert_eq!(
            srv.raw().cmd_parsed(&["RPUSH", "k", "x"]),
            Reply::Integer(2)
        );
        assert_eq!(other.cmd_parsed(&["RPOP", "k"]), Reply::Bulk(b"x".to_vec()));
    }
    let log = srv.log();
    assert!(
        log.contains("pipelined run") && log.contains("ferrite-test-panic-rpush"),
        "panic logged:\n{log}"
    );
}

#[test]
fn concurrent_pipelined_runs_give_exact_totals() {
    let srv = Server::with_args(&["--threads", "4"]);
    const CLIENTS: usize = 6;
    const BATCHES: usize = 100;
    const RUN: usize = 16;
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut conn = srv.raw();
            let mut last = (0, 0, 0);
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                let n = conn
                    .cmd_parsed(&["GET", "counter"])
                    .as_bytes()
                    .map_or(0, |b| {
                        String::from_utf8_lossy(b).parse::<i64>().expect("a number")
                    });
                let len = conn.cmd_parsed(&["LLEN", "queue"]).as_int().expect("LLEN");
                let h = conn
                    .cmd_parsed(&["HGET", "h", "f"])
                    .as_bytes()
                    .map_or(0, |b| {
                        String::from_utf8_lossy(b).parse::<i64>().expect("a number")
                    });
                assert!(n >= last.0 && len >= last.1 && h >= last.2, "went back");
                last = (n, len, h);
                reads += 1;
            }
            reads
        });
        let writers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let srv = &srv;
                s.spawn(move || {
                    let mut conn = srv.raw();
                    for b in 0..BATCHES {
                        let mut bytes = Vec::new();
                        for _ in 0..RUN {
                            bytes.extend(encode_command(&["INCR", "counter"]));
                        }
                        for i in 0..RUN {
                            let e = format!("{c}:{b}:{i}");
                            bytes.extend(encode_command(&["RPUSH", "queue", &e]));
                        }
                        for _ in 0..RUN {
                            bytes.extend(encode_command(&["HINCRBY", "h", "f", "1"]));
                            bytes.extend(encode_command(&["ZINCRBY", "z", "1", "m"]));
                        }
                        conn.send_raw(&bytes);
                        for _ in 0..RUN * 4 {
                            let r = conn.read_parsed();
                            assert!(!r.is_error(), "{r:?}");
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        assert!(reader.join().expect("reader") > 0);
    });
    let mut conn = srv.raw();
    let total = (CLIENTS * BATCHES * RUN) as i64;
    assert_eq!(
        conn.cmd_parsed(&["GET", "counter"]),
        Reply::Bulk(total.to_string().into_bytes())
    );
    assert_eq!(
        conn.cmd_parsed(&["HGET", "h", "f"]),
        Reply::Bulk(total.to_string().into_bytes())
    );
    assert_eq!(
        conn.cmd_parsed(&["ZSCORE", "z", "m"]),
        Reply::Bulk(total.to_string().into_bytes())
    );
    let Reply::Array(items) = conn.cmd_parsed(&["LRANGE", "queue", "0", "-1"]) else {
        panic!("LRANGE")
    };
    assert_eq!(items.len() as i64, total);
    let mut seen = std::collections::HashSet::new();
    for it in &items {
        assert!(
            seen.insert(it.as_bytes().expect("bulk").to_vec()),
            "{it:?} twice"
        );
    }
    // Each client's elements are in its own order.
    for c in 0..CLIENTS {
        let mine: Vec<String> = items
            .iter()
            .map(|r| String::from_utf8_lossy(r.as_bytes().unwrap()).into_owned())
            .filter(|s| s.starts_with(&format!("{c}:")))
            .collect();
        let want: Vec<String> = (0..BATCHES)
            .flat_map(|b| (0..RUN).map(move |i| format!("{c}:{b}:{i}")))
            .collect();
        assert_eq!(mine, want, "client {c}'s pushes in order");
    }
}
