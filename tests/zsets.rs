//! The sorted set command family: differential tests against a real redis-server 7.0 (every
//! command, option and error case, score formatting, encoding conversion points, RESP2 and
//! RESP3 reply shapes, big sorted sets), properties of ZRANDMEMBER, ZSCAN completeness,
//! DUMP/RESTORE in both directions, and exact totals of concurrent ZINCRBYs.

mod common;

use common::{framed_payload, Differential, Reply};
use std::collections::BTreeSet;

#[test]
fn diff_zadd_options_and_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD z 1 a 2 b 3 c
        ZRANGE z 0 -1 WITHSCORES
        OBJECT ENCODING z
        TYPE z
        ZADD z NX 10 a 4 d
        ZADD z XX 10 a 5 e
        ZADD z XX CH 11 a 5 e
        ZADD z CH 11 a 12 b 1 f
        ZADD z GT 1 a 20 b
        ZADD z GT CH 1 a 21 b 7 g
        ZADD z LT CH 100 a 0 b
        ZADD z XX GT CH 200 a 0 c
        ZADD z XX LT 300 a
        ZRANGE z 0 -1 WITHSCORES
        ZADD z INCR 5 a
        ZADD z INCR NX 5 a
        ZADD z INCR XX 5 nope
        ZADD z INCR GT -5 a
        ZADD z INCR LT -5 a
        ZADD z INCR 5 new
        ZADD nokey XX 1 a
        ZADD nokey XX INCR 1 a
        EXISTS nokey
        ZADD z NX XX 1 a
        ZADD z GT LT 1 a
        ZADD z GT NX 1 a
        ZADD z LT NX 1 a
        ZADD z INCR 1 a 2 b
        ZADD z 1
        ZADD z 1 a 2
        ZADD z x a
        ZADD z 1 a x b
        ZADD z nan a
        ZADD z 1e400 a
        ZADD z " 1" a
        ZADD z "" a
        ZADD z inf a -inf b +inf c
        ZRANGE z 0 -1 WITHSCORES
        ZADD z INCR -inf a
        ZADD z INCR +inf b
        ZSCORE z a
        ZADD z 1.1 x 1e300 y -0 w 0.1 v 3.0000000000000004 u 100 t 0x10 s
        ZRANGE z 0 -1 WITHSCORES
        ZSCORE z x
        ZSCORE z y
        ZSCORE z w
        ZSCORE z s
        ZMSCORE z x y nope w
        ZMSCORE nokey a b
        ZINCRBY z 1.5 x
        ZINCRBY z 1 brandnew
        ZINCRBY z x x
        ZINCRBY z -inf t
        ZINCRBY z +inf t
        ZINCRBY z 1
        ZINCRBY nokey2 2 m
        ZSCORE nokey2 m
        ZADD x 1 a
        ZADD X 1 a
        SET str v
        ZADD str 1 a
        ZINCRBY str 1 a
        ZADD str XX 1 a
        ZADD str x a
        ZADD
        ZADD z
        ZSCORE z
        ZSCORE nokey a
        ZADD z nx 1 a
        ZADD z Nx Ch 1 zz
        "#,
    );
}

#[test]
fn diff_point_commands() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD z 1 a 2 b 3 c 3 d 5 e
        ZCARD z
        ZCARD nokey
        ZRANK z a
        ZRANK z d
        ZRANK z nope
        ZRANK nokey a
        ZREVRANK z a
        ZREVRANK z e
        ZREVRANK z nope
        ZREM z a nope b
        ZREM z nope
        ZREM nokey a
        ZRANGE z 0 -1
        ZREM z c d e
        EXISTS z
        SET str v
        ZCARD str
        ZRANK str a
        ZREVRANK str a
        ZREM str a
        ZSCORE str a
        ZMSCORE str a
        ZCARD
        ZRANK z
        ZREM z
        ZMSCORE z
        "#,
    );
}

#[test]
fn diff_ranges() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g -1 neg 1.5 half
        ZRANGE z 0 -1
        ZRANGE z 0 -1 WITHSCORES
        ZRANGE z 2 4 WITHSCORES
        ZRANGE z -3 -1
        ZRANGE z -100 100
        ZRANGE z 5 2
        ZRANGE z 100 200
        ZRANGE z 0 0 REV
        ZRANGE z 0 2 REV WITHSCORES
        ZREVRANGE z 0 2
        ZREVRANGE z 0 -1 WITHSCORES
        ZREVRANGE z -2 -1
        ZRANGE z 1 5 BYSCORE
        ZRANGE z (1 5 BYSCORE WITHSCORES
        ZRANGE z (1 (5 BYSCORE
        ZRANGE z -inf +inf BYSCORE
        ZRANGE z -inf +inf BYSCORE LIMIT 2 3
        ZRANGE z -inf +inf BYSCORE LIMIT 2 -1
        ZRANGE z -inf +inf BYSCORE LIMIT -1 3
        ZRANGE z -inf +inf BYSCORE LIMIT 100 3
        ZRANGE z -inf +inf BYSCORE LIMIT 0 0
        ZRANGE z 5 1 BYSCORE REV
        ZRANGE z 5 1 BYSCORE REV WITHSCORES LIMIT 1 2
        ZRANGE z +inf -inf BYSCORE REV LIMIT 0 3
        ZRANGE z 3 3 BYSCORE
        ZRANGE z (3 3 BYSCORE
        ZRANGE z 5 1 BYSCORE
        ZRANGEBYSCORE z 2 4
        ZRANGEBYSCORE z 2 4 WITHSCORES
        ZRANGEBYSCORE z 2 4 LIMIT 1 1
        ZRANGEBYSCORE z 2 4 WITHSCORES LIMIT 1 5
        ZRANGEBYSCORE z (2 (4
        ZRANGEBYSCORE z "" ""
        ZRANGEBYSCORE z ( (
        ZRANGEBYSCORE z x 4
        ZRANGEBYSCORE z 2 nan
        ZRANGEBYSCORE z 1 2 BYSCORE
        ZRANGEBYSCORE z 1 2 REV
        ZRANGEBYSCORE z 1 2 LIMIT 1
        ZRANGEBYSCORE z 1 2 LIMIT x 1
        ZREVRANGEBYSCORE z 4 2
        ZREVRANGEBYSCORE z 4 2 WITHSCORES LIMIT 1 1
        ZREVRANGEBYSCORE z 2 4
        ZREVRANGEBYSCORE z +inf -inf
        ZCOUNT z 2 4
        ZCOUNT z (2 (4
        ZCOUNT z -inf +inf
        ZCOUNT z 4 2
        ZCOUNT z x 2
        ZCOUNT nokey 1 2
        ZRANGE z 0 -1 LIMIT 0 1
        ZRANGE z a b
        ZRANGE z 0 1 BYLEX
        ZRANGE z - + BYLEX WITHSCORES
        ZRANGE z 0 1 BYSCORE BYLEX
        ZRANGE z 0 1 REV REV
        ZRANGE z 0 1 foo
        ZRANGE nokey 0 -1
        ZRANGE nokey 0 1 BYSCORE
        ZREVRANGE z 0 1 REV
        ZREVRANGE z 0 1 BYSCORE
        ZADD l 0 a 0 b 0 c 0 d 0 e 0 f 0 ab 0 "" 0 zz
        ZRANGE l - + BYLEX
        ZRANGE l [b [d BYLEX
        ZRANGE l (b (d BYLEX
        ZRANGE l (a + BYLEX LIMIT 1 3
        ZRANGE l + - BYLEX REV
        ZRANGE l [d (a BYLEX REV LIMIT 1 2
        ZRANGE l - [ BYLEX
        ZRANGE l [ + BYLEX
        ZRANGEBYLEX l - +
        ZRANGEBYLEX l [b +
        ZRANGEBYLEX l [b + LIMIT 0 2
        ZRANGEBYLEX l b +
        ZRANGEBYLEX l [b + WITHSCORES
        ZRANGEBYLEX l + -
        ZRANGEBYLEX l [d [b
        ZREVRANGEBYLEX l + -
        ZREVRANGEBYLEX l [d [b
        ZREVRANGEBYLEX l (d (b LIMIT 1 1
        ZLEXCOUNT l - +
        ZLEXCOUNT l [b [d
        ZLEXCOUNT l (b (d
        ZLEXCOUNT l + -
        ZLEXCOUNT l x y
        ZLEXCOUNT nokey - +
        SET str v
        ZRANGE str 0 1
        ZRANGEBYSCORE str 0 1
        ZRANGEBYLEX str - +
        ZCOUNT str 0 1
        ZLEXCOUNT str - +
        ZREVRANGE str 0 1
        ZRANGE z
        ZRANGEBYSCORE z 1
        "#,
    );
}

#[test]
fn diff_rangestore_and_remrange() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g
        ZRANGESTORE d1 z 0 2
        ZRANGE d1 0 -1 WITHSCORES
        OBJECT ENCODING d1
        ZRANGESTORE d2 z 1 5 BYSCORE REV LIMIT 1 2
        ZRANGE d2 0 -1 WITHSCORES
        ZRANGESTORE d3 z - + BYLEX
        ZRANGE d3 0 -1 WITHSCORES
        ZRANGESTORE d1 z 10 20
        EXISTS d1
        ZRANGESTORE d1 nokey 0 -1
        ZRANGESTORE d1 z 0 1 WITHSCORES
        ZRANGESTORE d1 z 0 1 LIMIT 0 1
        SET str v
        ZRANGESTORE d1 str 0 1
        ZRANGESTORE str z 0 1
        TYPE str
        EXPIRE d2 100
        ZRANGESTORE d2 z 0 0
        TTL d2
        ZRANGESTORE z z 0 1
        ZRANGE z 0 -1
        ZADD r 1 a 2 b 3 c 4 d 5 e 6 f 7 g
        ZREMRANGEBYRANK r 0 1
        ZRANGE r 0 -1
        ZREMRANGEBYRANK r -1 -1
        ZREMRANGEBYRANK r 5 1
        ZREMRANGEBYRANK r 100 200
        ZREMRANGEBYRANK r x 1
        ZREMRANGEBYSCORE r (3 5
        ZRANGE r 0 -1
        ZREMRANGEBYSCORE r x 5
        ZREMRANGEBYSCORE r 5 1
        ZREMRANGEBYSCORE nokey 1 2
        ZADD l 0 a 0 b 0 c 0 d
        ZREMRANGEBYLEX l [b (d
        ZRANGE l 0 -1
        ZREMRANGEBYLEX l x y
        ZREMRANGEBYLEX l - +
        EXISTS l
        ZREMRANGEBYRANK r 0 -1
        EXISTS r
        ZREMRANGEBYRANK str 0 1
        ZREMRANGEBYSCORE str 0 1
        ZREMRANGEBYLEX str - +
        "#,
    );
}

#[test]
fn diff_pops_and_zmpop() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZPOPMIN z
        ZPOPMAX z
        ZPOPMIN z 2
        ZPOPMAX z 0
        ZPOPMIN z 10
        EXISTS z
        ZPOPMIN nokey
        ZPOPMIN nokey 2
        ZPOPMIN z -1
        ZPOPMIN z x
        ZPOPMIN z 1 2
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZMPOP 1 z MIN
        ZMPOP 1 z MAX COUNT 2
        ZMPOP 2 nokey z MIN COUNT 10
        ZMPOP 2 nokey z MIN
        ZMPOP 1 z MIN COUNT 0
        ZMPOP 0 z MIN
        ZMPOP x z MIN
        ZMPOP 2 z MIN
        ZMPOP 1 z FOO
        ZMPOP 1 z MIN COUNT
        ZMPOP 1 z MIN COUNT 1 COUNT 1
        ZMPOP 1 z MIN foo
        SET str v
        ZPOPMIN str
        ZPOPMAX str 3
        ZMPOP 2 nokey str MIN
        ZADD z2 1 a
        ZMPOP 2 z2 str MAX
        "#,
    );
}

#[test]
fn diff_setops() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD a 1 x 2 y 3 z
        ZADD b 10 y 20 z 30 w
        SADD s y w q
        ZUNION 2 a b
        ZUNION 2 a b WITHSCORES
        ZUNION 3 a b s WITHSCORES
        ZUNION 2 a b WEIGHTS 2 3 WITHSCORES
        ZUNION 2 a b AGGREGATE MIN WITHSCORES
        ZUNION 2 a b AGGREGATE MAX WITHSCORES
        ZUNION 2 a b WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES
        ZINTER 2 a b
        ZINTER 2 a b WITHSCORES
        ZINTER 3 a b s WITHSCORES
        ZINTER 2 a b WEIGHTS 2 0.5 AGGREGATE MAX WITHSCORES
        ZINTER 2 a a WITHSCORES
        ZINTER 2 a nokey
        ZDIFF 2 a b
        ZDIFF 2 b a WITHSCORES
        ZDIFF 3 b s a WITHSCORES
        ZDIFF 1 nokey
        ZDIFF 2 a b WEIGHTS 1 2
        ZDIFF 2 a b AGGREGATE SUM
        ZINTERCARD 2 a b
        ZINTERCARD 2 a b LIMIT 1
        ZINTERCARD 2 a b LIMIT 0
        ZINTERCARD 2 a b LIMIT -1
        ZINTERCARD 2 a b LIMIT x
        ZINTERCARD 2 a b WITHSCORES
        ZINTERCARD 0 a
        ZINTERCARD 3 a b
        ZUNIONSTORE d 2 a b
        ZRANGE d 0 -1 WITHSCORES
        OBJECT ENCODING d
        ZINTERSTORE d 2 a b WEIGHTS 2 2
        ZRANGE d 0 -1 WITHSCORES
        ZDIFFSTORE d 2 a b
        ZRANGE d 0 -1 WITHSCORES
        ZINTERSTORE d 2 a nokey
        EXISTS d
        ZUNIONSTORE d 2 a b WITHSCORES
        ZUNION 0 a
        ZUNION -1 a
        ZUNION x a
        ZUNION 3 a b
        ZUNION 2 a b WEIGHTS 1
        ZUNION 2 a b WEIGHTS 1 x
        ZUNION 2 a b AGGREGATE foo
        ZUNION 2 a b AGGREGATE
        ZUNION 2 a b foo
        ZUNIONSTORE d 0 a
        ZINTERSTORE d 3 a b
        SET str v
        ZUNION 2 a str
        ZINTER 2 str a
        ZUNION 2 a str WEIGHTS x y
        ZUNIONSTORE d 2 a str
        ZUNIONSTORE str 2 a b
        TYPE str
        ZADD inf 1 x
        ZADD ninf -inf x
        ZUNION 2 inf ninf WEIGHTS 0 1 WITHSCORES
        ZUNION 2 ninf ninf WEIGHTS inf -1 WITHSCORES
        ZINTER 2 ninf inf WEIGHTS 1 inf WITHSCORES
        "#,
    );
}

#[test]
fn diff_zscan_zrandmember_and_generic_commands() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD z 1 a 2.5 b 1.1 c -0 d inf e 1e300 f
        ZSCAN z 0
        ZSCAN z 0 MATCH a*
        ZSCAN z 0 COUNT 1
        ZSCAN z x
        ZSCAN z 0 COUNT 0
        ZSCAN z 0 foo bar
        ZSCAN nokey 0
        ZADD one 7 only
        ZRANDMEMBER one
        ZRANDMEMBER one 1
        ZRANDMEMBER one 3 WITHSCORES
        ZRANDMEMBER one -3 WITHSCORES
        ZRANDMEMBER one -3
        ZRANDMEMBER one 0
        ZRANDMEMBER nokey
        ZRANDMEMBER nokey 3
        ZRANDMEMBER one x
        ZRANDMEMBER one 1 foo
        ZRANDMEMBER one 1 WITHSCORES foo
        ZRANDMEMBER one -9223372036854775808
        ZRANDMEMBER one 9223372036854775807 WITHSCORES
        ZRANDMEMBER z 100 WITHSCORES
        ZRANDMEMBER z 6
        SET str v
        ZSCAN str 0
        ZRANDMEMBER str
        COPY z z2
        ZRANGE z2 0 -1 WITHSCORES
        OBJECT ENCODING z2
        RENAME z2 z3
        ZRANGE z3 0 -1
        MOVE z3 1
        SELECT 1
        ZRANGE z3 0 -1 WITHSCORES
        SELECT 0
        SCAN 0 TYPE zset MATCH z COUNT 100
        SCAN 0 TYPE zset MATCH one COUNT 100
        TYPE z
        EXPIRE z 100
        ZADD z 9 q
        TTL z
        DEL z
        EXISTS z
        "#,
    );
}

#[test]
fn diff_reply_shapes_resp3() {
    let mut d = Differential::new();
    d.hello3();
    d.check_all(
        r#"
        ZADD z 1 a 2.5 b 1.1 c -0 d inf e 1e300 f
        ZRANGE z 0 -1 WITHSCORES
        ZRANGE z 0 -1
        ZREVRANGE z 0 1 WITHSCORES
        ZRANGEBYSCORE z 1 3 WITHSCORES
        ZSCORE z c
        ZSCORE z e
        ZSCORE z nope
        ZMSCORE z a nope
        ZINCRBY z 1 a
        ZADD z INCR 1 a
        ZADD z XX INCR 1 nope
        ZRANK z nope
        ZSCAN z 0
        ZADD one 7 only
        ZRANDMEMBER one 2 WITHSCORES
        ZRANDMEMBER one -2 WITHSCORES
        ZRANDMEMBER one 2
        ZRANDMEMBER nokey
        ZRANDMEMBER nokey 1
        ZUNION 2 z one WITHSCORES
        ZINTER 2 z one
        ZDIFF 2 z one WITHSCORES
        ZPOPMIN z
        ZPOPMIN z 2
        ZPOPMAX z 1
        ZPOPMIN nokey
        ZMPOP 1 z MIN
        ZMPOP 1 z MAX COUNT 2
        ZMPOP 1 nokey MAX
        "#,
    );
}

#[test]
fn diff_encoding_conversions() {
    let mut d = Differential::new();
    d.check_all("@sorted CONFIG GET zset-max-*");
    let mut add = vec!["ZADD".to_string(), "lp".to_string()];
    for i in 0..128 {
        add.push(i.to_string());
        add.push(format!("m{i}"));
    }
    d.check(&add);
    d.check_all(
        r#"
        OBJECT ENCODING lp
        ZADD lp 1 m1
        OBJECT ENCODING lp
        ZADD lp 999 new
        OBJECT ENCODING lp
        ZREM lp new m1 m2
        OBJECT ENCODING lp
        ZADD long 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING long
        ZADD long2 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING long2
        ZADD long3 1 a
        ZADD long3 2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING long3
        ZADD long4 1 a 2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING long4
        ZREM long4 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING long4
        ZUNIONSTORE u 1 long4
        OBJECT ENCODING u
        ZRANGESTORE rs long4 0 -1
        OBJECT ENCODING rs
        CONFIG SET zset-max-listpack-entries 3
        ZADD c 1 a 2 b 3 c
        OBJECT ENCODING c
        ZADD c 4 d
        OBJECT ENCODING c
        ZADD c2 1 a 2 b 3 c 4 d
        OBJECT ENCODING c2
        ZRANGESTORE rs2 c2 0 2
        OBJECT ENCODING rs2
        ZRANGESTORE rs3 c2 0 3
        OBJECT ENCODING rs3
        ZRANGESTORE rs4 c2 -inf +inf BYSCORE
        OBJECT ENCODING rs4
        ZREMRANGEBYRANK rs3 0 1
        OBJECT ENCODING rs3
        ZINTERSTORE i 2 c2 c2
        OBJECT ENCODING i
        ZDIFFSTORE df 1 c2
        OBJECT ENCODING df
        ZREM c2 a b
        ZUNIONSTORE u2 1 c2
        OBJECT ENCODING u2
        ZINCRBY c3 1 a
        OBJECT ENCODING c3
        CONFIG SET zset-max-listpack-entries 0
        ZADD e 1 a
        OBJECT ENCODING e
        ZUNIONSTORE e2 1 e
        OBJECT ENCODING e2
        CONFIG SET zset-max-listpack-entries 128
        CONFIG SET zset-max-listpack-value 2
        ZADD v 1 ab
        OBJECT ENCODING v
        ZADD v2 1 abc
        OBJECT ENCODING v2
        ZADD v3 1 a 2 abc
        OBJECT ENCODING v3
        ZRANGE v3 0 -1 WITHSCORES
        CONFIG SET zset-max-listpack-value 64
        CONFIG SET zset-max-ziplist-entries 5
        CONFIG GET zset-max-listpack-entries
        CONFIG SET zset-max-listpack-entries 128
        "#,
    );
}

#[test]
fn diff_big_zsets() {
    let mut d = Differential::new();
    for chunk in 0..10 {
        let mut add = vec!["ZADD".to_string(), "big".to_string()];
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            add.push(((i * 7919) % 100_003).to_string());
            add.push(format!("m{i}"));
        }
        d.check(&add);
    }
    d.check_all(
        r#"
        ZCARD big
        OBJECT ENCODING big
        ZRANGE big 0 9 WITHSCORES
        ZRANGE big 50000 50009 WITHSCORES
        ZRANGE big -10 -1 WITHSCORES
        ZREVRANGE big 49995 50004 WITHSCORES
        ZRANK big m0
        ZRANK big m99999
        ZRANK big m54321
        ZREVRANK big m54321
        ZSCORE big m777
        ZCOUNT big 1000 2000
        ZRANGEBYSCORE big 5000 5010 WITHSCORES
        ZRANGEBYSCORE big (5000 +inf LIMIT 10 5
        ZREVRANGEBYSCORE big 90000 -inf LIMIT 100 5 WITHSCORES
        ZREMRANGEBYRANK big 1000 1999
        ZCARD big
        ZREMRANGEBYSCORE big 50000 50100
        ZCARD big
        ZRANGE big 49000 49010 WITHSCORES
        ZPOPMIN big 3
        ZPOPMAX big 3
        ZINTERCARD 2 big big LIMIT 500
        ZUNIONSTORE u 2 big big WEIGHTS 1 2
        ZRANGE u 20000 20005 WITHSCORES
        ZRANGESTORE rs big 100 50100
        ZCARD rs
        OBJECT ENCODING rs
        ZDIFFSTORE df 2 big rs
        ZCARD df
        ZRANGE df 0 4
        "#,
    );
    for i in (0..100_000).step_by(9_973) {
        d.check(&["ZRANK", "big", &format!("m{i}")]);
        d.check(&["ZSCORE", "big", &format!("m{i}")]);
    }
    // The same member scores in a lex-friendly big set.
    let mut lex = vec!["ZADD".to_string(), "lex".to_string()];
    for i in 0..5000 {
        lex.push("0".into());
        lex.push(format!("k{i:05}"));
    }
    d.check(&lex);
    d.check_all(
        r#"
        ZRANGEBYLEX lex [k01000 (k01010
        ZREVRANGEBYLEX lex (k03000 - LIMIT 5 5
        ZLEXCOUNT lex [k01000 +
        ZREMRANGEBYLEX lex - (k00100
        ZCARD lex
        "#,
    );
}

fn pairs(r: &Reply) -> Vec<(Vec<u8>, Vec<u8>)> {
    let a = r.as_array().unwrap_or_else(|| panic!("not an array: {r}"));
    a.chunks(2)
        .map(|c| {
            (
                c[0].as_bytes().unwrap().to_vec(),
                c[1].as_bytes().unwrap().to_vec(),
            )
        })
        .collect()
}

#[test]
fn zscan_returns_every_member_and_zrandmember_properties() {
    let mut d = Differential::new();
    let mut add = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..5000 {
        add.push((i % 97).to_string());
        add.push(format!("m{i}"));
    }
    d.check(&add);
    let all: BTreeSet<Vec<u8>> = (0..5000).map(|i| format!("m{i}").into_bytes()).collect();
    let mut seen = BTreeSet::new();
    let mut cursor = b"0".to_vec();
    loop {
        let r = d
            .ferrite
            .cmd_parsed(&[b"ZSCAN".as_slice(), b"big", &cursor, b"COUNT", b"100"]);
        let a = r.as_array().unwrap();
        cursor = a[0].as_bytes().unwrap().to_vec();
        for (m, s) in pairs(&a[1]) {
            let i: usize = std::str::from_utf8(&m[1..]).unwrap().parse().unwrap();
            assert_eq!(s, (i % 97).to_string().into_bytes());
            seen.insert(m);
        }
        if cursor == b"0" {
            break;
        }
    }
    assert_eq!(seen, all);
    for key in ["big"] {
        let r = d
            .ferrite
            .cmd_parsed(&["ZRANDMEMBER", key, "100", "WITHSCORES"]);
        let p = pairs(&r);
        assert_eq!(p.len(), 100);
        let distinct: BTreeSet<_> = p.iter().map(|x| x.0.clone()).collect();
        assert_eq!(distinct.len(), 100);
        for (m, s) in &p {
            assert!(all.contains(m));
            let i: usize = std::str::from_utf8(&m[1..]).unwrap().parse().unwrap();
            assert_eq!(s, &(i % 97).to_string().into_bytes());
        }
        let r = d.ferrite.cmd_parsed(&["ZRANDMEMBER", key, "-300"]);
        assert_eq!(r.as_array().unwrap().len(), 300);
        let r = d.ferrite.cmd_parsed(&["ZRANDMEMBER", key, "6000"]);
        assert_eq!(r.as_array().unwrap().len(), 5000);
        let r = d.ferrite.cmd_parsed(&["ZRANDMEMBER", key]);
        assert!(all.contains(r.as_bytes().unwrap()));
    }
    // Small: every member eventually drawn.
    d.check_all("ZADD s 1 a 2 b 3 c");
    let mut drawn = BTreeSet::new();
    for _ in 0..200 {
        let r = d.ferrite.cmd_parsed(&["ZRANDMEMBER", "s"]);
        drawn.insert(r.as_bytes().unwrap().to_vec());
    }
    assert_eq!(drawn.len(), 3);
}

#[test]
fn dump_restore_both_directions() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD small 1 a 2.5 b -3 c 1.1 d inf e -inf f -0 g 1e300 h 4611686018427387904 i 4611686018427387903 j 12345678 k
        ZADD lm 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        DUMP small
        "#,
    );
    let mut big = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..300 {
        big.push(format!("{}.5", i % 50));
        big.push(format!("member-{i}"));
    }
    d.check(&big);
    d.check_all("DUMP big\nDUMP lm");
    for key in ["small", "big", "lm"] {
        let Reply::Bulk(pr) = d.redis.cmd_parsed(&["DUMP", key]) else {
            panic!("DUMP {key}")
        };
        let Reply::Bulk(pf) = d.ferrite.cmd_parsed(&["DUMP", key]) else {
            panic!("DUMP {key}")
        };
        let r2f = format!("{key}-r2f");
        let f2r = format!("{key}-f2r");
        for (payload, k) in [(&pr, &r2f), (&pf, &f2r)] {
            assert_eq!(
                d.ferrite
                    .cmd_parsed(&[b"RESTORE".as_slice(), k.as_bytes(), b"0", payload]),
                Reply::Simple("OK".into())
            );
            assert_eq!(
                d.redis
                    .cmd_parsed(&[b"RESTORE".as_slice(), k.as_bytes(), b"0", payload]),
                Reply::Simple("OK".into())
            );
        }
        for k in [key, &r2f, &f2r] {
            d.check(&["ZRANGE", k, "0", "-1", "WITHSCORES"]);
            d.check(&["OBJECT", "ENCODING", k]);
            d.check(&["DUMP", k]);
        }
    }
    // Loading follows zset-max-listpack-entries, as in Redis.
    d.check_all("CONFIG SET zset-max-listpack-entries 4");
    let Reply::Bulk(p) = d.redis.cmd_parsed(&["DUMP", "small"]) else {
        panic!()
    };
    d.check(&[b"RESTORE".as_slice(), b"conv", b"0", &p]);
    d.check(&["OBJECT", "ENCODING", "conv"]);
    d.check_all("CONFIG SET zset-max-listpack-entries 1000");
    let Reply::Bulk(p) = d.redis.cmd_parsed(&["DUMP", "big"]) else {
        panic!()
    };
    d.check(&[b"RESTORE".as_slice(), b"conv2", b"0", &p]);
    d.check(&["OBJECT", "ENCODING", "conv2"]);
    d.check(&["DUMP", "conv2"]);
}

#[test]
fn corrupt_zset_payloads_are_refused() {
    let mut d = Differential::new();
    let bodies: &[&[u8]] = &[
        b"\x05\x00", // empty zset
        b"\x05\x02\x01a\x00\x00\x00\x00\x00\x00\xf0\x3f\x01a\x00\x00\x00\x00\x00\x00\xf0\x3f", // duplicate
        b"\x05\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f", // NaN score
        b"\x05\x02\x01a\x00\x00\x00\x00",                 // truncated
        b"\x03\x01\x01a\xfd",                             // NaN string score
    ];
    for body in bodies {
        let p = framed_payload(body, 10);
        d.check(&[b"RESTORE".as_slice(), b"bad", b"0", &p]);
    }
    d.check_all("ZADD z 1 a 2 b");
    let Reply::Bulk(good) = d.redis.cmd_parsed(&["DUMP", "z"]) else {
        panic!()
    };
    for n in 0..good.len() {
        let r = d
            .ferrite
            .cmd_parsed(&[b"RESTORE".as_slice(), b"t", b"0", &good[..n], b"REPLACE"]);
        assert!(r.is_error(), "truncated to {n}: {r}");
    }
    assert_eq!(
        d.ferrite.cmd_parsed(&["PING"]),
        Reply::Simple("PONG".into())
    );
}

#[test]
fn concurrent_zincrby_totals_are_exact() {
    let mut d = Differential::new();
    let port = d.ferrite_server().port();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = common::RawConn::connect_port(port);
                for i in 0..2000 {
                    let key = format!("k{}", i % 3);
                    let member = format!("m{}", (i + t) % 5);
                    c.send(&["ZINCRBY", key.as_str(), "1", member.as_str()]);
                    c.read_reply();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut total = 0.0;
    let mut f = common::RawConn::connect_port(port);
    for k in 0..3 {
        let r = f.cmd_parsed(&["ZRANGE", &format!("k{k}"), "0", "-1", "WITHSCORES"]);
        for (_, s) in pairs(&r) {
            total += std::str::from_utf8(&s).unwrap().parse::<f64>().unwrap();
        }
    }
    assert_eq!(total, 8000.0);
}

/// Negative zero: kept by a skiplist, stored as 0 by a listpack (also when a result is
/// converted to one), as Redis 7.0 does.
#[test]
fn diff_negative_zero() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        ZADD l -0 a 0 b
        ZRANGE l 0 -1 WITHSCORES
        DUMP l
        ZADD k 0 x 0 y 0 z
        ZINTERSTORE i 1 k WEIGHTS -1
        ZRANGE i 0 -1 WITHSCORES
        DUMP i
        ZUNION 1 k WEIGHTS -1 WITHSCORES
        CONFIG SET zset-max-listpack-entries 0
        ZADD s -0 a
        ZRANGE s 0 -1 WITHSCORES
        ZSCAN s 0
        DUMP s
        CONFIG SET zset-max-listpack-entries 128
        ZUNIONSTORE u 1 s
        ZRANGE u 0 -1 WITHSCORES
        "#,
    );
}

/// Random writes and reads on skiplist-encoded sorted sets of a few thousand members (the
/// B+tree splits, merges and path copies), compared with redis-server after every command.
#[test]
fn diff_random_skiplist_operations() {
    let mut d = Differential::new();
    d.check_all("CONFIG SET zset-max-listpack-entries 16");
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for _ in 0..30 {
        let mut add = vec!["ZADD".to_string(), format!("z{}", next(3))];
        for _ in 0..200 {
            add.push((next(400) as f64 / 4.0).to_string());
            add.push(format!("m{}", next(3000)));
        }
        d.check(&add);
    }
    for _ in 0..3000 {
        let key = format!("z{}", next(3));
        let m = format!("m{}", next(3000));
        let r = |v: u64| (v as i64 - 1500).to_string();
        let cmd: Vec<String> = match next(16) {
            0 | 1 => vec!["ZADD".into(), key, (next(400) as f64 / 4.0).to_string(), m],
            2 => vec!["ZINCRBY".into(), key, "2.5".into(), m],
            3 | 4 => vec!["ZREM".into(), key, m],
            5 => vec!["ZRANK".into(), key, m],
            6 => vec!["ZREVRANK".into(), key, m],
            7 => vec![
                "ZRANGE".into(),
                key,
                r(next(3000)),
                r(next(3000)),
                "WITHSCORES".into(),
            ],
            8 => vec![
                "ZRANGE".into(),
                key,
                (next(100)).to_string(),
                format!("({}", next(100)),
                "BYSCORE".into(),
                "LIMIT".into(),
                next(5).to_string(),
                next(8).to_string(),
            ],
            9 => vec![
                "ZREMRANGEBYRANK".into(),
                key,
                next(50).to_string(),
                (50 + next(30)).to_string(),
            ],
            10 => vec![
                "ZREMRANGEBYSCORE".into(),
                key,
                next(100).to_string(),
                (next(100) + 1).to_string(),
            ],
            11 => vec!["ZPOPMIN".into(), key, next(4).to_string()],
            12 => vec!["ZPOPMAX".into(), key],
            13 => vec!["ZCOUNT".into(), key, next(100).to_string(), "+inf".into()],
            14 => vec!["ZCARD".into(), key],
            _ => vec!["ZSCORE".into(), key, m],
        };
        d.check(&cmd);
    }
    for k in 0..3 {
        let key = format!("z{k}");
        d.check(&["ZRANGE", &key, "0", "-1", "WITHSCORES"]);
        d.check(&["OBJECT", "ENCODING", &key]);
        d.check(&["DUMP", &key]);
        d.check(&["ZRANDMEMBER", &key, "100000", "WITHSCORES"]);
        d.check(&[
            "ZRANGESTORE",
            "dst",
            &key,
            "5",
            "40",
            "BYSCORE",
            "REV",
            "LIMIT",
            "3",
            "20",
        ]);
        d.check(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
        d.check(&["OBJECT", "ENCODING", "dst"]);
    }
    d.check(&[
        "ZUNIONSTORE",
        "u",
        "3",
        "z0",
        "z1",
        "z2",
        "WEIGHTS",
        "1",
        "2",
        "4",
    ]);
    d.check(&["ZRANGE", "u", "0", "-1", "WITHSCORES"]);
    d.check(&["ZINTERCARD", "3", "z0", "z1", "z2"]);
    d.check(&["ZINTER", "2", "z0", "z1", "AGGREGATE", "MAX", "WITHSCORES"]);
    d.check(&["ZDIFF", "3", "z0", "z1", "z2", "WITHSCORES"]);
}
