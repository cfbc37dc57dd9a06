//! The LIST command family (non-blocking): differential tests against a real redis-server
//! 7.0 (every command, option and error, compared exactly), RESP3 reply shapes, node-size
//! boundaries under CONFIG SET list-max-listpack-size (DUMP payloads compared byte for byte),
//! big lists, DUMP/RESTORE in both directions, and atomicity under concurrent clients.

mod common;

use common::{framed_payload, Differential, Reply};
use std::collections::HashSet;

#[test]
fn diff_basic_commands_and_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        RPUSH l a b c 1 2 3 -5 100000 hello 007 -0 9223372036854775807 -9223372036854775808
        LRANGE l 0 -1
        TYPE l
        OBJECT ENCODING l
        LLEN l
        LLEN nokey
        LPUSH l x y
        LPUSHX l z
        RPUSHX l w w2
        LPUSHX nokey z
        RPUSHX nokey z
        EXISTS nokey
        LRANGE l 0 -1
        LRANGE l -3 -1
        LRANGE l -100 2
        LRANGE l 5 3
        LRANGE l 100 200
        LRANGE l 0 -100
        LRANGE l -9223372036854775808 9223372036854775807
        LRANGE l x 1
        LRANGE l 1 x
        LRANGE nokey 0 -1
        LRANGE nokey x 1
        LINDEX l 0
        LINDEX l -1
        LINDEX l 5
        LINDEX l 100
        LINDEX l -100
        LINDEX l x
        LINDEX nokey x
        LINDEX nokey 0
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 3
        LPOP l 0
        RPOP l 0
        LPOP l -1
        LPOP l x
        LPOP l 1 2
        LPOP nokey
        LPOP nokey 2
        LPOP nokey 0
        LPOP nokey -1
        RPOP nokey 3
        LRANGE l 0 -1
        LPOP l 100
        EXISTS l
        RPUSH l a
        RPOP l 1
        EXISTS l
        RPUSH m a b a c a d a
        LPOS m a
        LPOS m a RANK 2
        LPOS m a RANK -1
        LPOS m a RANK -2 COUNT 2
        LPOS m a COUNT 0
        LPOS m a COUNT 0 RANK -1
        LPOS m a COUNT 2 RANK 2
        LPOS m a MAXLEN 1
        LPOS m a MAXLEN 1 COUNT 0
        LPOS m a RANK 2 MAXLEN 2
        LPOS m a RANK -1 MAXLEN 1
        LPOS m a RANK 9
        LPOS m a RANK 9 COUNT 0
        LPOS m zz
        LPOS m zz COUNT 1
        LPOS m a RANK 0
        LPOS m a RANK x
        LPOS m a RANK -9223372036854775807
        LPOS m a COUNT -1
        LPOS m a COUNT x
        LPOS m a MAXLEN -1
        LPOS m a MAXLEN x
        LPOS m a FOO
        LPOS m a COUNT
        LPOS m a rank 1 count 1 maxlen 0
        LPOS nokey a
        LPOS nokey a COUNT 2
        LPOS nokey a RANK 0
        LINSERT m BEFORE c X
        LINSERT m after d Y
        LINSERT m after a Z
        LINSERT m before zz Y
        LINSERT m middle d Y
        LINSERT nokey before a b
        LINSERT nokey middle a b
        LRANGE m 0 -1
        LREM m 2 a
        LRANGE m 0 -1
        LREM m -1 a
        LRANGE m 0 -1
        LREM m 0 X
        LREM m 0 zz
        LREM m x a
        LREM nokey 0 a
        LRANGE m 0 -1
        LSET m 0 S0
        LSET m -1 S1
        LSET m 1 12345
        LSET m 100 Z
        LSET m -100 Z
        LSET m x Z
        LSET nokey 0 Z
        LSET nokey x Z
        LRANGE m 0 -1
        LTRIM m 1 -2
        LRANGE m 0 -1
        LTRIM m 0 100
        LRANGE m 0 -1
        LTRIM m -2 -1
        LRANGE m 0 -1
        LTRIM m x 1
        LTRIM nokey 0 1
        LTRIM m 5 1
        EXISTS m
        RPUSH r a b c
        LREM r 0 a
        LREM r 0 b
        LREM r 0 c
        EXISTS r
        RPUSH t a b c
        LTRIM t 3 10
        EXISTS t
        SET str v
        LPUSH str a
        RPUSH str a
        LPUSHX str a
        RPUSHX str a
        LPOP str
        RPOP str 2
        LLEN str
        LINDEX str 0
        LINDEX str x
        LSET str 0 a
        LRANGE str 0 1
        LTRIM str 0 1
        LREM str 0 a
        LINSERT str before a b
        LPOS str a
        LMOVE str x left left
        RPOPLPUSH str x
        LMPOP 1 str left
        GET str
        LPUSH
        LPUSH l
        RPUSH l
        LPOP
        LLEN
        LINDEX l
        LSET l 0
        LRANGE l 0
        LTRIM l 0
        LREM l 0
        LINSERT l before a
        LPOS l
        LMOVE a b left
        RPOPLPUSH a
        LMPOP 1 a
        "#,
    );
}

#[test]
fn diff_move_and_mpop() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        RPUSH a 1 2 3 4 5
        LMOVE a b left right
        LMOVE a b right left
        LMOVE a b LEFT LEFT
        LMOVE a b Right Right
        LRANGE a 0 -1
        LRANGE b 0 -1
        LMOVE a a left right
        LRANGE a 0 -1
        LMOVE a a right left
        LRANGE a 0 -1
        LMOVE a b middle left
        LMOVE a b left middle
        LMOVE nokey b left left
        LMOVE nokey b middle left
        RPOPLPUSH a b
        RPOPLPUSH a a
        LRANGE a 0 -1
        LRANGE b 0 -1
        RPOPLPUSH nokey b
        EXISTS nokey
        SET str v
        LMOVE nokey str left left
        LMOVE a str left left
        LMOVE str a left left
        RPOPLPUSH a str
        LRANGE a 0 -1
        RPUSH one x
        RPOPLPUSH one dst
        EXISTS one
        LRANGE dst 0 -1
        LMPOP 1 b left
        LMPOP 1 b right COUNT 2
        LMPOP 2 nokey b LEFT COUNT 100
        EXISTS b
        LMPOP 2 nokey b left
        LMPOP 2 nokey str left
        LMPOP 2 str nokey left
        RPUSH c 1 2 3
        LMPOP 2 c str left
        LMPOP 2 nokey c right count 1
        LMPOP 0 c left
        LMPOP -1 c left
        LMPOP x c left
        LMPOP 9223372036854775807 c left
        LMPOP 3 c left
        LMPOP 1 c middle
        LMPOP 1 c left count
        LMPOP 1 c left count 0
        LMPOP 1 c left count -1
        LMPOP 1 c left count x
        LMPOP 1 c left count 1 count 1
        LMPOP 1 c left foo
        LMPOP 2 c c left count 5
        EXISTS c
        COMMAND GETKEYS LMPOP 2 a b left
        COMMAND GETKEYS LMPOP 1 a right count 2
        COMMAND GETKEYS LMOVE a b left right
        COMMAND GETKEYS RPOPLPUSH a b
        "#,
    );
}

/// Reply shapes in RESP2 and RESP3: the null of a missing key differs between the forms with
/// and without a count.
#[test]
fn diff_reply_shapes_resp2_and_resp3() {
    let script = r#"
        LPOP nokey
        LPOP nokey 1
        RPOP nokey 0
        LINDEX nokey 0
        LPOS nokey a
        LPOS nokey a COUNT 0
        LMOVE nokey x left left
        RPOPLPUSH nokey x
        LMPOP 1 nokey left
        LRANGE nokey 0 -1
        RPUSH l a b 1
        LINDEX l 9
        LPOS l zz
        LPOS l zz COUNT 0
        LPOS l 1 COUNT 0
        LPOP l 0
        LRANGE l 0 -1
        LMPOP 1 l left count 2
        RPOP l 1
        RPUSH l a
        RPOP l
        "#;
    let mut d = Differential::new();
    d.check_all(script);
    d.hello3();
    d.check_all("FLUSHALL");
    d.check_all(script);
}

/// Pushes `n` elements made by `f` in chunks, to both servers.
fn push_many(d: &mut Differential, cmd: &str, key: &str, n: usize, f: impl Fn(usize) -> String) {
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let mut c = vec![cmd.to_string(), key.to_string()];
        c.extend((i..end).map(&f));
        d.check(&c);
        i = end;
    }
}

/// Node packing follows Redis's quicklist for every fill, sizes and counts: the DUMP
/// payloads (one RDB string per node) are byte-identical.
#[test]
fn node_boundaries_match_redis_dumps() {
    let mut d = Differential::new();
    for fill in [
        "-1", "-2", "-3", "-4", "-5", "-6", "0", "1", "2", "5", "128", "100000",
    ] {
        d.check(&["CONFIG", "SET", "list-max-listpack-size", fill]);
        d.check(&["DEL", "k", "s", "v"]);
        push_many(&mut d, "RPUSH", "k", 3000, |i| format!("v{i}"));
        push_many(&mut d, "LPUSH", "k", 2000, |i| (i * 37).to_string());
        d.check(&["DUMP", "k"]);
        // Values around the 4/8 KB limits and the size estimate.
        for len in [
            1usize, 60, 63, 64, 100, 4000, 4090, 4096, 8000, 8180, 8192, 9000, 20000,
        ] {
            let v = "x".repeat(len);
            d.check(&["RPUSH", "s", &v]);
            d.check(&["LPUSH", "s", &v, "a"]);
        }
        d.check(&["DUMP", "s"]);
        d.check(&["LPOP", "s", "3"]);
        d.check(&["RPOP", "s", "2"]);
        d.check(&["DUMP", "s"]);
        d.check(&["LTRIM", "k", "100", "-100"]);
        d.check(&["DUMP", "k"]);
        d.check(&["LRANGE", "k", "1000", "1020"]);
        d.check(&["LINDEX", "k", "2500"]);
        d.check(&["LINDEX", "k", "-2500"]);
    }
}

/// LINSERT picks nodes, splits and merges them as Redis's quicklist does: after inserts at
/// node heads, tails and middles under small fills, the DUMP payloads are byte-identical.
#[test]
fn linsert_node_choice_matches_redis_dumps() {
    let mut d = Differential::new();
    for fill in ["1", "2", "3", "5", "-1"] {
        d.check(&["CONFIG", "SET", "list-max-listpack-size", fill]);
        d.check(&["DEL", "k"]);
        push_many(&mut d, "RPUSH", "k", 40, |i| format!("e{i}"));
        if fill == "-1" {
            push_many(&mut d, "RPUSH", "k", 3000, |i| format!("f{i}"));
        }
        for (n, pivot) in [0, 1, 2, 4, 5, 7, 9, 10, 15, 39, 20, 3, 33, 1500, 2999]
            .iter()
            .enumerate()
        {
            let p = if *pivot >= 40 {
                format!("f{pivot}")
            } else {
                format!("e{pivot}")
            };
            let place = if n % 2 == 0 { "BEFORE" } else { "AFTER" };
            d.check(&["LINSERT", "k", place, &p, &format!("i{n}")]);
            d.check(&["LINSERT", "k", "AFTER", &p, &"x".repeat(n * 300)]);
            d.check(&["DUMP", "k"]);
        }
        d.check(&["LRANGE", "k", "0", "-1"]);
    }
}

/// A list keeps the node limit it was created (or restored) with, as Redis's quicklist keeps
/// its fill: CONFIG SET list-max-listpack-size applies to lists created afterwards.
#[test]
fn node_limit_is_fixed_at_creation() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        CONFIG SET list-max-listpack-size 2
        RPUSH old a b c d e
        CONFIG SET list-max-listpack-size 4
        RPUSH old f g h i j k
        LPUSH old x y z
        RPUSH new a b c d e f g h i
        LINSERT old BEFORE c X
        LMOVE old moved LEFT RIGHT
        RPUSH moved p q r s t
        DUMP old
        DUMP new
        DUMP moved
        COPY old copied
        CONFIG SET list-max-listpack-size 1
        RPUSH copied 1 2 3
        DUMP copied
        "#,
    );
    let Reply::Bulk(p) = d.redis.cmd_parsed(&["DUMP", "new"]) else {
        panic!()
    };
    d.check(&[b"RESTORE".as_slice(), b"restored", b"0", &p]);
    d.check_all(
        "RPUSH restored 1 2 3
DUMP restored",
    );
}

#[test]
fn big_lists() {
    let mut d = Differential::new();
    push_many(&mut d, "RPUSH", "big", 100_000, |i| format!("element-{i}"));
    push_many(&mut d, "LPUSH", "big", 10_000, |i| i.to_string());
    d.check_all(
        r#"
        LLEN big
        LINDEX big 0
        LINDEX big 55555
        LINDEX big -1
        LINDEX big -77777
        LRANGE big 50000 50010
        LRANGE big -5 -1
        LSET big 60000 changed
        LINDEX big 60000
        LINSERT big before changed inserted
        LINSERT big after element-99999 last
        LRANGE big 59995 60005
        LPOS big changed
        LPOS big element-5 RANK -1
        LPOS big 5 COUNT 0 MAXLEN 20000
        LREM big 1 inserted
        LREM big -1 last
        LPOP big 1000
        RPOP big 10
        LLEN big
        DUMP big
        LTRIM big 10000 -10000
        LLEN big
        LRANGE big 0 3
        DUMP big
        "#,
    );
}

#[test]
fn dump_restore_both_directions() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        RPUSH small a b 1 -300 70000 hello
        RPUSH ints 1 2 3 9223372036854775807
        CONFIG SET list-max-listpack-size 3
        RPUSH nodes a b c d e f g
        CONFIG SET list-max-listpack-size -2
        "#,
    );
    push_many(&mut d, "RPUSH", "big", 5000, |i| {
        format!("member-member-{i}")
    });
    d.check(&["RPUSH", "long", &"y".repeat(10_000), &"z".repeat(100)]);
    for key in ["small", "ints", "nodes", "big", "long"] {
        let from_redis = d.redis.cmd_parsed(&["DUMP", key]);
        let from_ferrite = d.ferrite.cmd_parsed(&["DUMP", key]);
        let (Reply::Bulk(pr), Reply::Bulk(pf)) = (from_redis, from_ferrite) else {
            panic!("DUMP {key} gave no payload");
        };
        assert_eq!(pr, pf, "DUMP {key} differs");
        let r2f = format!("{key}-r2f");
        let f2r = format!("{key}-f2r");
        assert_eq!(
            d.ferrite
                .cmd_parsed(&[b"RESTORE".as_slice(), r2f.as_bytes(), b"0", &pr]),
            Reply::Simple("OK".into())
        );
        assert_eq!(
            d.redis
                .cmd_parsed(&[b"RESTORE".as_slice(), f2r.as_bytes(), b"0", &pf]),
            Reply::Simple("OK".into())
        );
        d.ferrite
            .cmd(&[b"RESTORE".as_slice(), f2r.as_bytes(), b"0", &pf]);
        d.redis
            .cmd(&[b"RESTORE".as_slice(), r2f.as_bytes(), b"0", &pr]);
        for k in [key, &r2f, &f2r] {
            d.check(&["LRANGE", k, "0", "-1"]);
            d.check(&["OBJECT", "ENCODING", k]);
            d.check(&["DUMP", k]);
        }
    }
    // Older forms: a plain RDB list and a quicklist of ziplists, as Redis 7.0 loads them.
    let plain = framed_payload(b"\x01\x03\x01a\x01b\xc0\x07", 9);
    let ziplist = framed_payload(
        b"\x0e\x01\x10\x10\x00\x00\x00\x0d\x00\x00\x00\x02\x00\x00\x01a\x03\xf6\xff",
        9,
    );
    for (k, p) in [("plain", plain), ("zl", ziplist)] {
        d.check(&[b"RESTORE".as_slice(), k.as_bytes(), b"0", &p]);
        d.check(&["LRANGE", k, "0", "-1"]);
        d.check(&["DUMP", k]);
    }
    // Generic commands see lists.
    d.check_all(
        r#"
        COPY small c1
        LRANGE c1 0 -1
        RPUSH c1 new
        LLEN small
        RENAME c1 c2
        LRANGE c2 0 -1
        MOVE c2 1
        SELECT 1
        LRANGE c2 0 -1
        TYPE c2
        SELECT 0
        "#,
    );
    let r = d
        .ferrite
        .cmd_parsed(&["SCAN", "0", "TYPE", "list", "COUNT", "1000"]);
    let keys = r.as_array().unwrap()[1].as_array().unwrap().len();
    let r = d
        .redis
        .cmd_parsed(&["SCAN", "0", "TYPE", "list", "COUNT", "1000"]);
    assert_eq!(keys, r.as_array().unwrap()[1].as_array().unwrap().len());
    assert!(keys > 10);
}

#[test]
fn corrupt_list_payloads_are_refused() {
    let mut d = Differential::new();
    d.check_all("RPUSH l a b 1 2 hello\nCONFIG SET list-max-listpack-size 2\nRPUSH n a b c d e");
    for key in ["l", "n"] {
        let Reply::Bulk(good) = d.redis.cmd_parsed(&["DUMP", key]) else {
            panic!()
        };
        for n in 0..good.len() {
            let r =
                d.ferrite
                    .cmd_parsed(&[b"RESTORE".as_slice(), b"t", b"0", &good[..n], b"REPLACE"]);
            assert!(r.is_error(), "truncated to {n}: {r}");
        }
        for i in 0..good.len() - 10 {
            for bit in [0x01, 0x40, 0x80] {
                let mut p = good.clone();
                p[i] ^= bit;
                // Never a panic; a payload that still loads must be a list.
                let r = d
                    .ferrite
                    .cmd_parsed(&[b"RESTORE".as_slice(), b"t", b"0", &p, b"REPLACE"]);
                if !r.is_error() {
                    assert_eq!(
                        d.ferrite.cmd_parsed(&["TYPE", "t"]),
                        Reply::Simple("list".into())
                    );
                }
            }
        }
    }
    let bodies: &[&[u8]] = &[
        b"\x12\x00",                                              // no nodes
        b"\x12\x01\x03\x01a",                                     // bad container
        b"\x12\x01\x02\x07\x07\x00\x00\x00\x00\x00\xff",          // only an empty node
        b"\x12\x01\x02\x00",                                      // empty node string
        b"\x12\x02\x02\x0a\x0a\x00\x00\x00\x01\x00\x81e\x02\xff", // one node short
        b"\x01\x00",                                              // empty plain list
        b"\x0e\x01\x03abc",                                       // bad ziplist
    ];
    for body in bodies {
        let p = framed_payload(body, 10);
        d.check(&[b"RESTORE".as_slice(), b"bad", b"0", &p]);
    }
    // Listpacks Redis accepts without deep sanitization (sanitize-dump-payload no) and would
    // then hold corrupt: Ferrite validates every node whole and refuses them.
    let bodies: &[&[u8]] = &[
        b"\x12\x01\x02\x0a\x0a\x00\x00\x00\x02\x00\x81e\x02\xff", // count mismatch
        b"\x12\x01\x02\x0a\x0a\x00\x00\x00\x01\x00\x81e\x03\xff", // bad back-length
    ];
    for body in bodies {
        let p = framed_payload(body, 10);
        let r = d
            .ferrite
            .cmd_parsed(&[b"RESTORE".as_slice(), b"bad", b"0", &p]);
        assert_eq!(r, Reply::Error("ERR Bad data format".into()));
    }
    assert_eq!(
        d.ferrite.cmd_parsed(&["PING"]),
        Reply::Simple("PONG".into())
    );
}

/// Concurrent pushers and poppers: every element pushed is popped exactly once, and LMOVE
/// between two lists never loses or duplicates one.
#[test]
fn concurrent_push_pop_is_exact() {
    const PER: usize = 3000;
    let server = common::Server::start();
    let pushers: Vec<_> = (0..3)
        .map(|w| {
            let mut c = server.raw();
            std::thread::spawn(move || {
                for i in 0..PER {
                    let cmd = if i % 2 == 0 { "RPUSH" } else { "LPUSH" };
                    c.cmd(&[cmd, "q", &format!("{w}-{i}")]);
                }
            })
        })
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poppers: Vec<_> = (0..3)
        .map(|p| {
            let mut c = server.raw();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let done = stop.load(std::sync::atomic::Ordering::SeqCst);
                    let r = match p {
                        0 => c.cmd_parsed(&["LPOP", "q", "7"]),
                        1 => c.cmd_parsed(&["RPOP", "q"]),
                        _ => c.cmd_parsed(&["LMPOP", "1", "q", "RIGHT", "COUNT", "3"]),
                    };
                    match r {
                        Reply::Bulk(b) => got.push(b),
                        Reply::Array(items) if p == 2 => {
                            for e in items[1].as_array().unwrap() {
                                got.push(e.as_bytes().unwrap().to_vec());
                            }
                        }
                        Reply::Array(items) => {
                            got.extend(items.iter().map(|e| e.as_bytes().unwrap().to_vec()))
                        }
                        _ if done => break,
                        _ => {}
                    }
                }
                got
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut seen = HashSet::new();
    for p in poppers {
        for e in p.join().unwrap() {
            assert!(
                seen.insert(e.clone()),
                "{} popped twice",
                String::from_utf8_lossy(&e)
            );
        }
    }
    assert_eq!(seen.len(), 3 * PER);

    // LMOVE ping-pong: the two lists always hold every element between them.
    let mut c = server.raw();
    let mut push = vec!["RPUSH".to_string(), "{m}a".to_string()];
    push.extend((0..100).map(|i| i.to_string()));
    c.cmd(&push);
    let movers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = server.raw();
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    c.cmd(&["LMOVE", "{m}a", "{m}b", "LEFT", "RIGHT"]);
                    c.cmd(&["RPOPLPUSH", "{m}b", "{m}a"]);
                }
            })
        })
        .collect();
    for m in movers {
        m.join().unwrap();
    }
    let a = c.cmd_parsed(&["LLEN", "{m}a"]).as_int().unwrap();
    let b = c.cmd_parsed(&["LLEN", "{m}b"]).as_int().unwrap();
    assert_eq!(a + b, 100);
}
