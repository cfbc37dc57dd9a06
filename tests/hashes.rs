//! The HASH command family: differential tests against a real redis-server (every command,
//! error case and encoding conversion, OBJECT ENCODING compared exactly), properties of
//! HRANDFIELD and HSCAN that Redis documents, big hashes, and DUMP/RESTORE in both directions.

mod common;

use common::{bulk_bytes, framed_payload, Compare, Differential, Reply};
use std::collections::{HashMap, HashSet};

fn strings(reply: &Reply) -> Vec<Vec<u8>> {
    reply
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {reply}"))
        .iter()
        .map(|r| r.as_bytes().expect("bulk element").to_vec())
        .collect()
}

/// Sends `HSET key f0 v0 ... f(n-1) v(n-1)` in batches of 100 fields to both servers.
fn fill(d: &mut Differential, key: &str, n: usize, value: impl Fn(usize) -> String) {
    for start in (0..n).step_by(100) {
        let mut args = vec!["HSET".to_string(), key.to_string()];
        for i in start..(start + 100).min(n) {
            args.push(format!("field:{i}"));
            args.push(value(i));
        }
        d.check(&args);
    }
}

#[test]
fn diff_every_command_and_error() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        HSET h a 1 b hello c 3
        HGETALL h
        HSET h a 2 d 4
        HGETALL h
        HKEYS h
        HVALS h
        OBJECT ENCODING h
        TYPE h
        HGET h a
        HGET h nofield
        HGET nokey a
        HMGET h a nofield b
        HMGET nokey a b
        HEXISTS h a
        HEXISTS h nofield
        HEXISTS nokey a
        HLEN h
        HLEN nokey
        HSTRLEN h b
        HSTRLEN h nofield
        HSTRLEN nokey a
        HSTRLEN h a
        HSETNX h a 5
        HSETNX h e 5
        HSETNX newhash f v
        HGETALL newhash
        HMSET h x 1 y 2
        HMSET h x
        HMSET h
        HSET h x
        HSET h
        HSET h a
        HGETALL h
        HDEL h a nofield b
        HDEL h nofield
        HDEL nokey a
        HGETALL h
        HDEL h c d e x y
        EXISTS h
        HDEL newhash f
        EXISTS newhash
        HINCRBY n a 5
        HINCRBY n a -7
        HINCRBY n a abc
        HINCRBY n a 1.5
        HINCRBY n a 9223372036854775808
        HINCRBY n b 9223372036854775807
        HINCRBY n b 1
        HINCRBY n b -1
        HINCRBY n c -9223372036854775808
        HINCRBY n c -1
        HSET n s hello f 1.5 sp " 1" z 007
        HINCRBY n s 1
        HINCRBY n f 1
        HINCRBY n sp 1
        HINCRBY n z 1
        HINCRBYFLOAT n f 1.25
        HINCRBYFLOAT n f -0.75
        HINCRBYFLOAT n s 1
        HINCRBYFLOAT n z 1
        HINCRBYFLOAT n new 3.0e3
        HINCRBYFLOAT n new 1e-5
        HINCRBYFLOAT n a 0.1
        HINCRBYFLOAT n a abc
        HINCRBYFLOAT n a inf
        HINCRBYFLOAT n a -inf
        HINCRBYFLOAT n a nan
        HINCRBYFLOAT n a ""
        HINCRBYFLOAT nbig big 1.7e308
        HINCRBYFLOAT nbig big 1.7e308
        OBJECT ENCODING nbig
        HINCRBYFLOAT n hex 0x10
        HINCRBYFLOAT n sp 1
        HGETALL n
        OBJECT ENCODING n
        HRANDFIELD nokey
        HRANDFIELD nokey 3
        HRANDFIELD nokey 3 WITHVALUES
        HRANDFIELD n 0
        HRANDFIELD n 0 WITHVALUES
        HRANDFIELD n abc
        HRANDFIELD n 1 foo
        HRANDFIELD n 1 withvalues extra
        HRANDFIELD n -9223372036854775808
        HRANDFIELD n 9223372036854775807 WITHVALUES
        HRANDFIELD n -9223372036854775807 WITHVALUES
        HRANDFIELD n 4611686018427387904 WITHVALUES
        HRANDFIELD nokey -9223372036854775808
        HRANDFIELD nokey abc
        HSCAN n 0
        HSCAN n 0 COUNT 1
        HSCAN n 0 MATCH s*
        HSCAN n 0 MATCH nothing*
        HSCAN n 0 match * count 100
        HSCAN n 0 COUNT 0
        HSCAN n 0 COUNT -1
        HSCAN n 0 COUNT abc
        HSCAN n 0 TYPE hash
        HSCAN n 0 MATCH
        HSCAN n abc
        HSCAN n -1
        HSCAN n 18446744073709551616
        HSCAN nokey 0
        HSCAN nokey 0 BADOPT
        HSCAN nokey abc
        hset lower A 1 a 2
        hgetall lower
        HGET lower A
        HSET bin "a\x00b" "c\r\nd"
        HGETALL bin
        HSET empty "" ""
        HGETALL empty
        HSTRLEN empty ""
        HSET ints 1 1 -5 -5 100000 100000 9223372036854775807 x
        HGETALL ints
        HGET
        HGET h
        HMGET h
        HKEYS
        HLEN a b
        HINCRBY h a
        HINCRBYFLOAT h a
        HRANDFIELD
        HSCAN h
        "#,
    );
}

#[test]
fn diff_wrongtype_both_ways() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        SET s v
        HSET h f v
        HSET s f v
        HSETNX s f v
        HMSET s f v
        HGET s f
        HMGET s f
        HDEL s f
        HEXISTS s f
        HLEN s
        HSTRLEN s f
        HKEYS s
        HVALS s
        HGETALL s
        HINCRBY s f 1
        HINCRBYFLOAT s f 1
        HRANDFIELD s
        HRANDFIELD s 2
        HRANDFIELD s 2 WITHVALUES
        HSCAN s 0
        HSCAN s abc
        GET h
        SET h x GET
        GETSET h x
        GETDEL h
        GETEX h EX 10
        APPEND h x
        STRLEN h
        INCR h
        INCRBYFLOAT h 1
        SETRANGE h 0 x
        GETRANGE h 0 1
        MGET h s
        LCS h s
        TYPE h
        TYPE s
        HGETALL h
        SET h x
        TYPE h
        GET h
        "#,
    );
}

#[test]
fn diff_generic_commands_on_hashes() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        HSET h a 1 b 2 c 3
        TYPE h
        OBJECT ENCODING h
        EXISTS h
        COPY h h2
        OBJECT ENCODING h2
        HGETALL h2
        HSET h2 d 4
        HGETALL h
        HGETALL h2
        COPY h h2
        COPY h h2 REPLACE
        HGETALL h2
        RENAME h2 h3
        HGETALL h3
        EXISTS h2
        RENAMENX h3 h
        MOVE h3 1
        EXISTS h3
        SELECT 1
        HGETALL h3
        OBJECT ENCODING h3
        SELECT 0
        @sorted SCAN 0 TYPE hash COUNT 100
        @sorted SCAN 0 TYPE string COUNT 100
        @sorted KEYS *
        RANDOMKEY
        EXPIRE h 100
        TTL h
        HSET h e 5
        TTL h
        HDEL h e
        TTL h
        PERSIST h
        TTL h
        DEL h
        EXISTS h
        HSET u a 1
        UNLINK u
        EXISTS u
        HSET x a 1
        PEXPIREAT x 1
        HGET x a
        EXISTS x
        "#,
    );
}

#[test]
fn diff_encoding_conversions_at_the_thresholds() {
    let mut d = Differential::new();
    // Entries: 512 pairs stay a listpack, the 513th converts.
    fill(&mut d, "e", 512, |i| format!("v{i}"));
    d.check(&["OBJECT", "ENCODING", "e"]);
    d.check(&["HGETALL", "e"]);
    d.check(&["HSET", "e", "field:0", "again"]);
    d.check(&["OBJECT", "ENCODING", "e"]);
    d.check(&["HSET", "e", "one-more", "x"]);
    d.check(&["OBJECT", "ENCODING", "e"]);
    d.check_sorted(&["HGETALL", "e"]);
    // Deleting back under the threshold never converts back.
    for i in 0..400 {
        d.check(&["HDEL", "e", &format!("field:{i}")]);
    }
    d.check(&["OBJECT", "ENCODING", "e"]);
    d.check(&["HLEN", "e"]);
    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    d.check_all(&format!(
        r#"
        HSET v64 f {v64}
        OBJECT ENCODING v64
        HSET v64 {v64} f
        OBJECT ENCODING v64
        HSET v65 f {v65}
        OBJECT ENCODING v65
        HSET k65 {v65} f
        OBJECT ENCODING k65
        HSET later f 1
        HSET later g {v65}
        OBJECT ENCODING later
        HSET existing f 1
        HSET existing f {v65}
        OBJECT ENCODING existing
        HSET nx f 1
        HSETNX nx f {v65}
        OBJECT ENCODING nx
        HSETNX nx g {v65}
        OBJECT ENCODING nx
        HSET inc f 1
        HINCRBY inc {v65} 1
        OBJECT ENCODING inc
        HSET incf f 1
        HINCRBYFLOAT incf f 0.1234567890123
        OBJECT ENCODING incf
        CONFIG SET hash-max-listpack-value 5
        HSET cfg f 12345
        OBJECT ENCODING cfg
        HINCRBYFLOAT cfg f 0.5
        OBJECT ENCODING cfg
        HSET cfg2 f 1
        HINCRBY cfg2 f 99999
        OBJECT ENCODING cfg2
        HINCRBY cfg2 f 1
        OBJECT ENCODING cfg2
        CONFIG SET hash-max-listpack-entries 2
        HSET c a 1 b 2
        OBJECT ENCODING c
        HSET c a 3
        OBJECT ENCODING c
        HSETNX c c 3
        OBJECT ENCODING c
        CONFIG SET hash-max-listpack-entries 0
        HSET z a 1
        OBJECT ENCODING z
        HGETALL z
        CONFIG SET hash-max-listpack-entries 128
        CONFIG SET hash-max-listpack-value 64
        @sorted CONFIG GET hash-max-listpack-*
        CONFIG SET hash-max-ziplist-entries 3
        CONFIG GET hash-max-listpack-entries
        HSET zl a 1 b 2 c 3
        OBJECT ENCODING zl
        HSET zl d 4
        OBJECT ENCODING zl
        "#
    ));
}

#[test]
fn diff_resp3_reply_shapes() {
    let mut d = Differential::new();
    d.hello3();
    d.check_all(
        r#"
        HSET h a 1 b 2 c 3
        HGETALL h
        HGETALL nokey
        HKEYS h
        HVALS h
        HMGET h a x
        HGET h x
        HRANDFIELD nokey
        HRANDFIELD nokey 2 WITHVALUES
        HRANDFIELD h 0 WITHVALUES
        @sorted HRANDFIELD h 3 WITHVALUES
        @sorted HRANDFIELD h 10 WITHVALUES
        @sorted HRANDFIELD h 10
        HSCAN h 0
        HINCRBYFLOAT h a 1.5
        "#,
    );
    // A single negative-count pair: the field decides the value.
    let r = d
        .ferrite
        .cmd_parsed(&["HRANDFIELD", "h", "-5", "WITHVALUES"]);
    let pairs = r.as_array().expect("array");
    assert_eq!(pairs.len(), 5);
    for p in pairs {
        let p = strings(p);
        assert_eq!(p.len(), 2);
    }
}

/// HRANDFIELD's documented properties, for both encodings and both protocols.
#[test]
fn hrandfield_properties() {
    let mut d = Differential::new();
    fill(&mut d, "small", 20, |i| format!("v{i}"));
    fill(&mut d, "large", 1000, |i| format!("v{i}"));
    d.check(&["OBJECT", "ENCODING", "small"]);
    d.check(&["OBJECT", "ENCODING", "large"]);
    let c = &mut d.ferrite;
    for (key, size) in [("small", 20usize), ("large", 1000)] {
        let valid = |f: &[u8], v: &[u8]| {
            let f = std::str::from_utf8(f).unwrap();
            let i: usize = f.strip_prefix("field:").unwrap().parse().unwrap();
            assert!(i < size);
            assert_eq!(v, format!("v{i}").as_bytes(), "value of {f}");
        };
        // Single field: always one of them.
        for _ in 0..20 {
            let f = c.cmd_parsed(&["HRANDFIELD", key]);
            let f = f.as_bytes().unwrap();
            assert!(f.starts_with(b"field:"));
        }
        for count in [1usize, 2, 5, 7, 19, 20, 21, 300, 999, 1000, 5000] {
            let r = strings(&c.cmd_parsed(&["HRANDFIELD", key, &count.to_string()]));
            assert_eq!(r.len(), count.min(size), "{key} count {count}");
            let distinct: HashSet<_> = r.iter().collect();
            assert_eq!(distinct.len(), r.len(), "{key} count {count}: repeats");
            let rv = strings(&c.cmd_parsed(&["HRANDFIELD", key, &count.to_string(), "WITHVALUES"]));
            assert_eq!(rv.len(), 2 * count.min(size));
            let mut seen = HashSet::new();
            for p in rv.chunks(2) {
                valid(&p[0], &p[1]);
                assert!(seen.insert(p[0].clone()), "repeat with values");
            }
        }
        // Negative counts: exactly |count| picks, repeats allowed (and, for a small hash
        // and many picks, certain).
        let r = strings(&c.cmd_parsed(&["HRANDFIELD", key, "-3000"]));
        assert_eq!(r.len(), 3000);
        let distinct: HashSet<_> = r.iter().collect();
        assert!(distinct.len() < 3000);
        if size == 20 {
            assert_eq!(distinct.len(), 20, "3000 picks of 20 fields miss some");
        } else {
            assert!(distinct.len() > 500, "picks are spread: {}", distinct.len());
        }
        let rv = strings(&c.cmd_parsed(&["HRANDFIELD", key, "-50", "WITHVALUES"]));
        assert_eq!(rv.len(), 100);
        for p in rv.chunks(2) {
            valid(&p[0], &p[1]);
        }
    }
    // RESP3: pairs are nested arrays.
    c.cmd(&["HELLO", "3"]);
    for key in ["small", "large"] {
        for count in ["5", "-5", "5000"] {
            let r = c.cmd_parsed(&["HRANDFIELD", key, count, "WITHVALUES"]);
            for p in r.as_array().unwrap() {
                assert_eq!(strings(p).len(), 2);
            }
        }
    }
}

/// Scans `key` to the end with the given COUNT, returning field -> value and the number of calls.
fn full_scan(
    c: &mut common::RawConn,
    key: &str,
    count: usize,
) -> (HashMap<Vec<u8>, Vec<u8>>, usize) {
    let mut cursor = b"0".to_vec();
    let mut all = HashMap::new();
    let mut calls = 0;
    loop {
        let r = c.cmd_parsed(&[
            b"HSCAN".as_slice(),
            key.as_bytes(),
            &cursor,
            b"COUNT",
            count.to_string().as_bytes(),
        ]);
        calls += 1;
        let parts = r.as_array().unwrap();
        cursor = parts[0].as_bytes().unwrap().to_vec();
        let items = strings(&parts[1]);
        for p in items.chunks(2) {
            all.insert(p[0].clone(), p[1].clone());
        }
        if cursor == b"0" {
            return (all, calls);
        }
    }
}

#[test]
fn big_hash_and_hscan() {
    let mut d = Differential::new();
    fill(&mut d, "big", 10_000, |i| format!("value-{i}"));
    d.check_all(
        r#"
        HLEN big
        OBJECT ENCODING big
        HGET big field:9999
        HMGET big field:0 field:5000 nofield
        HSTRLEN big field:1234
        HINCRBY big counter 5
        HINCRBYFLOAT big field:1 1
        HEXISTS big field:42
        "#,
    );
    d.check_sorted(&["HGETALL", "big"]);
    d.check_sorted(&["HKEYS", "big"]);
    d.check_sorted(&["HVALS", "big"]);
    let (all, calls) = full_scan(&mut d.ferrite, "big", 100);
    assert_eq!(all.len(), 10_001);
    assert!(
        calls > 50,
        "a large hash is scanned in steps ({calls} calls)"
    );
    assert_eq!(all[&b"field:77"[..]], b"value-77");
    // MATCH filters after the walk; everything matching comes back over the scan.
    let mut matched = HashSet::new();
    let mut cursor = b"0".to_vec();
    loop {
        let r =
            d.ferrite
                .cmd_parsed(&[b"HSCAN".as_slice(), b"big", &cursor, b"MATCH", b"field:99*"]);
        let parts = r.as_array().unwrap();
        cursor = parts[0].as_bytes().unwrap().to_vec();
        for p in strings(&parts[1]).chunks(2) {
            matched.insert(p[0].clone());
        }
        if cursor == b"0" {
            break;
        }
    }
    assert_eq!(matched.len(), 111);
    for i in (0..10_000).step_by(2) {
        d.check(&["HDEL", "big", &format!("field:{i}")]);
    }
    d.check(&["HLEN", "big"]);
    d.check_sorted(&["HGETALL", "big"]);
    d.check(&["DEL", "big"]);
    d.check(&["EXISTS", "big"]);
}

/// Every field present for the whole scan is returned, however the hash changes between calls.
#[test]
fn hscan_returns_every_stable_field_under_writes() {
    let s = common::Server::start();
    let mut c = s.raw();
    let mut args = vec!["HSET".to_string(), "h".into()];
    for i in 0..3000 {
        args.push(format!("stable:{i}"));
        args.push("v".into());
    }
    c.cmd(&args);
    let mut cursor = b"0".to_vec();
    let mut seen = HashSet::new();
    let mut round = 0;
    loop {
        let r = c.cmd_parsed(&[b"HSCAN".as_slice(), b"h", &cursor, b"COUNT", b"37"]);
        let parts = r.as_array().unwrap();
        cursor = parts[0].as_bytes().unwrap().to_vec();
        for p in strings(&parts[1]).chunks(2) {
            seen.insert(p[0].clone());
        }
        // Churn: add and delete other fields between calls.
        for j in 0..50 {
            c.cmd(&["HSET", "h", &format!("churn:{round}:{j}"), "x"]);
            if round > 0 {
                c.cmd(&["HDEL", "h", &format!("churn:{}:{j}", round - 1)]);
            }
        }
        round += 1;
        if cursor == b"0" {
            break;
        }
    }
    for i in 0..3000 {
        assert!(
            seen.contains(format!("stable:{i}").as_bytes()),
            "stable:{i} missed"
        );
    }
}

/// DUMP payloads move between redis-server and Ferrite both ways, for both encodings, and
/// listpack payloads are byte-identical.
#[test]
fn dump_restore_interop() {
    let mut d = Differential::new();
    d.check(&[
        "HSET", "small", "a", "1", "b", "hello", "c", "-300", "d", "70000", "e", "",
    ]);
    d.check(&[
        "HSET",
        "small",
        "big",
        "9223372036854775807",
        "neg",
        "-9223372036854775808",
    ]);
    d.check(&["HSET", "small", "lz", &"abc".repeat(20)]);
    fill(&mut d, "large", 2000, |i| {
        format!("value-{i}-{}", "z".repeat(i % 50))
    });
    d.check(&["HSET", "longval", "f", &"q".repeat(100)]);
    d.check(&["DUMP", "small"]);
    for key in ["small", "large", "longval"] {
        for (from_ferrite, label) in [(true, "Ferrite -> Redis"), (false, "Redis -> Ferrite")] {
            let payload = if from_ferrite {
                bulk_bytes(&d.ferrite.cmd(&["DUMP", key]))
            } else {
                bulk_bytes(&d.redis.cmd(&["DUMP", key]))
            };
            let target = format!("{key}-copy");
            let restore = [
                b"RESTORE".as_slice(),
                target.as_bytes(),
                b"0",
                &payload,
                b"REPLACE",
            ];
            let (f, r) = (d.ferrite.cmd(&restore), d.redis.cmd(&restore));
            assert_eq!(f, b"+OK\r\n", "{label} {key}: Ferrite RESTORE");
            assert_eq!(r, b"+OK\r\n", "{label} {key}: Redis RESTORE");
            d.check(&["OBJECT", "ENCODING", &target]);
            d.check_sorted(&["HGETALL", &target]);
            d.check(&["HLEN", &target]);
        }
    }
    // RESTORE converts a payload over the live thresholds the way Redis's loader does.
    let small = bulk_bytes(&d.redis.cmd(&["DUMP", "small"]));
    let large = bulk_bytes(&d.redis.cmd(&["DUMP", "large"]));
    d.check(&["CONFIG", "SET", "hash-max-listpack-entries", "3"]);
    d.check(&[b"RESTORE".as_slice(), b"r1", b"0", &small]);
    d.check(&["OBJECT", "ENCODING", "r1"]);
    d.check(&["CONFIG", "SET", "hash-max-listpack-entries", "5000"]);
    d.check(&["CONFIG", "SET", "hash-max-listpack-value", "2"]);
    d.check(&[b"RESTORE".as_slice(), b"r2", b"0", &small]);
    d.check(&["OBJECT", "ENCODING", "r2"]);
    d.check(&[b"RESTORE".as_slice(), b"r3", b"0", &large]);
    d.check(&["OBJECT", "ENCODING", "r3"]);
    d.check(&["CONFIG", "SET", "hash-max-listpack-value", "200"]);
    d.check(&[b"RESTORE".as_slice(), b"r4", b"0", &large]);
    d.check(&["OBJECT", "ENCODING", "r4"]);
    d.check(&["HGETALL", "r4"]);
}

/// A hash in the ziplist encoding of RDB 9 and older (type 13) loads in both servers alike.
#[test]
fn ziplist_payloads_restore() {
    // Ziplist of a=1, bb=hello, c=-300, d=70000, e="".
    fn entry(out: &mut Vec<u8>, prev: &mut usize, enc: &[u8]) {
        let start = out.len();
        out.push(*prev as u8);
        out.extend_from_slice(enc);
        *prev = out.len() - start;
    }
    let mut zl = vec![0u8; 10];
    let mut prev = 0;
    let mut tail = 0;
    for enc in [
        &b"\x01a"[..],
        b"\xf2",
        b"\x02bb",
        b"\x05hello",
        b"\x01c",
        b"\xc0\xd4\xfe",
        b"\x01d",
        b"\xd0\x70\x11\x01\x00",
        b"\x01e",
        b"\x00",
    ] {
        tail = zl.len();
        entry(&mut zl, &mut prev, enc);
    }
    zl.push(0xff);
    let total = zl.len() as u32;
    zl[..4].copy_from_slice(&total.to_le_bytes());
    zl[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
    zl[8..10].copy_from_slice(&10u16.to_le_bytes());
    let mut body = vec![13u8, zl.len() as u8];
    body.extend_from_slice(&zl);
    let payload = framed_payload(&body, 9);
    let mut d = Differential::new();
    d.check(&[b"RESTORE".as_slice(), b"z", b"0", &payload]);
    d.check(&["HGETALL", "z"]);
    d.check(&["OBJECT", "ENCODING", "z"]);
    d.check(&["DUMP", "z"]);
}

/// Damaged hash payloads are refused (never a panic), and the key keeps its value.
#[test]
fn corrupt_hash_payloads_are_refused() {
    let mut d = Differential::new();
    d.check(&["HSET", "h", "a", "1", "b", "hello", "c", "-300"]);
    fill(&mut d, "t", 600, |i| i.to_string());
    let lp = bulk_bytes(&d.check(&["DUMP", "h"]));
    // Crafted bodies both servers must refuse alike.
    for body in [
        &b"\x10\x07\x07\x00\x00\x00\x00\x00\xff"[..], // empty listpack
        b"\x04\x00",                                  // empty hash
        b"\x04\x01\x01a",                             // truncated
        b"\x10\x05\x05\x00\x00\x00",                  // short listpack
    ] {
        let p = framed_payload(body, 10);
        d.check(&[b"RESTORE".as_slice(), b"k", b"0", &p, b"REPLACE"]);
    }
    // A duplicate field: redis-server accepts it unless `sanitize-dump-payload` is on (and
    // then holds a corrupt hash); Ferrite always refuses it.
    let dup = framed_payload(b"\x04\x02\x01a\x011\x01a\x012", 10);
    assert_eq!(
        d.ferrite
            .cmd(&[b"RESTORE".as_slice(), b"k", b"0", &dup, b"REPLACE"]),
        b"-ERR Bad data format\r\n"
    );
    // Bit flips and truncations: Ferrite refuses or loads something coherent, and lives.
    let s = common::Server::start();
    let mut c = s.raw();
    let table = bulk_bytes(&d.ferrite.cmd(&["DUMP", "t"]));
    for good in [&lp, &table] {
        let step = (good.len() / 300).max(1);
        for i in (0..good.len()).step_by(step) {
            for bit in 0..8 {
                let mut p = good.clone();
                p[i] ^= 1 << bit;
                let r = c.cmd(&[b"RESTORE".as_slice(), b"k", b"0", &p, b"REPLACE"]);
                assert!(r.starts_with(b"-ERR") || r == b"+OK\r\n");
            }
            let r = c.cmd(&[b"RESTORE".as_slice(), b"k", b"0", &good[..i], b"REPLACE"]);
            assert!(r.starts_with(b"-ERR"));
        }
        // Valid checksum around every truncation of the body. Both servers read a value from
        // the whole payload, footer included, so a body cut inside its last string can be
        // completed by footer bytes and load: each truncation must be refused or loaded by
        // both alike, with the same value. (Which pair comes last depends on the process's
        // hash seed, so this compares with redis-server rather than expecting a refusal.)
        let body = &good[..good.len() - 10];
        for cut in (1..body.len()).step_by(step) {
            let p = framed_payload(&body[..cut], 10);
            let r = d.check(&[b"RESTORE".as_slice(), b"k", b"0", &p, b"REPLACE"]);
            if r == b"+OK\r\n" {
                d.check(&["HLEN", "k"]);
                d.check_with(&["HGETALL", "k"], Compare::Sorted);
            } else {
                assert!(r.starts_with(b"-ERR Bad data format"), "cut {cut}");
            }
        }
    }
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

/// Writers to one hash from several clients never lose an update (each write is a latched
/// read-modify-publish), across the listpack-to-hashtable conversion, while readers see
/// whole versions: a reader's HGETALL never shows a field count HLEN could not have had.
#[test]
fn concurrent_writers_lose_nothing() {
    let s = common::Server::start();
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 500;
    let port = s.port();
    let writers: Vec<_> = (0..CLIENTS)
        .map(|id| {
            std::thread::spawn(move || {
                let mut c = common::RawConn::connect_port(port);
                for i in 0..ROUNDS {
                    assert_eq!(
                        c.cmd(&["HINCRBY", "h", "counter", "1"]).first(),
                        Some(&b':')
                    );
                    c.cmd(&["HSET", "h", &format!("c{id}:{i}"), "x"]);
                }
            })
        })
        .collect();
    let reader = std::thread::spawn(move || {
        let mut c = common::RawConn::connect_port(port);
        let mut last = 0;
        for _ in 0..300 {
            let all = c.cmd_parsed(&["HGETALL", "h"]);
            let n = all.as_array().map_or(0, |a| a.len() / 2);
            assert!(n >= last, "a later read saw fewer fields ({n} < {last})");
            last = n;
        }
    });
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["HGET", "h", "counter"]),
        format!(
            "${}\r\n{}\r\n",
            (CLIENTS * ROUNDS).to_string().len(),
            CLIENTS * ROUNDS
        )
        .as_bytes()
    );
    assert_eq!(
        c.cmd(&["HLEN", "h"]),
        format!(":{}\r\n", CLIENTS * ROUNDS + 1).as_bytes()
    );
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "h"]), b"$9\r\nhashtable\r\n");
}
