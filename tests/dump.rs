//! DUMP / RESTORE: payloads are byte-identical to redis-server's, move between the two
//! servers in both directions, and damaged payloads are refused with Redis's errors
//! without touching existing data.

mod common;

use common::{bulk_bytes, framed_payload, Compare, Differential, RawConn};

/// Clock-dependent replies (no value is exact): within one second / 250 ms.
const SECS: Compare = Compare::Time {
    tolerance: 1,
    exact: (1, 0),
};
const MILLIS: Compare = Compare::Time {
    tolerance: 250,
    exact: (1, 0),
};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// String values covering every RDB string encoding and the LZF thresholds.
fn sample_values() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "0",
        "1",
        "-1",
        "12",
        "127",
        "128",
        "-128",
        "-129",
        "32767",
        "32768",
        "-32768",
        "-32769",
        "70000",
        "2147483647",
        "2147483648",
        "-2147483648",
        "-2147483649",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "007",
        "+1",
        "-0",
        "1e3",
        " 1",
        "",
        "a",
        "hello",
        "hello world",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for n in [
        19, 20, 21, 22, 23, 24, 25, 26, 44, 45, 64, 100, 1000, 20000, 70000,
    ] {
        v.push(vec![b'a'; n]);
        v.push(b"abc".iter().cycle().take(n).copied().collect());
    }
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let words: [&[u8]; 7] = [
        b"foo", b"bar", b"hello", b"world", b"redis", b"ferrite", b" ",
    ];
    for i in 0..300 {
        let len = [0, 5, 20, 21, 24, 30, 50, 100, 300, 1000, 5000][i % 11];
        let s: Vec<u8> = match i % 4 {
            0 => (0..len).map(|_| b"ab"[rng.below(2)]).collect(),
            1 => (0..len).map(|_| b"abcdefgh"[rng.below(8)]).collect(),
            2 => (0..len).map(|_| rng.next() as u8).collect(),
            _ => {
                let mut s = Vec::new();
                while s.len() < len {
                    s.extend_from_slice(words[rng.below(words.len())]);
                }
                s.truncate(len);
                s
            }
        };
        v.push(s);
    }
    v
}

#[test]
fn dump_payloads_are_byte_identical_to_redis() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        dump
        dump a b
        dump nokey
        "#,
    );
    for (i, value) in sample_values().into_iter().enumerate() {
        let key = format!("k{i}").into_bytes();
        d.check(&[b"SET".to_vec(), key.clone(), value]);
        d.check(&[b"DUMP".to_vec(), key]);
    }
    // Values built by APPEND are stored raw by both; integers among them still get the
    // integer encoding.
    d.check_all(
        r#"
        append ap 12
        append ap 3
        dump ap
        append ap2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        dump ap2
        config set rdbcompression no
        set long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        dump long
        config set rdbcompression yes
        dump long
        "#,
    );
}

/// Moves every sample value from `from` to `to` with DUMP / RESTORE and checks the value
/// and its encoding arrive unchanged.
fn transfer(from: &mut RawConn, to: &mut RawConn, direction: &str) {
    for (i, value) in sample_values().into_iter().enumerate() {
        let key = format!("t{i}");
        assert_eq!(
            from.cmd(&[b"SET".as_slice(), key.as_bytes(), &value]),
            b"+OK\r\n"
        );
        let payload = bulk_bytes(&from.cmd(&["DUMP", &key]));
        let reply = to.cmd(&[
            b"RESTORE".as_slice(),
            key.as_bytes(),
            b"0",
            &payload,
            b"REPLACE",
        ]);
        assert_eq!(reply, b"+OK\r\n", "{direction}: RESTORE of value #{i}");
        assert_eq!(
            bulk_bytes(&to.cmd(&["GET", &key])),
            value,
            "{direction}: value #{i}"
        );
        assert_eq!(
            to.cmd(&["OBJECT", "ENCODING", &key]),
            from.cmd(&["OBJECT", "ENCODING", &key]),
            "{direction}: encoding of value #{i}"
        );
        assert_eq!(
            bulk_bytes(&to.cmd(&["DUMP", &key])),
            payload,
            "{direction}: re-DUMP of #{i}"
        );
    }
}

#[test]
fn payloads_move_between_redis_and_ferrite() {
    let d = Differential::new();
    let (mut ferrite, mut redis) = d.new_conns();
    transfer(&mut redis, &mut ferrite, "redis -> ferrite");
    transfer(&mut ferrite, &mut redis, "ferrite -> redis");
}

#[test]
fn restore_options_and_errors_match_redis() {
    let mut d = Differential::new();
    let hello = framed_payload(b"\x00\x05hello", 10);
    let script: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"k", b"0"],
        vec![b"RESTORE", b"k", b"0", &hello],
        vec![b"GET", b"k"],
        vec![b"RESTORE", b"k", b"0", &hello],
        // BUSYKEY comes before the TTL and payload checks.
        vec![b"RESTORE", b"k", b"-1", b"garbage"],
        vec![b"RESTORE", b"k", b"abc", b"garbage", b"REPLACE"],
        vec![b"RESTORE", b"k", b"-1", b"garbage", b"REPLACE"],
        vec![b"RESTORE", b"k", b"0", b"garbage", b"REPLACE"],
        vec![b"RESTORE", b"k", b"0", b"garbage", b"foo"],
        vec![b"RESTORE", b"k", b"0", &hello, b"foo"],
        vec![
            b"RESTORE", b"k", b"0", &hello, b"REPLACE", b"REPLACE", b"ABSTTL", b"absttl",
        ],
        vec![b"RESTORE", b"k", b"0", &hello, b"REPLACE", b"IDLETIME"],
        vec![
            b"RESTORE",
            b"k",
            b"0",
            &hello,
            b"REPLACE",
            b"IDLETIME",
            b"-1",
        ],
        vec![
            b"RESTORE",
            b"k",
            b"0",
            &hello,
            b"REPLACE",
            b"IDLETIME",
            b"x",
        ],
        vec![b"RESTORE", b"k", b"0", &hello, b"REPLACE", b"FREQ", b"256"],
        vec![b"RESTORE", b"k", b"0", &hello, b"REPLACE", b"FREQ", b"-1"],
        vec![b"RESTORE", b"k", b"0", &hello, b"REPLACE", b"FREQ", b"x"],
        vec![
            b"RESTORE",
            b"k",
            b"0",
            &hello,
            b"REPLACE",
            b"FREQ",
            b"5",
            b"IDLETIME",
            b"5",
        ],
        vec![
            b"RESTORE",
            b"k",
            b"0",
            &hello,
            b"REPLACE",
            b"IDLETIME",
            b"5",
            b"FREQ",
            b"5",
        ],
        vec![b"RESTORE", b"k", b"0", &hello, b"REPLACE", b"FREQ", b"200"],
        vec![b"OBJECT", b"FREQ", b"k"],
        vec![
            b"RESTORE",
            b"k",
            b"0",
            &hello,
            b"REPLACE",
            b"IDLETIME",
            b"100",
            b"IDLETIME",
            b"200",
        ],
        // Absolute TTLs: in the past (no key), far future (exact).
        vec![b"RESTORE", b"k", b"1", &hello, b"REPLACE", b"ABSTTL"],
        vec![b"EXISTS", b"k"],
        vec![b"RESTORE", b"k", b"99999999999999", &hello, b"ABSTTL"],
        vec![b"PEXPIRETIME", b"k"],
        vec![
            b"RESTORE",
            b"k",
            b"9223372036854775807",
            &hello,
            b"ABSTTL",
            b"REPLACE",
        ],
        vec![b"PEXPIRETIME", b"k"],
        // A relative TTL that overflows lands in the past: OK, and no key.
        vec![b"RESTORE", b"k", b"9223372036854775807", &hello, b"REPLACE"],
        vec![b"EXISTS", b"k"],
        vec![b"RESTORE", b"k", b"0", &hello],
        vec![b"PEXPIRETIME", b"k"],
    ];
    for cmd in &script {
        d.check(cmd);
    }
    d.check(&[b"RESTORE".as_slice(), b"t", b"100000", &hello]);
    d.check_with(&["PTTL", "t"], MILLIS);
    for idle in [
        "0",
        "1000",
        "150000",
        "16777215",
        "16777216",
        "20000000",
        "9223372036854775807",
    ] {
        d.check(&[
            b"RESTORE".as_slice(),
            b"i",
            b"0",
            &hello,
            b"REPLACE",
            b"IDLETIME",
            idle.as_bytes(),
        ]);
        d.check_with(&["OBJECT", "IDLETIME", "i"], SECS);
    }
}

#[test]
fn restore_freq_under_lfu_policy() {
    let args = ["--maxmemory-policy", "volatile-lfu"];
    let mut d = Differential::with_args(&args, &args);
    let hello = framed_payload(b"\x00\x05hello", 10);
    for cmd in [
        vec![b"RESTORE".as_slice(), b"k", b"0", &hello, b"FREQ", b"200"],
        vec![b"OBJECT", b"FREQ", b"k"],
        vec![
            b"RESTORE",
            b"k",
            b"0",
            &hello,
            b"REPLACE",
            b"IDLETIME",
            b"100",
        ],
        vec![b"OBJECT", b"FREQ", b"k"],
        vec![b"RESTORE", b"k", b"0", &hello, b"REPLACE", b"FREQ", b"0"],
        vec![b"OBJECT", b"FREQ", b"k"],
        // The access counter travels with the value on RENAME and MOVE, and a
        // copy starts afresh (255 saturates, so the lookups' random increments
        // cannot make the servers differ).
        vec![b"RESTORE", b"k", b"0", &hello, b"REPLACE", b"FREQ", b"255"],
        vec![b"SET", b"other", b"x"],
        vec![b"RENAME", b"k", b"other"],
        vec![b"OBJECT", b"FREQ", b"other"],
        vec![b"MOVE", b"other", b"1"],
        vec![b"SELECT", b"1"],
        vec![b"OBJECT", b"FREQ", b"other"],
        vec![b"COPY", b"other", b"c"],
        vec![b"OBJECT", b"FREQ", b"c"],
        vec![b"OBJECT", b"FREQ", b"other"],
    ] {
        d.check(&cmd);
    }
}

/// Bodies with a valid checksum but contents both servers must refuse or read alike.
fn crafted_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty body", b"".to_vec()),
        ("type only", b"\x00".to_vec()),
        ("unknown type", b"\x20\x05hello".to_vec()),
        ("unknown length encoding", b"\x00\x82\x03abc".to_vec()),
        ("unknown string encoding", b"\x00\xc4\x01".to_vec()),
        ("bad lzf", b"\x00\xc3\x03\x10\x01ab".to_vec()),
        ("lzf too short", b"\x00\xc3\x00\x05".to_vec()),
        ("lzf empty", b"\x00\xc3\x00\x00".to_vec()),
        (
            "lzf wrong length",
            b"\x00\xc3\x09\x40\x66\x01aa\xe0\x58\x00\x01aa".to_vec(),
        ),
        (
            "lzf huge length",
            b"\x00\xc3\x09\x81\x00\x00\x01\x00\x00\x00\x00\x00\x01aa\xe0\x58\x00\x01aa".to_vec(),
        ),
        (
            "length 64",
            b"\x00\x81\x00\x00\x00\x00\x00\x00\x00\x03abc".to_vec(),
        ),
        ("length 32", b"\x00\x80\x00\x00\x00\x03abc".to_vec()),
        (
            "huge length",
            b"\x00\x81\xff\xff\xff\xff\xff\xff\xff\xffabc".to_vec(),
        ),
        ("reads into the footer", b"\x00\x05hell".to_vec()),
        ("int8 reads the footer", b"\x00\xc0".to_vec()),
        ("trailing bytes", b"\x00\x05hellox".to_vec()),
        ("verbatim integer", b"\x00\x0212".to_vec()),
        ("verbatim non-canonical", b"\x00\x0201".to_vec()),
    ]
}

#[test]
fn corrupt_payloads_are_refused_and_nothing_is_lost() {
    let mut d = Differential::new();
    d.check(&["SET", "k", "precious"]);
    let good = bulk_bytes(&d.check(&["DUMP", "k"]));
    let expect_intact = |d: &mut Differential| {
        assert_eq!(d.check(&["GET", "k"]), b"$8\r\nprecious\r\n");
    };
    // Every single-bit flip and every truncation.
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut p = good.clone();
            p[i] ^= 1 << bit;
            let r = d.check(&[b"RESTORE".as_slice(), b"k", b"0", &p, b"REPLACE"]);
            assert!(
                r.starts_with(b"-ERR"),
                "flip of bit {bit} in byte {i} accepted"
            );
        }
        d.check(&[b"RESTORE".as_slice(), b"k", b"0", &good[..i], b"REPLACE"]);
    }
    expect_intact(&mut d);
    // Versions: newer than both servers know, and older ones.
    for version in [0u16, 6, 9, 10, 13, 0xffff] {
        let p = framed_payload(b"\x00\x05hello", version);
        d.check(&[b"RESTORE".as_slice(), b"v", b"0", &p, b"REPLACE"]);
    }
    // Valid checksums around malformed or unusual contents.
    for (what, body) in crafted_bodies() {
        let p = framed_payload(&body, 10);
        d.set_context(format!("crafted payload: {what}"));
        let r = d.check(&[b"RESTORE".as_slice(), b"k", b"0", &p, b"REPLACE"]);
        if r.starts_with(b"-") {
            expect_intact(&mut d);
        } else {
            d.check(&["GET", "k"]);
            d.check(&["OBJECT", "ENCODING", "k"]);
            d.check(&["SET", "k", "precious"]);
        }
    }
}

#[test]
fn versions_newer_than_redis_7_0_up_to_7_4_are_accepted() {
    // Redis 7.2 writes RDB 11 and 7.4 writes 12; strings are encoded the same way.
    let server = common::Server::start();
    let mut c = server.raw();
    for version in [11u16, 12] {
        let p = framed_payload(b"\x00\x05hello", version);
        assert_eq!(
            c.cmd(&[b"RESTORE".as_slice(), b"k", b"0", &p, b"REPLACE"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["GET", "k"]), b"$5\r\nhello\r\n");
    }
}

#[test]
fn other_types_are_refused_until_ferrite_has_them() {
    let redis = common::RedisServer::start();
    let server = common::Server::start();
    let mut r = redis.raw();
    // Streams are the one Redis 7.0 type Ferrite does not have yet.
    r.cmd(&["XADD", "stream", "1-1", "f", "v"]);
    let payload = bulk_bytes(&r.cmd(&["DUMP", "stream"]));
    let ferrite = &mut server.raw();
    assert_eq!(ferrite.cmd(&["SET", "k", "keep"]), b"+OK\r\n");
    assert_eq!(
        ferrite.cmd(&[b"RESTORE".as_slice(), b"k", b"0", &payload, b"REPLACE"]),
        b"-ERR Bad data format\r\n"
    );
    assert_eq!(ferrite.cmd(&["GET", "k"]), b"$4\r\nkeep\r\n");
}
