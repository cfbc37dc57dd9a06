//! The STRING command family: differential tests against a real redis-server (every command,
//! option and error case, compared byte for byte) and a few client-level tests of TTL
//! behaviour and atomicity with the `redis` crate.

mod common;

use common::{Differential, Server};
use std::time::Duration;

/// A small deterministic generator (xorshift64*), so every run checks the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

#[test]
fn diff_get_set_options() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        GET missing
        SET k v
        GET k
        SET k v2 NX
        SET k v3 XX
        GET k
        SET other v XX
        GET other
        SET other v NX
        GET other
        SET k v4 GET
        SET newkey v GET
        GET newkey
        SET k v5 NX GET
        SET k v6 XX GET
        SET nokey v XX GET
        EXISTS nokey
        set k lower nx
        set k lower xx get
        SET k v NX XX
        SET k v XX NX
        SET k v NX NX
        SET k v GET GET
        SET k v EX 10 PX 100
        SET k v EX 10 EXAT 100
        SET k v PXAT 10 EX 100
        SET k v EX 10 KEEPTTL
        SET k v KEEPTTL EX 10
        SET k v KEEPTTL KEEPTTL
        SET k v EX 10 EX 20
        SET k v EX
        SET k v PX
        SET k v EXAT
        SET k v PXAT
        SET k v PERSIST
        SET k v FOO
        SET k v EX 0
        SET k v EX -1
        SET k v PX 0
        SET k v EXAT 0
        SET k v PXAT -5
        SET k v EX abc
        SET k v EX 1.5
        SET k v EX 9223372036854775807
        SET k v EX 9223372036854775
        SET k v PX 9223372036854775807
        SET k v EXAT 9223372036854775807
        SET k v PXAT 9223372036854775807
        GET k
        SET k v EX 0 NX
        SET k v NX EX 0
        SET k v EX 100
        EXISTS k
        SET k v PX 100000
        SET k v EXAT 4102444800
        SET k v PXAT 4102444800000
        SET k v KEEPTTL
        SET k v KEEPTTL GET
        SET past v EXAT 1
        GET past
        EXISTS past
        SET past2 v PXAT 1 GET
        GET past2
        SET past3 v EXAT 1 NX
        GET past3
        SET "NX\x00junk" v NX
        SET nulopt v "NX\x00junk"
        SET nulopt v2 "nx\x00"
        GET nulopt
        SET nulopt v3 "EX\x00" 100
        GET nulopt
        SET
        SET k
        GET
        GET a b
        SET emptyval ""
        GET emptyval
        SET "" emptykey
        GET ""
        SET bin "a\x00b\r\nc"
        GET bin
        "#,
    );
}

#[test]
fn diff_set_encodings() {
    let mut d = Differential::new();
    let long44 = "x".repeat(44);
    let long45 = "x".repeat(45);
    d.check_all(&format!(
        r#"
        SET a 123
        OBJECT ENCODING a
        SET a -9223372036854775808
        OBJECT ENCODING a
        SET a 9223372036854775808
        OBJECT ENCODING a
        SET a 007
        OBJECT ENCODING a
        SET a "+1"
        OBJECT ENCODING a
        SET a " 1"
        OBJECT ENCODING a
        SET a 1.5
        OBJECT ENCODING a
        SET a {long44}
        OBJECT ENCODING a
        SET a {long45}
        OBJECT ENCODING a
        SET a ""
        OBJECT ENCODING a
        SETNX b 42
        OBJECT ENCODING b
        SETEX c 100 42
        OBJECT ENCODING c
        PSETEX c 100000 hello
        OBJECT ENCODING c
        GETSET c 99
        OBJECT ENCODING c
        MSET m1 1 m2 abc m3 {long45}
        OBJECT ENCODING m1
        OBJECT ENCODING m2
        OBJECT ENCODING m3
        MSETNX n1 5 n2 x
        OBJECT ENCODING n1
        OBJECT ENCODING n2
        INCR i
        OBJECT ENCODING i
        INCRBY i 100000
        OBJECT ENCODING i
        SET i 10
        DECRBY i 100
        OBJECT ENCODING i
        SET i 12abc
        APPEND i x
        OBJECT ENCODING i
        SET i 12
        APPEND i ""
        OBJECT ENCODING i
        APPEND newappend 42
        OBJECT ENCODING newappend
        APPEND newappend2 abc
        OBJECT ENCODING newappend2
        APPEND newappend3 {long45}
        OBJECT ENCODING newappend3
        SET s 123
        SETRANGE s 0 ""
        OBJECT ENCODING s
        SETRANGE s 0 9
        OBJECT ENCODING s
        SETRANGE newrange 2 ab
        OBJECT ENCODING newrange
        SET f 10
        INCRBYFLOAT f 1
        OBJECT ENCODING f
        INCRBYFLOAT g 1e50
        OBJECT ENCODING g
        INCRBYFLOAT h 0.5
        OBJECT ENCODING h
        SET ex 5 EX 100
        OBJECT ENCODING ex
        GETEX ex PERSIST
        OBJECT ENCODING ex
        "#
    ));
}

#[test]
fn diff_setnx_setex_psetex_getset() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        SETNX k v
        SETNX k v2
        GET k
        SETNX k
        SETNX k v extra
        SETEX k 100 v3
        GET k
        SETEX k 0 v
        SETEX k -10 v
        SETEX k abc v
        SETEX k 9223372036854775807 v
        SETEX k 9223372036854775 v
        SETEX k 100
        GET k
        PSETEX k 100000 v4
        GET k
        PSETEX k 0 v
        PSETEX k -1 v
        PSETEX k 1.5 v
        PSETEX k 9223372036854775807 v
        PSETEX k 100 v 1
        GETSET k v5
        GETSET k v6
        GETSET newgs v
        GET newgs
        GETSET k
        GETSET k a b
        GET k
        "#,
    );
}

#[test]
fn diff_mget_mset_msetnx() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        MGET a b c
        MSET a 1 b 2
        MGET a b c
        MGET a a a
        MSET a 1 b
        MSET a
        MSET
        MGET
        MSET a x a y a z
        GET a
        MSETNX a 1 c 3
        MGET a b c
        EXISTS c
        MSETNX c 3 d 4
        MGET a b c d
        MSETNX e 1 e 2
        GET e
        MSETNX f
        MSETNX f 1 g
        MSETNX
        SET t v EX 100
        MSET t w
        GET t
        SET past v PXAT 1
        MSETNX past 1 other 2
        MGET past other
        "#,
    );
}

#[test]
fn diff_getdel_getex() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        GETDEL missing
        SET k v
        GETDEL k
        GETDEL k
        EXISTS k
        SET n 42
        GETDEL n
        GETDEL
        GETDEL a b
        GETEX missing
        GETEX missing EX 10
        GETEX missing EX -5
        GETEX missing EX abc
        GETEX missing FOO
        GETEX missing EX
        SET k v
        GETEX k
        GETEX k EX 100
        GETEX k PX 100000
        GETEX k EXAT 4102444800
        GETEX k PXAT 4102444800000
        GETEX k PERSIST
        GETEX k PERSIST PERSIST
        GETEX k persist
        GETEX k EX 100 PX 100
        GETEX k EX 100 PERSIST
        GETEX k PERSIST EX 100
        GETEX k EX 10 EX 20
        GETEX k NX
        GETEX k XX
        GETEX k GET
        GETEX k KEEPTTL
        GETEX k EX 0
        GETEX k EX -1
        GETEX k PX 0
        GETEX k EXAT 0
        GETEX k PXAT -1
        GETEX k EX abc
        GETEX k EX 9223372036854775807
        GETEX k EX 9223372036854775
        GETEX k PX 9223372036854775807
        GETEX k EXAT 9223372036854775807
        GET k
        GETEX k EXAT 1
        GET k
        EXISTS k
        SET k v
        GETEX k PXAT 1
        EXISTS k
        SET n 12345
        GETEX n EX 100
        GETEX "n" "EX\x00z" 100
        GETEX
        "#,
    );
}

#[test]
fn diff_counters() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        INCR c
        INCR c
        DECR c
        DECR c
        DECR c
        INCRBY c 10
        INCRBY c -20
        DECRBY c 5
        DECRBY c -5
        GET c
        INCRBY c abc
        INCRBY c 1.5
        INCRBY c ""
        INCRBY c " 1"
        INCRBY c +1
        INCRBY c 01
        INCRBY c 9223372036854775808
        DECRBY c abc
        SET c 9223372036854775806
        INCR c
        INCR c
        INCRBY c 1
        GET c
        SET c -9223372036854775807
        DECR c
        DECR c
        DECRBY c 1
        INCRBY c -1
        GET c
        SET c 0
        DECRBY c -9223372036854775808
        INCRBY c -9223372036854775808
        DECRBY c 9223372036854775807
        DECR c
        SET c 5
        DECRBY c -9223372036854775808
        GET c
        SET s abc
        INCR s
        DECR s
        INCRBY s 1
        DECRBY s 1
        SET s 1.0
        INCR s
        SET s 007
        INCR s
        SET s -0
        INCR s
        SET s ""
        INCR s
        SET s " 5"
        INCR s
        SET s 9223372036854775808
        INCR s
        SET s 18
        INCR s
        APPEND s 0
        INCR s
        INCR
        INCR a b
        INCRBY a
        DECRBY a
        DECR
        SET t 5 EX 100
        INCR t
        GET t
        "#,
    );
}

#[test]
fn diff_incrbyfloat_cases() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        INCRBYFLOAT f 10.5
        INCRBYFLOAT f 0.1
        GET f
        INCRBYFLOAT f -5.0e3
        INCRBYFLOAT f 1e20
        INCRBYFLOAT f -1e20
        SET f 3.0e3
        INCRBYFLOAT f 0
        SET f 5.0e-10
        INCRBYFLOAT f 0
        INCRBYFLOAT f 1e-20
        INCRBYFLOAT z -1e-20
        INCRBYFLOAT z 0.000003814697265625
        SET z -0
        INCRBYFLOAT z -0
        INCRBYFLOAT big 1e300
        INCRBYFLOAT big2 1e4000
        INCRBYFLOAT big3 -1.18e4932
        INCRBYFLOAT tiny 1e-4940
        INCRBYFLOAT f inf
        INCRBYFLOAT f -inf
        INCRBYFLOAT f +Infinity
        INCRBYFLOAT f nan
        INCRBYFLOAT f NaN
        INCRBYFLOAT f 1e5000
        INCRBYFLOAT f 1e-5000
        INCRBYFLOAT f abc
        INCRBYFLOAT f ""
        INCRBYFLOAT f " 1"
        INCRBYFLOAT f "1 "
        INCRBYFLOAT f 1e
        INCRBYFLOAT f .
        INCRBYFLOAT f +.5
        INCRBYFLOAT f 5.
        INCRBYFLOAT f 0x10
        INCRBYFLOAT f 0x1.8p1
        INCRBYFLOAT f 0x1p-2
        INCRBYFLOAT f 0x
        INCRBYFLOAT f "1\x00"
        SET huge 1e4932
        INCRBYFLOAT huge 1e4932
        SET s inf
        INCRBYFLOAT s 1
        INCRBYFLOAT s -inf
        SET s abc
        INCRBYFLOAT s 1
        SET s "1.5 "
        INCRBYFLOAT s 1
        SET i 9223372036854775807
        INCRBYFLOAT i 1
        SET i -9223372036854775808
        INCRBYFLOAT i -1
        INCRBYFLOAT i 0.5
        SET t 1.5 EX 100
        INCRBYFLOAT t 1
        INCRBYFLOAT
        INCRBYFLOAT a
        INCRBYFLOAT a 1 2
        "#,
    );
}

/// Many random sums: Redis computes in 80-bit long double and prints `%.17Lf`; the results
/// must agree to the last digit.
#[test]
fn diff_incrbyfloat_random() {
    let mut d = Differential::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let signs = ["", "-", "+"];
    for i in 0..1500 {
        let a = random_float(&mut rng, signs[i % 3]);
        let sign = rng.pick(&signs);
        let b = random_float(&mut rng, sign);
        d.check(&["SET", "x", a.as_str()]);
        d.check(&["INCRBYFLOAT", "x", b.as_str()]);
        d.check(&["GET", "x"]);
    }
}

fn random_float(rng: &mut Rng, sign: &str) -> String {
    let digits = |rng: &mut Rng, max: u64| {
        let n = rng.below(max) as u32 + 1;
        rng.below(10u64.pow(n.min(19)))
    };
    match rng.below(7) {
        0 => {
            let (i, f) = (digits(rng, 12), digits(rng, 18));
            format!("{sign}{i}.{f}")
        }
        1 => {
            let m = digits(rng, 18);
            format!("{sign}{m}e{}", rng.below(80) as i64 - 40)
        }
        2 => {
            let m = digits(rng, 18);
            format!("{sign}{m}e{}", rng.below(9800) as i64 - 4900)
        }
        3 => {
            let width = rng.below(12) as usize + 1;
            format!("{sign}0.{:0width$}", rng.below(1_000_000))
        }
        4 => {
            let shift = rng.below(64);
            format!("{sign}{}", rng.next() >> shift)
        }
        5 => {
            let m = rng.next() >> 8;
            format!("{sign}0x{m:x}p{}", rng.below(200) as i64 - 100)
        }
        _ => {
            let (i, f) = (rng.below(100), rng.below(10u64.pow(15)));
            format!("{sign}{i}.{f}e{}", rng.below(40) as i64 - 20)
        }
    }
}

#[test]
fn diff_append_strlen() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        STRLEN missing
        APPEND a hello
        APPEND a " world"
        GET a
        STRLEN a
        APPEND a ""
        STRLEN a
        APPEND empty ""
        EXISTS empty
        GET empty
        STRLEN empty
        SET n 12345
        STRLEN n
        APPEND n 6
        GET n
        SET n -9223372036854775808
        STRLEN n
        SET bin "\x00\x01\x02"
        STRLEN bin
        APPEND bin "\x00"
        GET bin
        SET t v EX 100
        APPEND t w
        GET t
        STRLEN
        STRLEN a b
        APPEND a
        APPEND a b c
        "#,
    );
}

/// APPEND grows a raw string in place; a COPY shares that buffer until one of
/// them appends, and SETRANGE/GETRANGE/old values must all see the right bytes.
#[test]
fn diff_append_in_place_with_copies() {
    let mut d = Differential::new();
    let mut script = String::from("APPEND grow 0123456789012345678901234567890123456789012345\n");
    for i in 0..200 {
        script.push_str(&format!("APPEND grow chunk{i}\n"));
        if i % 50 == 7 {
            script.push_str(&format!(
                "COPY grow copy{i}\nAPPEND copy{i} mine{i}\nAPPEND grow theirs{i}\nGET copy{i}\n"
            ));
        }
    }
    script.push_str(
        "GET grow\nSTRLEN grow\nOBJECT ENCODING grow\nSETRANGE grow 3 XYZ\nGETRANGE grow 0 20\n\
         APPEND grow tail\nGETRANGE grow -10 -1\nGET copy7\nAPPEND copy7 more\nGET copy7\n",
    );
    d.check_all(&script);
}

#[test]
fn diff_getrange_substr() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        GETRANGE missing 0 -1
        SUBSTR missing 0 -1
        SET s "Hello World"
        GETRANGE s 0 4
        GETRANGE s abc 1
        GETRANGE s 0 abc
        GETRANGE s 0 1.5
        GETRANGE s 0 9223372036854775808
        GETRANGE s -9223372036854775808 9223372036854775807
        GETRANGE s 9223372036854775807 -9223372036854775808
        GETRANGE s -9223372036854775808 -9223372036854775808
        GETRANGE s
        GETRANGE s 0
        GETRANGE s 0 1 2
        SUBSTR s 0
        SUBSTR s 0 abc
        "#,
    );
    let values = ["", "a", "Hello World", "12345", "-123"];
    for v in values {
        d.check(&["SET", "s", v]);
        for start in -13i64..=13 {
            for end in -13i64..=13 {
                let (start, end) = (start.to_string(), end.to_string());
                d.check(&["GETRANGE", "s", start.as_str(), end.as_str()]);
                if start == "-2" {
                    d.check(&["SUBSTR", "s", start.as_str(), end.as_str()]);
                }
            }
        }
    }
}

#[test]
fn diff_setrange() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        SETRANGE missing 0 ""
        EXISTS missing
        SETRANGE missing 10 ""
        EXISTS missing
        SETRANGE new 5 hello
        GET new
        STRLEN new
        SETRANGE new 0 HE
        GET new
        SETRANGE new 8 LLO!!
        GET new
        SETRANGE new 100 ""
        SETRANGE new 0 ""
        GET new
        SETRANGE new -1 x
        SETRANGE new -1 ""
        SETRANGE missing2 -1 ""
        SETRANGE new abc x
        SETRANGE new 1.5 x
        SETRANGE new 9223372036854775808 x
        SETRANGE new 536870912 x
        SETRANGE new 536870911 xy
        SETRANGE missing3 536870912 x
        SETRANGE missing3 9223372036854775807 x
        EXISTS missing3
        SETRANGE new 9223372036854775807 ""
        SET n 12345
        SETRANGE n 1 9
        GET n
        SETRANGE n 0 ""
        SET t value EX 100
        SETRANGE t 0 V
        GET t
        SETRANGE
        SETRANGE k 0
        SETRANGE k 0 a b
        "#,
    );
}

#[test]
fn diff_lcs() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        MSET key1 ohmytext key2 mynewtext
        LCS key1 key2
        LCS key1 key2 LEN
        LCS key1 key2 IDX
        LCS key1 key2 IDX MINMATCHLEN 4
        LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN
        LCS key1 key2 IDX WITHMATCHLEN
        LCS key1 key2 WITHMATCHLEN
        LCS key1 key2 MINMATCHLEN 2
        LCS key1 key2 idx minmatchlen -5 withmatchlen
        LCS key1 key2 IDX LEN
        LCS key1 key2 LEN IDX
        LCS key1 key2 LEN LEN
        LCS key1 key2 MINMATCHLEN
        LCS key1 key2 MINMATCHLEN abc
        LCS key1 key2 MINMATCHLEN abc IDX LEN
        LCS key1 key2 IDX LEN MINMATCHLEN abc
        LCS key1 key2 FOO
        LCS key1 key2 "IDX\x00x"
        LCS key1 missing
        LCS missing key1 IDX
        LCS missing missing2 LEN
        LCS key1 key1
        LCS key1 key1 IDX WITHMATCHLEN
        SET n1 12345
        SET n2 2345
        LCS n1 n2 IDX WITHMATCHLEN
        LCS key1
        LCS
        "#,
    );
    let mut rng = Rng(42);
    for _ in 0..300 {
        let word = |rng: &mut Rng| -> String {
            let len = rng.below(25) as usize;
            (0..len).map(|_| rng.pick(&["a", "b", "c", "d"])).collect()
        };
        let (a, b) = (word(&mut rng), word(&mut rng));
        d.check(&["MSET", "a", a.as_str(), "b", b.as_str()]);
        d.check(&["LCS", "a", "b"]);
        d.check(&["LCS", "a", "b", "LEN"]);
        d.check(&["LCS", "a", "b", "IDX"]);
        d.check(&["LCS", "a", "b", "IDX", "MINMATCHLEN", "2", "WITHMATCHLEN"]);
    }
}

/// The transient LCS table is limited by proto-max-bulk-len (4 bytes per cell).
#[test]
fn diff_lcs_memory_limit() {
    let mut d = Differential::new();
    let a = "a".repeat(12_000);
    d.check(&["SET", "a", a.as_str()]);
    d.check(&["LCS", "a", "a", "LEN"]);
    d.check(&["LCS", "a", "missing", "LEN"]);
}

#[test]
fn diff_resp3_replies() {
    let mut d = Differential::new();
    d.hello3();
    d.check_all(
        r#"
        GET missing
        SET k v NX GET
        SET k v2 NX
        SET k v3 XX GET
        MGET k missing
        GETDEL missing
        GETEX missing PERSIST
        GETSET missing2 v
        INCRBYFLOAT f 1.5
        MSET key1 ohmytext key2 mynewtext
        LCS key1 key2 IDX
        LCS key1 key2 IDX WITHMATCHLEN MINMATCHLEN 3
        GETRANGE missing 0 1
        "#,
    );
}

/// With a small proto-max-bulk-len, APPEND and SETRANGE refuse to build longer strings,
/// and LCS refuses big tables.
#[test]
fn diff_proto_max_bulk_len() {
    let args = ["--proto-max-bulk-len", "1mb"];
    let mut d = Differential::with_args(&args, &args);
    d.check_all(
        r#"
        SETRANGE s 1048575 x
        STRLEN s
        APPEND s y
        SETRANGE s 1048576 x
        SETRANGE s 1048575 yy
        SETRANGE s 1048574 yy
        APPEND s ""
        STRLEN s
        SETRANGE t 1048576 x
        EXISTS t
        "#,
    );
    let a = "a".repeat(600);
    d.check(&["SET", "a", a.as_str()]);
    d.check(&["LCS", "a", "a", "LEN"]);
    d.check(&["SET", "b", &a[..400]]);
    d.check(&["LCS", "a", "b", "LEN"]);
}

/// Read lookups count in INFO's keyspace_hits/keyspace_misses exactly as in Redis; lookups
/// made in order to write (SET without GET, INCR, APPEND...) do not count.
#[test]
fn diff_keyspace_hits_and_misses() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        GET missing
        SET k v
        GET k
        SET k v2 GET
        SET k2 v GET
        SET k v3
        SETNX k v
        MGET k missing k2
        STRLEN k
        STRLEN missing
        GETRANGE k 0 1
        SUBSTR missing 0 1
        GETEX k
        GETEX k PERSIST
        GETEX missing EX 10
        GETSET k v4
        GETSET k3 v
        GETDEL k3
        GETDEL k3
        INCR n
        INCRBY n 2
        DECR n
        INCRBYFLOAT f 1.5
        APPEND k x
        SETRANGE k 0 y
        MSET a 1 b 2
        MSETNX a 1 c 3
        LCS a b
        LCS a missing
        SET past v PXAT 1
        GET past
        "#,
    );
    let (f, r) = d.both(&["INFO", "stats"]);
    for field in ["keyspace_hits", "keyspace_misses"] {
        assert!(info_field(&r, field).is_some(), "redis INFO lacks {field}");
        assert_eq!(
            info_field(&f, field),
            info_field(&r, field),
            "{field} differs (ferrite vs redis)"
        );
    }
}

fn info_field(reply: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(reply);
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

// ---------------------------------------------------------------------------------------------
// Client-level tests with the `redis` crate
// ---------------------------------------------------------------------------------------------

/// Runs one command on an async connection; a transport error fails the test.
async fn q<T: redis::FromRedisValue>(
    conn: &mut redis::aio::MultiplexedConnection,
    cmd: &mut redis::Cmd,
) -> T {
    cmd.query_async(conn).await.unwrap()
}

async fn pttl(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    q(conn, redis::cmd("PTTL").arg(key)).await
}

#[tokio::test]
async fn set_ex_gives_a_ttl_in_range() {
    let server = Server::start();
    let mut c = server.async_conn().await;
    let _: () = q(
        &mut c,
        redis::cmd("SET").arg("k").arg("v").arg("EX").arg(100),
    )
    .await;
    let t = pttl(&mut c, "k").await;
    assert!(
        (99_000..=100_000).contains(&t),
        "PTTL after SET EX 100: {t}"
    );
    let _: () = q(&mut c, redis::cmd("PSETEX").arg("p").arg(5000).arg("v")).await;
    let t = pttl(&mut c, "p").await;
    assert!((4_000..=5_000).contains(&t), "PTTL after PSETEX 5000: {t}");
    // KEEPTTL and counters keep the TTL; a plain SET and GETSET clear it.
    let _: () = q(&mut c, redis::cmd("SET").arg("k").arg("w").arg("KEEPTTL")).await;
    assert!(pttl(&mut c, "k").await > 90_000);
    let _: () = q(&mut c, redis::cmd("SET").arg("n").arg(1).arg("EX").arg(100)).await;
    let _: i64 = q(&mut c, redis::cmd("INCR").arg("n")).await;
    let _: String = q(&mut c, redis::cmd("INCRBYFLOAT").arg("n").arg("0.5")).await;
    let _: i64 = q(&mut c, redis::cmd("APPEND").arg("n").arg("0")).await;
    let _: i64 = q(&mut c, redis::cmd("SETRANGE").arg("n").arg(0).arg("9")).await;
    assert!(pttl(&mut c, "n").await > 90_000);
    let _: () = q(&mut c, redis::cmd("SET").arg("k").arg("x")).await;
    assert_eq!(pttl(&mut c, "k").await, -1);
    let _: Option<String> = q(&mut c, redis::cmd("GETSET").arg("n").arg("y")).await;
    assert_eq!(pttl(&mut c, "n").await, -1);
}

#[tokio::test]
async fn keys_vanish_at_their_deadline() {
    let server = Server::start();
    let mut c = server.async_conn().await;
    let _: () = q(
        &mut c,
        redis::cmd("SET").arg("k").arg("v").arg("PX").arg(100),
    )
    .await;
    let _: () = q(&mut c, redis::cmd("SETEX").arg("s").arg(100).arg("v")).await;
    let v: Option<String> = q(&mut c, redis::cmd("GET").arg("k")).await;
    assert_eq!(v.as_deref(), Some("v"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let v: Option<String> = q(&mut c, redis::cmd("GET").arg("k")).await;
    assert_eq!(v, None);
    let n: i64 = q(&mut c, redis::cmd("EXISTS").arg("k")).await;
    assert_eq!(n, 0);
    let n: i64 = q(&mut c, redis::cmd("STRLEN").arg("k")).await;
    assert_eq!(n, 0);
    // An expired key counts as absent for NX and for counters.
    let _: () = q(&mut c, redis::cmd("SET").arg("c").arg(41).arg("PX").arg(50)).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let n: i64 = q(&mut c, redis::cmd("INCR").arg("c")).await;
    assert_eq!(n, 1);
    assert_eq!(pttl(&mut c, "c").await, -1);
    let ok: bool = q(&mut c, redis::cmd("SETNX").arg("k").arg("again")).await;
    assert!(ok);
    // A deadline in the past hides the key at once.
    let _: () = q(
        &mut c,
        redis::cmd("SET").arg("p").arg("v").arg("PXAT").arg(1),
    )
    .await;
    let v: Option<String> = q(&mut c, redis::cmd("GET").arg("p")).await;
    assert_eq!(v, None);
    let v: Option<String> = q(&mut c, redis::cmd("GET").arg("s")).await;
    assert_eq!(v.as_deref(), Some("v"));
}

#[tokio::test]
async fn getex_changes_the_ttl() {
    let server = Server::start();
    let mut c = server.async_conn().await;
    let _: () = q(&mut c, redis::cmd("SET").arg("k").arg("v")).await;
    assert_eq!(pttl(&mut c, "k").await, -1);
    let v: String = q(&mut c, redis::cmd("GETEX").arg("k").arg("EX").arg(50)).await;
    assert_eq!(v, "v");
    let t = pttl(&mut c, "k").await;
    assert!(
        (49_000..=50_000).contains(&t),
        "PTTL after GETEX EX 50: {t}"
    );
    let _: String = q(&mut c, redis::cmd("GETEX").arg("k").arg("PERSIST")).await;
    assert_eq!(pttl(&mut c, "k").await, -1);
    let future_ms = common_now_ms() + 30_000;
    let _: String = q(
        &mut c,
        redis::cmd("GETEX").arg("k").arg("PXAT").arg(future_ms),
    )
    .await;
    let t = pttl(&mut c, "k").await;
    assert!((28_000..=30_000).contains(&t), "PTTL after GETEX PXAT: {t}");
    // GETEX without options leaves the TTL alone.
    let _: String = q(&mut c, redis::cmd("GETEX").arg("k")).await;
    assert!(pttl(&mut c, "k").await > 28_000);
    let _: String = q(&mut c, redis::cmd("GETEX").arg("k").arg("PX").arg(100)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let v: Option<String> = q(&mut c, redis::cmd("GETEX").arg("k")).await;
    assert_eq!(v, None);
    let _: () = q(&mut c, redis::cmd("SET").arg("k").arg("v")).await;
    let v: String = q(&mut c, redis::cmd("GETEX").arg("k").arg("EXAT").arg(1)).await;
    assert_eq!(v, "v");
    let n: i64 = q(&mut c, redis::cmd("EXISTS").arg("k")).await;
    assert_eq!(n, 0);
}

fn common_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Concurrent read-modify-writes on one key from many connections lose no update, and
/// MSET/MSETNX are seen whole by MGET.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_atomic() {
    let server = Server::with_args(&["--threads", "4"]);
    let client = server.client();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = client.get_multiplexed_async_connection().await.unwrap();
            for i in 0..250 {
                let _: i64 = q(&mut c, redis::cmd("INCR").arg("counter")).await;
                let _: String = q(&mut c, redis::cmd("INCRBYFLOAT").arg("float").arg("0.5")).await;
                let _: i64 = q(&mut c, redis::cmd("APPEND").arg("log").arg("x")).await;
                let v = i.to_string();
                let _: () = q(
                    &mut c,
                    redis::cmd("MSET").arg("m1").arg(&v).arg("m2").arg(&v),
                )
                .await;
                let pair: Vec<Option<String>> =
                    q(&mut c, redis::cmd("MGET").arg("m1").arg("m2")).await;
                assert_eq!(pair[0], pair[1], "MGET saw half of an MSET");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = server.async_conn().await;
    let n: i64 = q(&mut c, redis::cmd("GET").arg("counter")).await;
    assert_eq!(n, 2000);
    let f: String = q(&mut c, redis::cmd("GET").arg("float")).await;
    assert_eq!(f, "1000");
    let len: i64 = q(&mut c, redis::cmd("STRLEN").arg("log")).await;
    assert_eq!(len, 2000);
}
