//! Large hashes, sets, sorted sets and lists are changed in place under their key's latch, and
//! read under it (docs/ARCHITECTURE.md, "Large collections: changed in place"). Nothing of
//! that may show:
//!
//! * commands on collections past the in-place size (1,024 elements) reply as redis-server's,
//!   also pipelined (runs on one key), after COPY (the copy and the original share their
//!   trees, and each changes without touching the other), RENAME, DUMP/RESTORE, and when the
//!   collection is emptied and made again;
//! * many clients on 4 worker threads: exact totals of HINCRBY/ZINCRBY on large keys, a
//!   multi-field HSET is never seen half-applied by HGETALL, and SMOVE between two large sets
//!   never shows a member in both or in neither to SUNION (which reads both at one instant).

mod common;

use common::{encode_command, Compare, Differential, RawConn, Reply, Server};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Elements of each large collection: past the in-place size.
const BIG: usize = 2_000;

fn args(line: &str) -> Vec<Vec<u8>> {
    common::split_args(line).expect("a valid command line")
}

/// Builds, on both servers, a set `s`, a hash `h` and a sorted set `z` of `BIG` elements
/// each, in pipelines of 100 commands (so their writes run in runs on one key).
fn fill(diff: &mut Differential) {
    for chunk in 0..BIG / 100 {
        let mut cmds = Vec::new();
        for i in chunk * 100..(chunk + 1) * 100 {
            cmds.push((args(&format!("SADD s m{i}")), Compare::Exact));
            cmds.push((args(&format!("HSET h f{i} v{i}")), Compare::Exact));
            cmds.push((args(&format!("ZADD z {} m{i}", i % 97)), Compare::Exact));
            cmds.push((args(&format!("RPUSH l e{i}")), Compare::Exact));
        }
        diff.check_pipeline(&cmds);
    }
}

#[test]
fn large_collections_reply_as_redis() {
    let mut diff = Differential::with_args(&["--threads", "2"], &[]);
    fill(&mut diff);
    diff.check_all(
        "
        OBJECT ENCODING s
        OBJECT ENCODING h
        OBJECT ENCODING z
        TYPE s
        TYPE h
        TYPE z
        SCARD s
        HLEN h
        ZCARD z
        SADD s m1 new1 new2
        SREM s m2 m3 nope
        SISMEMBER s m1
        SISMEMBER s m2
        SMISMEMBER s m1 m2 new1 x
        SCARD s
        HSET h f1 changed f-new x
        HDEL h f2 f3 nope
        HGET h f1
        HGET h f2
        HMGET h f1 f2 f4 f-new
        HINCRBY h counter 5
        HINCRBYFLOAT h fl 1.5
        HSTRLEN h f5
        HEXISTS h f3
        HSETNX h f4 no
        HSETNX h f-nx yes
        HLEN h
        ZADD z 1000 top
        ZADD z XX CH 5 m1 6 m2
        ZADD z NX 7 m1 8 fresh
        ZADD z GT 1 m4 200 m5
        ZINCRBY z 2.5 m6
        ZSCORE z m6
        ZMSCORE z m1 m2 nope
        ZRANK z top
        ZREVRANK z top
        ZRANK z m7
        ZRANGE z 0 4 WITHSCORES
        ZRANGE z -3 -1 WITHSCORES
        ZRANGEBYSCORE z 5 6 WITHSCORES LIMIT 0 5
        ZCOUNT z 10 20
        ZREM z m8 m9 nope
        ZPOPMIN z 2
        ZPOPMAX z 2
        ZREMRANGEBYRANK z 0 9
        ZREMRANGEBYSCORE z 90 96
        ZCARD z
        OBJECT ENCODING l
        TYPE l
        LLEN l
        LPUSH l head1 head2
        RPUSH l tail1
        LPOP l
        RPOP l 2
        LINDEX l 1000
        LINDEX l -5
        LSET l 1500 changed
        LRANGE l 1495 1505
        LINSERT l BEFORE changed before-changed
        LREM l 1 e7
        LPOS l changed
        LTRIM l 1 1800
        LMOVE l l RIGHT LEFT
        LRANGE l 0 9
        LRANGE l -10 -1
        LLEN l
        ",
    );
    // Members in no fixed order: compared sorted.
    diff.check_all_sorted(
        "
        SMEMBERS s
        HKEYS h
        HVALS h
        SINTER s s
        SUNION s s
        ",
    );
    // Pipelined runs of writes and reads on one large key.
    let run: Vec<(Vec<Vec<u8>>, Compare)> = (0..60)
        .flat_map(|i| {
            [
                (args(&format!("SADD s run{i}")), Compare::Exact),
                (args(&format!("SISMEMBER s run{}", i / 2)), Compare::Exact),
                (args(&format!("SREM s m{}", 100 + i)), Compare::Exact),
                (args(&format!("HINCRBY h f-run {i}")), Compare::Exact),
                (args(&format!("ZINCRBY z 1 m{}", 200 + i)), Compare::Exact),
                (args(&format!("ZSCORE z m{}", 200 + i)), Compare::Exact),
                (args(&format!("RPUSH l run{i}")), Compare::Exact),
                (args(&format!("LINDEX l {}", i * 3)), Compare::Exact),
            ]
        })
        .collect();
    diff.check_pipeline(&run);
    for key in ["s", "h", "z", "l"] {
        let mut one: Vec<(Vec<Vec<u8>>, Compare)> = Vec::new();
        for i in 0..40 {
            let cmd = match key {
                "s" => format!("SADD s p{i}"),
                "h" => format!("HSET h p{i} {i}"),
                "l" => format!("LPUSH l p{i}"),
                _ => format!("ZADD z {i} p{i}"),
            };
            one.push((args(&cmd), Compare::Exact));
        }
        diff.check_pipeline(&one);
    }
    // COPY shares the trees; each side then changes alone.
    diff.check_all(
        "
        COPY s s2
        COPY h h2
        COPY z z2
        COPY l l2
        LPUSH l only-in-l
        RPUSH l2 only-in-l2
        LRANGE l 0 1
        LRANGE l2 -1 -1
        LLEN l
        LLEN l2
        SADD s only-in-s
        SADD s2 only-in-s2
        HSET h f10 only-in-h
        HSET h2 f10 only-in-h2
        ZADD z 1 only-in-z
        ZADD z2 1 only-in-z2
        SISMEMBER s only-in-s2
        SISMEMBER s2 only-in-s
        HGET h f10
        HGET h2 f10
        ZSCORE z only-in-z2
        ZSCORE z2 only-in-z
        SCARD s
        SCARD s2
        ZCARD z2
        RENAME s2 s3
        SCARD s3
        EXISTS s2
        ",
    );
    diff.check_all_sorted(
        "
        SDIFF s s3
        SDIFF s3 s
        SINTER s s3
        ZRANGE z2 0 -1
        ",
    );
    // DUMP of a large in-place value restores to the same contents.
    let dump = diff.ferrite.cmd(&["DUMP", "h"]);
    let payload = common::bulk_bytes(&dump);
    let restored = diff
        .ferrite
        .cmd(&[&b"RESTORE"[..], b"h-restored", b"0", &payload]);
    assert_eq!(restored, b"+OK\r\n");
    let a = common::sort_reply(&diff.ferrite.cmd(&["HGETALL", "h"]));
    let b = common::sort_reply(&diff.ferrite.cmd(&["HGETALL", "h-restored"]));
    assert_eq!(a, b, "DUMP/RESTORE of a large hash changed it");
    assert_eq!(diff.ferrite.cmd(&["DEL", "h-restored"]), b":1\r\n".to_vec());
    // SCAN TYPE names the type of a value changed in place without reading it.
    let scan = diff
        .ferrite
        .cmd_parsed(&["SCAN", "0", "TYPE", "zset", "COUNT", "1000"]);
    let keys = scan.as_array().expect("a SCAN reply")[1]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_bytes().expect("a key").to_vec())
        .collect::<Vec<_>>();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, vec![b"z".to_vec(), b"z2".to_vec()]);
    let scan = diff
        .ferrite
        .cmd_parsed(&["SCAN", "0", "TYPE", "list", "COUNT", "1000"]);
    let mut keys: Vec<Vec<u8>> = scan.as_array().expect("a SCAN reply")[1]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_bytes().expect("a key").to_vec())
        .collect();
    keys.sort();
    assert_eq!(keys, vec![b"l".to_vec(), b"l2".to_vec()]);
    // Emptied, deleted and made again.
    let drain: Vec<(Vec<Vec<u8>>, Compare)> = (0..BIG + 100)
        .map(|_| (args("SPOP s3"), Compare::Exact))
        .collect();
    // (SPOP picks members at random: run on both, compared only by what is left.)
    for conn in [&mut diff.ferrite, &mut diff.redis] {
        for chunk in drain.chunks(200) {
            let mut bytes = Vec::new();
            for (a, _) in chunk {
                bytes.extend_from_slice(&encode_command(a));
            }
            conn.send_raw(&bytes);
            for _ in chunk {
                conn.read_reply();
            }
        }
    }
    diff.check_all(
        "
        EXISTS s3
        DEL s h z l l2
        EXISTS s h z l
        SADD s a b c
        OBJECT ENCODING s
        HSET h a 1
        OBJECT ENCODING h
        ",
    );
    diff.check_all_sorted("SMEMBERS s");
}

/// Runs `work(client, conn, round)` on `n` clients of `srv` until it returns false.
fn clients<F>(srv: &Server, n: usize, work: F)
where
    F: Fn(usize, &mut RawConn, usize) -> bool + Sync,
{
    std::thread::scope(|s| {
        for c in 0..n {
            let work = &work;
            s.spawn(move || {
                let mut conn = srv.raw();
                let mut round = 0;
                while work(c, &mut conn, round) {
                    round += 1;
                }
            });
        }
    });
}

fn preload(conn: &mut RawConn) {
    for chunk in 0..BIG / 200 {
        let mut bytes = Vec::new();
        for i in chunk * 200..(chunk + 1) * 200 {
            bytes.extend_from_slice(&encode_command(&args(&format!("HSET h f{i} 0"))));
            bytes.extend_from_slice(&encode_command(&args(&format!("ZADD z 0 m{i}"))));
            bytes.extend_from_slice(&encode_command(&args(&format!("SADD a m{i}"))));
            bytes.extend_from_slice(&encode_command(&args(&format!("SADD b n{i}"))));
        }
        conn.send_raw(&bytes);
        for _ in 0..800 {
            conn.read_reply();
        }
    }
}

#[test]
fn concurrent_increments_on_large_keys_are_exact() {
    const CLIENTS: usize = 6;
    const ROUNDS: usize = 400;
    let srv = Server::with_args(&["--threads", "4"]);
    preload(&mut srv.raw());
    clients(&srv, CLIENTS, |c, conn, round| {
        if round >= ROUNDS {
            return false;
        }
        let field = format!("f{}", (round * 7 + c) % 16);
        let mut bytes = encode_command(&args(&format!("HINCRBY h {field} 1")));
        bytes.extend_from_slice(&encode_command(&args(&format!(
            "ZINCRBY z 1 m{}",
            (round + c) % 16
        ))));
        conn.send_raw(&bytes);
        assert!(matches!(
            Reply::from_raw(&conn.read_reply()),
            Reply::Integer(_)
        ));
        assert!(matches!(
            Reply::from_raw(&conn.read_reply()),
            Reply::Bulk(_)
        ));
        true
    });
    let mut conn = srv.raw();
    let mut total_h = 0i64;
    let mut total_z = 0f64;
    for i in 0..16 {
        let h = conn.cmd_parsed(&["HGET", "h", &format!("f{i}")]);
        total_h += std::str::from_utf8(h.as_bytes().unwrap())
            .unwrap()
            .parse::<i64>()
            .unwrap();
        let z = conn.cmd_parsed(&["ZSCORE", "z", &format!("m{i}")]);
        total_z += std::str::from_utf8(z.as_bytes().unwrap())
            .unwrap()
            .parse::<f64>()
            .unwrap();
    }
    assert_eq!(total_h, (CLIENTS * ROUNDS) as i64, "an HINCRBY was lost");
    assert_eq!(total_z, (CLIENTS * ROUNDS) as f64, "a ZINCRBY was lost");
    assert_eq!(
        conn.cmd_parsed(&["HLEN", "h"]).as_int(),
        Some(BIG as i64),
        "fields appeared or vanished"
    );
}

#[test]
fn readers_never_see_half_a_write_to_a_large_key() {
    const FIELDS: usize = 10;
    let srv = Server::with_args(&["--threads", "4"]);
    preload(&mut srv.raw());
    let stop = AtomicBool::new(false);
    let total = 2 * BIG as i64;
    std::thread::scope(|s| {
        // Writers: a 10-field HSET with one value per command; SMOVE between the sets.
        for w in 0..3 {
            let (srv, stop) = (&srv, &stop);
            s.spawn(move || {
                let mut conn = srv.raw();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let v = format!("{w}-{n}");
                    let mut cmd = vec![b"HSET".to_vec(), b"h".to_vec()];
                    for f in 0..FIELDS {
                        cmd.push(format!("f{f}").into_bytes());
                        cmd.push(v.clone().into_bytes());
                    }
                    assert!(matches!(conn.cmd_parsed(&cmd), Reply::Integer(_)));
                    let (from, to) = if n.is_multiple_of(2) {
                        ("a", "b")
                    } else {
                        ("b", "a")
                    };
                    let m = format!("m{}", (n as usize * 13 + w) % BIG);
                    conn.cmd(&["SMOVE", from, to, &m]);
                }
            });
        }
        let (srv, stop) = (&srv, &stop);
        s.spawn(move || {
            let mut conn = srv.raw();
            let deadline = Instant::now() + Duration::from_secs(4);
            let mut reads = 0;
            while Instant::now() < deadline || reads < 50 {
                reads += 1;
                let all = conn.cmd_parsed(&["HGETALL", "h"]);
                let pairs = all.as_array().expect("a map");
                let values: std::collections::HashSet<&[u8]> = pairs
                    .chunks(2)
                    .filter(|p| {
                        let f = p[0].as_bytes().unwrap();
                        f.len() <= 3 && f[1..].iter().all(u8::is_ascii_digit) && {
                            let i: usize = std::str::from_utf8(&f[1..]).unwrap().parse().unwrap();
                            i < FIELDS
                        }
                    })
                    .map(|p| p[1].as_bytes().unwrap())
                    .collect();
                assert_eq!(values.len(), 1, "HGETALL saw half of an HSET: {values:?}");
                let union = conn.cmd_parsed(&["SUNION", "a", "b"]);
                assert_eq!(
                    union.as_array().expect("members").len() as i64,
                    total,
                    "SUNION saw a member in both sets or in neither"
                );
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    let mut conn = srv.raw();
    let a = conn.cmd_parsed(&["SCARD", "a"]).as_int().unwrap();
    let b = conn.cmd_parsed(&["SCARD", "b"]).as_int().unwrap();
    assert_eq!(a + b, total, "SMOVE lost or doubled a member");
}

/// The rule for panics (docs/ARCHITECTURE.md, "Large collections: changed in place"): a change
/// made in place cannot be rolled back, so when a pipelined run on a large list panics, the
/// pushes it made in place stay (the panicking command's own push too, made before it panicked),
/// its copy-on-write change (the TTL) is rolled back, none of its replies is sent, the
/// connection closes and the latch is released.
#[test]
#[cfg_attr(
    not(feature = "test-commands"),
    ignore = "needs the test-only command: cargo test --features test-commands"
)]
fn a_panic_keeps_the_in_place_changes_and_drops_the_rest() {
    let srv = Server::with_args(&["--threads", "2"]);
    let mut other = srv.raw();
    let mut fill = Vec::new();
    for i in 0..BIG {
        fill.extend(encode_command(&args(&format!("RPUSH big e{i}"))));
    }
    other.send_raw(&fill);
    for _ in 0..BIG {
        other.read_reply();
    }
    let mut victim = srv.raw();
    let mut bytes = Vec::new();
    for line in [
        "RPUSH big a",
        "RPUSH big b",
        "EXPIRE big 100",
        "FERRITE-TEST-PANIC-RPUSH big c",
        "RPUSH big after",
    ] {
        bytes.extend(encode_command(&args(line)));
    }
    victim.send_panicking_run(&bytes, "");
    assert_eq!(
        other.cmd_parsed(&["LLEN", "big"]),
        Reply::Integer(BIG as i64 + 3),
        "the in-place pushes stay"
    );
    assert_eq!(
        other.cmd_parsed(&["LRANGE", "big", "-3", "-1"]),
        Reply::Array(vec![
            Reply::Bulk(b"a".to_vec()),
            Reply::Bulk(b"b".to_vec()),
            Reply::Bulk(b"c".to_vec()),
        ])
    );
    assert_eq!(
        other.cmd_parsed(&["TTL", "big"]),
        Reply::Integer(-1),
        "the TTL is rolled back"
    );
    assert_eq!(
        srv.raw().cmd_parsed(&["RPUSH", "big", "x"]),
        Reply::Integer(BIG as i64 + 4),
        "the latch was released"
    );
}
