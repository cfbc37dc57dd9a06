//! Long request lines against a real redis-server, byte for byte: inline commands around
//! the 64 KiB limit (exactly 64 KiB, 64 KiB + 1 with and without a newline, split across
//! writes) and overlong multibulk length lines. Redis refuses a line only while more than
//! 64 KiB of it have arrived without a newline; a complete line of any length is parsed.
//! A missing redis-server fails these tests (it is the spec), it does not skip them.

mod common;

use common::{escape, RawConn, RedisServer, Server, ServerProcess};
use std::io::{self, Write};
use std::time::Duration;

const KIB64: usize = 64 * 1024;

/// An inline PING whose line (without the newline) is `n` bytes long.
fn ping_line(n: usize) -> Vec<u8> {
    let mut l = b"PING ".to_vec();
    l.resize(n, b'x');
    l
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A reply as the assertions show it: long bulk replies by their first bytes and length.
fn shown(r: &[u8]) -> String {
    if r.len() > 64 {
        format!("{}... ({} bytes)", escape(&r[..24]), r.len())
    } else {
        escape(r)
    }
}

/// Writes raw bytes, ignoring failure: the server may refuse and close before it
/// has read everything, and the write failing then is part of the behaviour under test.
fn write_tolerant(c: &RawConn, bytes: &[u8]) {
    let mut s = c.stream();
    let _ = s.write_all(bytes);
}

/// What a client saw: the replies, in order, and whether the server kept the
/// connection open (it then still answers PING).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    replies: Vec<String>,
    open: bool,
}

/// Sends `writes` one at a time, 200 ms apart (so each arrives on its own), then
/// reads every reply until the server goes quiet or closes the connection.
fn run(server: &ServerProcess, writes: &[Vec<u8>]) -> Outcome {
    let mut c = RawConn::connect(server.socket_addr());
    for (i, w) in writes.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(200));
        }
        write_tolerant(&c, w);
    }
    let mut replies = Vec::new();
    let mut wait = Duration::from_secs(5);
    loop {
        match c.try_read_reply(wait) {
            Ok(r) => {
                replies.push(shown(&r));
                wait = Duration::from_millis(300);
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                write_tolerant(&c, b"PING\r\n");
                let open = c
                    .try_read_reply(Duration::from_secs(5))
                    .is_ok_and(|r| r == b"+PONG\r\n");
                return Outcome { replies, open };
            }
            Err(_) => {
                return Outcome {
                    replies,
                    open: false,
                }
            }
        }
    }
}

/// How PING's bulk reply of `len` bytes of `x` is shown.
fn bulk(len: usize) -> String {
    let mut r = format!("${len}\r\n").into_bytes();
    r.resize(r.len() + len, b'x');
    r.extend_from_slice(b"\r\n");
    shown(&r)
}

fn error(text: &str) -> String {
    escape(format!("-ERR Protocol error: {text}\r\n").as_bytes())
}

#[test]
fn long_inline_requests_match_redis() {
    let ferrite = Server::start();
    let redis = RedisServer::start();
    let crlf = b"\r\n".as_slice();
    let accepted = |n: usize| Outcome {
        replies: vec![bulk(n - 5)],
        open: true,
    };
    let refused = |before: &[&str]| Outcome {
        replies: before
            .iter()
            .map(|s| escape(s.as_bytes()))
            .chain([error("too big inline request")])
            .collect(),
        open: false,
    };
    let l64 = ping_line(KIB64);
    let l64p1 = ping_line(KIB64 + 1);
    let l70k = ping_line(70_000);
    let cases: Vec<(&str, Vec<Vec<u8>>, Outcome)> = vec![
        (
            "exactly 64 KiB and CRLF, one write",
            vec![cat(&[&l64, crlf])],
            accepted(KIB64),
        ),
        (
            "exactly 64 KiB, then CRLF in a second write",
            vec![l64.clone(), crlf.to_vec()],
            accepted(KIB64),
        ),
        (
            "64 KiB + 1 without a newline",
            vec![l64p1.clone()],
            refused(&[]),
        ),
        (
            "64 KiB + 1 and CRLF, one write",
            vec![cat(&[&l64p1, crlf])],
            accepted(KIB64 + 1),
        ),
        (
            "64 KiB + 1 and LF, one write",
            vec![cat(&[&l64p1, b"\n"])],
            accepted(KIB64 + 1),
        ),
        (
            "64 KiB + 1, then CRLF in a second write",
            vec![l64p1.clone(), crlf.to_vec()],
            refused(&[]),
        ),
        (
            "70,000 bytes and CRLF, one write",
            vec![cat(&[&l70k, crlf])],
            accepted(70_000),
        ),
        (
            "70,000 bytes split 40,000 / 30,000 + CRLF",
            vec![l70k[..40_000].to_vec(), cat(&[&l70k[40_000..], crlf])],
            accepted(70_000),
        ),
        (
            "PING, then 64 KiB + 1 without a newline, one write",
            vec![cat(&[b"PING\r\n", &l64p1])],
            refused(&["+PONG\r\n"]),
        ),
        (
            "1 MiB and CRLF, one write (never all buffered at once)",
            vec![cat(&[&ping_line(1 << 20), crlf])],
            refused(&[]),
        ),
    ];
    for (name, writes, expected) in &cases {
        let theirs = run(&redis, writes);
        let ours = run(&ferrite, writes);
        assert_eq!(ours, theirs, "{name}: Ferrite vs redis-server");
        assert_eq!(&theirs, expected, "{name}: redis-server changed behaviour");
    }
}

#[test]
fn overlong_length_lines_match_redis() {
    let ferrite = Server::start();
    let redis = RedisServer::start();
    let digits = |n: usize| vec![b'1'; n];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "multibulk count of 70,000 digits, complete",
            cat(&[b"*", &digits(70_000), b"\r\n"]),
            "invalid multibulk length",
        ),
        (
            "multibulk count past 64 KiB without CR",
            cat(&[b"*", &digits(KIB64 + 1)]),
            "too big mbulk count string",
        ),
        (
            "bulk length of 70,000 digits, complete",
            cat(&[b"*1\r\n$", &digits(70_000), b"\r\n"]),
            "invalid bulk length",
        ),
        (
            "bulk length past 64 KiB without CR",
            cat(&[b"*1\r\n$", &digits(KIB64 + 1)]),
            "too big bulk count string",
        ),
    ];
    for (name, bytes, text) in cases {
        let writes = [bytes];
        let theirs = run(&redis, &writes);
        let ours = run(&ferrite, &writes);
        assert_eq!(ours, theirs, "{name}: Ferrite vs redis-server");
        let expected = Outcome {
            replies: vec![error(text)],
            open: false,
        };
        assert_eq!(theirs, expected, "{name}: redis-server changed behaviour");
    }
}
