//! The SET command family: differential tests against a real redis-server 7.0 (every
//! command, error case and encoding conversion, compared exactly; sorted only where Redis's
//! order is unspecified, i.e. hashtable sets), property tests of SPOP/SRANDMEMBER, SSCAN
//! completeness, and DUMP/RESTORE in both directions.

mod common;

use common::{framed_payload, Differential, Reply};
use std::collections::{BTreeSet, HashSet};

fn members(r: &Reply) -> Vec<Vec<u8>> {
    r.as_array()
        .unwrap_or_else(|| panic!("not an array: {r}"))
        .iter()
        .map(|m| m.as_bytes().expect("bulk member").to_vec())
        .collect()
}

#[test]
fn diff_basic_commands_and_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        SADD s 3 1 2 1
        SMEMBERS s
        OBJECT ENCODING s
        TYPE s
        SCARD s
        SCARD nokey
        SISMEMBER s 1
        SISMEMBER s 01
        SISMEMBER s x
        SISMEMBER nokey 1
        SMISMEMBER s 1 4 2 x
        SMISMEMBER nokey 1 2
        SADD s -5 9223372036854775807 -9223372036854775808
        SMEMBERS s
        OBJECT ENCODING s
        SADD s 9223372036854775808
        OBJECT ENCODING s
        @sorted SMEMBERS s
        SADD n 01
        OBJECT ENCODING n
        SADD n2 +1
        OBJECT ENCODING n2
        SADD h a b c
        OBJECT ENCODING h
        SADD h 1 2
        OBJECT ENCODING h
        SREM h 1 2 a b c
        EXISTS h
        SREM s 1 nope 3
        SREM nokey x
        @sorted SMEMBERS s
        SADD e 5
        SREM e 5
        EXISTS e
        SET str v
        SADD str a
        SREM str a
        SMEMBERS str
        SISMEMBER str a
        SMISMEMBER str a
        SCARD str
        SPOP str
        SPOP str 2
        SRANDMEMBER str
        SRANDMEMBER str 2
        SSCAN str 0
        SINTER s str
        SINTER nokey str
        SINTERCARD 2 s str
        SUNION s str
        SDIFF s str
        SINTERSTORE dst s str
        SUNIONSTORE dst s str
        SDIFFSTORE dst s str
        SMOVE str s a
        SMOVE s str 5
        SMOVE nokey str 5
        GET s
        APPEND s x
        INCR s
        STRLEN s
        SADD
        SADD s
        SREM s
        SCARD
        SISMEMBER s
        SMISMEMBER s
        SMOVE a b
        SPOP
        SPOP s abc
        SPOP s -1
        SPOP s 1 2
        SPOP nokey
        SPOP nokey 0
        SPOP nokey 3
        SPOP s 0
        SRANDMEMBER s abc
        SRANDMEMBER s -9223372036854775808
        SRANDMEMBER s 1 2
        SRANDMEMBER nokey
        SRANDMEMBER nokey 5
        SRANDMEMBER nokey -5
        SRANDMEMBER s 0
        SINTERCARD 0 s
        SINTERCARD x s
        SINTERCARD -1 s
        SINTERCARD 3 s
        SINTERCARD 1 s limit -1
        SINTERCARD 1 s limit x
        SINTERCARD 1 s foo
        SINTERCARD 1 s limit
        SINTERCARD 1 s limit 1 limit 0
        SINTERCARD 1 s LIMIT 2
        SINTERCARD 1 nokey
        SINTERCARD
        SINTERCARD 1
        SSCAN s x
        SSCAN s 0 count 0
        SSCAN s 0 count x
        SSCAN s 0 type string
        SSCAN s 0 match
        SSCAN nokey 0
        SSCAN nokey abc
        SSCAN nokey 0 count 0
        SSCAN s 0 foo bar
        SSCAN
        SINTER
        SUNIONSTORE d
        "#,
    );
}

#[test]
fn diff_multi_key_operations() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        SADD a 1 2 3 4 5
        SADD b 4 5 6 7
        SADD c 5 7 9
        SADD x a b c 1 2
        SINTER a b
        SINTER a b c
        SINTER a nokey
        SINTER nokey a
        SINTERCARD 2 a b
        SINTERCARD 3 a b c
        SINTERCARD 2 a b LIMIT 1
        SINTERCARD 2 a b LIMIT 0
        SINTERCARD 2 a nokey
        SUNION a b c
        SUNION a nokey
        SUNION nokey
        SDIFF a b c
        SDIFF a b
        SDIFF nokey a
        SDIFF a nokey
        SDIFF a a
        SINTERSTORE d1 a b
        SMEMBERS d1
        OBJECT ENCODING d1
        SUNIONSTORE d2 a b c
        SMEMBERS d2
        OBJECT ENCODING d2
        SDIFFSTORE d3 a b
        SMEMBERS d3
        OBJECT ENCODING d3
        @sorted SINTER x a
        SINTERSTORE d4 x a
        SMEMBERS d4
        OBJECT ENCODING d4
        @sorted SUNION x a
        SUNIONSTORE d5 x a
        OBJECT ENCODING d5
        @sorted SMEMBERS d5
        @sorted SDIFF x a
        SDIFFSTORE d6 x a
        OBJECT ENCODING d6
        @sorted SMEMBERS d6
        SDIFFSTORE d7 a x
        OBJECT ENCODING d7
        SMEMBERS d7
        SET str v
        EXPIRE d1 100
        SINTERSTORE d1 a nokey
        EXISTS d1
        SUNIONSTORE str a
        TYPE str
        TTL str
        SINTERSTORE a a b
        SMEMBERS a
        SUNIONSTORE a a c
        SMEMBERS a
        SDIFFSTORE a a a
        EXISTS a
        SDIFFSTORE d8 nokey b
        EXISTS d8
        SMOVE b c 4
        SMEMBERS b
        SMEMBERS c
        SMOVE b c 4
        SMOVE b b 5
        SMOVE b b 99
        SMOVE b newset 6
        SMEMBERS newset
        OBJECT ENCODING newset
        SMOVE b newset2 7
        EXISTS b
        SADD hs v1 v2
        SMOVE hs fresh v1
        OBJECT ENCODING fresh
        SMOVE x c a
        OBJECT ENCODING c
        @sorted SMEMBERS c
        SMOVE x str b
        SMOVE x nokey b
        EXPIRE x 100
        SMOVE x c b
        TTL x
        "#,
    );
}

#[test]
fn diff_generic_commands_on_sets() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        SADD s 1 2 3
        SADD h a b
        TYPE s
        TYPE h
        EXISTS s h nokey
        COPY s s2
        SMEMBERS s2
        OBJECT ENCODING s2
        COPY h h2
        @sorted SMEMBERS h2
        SADD s2 4
        SMEMBERS s
        SMEMBERS s2
        RENAME s2 s3
        SMEMBERS s3
        MOVE s3 1
        EXISTS s3
        SELECT 1
        SMEMBERS s3
        SELECT 0
        SCAN 0 TYPE set MATCH s COUNT 100
        SCAN 0 TYPE string COUNT 100
        @sorted KEYS *
        EXPIRE s 100
        TTL s
        SADD s 9
        TTL s
        SREM s 9
        TTL s
        PERSIST s
        DEL s h h2
        EXISTS s h
        SADD r 1
        RANDOMKEY
        OBJECT ENCODING r
        SET s v
        TYPE s
        "#,
    );
}

#[test]
fn diff_intset_threshold_and_config_set() {
    let mut d = Differential::new();
    d.check_all("CONFIG GET set-max-intset-entries");
    d.check_all("CONFIG GET set-max-listpack-*");
    let mut add = vec!["SADD".to_string(), "big".to_string()];
    add.extend((0..512).map(|i| (i * 3 - 700).to_string()));
    d.check(&add);
    d.check_all("OBJECT ENCODING big\nSMEMBERS big\nSADD big 100000\nOBJECT ENCODING big");
    d.check_all(
        r#"
        SADD big2 1 2 3
        CONFIG SET set-max-intset-entries 3
        OBJECT ENCODING big2
        SADD big2 4
        OBJECT ENCODING big2
        SREM big2 4
        OBJECT ENCODING big2
        SADD t 1 2 3
        OBJECT ENCODING t
        SADD t2 1 2 3 4
        OBJECT ENCODING t2
        SADD u1 1 2
        SADD u2 3 4
        SUNIONSTORE u u1 u2
        OBJECT ENCODING u
        SREM u1 1
        SUNIONSTORE u u1 u2
        OBJECT ENCODING u
        SMEMBERS u
        CONFIG SET set-max-intset-entries 0
        SADD z 1
        OBJECT ENCODING z
        CONFIG SET set-max-intset-entries 512
        "#,
    );
}

#[test]
fn diff_big_sets() {
    let mut d = Differential::new();
    let mut add = vec!["SADD".to_string(), "big".to_string()];
    add.extend((0..10_000).map(|i| format!("m{i}")));
    d.check(&add);
    let mut ints = vec!["SADD".to_string(), "ints".to_string()];
    ints.extend((0..10_000).map(|i| (i * 7).to_string()));
    d.check(&ints);
    d.check_all(
        r#"
        SCARD big
        OBJECT ENCODING big
        OBJECT ENCODING ints
        @sorted SMEMBERS big
        @sorted SMEMBERS ints
        SINTERCARD 2 big ints
        SINTERCARD 2 ints ints LIMIT 100
        SUNIONSTORE u big ints
        SDIFFSTORE df ints big
        SINTERSTORE it ints ints
        SISMEMBER big m9999
        SISMEMBER big m10000
        SREM big m1 m2 m3
        SCARD big
        "#,
    );
    for i in (0..10_000).step_by(1000) {
        d.check(&["SISMEMBER", "big", &format!("m{i}")]);
    }
}

#[test]
fn sscan_returns_every_member() {
    let mut d = Differential::new();
    // An intset: everything at once, cursor 0, as Redis.
    d.check_all(
        "SADD i 5 3 1 10 20 100\nSSCAN i 0\nSSCAN i 0 COUNT 1\nSSCAN i 0 MATCH 1*\nSSCAN i 77",
    );
    d.check_all("SADD hs a b c");
    let conn = &mut d.ferrite;
    let mut add = vec!["SADD".to_string(), "s".to_string()];
    add.extend((0..5000).map(|i| format!("e{i}")));
    conn.cmd(&add);
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        // Change the set during the scan: members removed and added meanwhile may or may not
        // be returned, those present throughout must be.
        conn.cmd(&["SADD", "s", &format!("new{rounds}")]);
        conn.cmd(&["SREM", "s", &format!("e{}", 4999 - rounds)]);
        let r = conn.cmd_parsed(&["SSCAN", "s", &cursor, "COUNT", "37"]);
        let parts = r.as_array().expect("array");
        cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
        for m in members(&parts[1]) {
            seen.insert(m);
        }
        rounds += 1;
        if cursor == "0" {
            break;
        }
        assert!(rounds < 10_000, "scan does not end");
    }
    for i in 0..(5000 - rounds) {
        assert!(seen.contains(format!("e{i}").as_bytes()), "e{i} missed");
    }
    let r = conn.cmd_parsed(&["SSCAN", "s", "0", "MATCH", "e1?", "COUNT", "100000"]);
    let got: BTreeSet<Vec<u8>> = members(&r.as_array().unwrap()[1]).into_iter().collect();
    let want: BTreeSet<Vec<u8>> = (10..20).map(|i| format!("e{i}").into_bytes()).collect();
    assert_eq!(got, want);
}

fn check_random_properties(d: &mut Differential, key: &str, all: &BTreeSet<Vec<u8>>) {
    let conn = &mut d.ferrite;
    let n = all.len() as i64;
    for count in [1, 2, n / 2, n - 1, n, n + 5] {
        let r = conn.cmd_parsed(&["SRANDMEMBER", key, &count.to_string()]);
        let got = members(&r);
        assert_eq!(got.len() as i64, count.min(n), "SRANDMEMBER {key} {count}");
        let distinct: BTreeSet<_> = got.iter().cloned().collect();
        assert_eq!(distinct.len(), got.len(), "distinct for a positive count");
        assert!(distinct.is_subset(all));
    }
    let r = conn.cmd_parsed(&["SRANDMEMBER", key, &(-3 * n).to_string()]);
    let got = members(&r);
    assert_eq!(got.len() as i64, 3 * n);
    assert!(got.iter().all(|m| all.contains(m)));
    let distinct: BTreeSet<_> = got.iter().cloned().collect();
    assert!(distinct.len() < got.len(), "repeats for a negative count");
    let one = conn.cmd_parsed(&["SRANDMEMBER", key]);
    assert!(all.contains(one.as_bytes().unwrap()));
    // SPOP: members removed, distinct, count capped.
    let mut left = all.clone();
    let popped = conn.cmd_parsed(&["SPOP", key]);
    assert!(left.remove(popped.as_bytes().unwrap()));
    let r = conn.cmd_parsed(&["SPOP", key, "3"]);
    for m in members(&r) {
        assert!(left.remove(&m), "popped twice or foreign");
    }
    let r = conn.cmd_parsed(&["SMEMBERS", key]);
    let now: BTreeSet<_> = members(&r).into_iter().collect();
    assert_eq!(now, left);
    let r = conn.cmd_parsed(&["SPOP", key, &(n * 2).to_string()]);
    let rest: BTreeSet<_> = members(&r).into_iter().collect();
    assert_eq!(rest, left);
    assert_eq!(conn.cmd_parsed(&["EXISTS", key]).as_int(), Some(0));
}

#[test]
fn spop_and_srandmember_properties() {
    let mut d = Differential::new();
    for (key, items) in [
        ("ints", (0..50).map(|i| i.to_string()).collect::<Vec<_>>()),
        ("strs", (0..50).map(|i| format!("s{i}")).collect()),
        ("bigs", (0..3000).map(|i| format!("s{i}")).collect()),
    ] {
        let mut add = vec!["SADD".to_string(), key.to_string()];
        add.extend(items.iter().cloned());
        d.check(&add);
        let all: BTreeSet<Vec<u8>> = items.into_iter().map(String::into_bytes).collect();
        check_random_properties(&mut d, key, &all);
    }
}

#[test]
fn dump_restore_both_directions() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        SADD i16 1 2 3 -4
        SADD i32 1 70000
        SADD i64 1 9000000000
        SADD h a b 1
        SADD w 1 70000
        SREM w 70000
        DUMP i16
        DUMP i32
        DUMP i64
        DUMP w
        "#,
    );
    let mut big = vec!["SADD".to_string(), "big".to_string()];
    big.extend((0..600).map(|i| i.to_string()));
    d.check(&big);
    let mut lz = vec!["SADD".to_string(), "lz".to_string()];
    lz.extend((0..100).map(|i| format!("member-member-member-{i}")));
    d.check(&lz);
    for key in ["i16", "i32", "i64", "h", "w", "big", "lz"] {
        let from_redis = d.redis.cmd_parsed(&["DUMP", key]);
        let from_ferrite = d.ferrite.cmd_parsed(&["DUMP", key]);
        let (Reply::Bulk(pr), Reply::Bulk(pf)) = (from_redis, from_ferrite) else {
            panic!("DUMP {key} gave no payload");
        };
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
        // Restore each payload on the other side too, then compare everything.
        d.ferrite
            .cmd(&[b"RESTORE".as_slice(), f2r.as_bytes(), b"0", &pf]);
        d.redis
            .cmd(&[b"RESTORE".as_slice(), r2f.as_bytes(), b"0", &pr]);
        for k in [key, &r2f, &f2r] {
            d.check_sorted(&["SMEMBERS", k]);
            d.check(&["OBJECT", "ENCODING", k]);
            d.check(&["SCARD", k]);
        }
    }
    // Loading follows set-max-intset-entries, as in Redis.
    d.check_all("CONFIG SET set-max-intset-entries 2\n");
    let payload = match d.redis.cmd_parsed(&["DUMP", "i16"]) {
        Reply::Bulk(p) => p,
        other => panic!("{other}"),
    };
    d.check(&[b"RESTORE".as_slice(), b"conv", b"0", &payload]);
    d.check(&["OBJECT", "ENCODING", "conv"]);
    d.check_sorted(&["SMEMBERS", "conv"]);
}

#[test]
fn corrupt_set_payloads_are_refused() {
    let mut d = Differential::new();
    d.check_all("SADD i 1 2 3\nSADD h a b c");
    for key in ["i", "h"] {
        let Reply::Bulk(good) = d.redis.cmd_parsed(&["DUMP", key]) else {
            panic!()
        };
        // Truncations and bit flips: never a panic, always an error reply from Ferrite.
        for n in 0..good.len() {
            let r =
                d.ferrite
                    .cmd_parsed(&[b"RESTORE".as_slice(), b"t", b"0", &good[..n], b"REPLACE"]);
            assert!(r.is_error(), "truncated to {n}: {r}");
        }
        for i in 0..good.len() - 10 {
            let mut p = good.clone();
            p[i] ^= 0x40;
            let r = d
                .ferrite
                .cmd_parsed(&[b"RESTORE".as_slice(), b"t", b"0", &p, b"REPLACE"]);
            assert!(r.is_error(), "byte {i} flipped: {r}");
        }
    }
    // Well-formed checksums around bad bodies: Redis's Bad data format.
    let bodies: &[&[u8]] = &[
        b"\x02\x00",                                         // empty set
        b"\x02\x02\x01a\x01a",                               // duplicate member
        b"\x02\x03\x01a\x01b",                               // truncated
        b"\x0b\x0a\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00", // bad width
        b"\x0b\x08\x02\x00\x00\x00\x00\x00\x00\x00",         // empty intset
        b"\x0b\x0a\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00", // length mismatch
    ];
    for body in bodies {
        let p = framed_payload(body, 10);
        d.check(&[b"RESTORE".as_slice(), b"bad", b"0", &p]);
    }
    assert_eq!(
        d.ferrite.cmd_parsed(&["PING"]),
        Reply::Simple("PONG".into())
    );
}

/// Reply shapes in RESP2 and RESP3 (sets where Redis replies with a set, arrays elsewhere),
/// with one-member sets so the random commands are deterministic.
#[test]
fn diff_reply_shapes_resp2_and_resp3() {
    let script = r#"
        SADD one 7
        SADD hone x
        SMEMBERS one
        SMEMBERS hone
        SMEMBERS nokey
        SINTER one one
        SINTER one nokey
        @sorted SUNION one hone
        SDIFF one hone
        SMISMEMBER one 7 8
        SRANDMEMBER one
        SRANDMEMBER hone 5
        SRANDMEMBER one -3
        SRANDMEMBER hone 0
        SRANDMEMBER nokey 3
        SRANDMEMBER nokey
        SPOP nokey
        SPOP nokey 2
        SPOP one 0
        SPOP one 5
        SPOP hone 1
        SADD one 7
        SPOP one
        SSCAN nokey 0
        SADD two 1 2
        SPOP two 2
        SADD two a
        SPOP two 1
        SPOP two 1
        EXISTS two
        "#;
    let mut d = Differential::new();
    d.check_all(script);
    d.hello3();
    d.check_all("FLUSHALL");
    d.check_all(script);
}

/// SMOVE is atomic across its two keys and SUNION/SINTERCARD read their keys as of one
/// instant: while writers move members back and forth between two sets, every union holds all
/// members and the two sets never share one.
#[test]
fn smove_and_multi_key_reads_are_atomic() {
    const N: usize = 200;
    let server = common::Server::start();
    let mut c = server.raw();
    let mut add = vec!["SADD".to_string(), "{s}a".to_string()];
    add.extend((0..N).map(|i| format!("m{i}")));
    c.cmd(&add);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let mut c = server.raw();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let m = format!("m{}", i % N);
                    c.cmd(&["SMOVE", "{s}a", "{s}b", &m]);
                    c.cmd(&["SMOVE", "{s}b", "{s}a", &m]);
                    i += 7;
                }
            })
        })
        .collect();
    for _ in 0..2000 {
        let u = c.cmd_parsed(&["SUNION", "{s}a", "{s}b"]);
        assert_eq!(members(&u).len(), N, "a member was missing from the union");
        let both = c.cmd_parsed(&["SINTERCARD", "2", "{s}a", "{s}b"]);
        assert_eq!(both.as_int(), Some(0), "a member was in both sets");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let u = c.cmd_parsed(&["SUNIONSTORE", "{s}u", "{s}a", "{s}b"]);
    assert_eq!(u.as_int(), Some(N as i64));
}
