//! Generic key commands, database commands and OBJECT.
//!
//! Differential tests send every command, option and error case to Ferrite and to a real
//! redis-server and compare the exact replies (sorted for KEYS, whole-iteration key sets
//! for SCAN, a clock tolerance for relative TTLs). Integration tests check what a
//! differential test cannot: passive and active expiry, SCAN's guarantee under concurrent
//! writes, and the atomicity of multi-key writes.

mod common;

use common::{encode_command, Compare, Differential, RawConn, Reply, Server};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// TTL in seconds measured relative to each server's clock: may differ by one.
const SECS: Compare = Compare::Time {
    tolerance: 1,
    exact: (1, 0),
};
/// PTTL: both servers are queried within a few milliseconds of each other.
const MILLIS: Compare = Compare::Time {
    tolerance: 250,
    exact: (1, 0),
};

#[test]
fn del_unlink_exists_type_touch() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        del
        unlink
        exists
        touch
        type
        type a b
        mset a 1 b 2 c 3
        exists a b nokey a
        del a nokey a
        exists a
        unlink b c nokey b
        exists b c
        set s hello
        type s
        TYPE nokey
        touch s nokey s
        del s
        touch s
        "#,
    );
}

#[test]
fn rename_and_renamenx() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        rename a
        rename a b c
        renamenx a
        rename nokey b
        rename nokey nokey
        renamenx nokey b
        renamenx nokey nokey
        set a 1
        rename a a
        renamenx a a
        get a
        pexpireat a 99999999999999
        rename a b
        exists a
        get b
        pexpiretime b
        set c plain
        rename c b
        pexpiretime b
        get b
        set d 5
        renamenx b d
        get d
        renamenx b e
        get e
        exists b
        "#,
    );
}

#[test]
fn copy_and_move() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        copy a
        move a
        move a 1 2
        set d 5
        pexpireat d 99999999999999
        copy d e
        pexpiretime e
        copy d e
        copy d e replace
        copy d d
        copy nokey x
        copy nokey nokey
        copy d e db 1
        copy d e db 16
        copy d e db -1
        copy d e db abc
        copy d e db 4294967296
        copy d e foo
        copy d e db
        copy d e replace replace
        copy d e REPLACE DB 1
        copy d d db 1
        copy d d db 0
        copy d x db 99 foo
        select 1
        get e
        pexpiretime e
        get d
        select 0
        move d 0
        move nokey 1
        move d 16
        move d -1
        move d abc
        move d 4294967296
        move d 1
        set z zz
        move z 2
        exists z
        select 2
        get z
        move z 0
        select 0
        get z
        set q 1
        select 3
        set q 2
        select 0
        move q 3
        get q
        "#,
    );
}

#[test]
fn expire_options_and_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        expire a
        pexpire a
        expireat a
        pexpireat a
        ttl
        pttl a b
        expiretime
        pexpiretime a b
        persist
        expire nokey 10
        set a 1
        expire a 100 nx xx
        expire a 100 gt lt
        expire a 100 nx gt
        expire a 100 nx lt
        expire a 100 foo
        expire a abc foo
        expire a abc
        expire a 1.5
        pexpire a 100 bar
        expire a 9223372036854775807
        expire a 9223372036854774
        expire a -9223372036854776
        pexpire a 9223372036854775807
        expireat a 9223372036854775807
        expireat a -9223372036854775808
        pexpireat a 9223372036854775807
        pexpiretime a
        expiretime a
        persist a
        persist a
        expiretime a
        expireat a 99999999999
        expiretime a
        pexpiretime a
        pexpireat a 9999999999999
        expiretime a
        pexpiretime a
        pexpireat a 9999999999499
        expiretime a
        persist a
        expireat a 99999999999 xx
        expireat a 99999999999 gt
        expireat a 99999999999 lt
        expireat a 99999999999 nx
        expireat a 99999999999 NX
        expireat a 99999999998 gt
        expireat a 99999999999 gt
        expireat a 99999999999 gt xx
        expireat a 100000000000 gt xx
        expireat a 100000000000 lt
        expireat a 99999999990 LT
        expiretime a
        expireat a 99999999990 nx
        expireat a 99999999990 xx
        expireat a 99999999990 nx nx
        expire a -1 gt
        exists a
        expire a -1 lt
        exists a
        set a 1
        expire a 0
        exists a
        set a 1
        pexpire a -100
        exists a
        set a 1
        expireat a 1
        exists a
        set a 1
        pexpireat a 1 nx
        exists a
        set a 1
        expire a -9223372036854775
        exists a
        set a 1
        pexpireat a -9223372036854775808
        exists a
        set b 1
        expiretime b
        pexpiretime b
        ttl b
        pttl b
        expiretime nokey
        pexpiretime nokey
        ttl nokey
        pttl nokey
        persist nokey
        "#,
    );
}

#[test]
fn relative_ttls_match_redis() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        set a 1
        expire a 100
        set b 1
        pexpire b 100500
        set c 1
        expire c 100 lt
        set e 1
        pexpireat e 9223372036854775807
        "#,
    );
    for key in ["a", "b", "c", "e"] {
        d.check_with(&["TTL", key], SECS);
        d.check_with(&["PTTL", key], MILLIS);
    }
    for key in ["a", "b", "c"] {
        d.check_with(&["EXPIRETIME", key], SECS);
        d.check_with(&["PEXPIRETIME", key], MILLIS);
    }
    d.check_all(
        r#"
        expiretime e
        pexpiretime e
        expire a 50 gt
        expire a 150 gt
        expire a 200 lt
        persist a
        ttl a
        "#,
    );
    d.check_with(&["TTL", "c"], SECS);
}

#[test]
fn keys_and_randomkey() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        keys
        keys a b
        randomkey x
        keys *
        randomkey
        set only 1
        randomkey
        mset hello 1 hallo 2 hxllo 3 heeello 4 h*llo 5 "h\\llo" 6 world 7 Hello 8
        @sorted keys *
        @sorted keys h?llo
        @sorted keys h*llo
        @sorted keys h[ae]llo
        @sorted keys h[^e]llo
        @sorted keys h[a-b]llo
        @sorted keys h\*llo
        @sorted keys *o*
        @sorted keys nomatch
        @sorted keys [
        @sorted keys hello
        "#,
    );
}

/// Runs a SCAN iteration to completion and returns every key it returned.
fn scan_all(conn: &mut RawConn, options: &[&str]) -> BTreeSet<Vec<u8>> {
    let mut cursor = b"0".to_vec();
    let mut seen = BTreeSet::new();
    for _ in 0..100_000 {
        let mut args = vec![b"SCAN".to_vec(), cursor.clone()];
        args.extend(options.iter().map(|o| o.as_bytes().to_vec()));
        let reply = conn.cmd_parsed(&args);
        let parts = reply
            .as_array()
            .unwrap_or_else(|| panic!("SCAN replied {reply}"));
        cursor = parts[0].as_bytes().expect("cursor").to_vec();
        for k in parts[1].as_array().expect("keys") {
            seen.insert(k.as_bytes().expect("key").to_vec());
        }
        if cursor == b"0" {
            return seen;
        }
    }
    panic!("SCAN did not finish");
}

#[test]
fn scan_matches_redis() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        scan
        scan 0
        scan abc
        scan 18446744073709551616
        scan 1.5
        scan " 1"
        scan "1 "
        scan -
        scan +
        scan 0x10
        scan 007
        scan +1
        scan -1
        scan 18446744073709551615
        scan ""
        scan 0 count 0
        scan 0 count -1
        scan 0 count abc
        scan 0 count
        scan 0 match
        scan 0 type
        scan 0 foo
        scan 0 foo bar
        scan abc count 0
        scan 0 count 1 count 0
        scan 0 match * count 10 type string
        "#,
    );
    // Compare whole iterations: same key sets for every option combination.
    let (mut f, mut r) = d.new_conns();
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..300 {
        args.push(format!("key:{i}").into_bytes());
        args.push(format!("{i}").into_bytes());
        args.push(format!("other:{i}").into_bytes());
        args.push(b"x".to_vec());
    }
    d.check(&args);
    for opts in [
        &[][..],
        &["COUNT", "1"],
        &["COUNT", "7"],
        &["COUNT", "1000"],
        &["MATCH", "key:1*"],
        &["MATCH", "other:*", "COUNT", "3"],
        &["MATCH", "*"],
        &["TYPE", "string"],
        &["TYPE", "STRING", "COUNT", "5"],
        &["TYPE", "list"],
        &["TYPE", "nosuchtype"],
        &["MATCH", "key:2?", "TYPE", "string", "COUNT", "2"],
    ] {
        let fs = scan_all(&mut f, opts);
        let rs = scan_all(&mut r, opts);
        assert_eq!(fs, rs, "SCAN 0 {opts:?}");
    }
    assert_eq!(scan_all(&mut f, &[]).len(), 600);
}

#[test]
fn dbsize_swapdb_flushdb_flushall() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        dbsize
        dbsize 1
        swapdb 0
        swapdb 0 1 2
        swapdb a 1
        swapdb 0 b
        swapdb 1.5 0
        swapdb 0 16
        swapdb -1 0
        swapdb 4294967296 0
        swapdb 0 4294967296
        swapdb 16 abc
        select 4294967296
        select 16
        flushdb foo
        flushdb async sync
        flushall foo
        flushall sync sync
        mset a 1 b 2 c 3
        dbsize
        select 1
        set x 1
        dbsize
        swapdb 0 1
        dbsize
        @sorted keys *
        select 0
        dbsize
        get x
        swapdb 0 0
        get x
        swapdb 1 0
        @sorted keys *
        select 5
        set y 1
        select 0
        flushdb
        dbsize
        select 5
        dbsize
        select 0
        set a 1
        flushdb ASYNC
        dbsize
        set a 1
        flushdb SYNC
        dbsize
        set a 1
        flushall
        dbsize
        select 5
        dbsize
        set y 1
        flushall async
        dbsize
        set y 1
        flushall SYNC
        dbsize
        "#,
    );
}

#[test]
fn object_subcommands() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        object
        object foo
        object foo bar
        object help
        object HELP
        object help x
        object encoding
        object encoding a b
        object refcount
        object freq
        object idletime
        object encoding nokey
        object refcount nokey
        object freq nokey
        object idletime nokey
        set int 12345
        set neg -1
        set zero 0
        set small 9999
        set edge 10000
        set big 9223372036854775807
        set padded 0123
        set emb hello
        set emb44 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        set raw45 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        object encoding int
        object encoding neg
        object encoding big
        object encoding padded
        object encoding emb
        object encoding emb44
        object encoding raw45
        object refcount int
        object refcount neg
        object refcount zero
        object refcount small
        object refcount edge
        object refcount emb
        object refcount raw45
        object freq emb
        object Encoding emb
        "#,
    );
    d.check_with(&["OBJECT", "IDLETIME", "emb"], SECS);
}

#[test]
fn object_refcount_without_shared_integers() {
    // With a maxmemory limit and an LRU policy, Redis gives every value its own object.
    let args = ["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"];
    let mut d = Differential::with_args(&args, &args);
    d.check_all(
        r#"
        set zero 0
        object refcount zero
        object encoding zero
        object refcount nokey
        "#,
    );
}

#[test]
fn object_freq_under_lfu_policy() {
    let args = ["--maxmemory-policy", "allkeys-lfu"];
    let mut d = Differential::with_args(&args, &args);
    d.check_all(
        r#"
        set k hello
        object freq k
        object freq k
        get k
        object freq k
        object idletime k
        object idletime nokey
        object freq nokey
        config set maxmemory-policy allkeys-lru
        object freq k
        "#,
    );
    d.check_with(&["OBJECT", "IDLETIME", "k"], Compare::Exact);
}

#[test]
fn null_replies_in_resp3() {
    let mut d = Differential::new();
    d.hello3();
    d.check_all(
        r#"
        randomkey
        object encoding nokey
        object idletime nokey
        dump nokey
        type nokey
        keys *
        scan 0
        set a 1
        scan 0
        keys *
        object help
        "#,
    );
}

/// Sends all commands in one write and reads all replies.
fn pipeline(conn: &mut RawConn, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    for c in cmds {
        buf.extend_from_slice(&encode_command(c));
    }
    conn.send_raw(&buf);
    cmds.iter().map(|_| conn.read_reply()).collect()
}

fn cmd(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

#[test]
fn expired_keys_disappear() {
    let server = Server::start();
    let mut c = server.raw();
    assert_eq!(c.cmd(&["SET", "k", "v", "PX", "50"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "other", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["PEXPIRE", "other", "50"]), b":1\r\n");
    assert_eq!(c.cmd(&["EXISTS", "k", "other"]), b":2\r\n");
    thread::sleep(Duration::from_millis(120));
    assert_eq!(c.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(c.cmd(&["EXISTS", "k", "other"]), b":0\r\n");
    assert_eq!(c.cmd(&["TTL", "other"]), b":-2\r\n");
    assert_eq!(c.cmd(&["KEYS", "*"]), b"*0\r\n");
    assert_eq!(c.cmd(&["RENAME", "k", "x"]), b"-ERR no such key\r\n");
    assert_eq!(c.cmd(&["RANDOMKEY"]), b"$-1\r\n");
}

/// INFO stats `expired_keys` counts keys removed lazily (a command found them
/// expired) and actively (the background cycle), and CONFIG RESETSTAT zeroes it.
#[test]
fn expired_keys_are_counted() {
    let server = Server::start();
    let mut c = server.raw();
    let expired = |c: &mut RawConn| -> i64 {
        let info = c.cmd_parsed(&["INFO", "stats"]);
        let text = String::from_utf8_lossy(info.as_bytes().expect("bulk")).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .expect("expired_keys field")
            .trim()
            .parse()
            .expect("number")
    };
    assert_eq!(expired(&mut c), 0);
    // Read after its deadline: removed by this GET or, if the background cycle
    // got there first, by it; either way it is counted exactly once.
    assert_eq!(c.cmd(&["SET", "lazy", "v", "PX", "30"]), b"+OK\r\n");
    thread::sleep(Duration::from_millis(60));
    assert_eq!(c.cmd(&["GET", "lazy"]), b"$-1\r\n");
    // Active: nobody touches these.
    for i in 0..10 {
        let k = format!("active{i}");
        assert_eq!(c.cmd(&["SET", &k, "v", "PX", "30"]), b"+OK\r\n");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while expired(&mut c) < 11 {
        assert!(
            Instant::now() < deadline,
            "expired_keys stayed at {}",
            expired(&mut c)
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(expired(&mut c), 11);
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    assert_eq!(expired(&mut c), 0);
}

#[test]
fn active_expiry_reclaims_keys_nobody_touches() {
    let server = Server::start();
    let mut c = server.raw();
    let sets: Vec<_> = (0..1000)
        .map(|i| cmd(&["SET", &format!("k{i}"), "v", "PX", "100"]))
        .collect();
    assert!(pipeline(&mut c, &sets).iter().all(|r| r == b"+OK\r\n"));
    assert_eq!(c.cmd(&["SET", "keeper", "v"]), b"+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // DBSIZE counts keys that expired but were not reclaimed; it reads no key.
        let n = c.cmd_parsed(&["DBSIZE"]).as_int().expect("integer");
        if n == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{n} keys left 5 s after they expired"
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(c.cmd(&["GET", "keeper"]), b"$1\r\nv\r\n");
}

#[test]
fn scan_returns_every_stable_key_under_concurrent_writes() {
    let server = Server::start();
    let mut c = server.raw();
    let stable: BTreeSet<Vec<u8>> = (0..5000)
        .map(|i| format!("stable:{i}").into_bytes())
        .collect();
    let sets: Vec<_> = stable
        .iter()
        .map(|k| vec![b"SET".to_vec(), k.clone(), b"v".to_vec()])
        .collect();
    assert!(pipeline(&mut c, &sets).iter().all(|r| r == b"+OK\r\n"));
    let stop = Arc::new(AtomicBool::new(false));
    let churn: Vec<_> = (0..2)
        .map(|t| {
            let mut w = server.raw();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let batch: Vec<_> = (0..50)
                        .map(|j| {
                            let k = format!("churn:{t}:{}", (i + j) % 3000);
                            if (i + j).is_multiple_of(2) {
                                cmd(&["SET", &k, "v"])
                            } else {
                                cmd(&["DEL", &k])
                            }
                        })
                        .collect();
                    pipeline(&mut w, &batch);
                    i += 37;
                }
            })
        })
        .collect();
    for count in ["1", "10", "100"] {
        let seen = scan_all(&mut c, &["COUNT", count]);
        let missing: Vec<_> = stable.difference(&seen).take(5).collect();
        assert!(missing.is_empty(), "SCAN COUNT {count} missed {missing:?}");
        let matched = scan_all(&mut c, &["MATCH", "stable:1*", "COUNT", count]);
        assert!(matched.iter().all(|k| k.starts_with(b"stable:1")));
        assert_eq!(
            matched.len(),
            stable.iter().filter(|k| k.starts_with(b"stable:1")).count()
        );
    }
    stop.store(true, Ordering::Relaxed);
    for h in churn {
        h.join().expect("churn thread");
    }
}

#[test]
fn rename_is_atomic_for_readers() {
    let server = Server::start();
    let mut c = server.raw();
    assert_eq!(c.cmd(&["SET", "a", "v"]), b"+OK\r\n");
    let stop = Arc::new(AtomicBool::new(false));
    let renamers: Vec<_> = (0..2)
        .map(|_| {
            let mut w = server.raw();
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // One of the two names exists at any time; whichever fails is fine.
                    w.cmd(&["RENAME", "a", "b"]);
                    w.cmd(&["RENAME", "b", "a"]);
                }
            })
        })
        .collect();
    for _ in 0..3000 {
        assert_eq!(
            c.cmd(&["EXISTS", "a", "b"]),
            b":1\r\n",
            "the key was seen under both or neither name"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for h in renamers {
        h.join().expect("renamer thread");
    }
    assert_eq!(c.cmd(&["EXISTS", "a", "b"]), b":1\r\n");
}

#[test]
fn moves_between_databases_do_not_deadlock_or_lose_keys() {
    let server = Server::start();
    let mut c = server.raw();
    let keys: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    for k in &keys {
        assert_eq!(c.cmd(&["SET", k, k]), b"+OK\r\n");
    }
    // Two clients, one in each database, push the same keys in opposite directions; a
    // third copies them back and forth. Each MOVE latches the key in both databases.
    let workers: Vec<_> = [("0", "1"), ("1", "0")]
        .into_iter()
        .map(|(from, to)| {
            let mut w = server.raw();
            let keys = keys.clone();
            thread::spawn(move || {
                assert_eq!(w.cmd(&["SELECT", from]), b"+OK\r\n");
                for _ in 0..100 {
                    for k in &keys {
                        let r = w.cmd(&["MOVE", k, to]);
                        assert!(r == b":1\r\n" || r == b":0\r\n", "{r:?}");
                        let r = w.cmd(&["COPY", k, k, "DB", to]);
                        assert!(r == b":1\r\n" || r == b":0\r\n", "{r:?}");
                    }
                }
            })
        })
        .collect();
    for h in workers {
        h.join().expect("mover thread");
    }
    for k in &keys {
        assert_eq!(c.cmd(&["SELECT", "0"]), b"+OK\r\n");
        let in0 = c.cmd(&["GET", k]);
        assert_eq!(c.cmd(&["SELECT", "1"]), b"+OK\r\n");
        let in1 = c.cmd(&["GET", k]);
        let present = [&in0, &in1].iter().filter(|r| ***r != b"$-1\r\n").count();
        assert!(present >= 1, "key {k} was lost");
        for r in [in0, in1] {
            assert!(r == b"$-1\r\n" || Reply::from_raw(&r).as_bytes() == Some(k.as_bytes()));
        }
    }
}

#[test]
fn swapdb_and_flush_are_seen_by_other_clients() {
    let server = Server::start();
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(a.cmd(&["SET", "k", "zero"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["SELECT", "1"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["SET", "k", "one"]), b"+OK\r\n");
    assert_eq!(a.cmd(&["SWAPDB", "0", "1"]), b"+OK\r\n");
    assert_eq!(a.cmd(&["GET", "k"]), b"$3\r\none\r\n");
    assert_eq!(b.cmd(&["GET", "k"]), b"$4\r\nzero\r\n");
    assert_eq!(b.cmd(&["FLUSHDB"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["DBSIZE"]), b":0\r\n");
    assert_eq!(a.cmd(&["GET", "k"]), b"$3\r\none\r\n");
    assert_eq!(b.cmd(&["FLUSHALL", "ASYNC"]), b"+OK\r\n");
    assert_eq!(a.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(a.cmd(&["DBSIZE"]), b":0\r\n");
}
