//! Request parsing.
//!
//! Requests arrive either as RESP multibulk (`*<n>\r\n$<len>\r\n...`) or as an
//! inline command line (telnet style). The parser consumes complete requests
//! from the front of the read buffer and leaves partial ones in place. Lengths
//! are validated before anything is allocated, so a client announcing a 4 GiB
//! bulk or a billion arguments costs nothing but its connection.

use bytes::{Buf, Bytes, BytesMut};

/// Limits that Redis applies while parsing a request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest bulk string accepted.
    pub max_bulk_len: u64,
    /// Whether the client has authenticated (unauthenticated clients get far
    /// tighter limits, as in Redis, to blunt memory-exhaustion attacks).
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// Inline requests and the length lines of multibulk requests may not exceed
/// this without a newline (Redis's PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Largest multibulk count accepted (Redis: INT_MAX).
const MAX_MULTIBULK: i64 = i32::MAX as i64;
/// Limits for clients that have not authenticated yet.
const UNAUTH_MAX_MULTIBULK: i64 = 10;
const UNAUTH_MAX_BULK: i64 = 16384;
/// Never preallocate more argument slots than this, whatever the client claims.
const PREALLOC_ARGS: usize = 1024;

/// A protocol violation: the text (without the leading `-ERR `) is sent to the
/// client and the connection is closed, exactly as Redis does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl ParseError {
    fn new(msg: impl Into<String>) -> Self {
        ParseError(msg.into())
    }
}

/// Incremental state for a multibulk request whose arguments are still arriving,
/// so that a large request is not re-parsed from the start on every read.
#[derive(Default)]
pub struct Parser {
    pending: Option<Pending>,
}

struct Pending {
    remaining: usize,
    args: Vec<Bytes>,
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// True while a multibulk request has been started but not finished; the
    /// query-buffer limit applies to its accumulated size.
    pub fn in_request(&self) -> bool {
        self.pending.is_some()
    }

    /// Parses the next complete request from `buf`, consuming it.
    ///
    /// Returns `Ok(None)` when more bytes are needed. An empty inline line or a
    /// `*0` / `*-1` multibulk yields `Ok(Some(vec![]))`, which callers skip.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Vec<Bytes>>, ParseError> {
        if self.pending.is_none() {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return parse_inline(buf);
            }
            let Some((count, used)) = read_len_line(buf, b'*', limits)? else {
                return Ok(None);
            };
            buf.advance(used);
            if count <= 0 {
                return Ok(Some(Vec::new()));
            }
            let n = count as usize;
            self.pending = Some(Pending {
                remaining: n,
                args: Vec::with_capacity(n.min(PREALLOC_ARGS)),
            });
        }
        let pending = self.pending.as_mut().expect("pending request");
        while pending.remaining > 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'$' {
                let got = buf[0] as char;
                self.pending = None;
                return Err(ParseError::new(format!(
                    "Protocol error: expected '$', got '{got}'"
                )));
            }
            let Some((len, used)) = read_len_line(buf, b'$', limits)? else {
                return Ok(None);
            };
            let len = len as usize;
            if buf.len() < used + len + 2 {
                // Wait for the rest; the buffer grows only as bytes arrive, so
                // an announced length costs nothing until it is really sent.
                return Ok(None);
            }
            buf.advance(used);
            let arg = buf.split_to(len).freeze();
            buf.advance(2);
            pending.args.push(arg);
            pending.remaining -= 1;
        }
        let done = self.pending.take().expect("pending request");
        Ok(Some(done.args))
    }
}

/// Reads a `*<n>\r\n` or `$<n>\r\n` line at the start of `buf`.
/// Returns the number and how many bytes the line took.
fn read_len_line(buf: &[u8], kind: u8, limits: Limits) -> Result<Option<(i64, usize)>, ParseError> {
    let Some(nl) = memchr::memchr(b'\r', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(ParseError::new(if kind == b'*' {
                "Protocol error: too big mbulk count string"
            } else {
                "Protocol error: too big bulk count string"
            }));
        }
        return Ok(None);
    };
    if nl > INLINE_MAX {
        return Err(ParseError::new(if kind == b'*' {
            "Protocol error: too big mbulk count string"
        } else {
            "Protocol error: too big bulk count string"
        }));
    }
    if buf.len() < nl + 2 {
        return Ok(None);
    }
    let digits = &buf[1..nl];
    let parsed = crate::util::num::parse_i64(digits);
    if kind == b'*' {
        let n = match parsed {
            Some(n) if n <= MAX_MULTIBULK => n,
            _ => return Err(ParseError::new("Protocol error: invalid multibulk length")),
        };
        if !limits.authenticated && n > UNAUTH_MAX_MULTIBULK {
            return Err(ParseError::new(
                "Protocol error: unauthenticated multibulk length",
            ));
        }
        Ok(Some((n, nl + 2)))
    } else {
        let n = match parsed {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len => n,
            _ => return Err(ParseError::new("Protocol error: invalid bulk length")),
        };
        if !limits.authenticated && n > UNAUTH_MAX_BULK {
            return Err(ParseError::new(
                "Protocol error: unauthenticated bulk length",
            ));
        }
        Ok(Some((n, nl + 2)))
    }
}

/// Parses one inline command line (space separated, with Redis's quoting rules).
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(ParseError::new("Protocol error: too big inline request"));
        }
        return Ok(None);
    };
    if nl > INLINE_MAX {
        return Err(ParseError::new("Protocol error: too big inline request"));
    }
    let line = buf.split_to(nl + 1);
    let mut end = nl;
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    match crate::util::args::split_args(&line[..end]) {
        Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
        None => Err(ParseError::new(
            "Protocol error: unbalanced quotes in request",
        )),
    }
}

/// Entry point for the `resp_parser` fuzz target: runs the parser over
/// arbitrary input in arbitrary chunkings, as a connection would, and checks
/// that it never panics, never consumes bytes it did not parse, and never
/// hands back more bulk bytes than the input held.
pub fn fuzz_entry(data: &[u8]) {
    let split = if data.is_empty() {
        0
    } else {
        data[0] as usize % (data.len() + 1)
    };
    let limits = Limits {
        max_bulk_len: 1 << 20,
        authenticated: data.first().is_some_and(|b| b & 1 == 0),
    };
    let mut parser = Parser::new();
    let mut buf = BytesMut::new();
    let mut total_arg_bytes = 0usize;
    for chunk in [&data[..split], &data[split..]] {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match parser.next(&mut buf, limits) {
                Ok(Some(args)) => {
                    total_arg_bytes += args.iter().map(|a| a.len()).sum::<usize>();
                    assert!(total_arg_bytes <= data.len());
                    assert!(buf.len() < before, "a parsed request must consume input");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ParseError> {
        let mut p = Parser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(args) = p.next(&mut buf, Limits::default())? {
            out.push(args);
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_pipeline() {
        let r = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(r[1], vec![Bytes::from("PING")]);
    }

    #[test]
    fn partial_input_resumes() {
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = Parser::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for b in full.iter() {
            buf.extend_from_slice(&[*b]);
            if let Some(args) = p.next(&mut buf, Limits::default()).unwrap() {
                got = Some(args);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("hello"));
        assert!(buf.is_empty());
    }

    #[test]
    fn inline_commands() {
        let r = parse_all(b"set a \"b c\"\r\nPING\n\r\n").unwrap();
        assert_eq!(
            r[0],
            vec![Bytes::from("set"), Bytes::from("a"), Bytes::from("b c")]
        );
        assert_eq!(r[1], vec![Bytes::from("PING")]);
        assert!(r[2].is_empty());
        assert_eq!(
            parse_all(b"set \"a\r\n").unwrap_err().0,
            "Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn protocol_errors_match_redis() {
        assert_eq!(
            parse_all(b"*x\r\n").unwrap_err().0,
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-2\r\n").unwrap_err().0,
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n+PING\r\n").unwrap_err().0,
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            parse_all(b"*1\r\n$9999999999999\r\n").unwrap_err().0,
            "Protocol error: invalid bulk length"
        );
    }

    #[test]
    fn huge_counts_are_not_allocated() {
        // A billion arguments announced, none sent: must simply wait for more.
        let mut p = Parser::new();
        let mut buf = BytesMut::from(&b"*1000000000\r\n"[..]);
        assert!(p.next(&mut buf, Limits::default()).unwrap().is_none());
        // A 512 MB bulk announced: also waits, without reserving it all.
        let mut p = Parser::new();
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nab"[..]);
        assert!(p.next(&mut buf, Limits::default()).unwrap().is_none());
        // Over the limit: refused.
        let mut buf = BytesMut::from(&b"*1\r\n$536870913\r\n"[..]);
        assert!(Parser::new().next(&mut buf, Limits::default()).is_err());
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits {
            authenticated: false,
            ..Limits::default()
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            Parser::new().next(&mut buf, limits).unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            Parser::new().next(&mut buf, limits).unwrap_err().0,
            "Protocol error: unauthenticated bulk length"
        );
    }

    #[test]
    fn fuzz_entry_smoke() {
        fuzz_entry(b"\x03*2\r\n$1\r\na\r\n$2\r\nbc\r\nPING\r\n");
        fuzz_entry(b"");
        fuzz_entry(b"*-1\r\n*0\r\n");
    }
}
