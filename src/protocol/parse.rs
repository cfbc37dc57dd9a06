//! Request parsing.
//!
//! Requests arrive either as RESP multibulk (`*<n>\r\n$<len>\r\n...`) or as an
//! inline command line (telnet style). The parser consumes complete requests
//! from the front of the read buffer and leaves partial ones in place. Lengths
//! are validated before anything is allocated, so a client announcing a 4 GiB
//! bulk or a billion arguments costs nothing but its connection.

use bytes::{Buf, BytesMut};

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

/// How many bytes of an inline request, or of a multibulk length line, may
/// arrive without its newline before the client is refused (Redis's
/// PROTO_INLINE_MAX_SIZE). A line whose newline is already in the buffer is
/// parsed whatever its length, as Redis does: the limit bounds what a client
/// can make the server buffer while waiting, not the length of a request.
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

/// Parses requests in place: a complete request's arguments are slices of the
/// read buffer ([`Parser::args`]), so no argument is copied or reference
/// counted on the way to its command. A multibulk request still arriving keeps
/// how far it was scanned, so a large request is not re-parsed on every read.
#[derive(Default)]
pub struct Parser {
    /// A multibulk request started but not complete.
    pending: Option<Pending>,
    /// Where the last parsed request began in the buffer passed to `parse`.
    start: usize,
    /// Its arguments as ranges relative to `start` (multibulk requests).
    ranges: Vec<(usize, usize)>,
    /// Its arguments when it was an inline request: quoting and escapes make
    /// them new strings rather than slices of the buffer.
    inline: Option<Vec<Vec<u8>>>,
}

struct Pending {
    remaining: usize,
    /// Offset, from the request's start, of the next unparsed argument.
    pos: usize,
}

/// The arguments of one request, borrowed from the read buffer; up to eight
/// without allocating.
pub struct Args<'b> {
    small: [&'b [u8]; 8],
    len: usize,
    big: Vec<&'b [u8]>,
}

impl<'b> std::ops::Deref for Args<'b> {
    type Target = [&'b [u8]];
    fn deref(&self) -> &Self::Target {
        if self.big.is_empty() {
            &self.small[..self.len]
        } else {
            &self.big
        }
    }
}

impl<'b> Args<'b> {
    fn collect(iter: impl ExactSizeIterator<Item = &'b [u8]>) -> Args<'b> {
        let mut a = Args {
            small: [&[]; 8],
            len: iter.len(),
            big: Vec::new(),
        };
        if a.len <= a.small.len() {
            for (slot, arg) in a.small.iter_mut().zip(iter) {
                *slot = arg;
            }
        } else {
            a.big = iter.collect();
        }
        a
    }
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// Forgets a request started but not finished (a look ahead that met
    /// the end of the buffer): the next `parse` starts afresh.
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// True while a multibulk request has been started but not finished.
    pub fn in_request(&self) -> bool {
        self.pending.is_some()
    }

    /// Parses the request that begins at `buf[start..]`.
    ///
    /// `Ok(Some(end))`: a complete request, whose arguments [`Parser::args`]
    /// gives, occupies `buf[start..end]`. It may have none (an empty inline
    /// line, `*0`, `*-1`); callers skip those. `Ok(None)`: more bytes are
    /// needed; the caller must keep `buf[start..]` and call again with the
    /// same request at the front of `start`'s successor buffer (after
    /// discarding the bytes before `start`, pass 0).
    pub fn parse(
        &mut self,
        buf: &[u8],
        start: usize,
        limits: Limits,
    ) -> Result<Option<usize>, ParseError> {
        let req = &buf[start..];
        if self.pending.is_none() {
            if req.is_empty() {
                return Ok(None);
            }
            self.start = start;
            self.ranges.clear();
            self.inline = None;
            if req[0] != b'*' {
                return Ok(self.parse_inline(req)?.map(|used| start + used));
            }
            let Some((count, used)) = read_len_line(req, b'*', limits)? else {
                return Ok(None);
            };
            if count <= 0 {
                return Ok(Some(start + used));
            }
            let n = count as usize;
            self.ranges.reserve(n.min(PREALLOC_ARGS));
            self.pending = Some(Pending {
                remaining: n,
                pos: used,
            });
        }
        self.start = start;
        let pending = self.pending.as_mut().expect("pending request");
        while pending.remaining > 0 {
            let rest = &req[pending.pos..];
            if rest.is_empty() {
                return Ok(None);
            }
            if rest[0] != b'$' {
                let got = rest[0] as char;
                self.pending = None;
                return Err(ParseError::new(format!(
                    "Protocol error: expected '$', got '{got}'"
                )));
            }
            let Some((len, used)) = read_len_line(rest, b'$', limits)? else {
                return Ok(None);
            };
            let len = len as usize;
            if rest.len() < used + len + 2 {
                // Wait for the rest; the buffer grows only as bytes arrive, so
                // an announced length costs nothing until it is really sent.
                return Ok(None);
            }
            let from = pending.pos + used;
            self.ranges.push((from, from + len));
            pending.pos = from + len + 2;
            pending.remaining -= 1;
        }
        let end = start + pending.pos;
        self.pending = None;
        Ok(Some(end))
    }

    /// The arguments of the request the last successful [`Parser::parse`]
    /// returned, as slices of the same `buf`.
    pub fn args<'b>(&'b self, buf: &'b [u8]) -> Args<'b> {
        match &self.inline {
            Some(args) => Args::collect(args.iter().map(|a| &a[..])),
            None => {
                let base = &buf[self.start..];
                Args::collect(self.ranges.iter().map(|&(a, b)| &base[a..b]))
            }
        }
    }

    /// Parses one inline command line (space separated, with Redis's quoting
    /// rules); returns the bytes it took. Refused only while more than
    /// [`INLINE_MAX`] bytes wait without a newline; the arguments are copied
    /// out of bytes that really arrived, so nothing is allocated ahead.
    fn parse_inline(&mut self, req: &[u8]) -> Result<Option<usize>, ParseError> {
        let Some(nl) = memchr::memchr(b'\n', req) else {
            if req.len() > INLINE_MAX {
                return Err(ParseError::new("Protocol error: too big inline request"));
            }
            return Ok(None);
        };
        let mut end = nl;
        if end > 0 && req[end - 1] == b'\r' {
            end -= 1;
        }
        match crate::util::args::split_args(&req[..end]) {
            Some(args) => {
                self.inline = Some(args);
                Ok(Some(nl + 1))
            }
            None => Err(ParseError::new(
                "Protocol error: unbalanced quotes in request",
            )),
        }
    }
}

/// The common length line, `<kind><digits>\r` with a canonical decimal of
/// at most 18 digits (no sign, no leading zero), read in one pass: the
/// number and the index of its `\r`. Anything else (or a line not yet
/// complete) is `None`, for the general path, which finds the `\r` first
/// and parses what is before it. A search for the `\r` then a parse of the
/// digits took 8% of a pipelined LPUSH's CPU.
fn canonical_len(buf: &[u8]) -> Option<(i64, usize)> {
    if *buf.get(1)? == b'0' {
        return (buf.get(2) == Some(&b'\r')).then_some((0, 2));
    }
    let mut n = 0i64;
    let mut i = 1;
    while let Some(&c) = buf.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i > 18 {
            return None;
        }
        n = n * 10 + i64::from(d);
        i += 1;
    }
    (i > 1 && buf.get(i) == Some(&b'\r')).then_some((n, i))
}

/// Reads a `*<n>\r\n` or `$<n>\r\n` line at the start of `buf`.
/// Returns the number and how many bytes the line took. As in Redis, only a
/// line still without its `\r` past [`INLINE_MAX`] is "too big"; a complete
/// overlong line is an invalid length.
pub(super) fn read_len_line(
    buf: &[u8],
    kind: u8,
    limits: Limits,
) -> Result<Option<(i64, usize)>, ParseError> {
    let (parsed, nl) = match canonical_len(buf) {
        Some((n, nl)) => (Some(n), nl),
        None => {
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
            (crate::util::num::parse_i64(&buf[1..nl]), nl)
        }
    };
    if buf.len() < nl + 2 {
        return Ok(None);
    }
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
    // The pipeline look ahead (`peek`) sees the same bytes: it must never
    // panic and only report complete requests within the buffer.
    let (_, peeked) = super::peek::second_args(data, 16, |k| assert!(k.len() <= data.len()));
    assert!(peeked <= data.len());
    let mut parser = Parser::new();
    let mut buf = BytesMut::new();
    let mut total_arg_bytes = 0usize;
    for chunk in [&data[..split], &data[split..]] {
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            match parser.parse(&buf, pos, limits) {
                Ok(Some(end)) => {
                    assert!(end > pos, "a parsed request must consume input");
                    assert!(end <= buf.len());
                    let args = parser.args(&buf);
                    total_arg_bytes += args.iter().map(|a| a.len()).sum::<usize>();
                    assert!(total_arg_bytes <= data.len());
                    pos = end;
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        buf.advance(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// The one-pass reading of a length line agrees with finding the `\r`
    /// and parsing the digits before it, whenever it answers.
    #[test]
    fn canonical_lengths_read_as_the_general_path_reads_them() {
        let mut lines: Vec<Vec<u8>> = [
            "$0\r\n",
            "$00\r\n",
            "$01\r\n",
            "$-1\r\n",
            "$+1\r\n",
            "$1\r\n",
            "$\r\n",
            "$12a\r\n",
            "$ 1\r\n",
            "$1",
            "$",
            "$123456789012345678\r\n",
            "$1234567890123456789\r\n",
            "$9223372036854775807\r\n",
            "$99999999999999999999\r\n",
        ]
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .collect();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = 1 + (x % 21) as usize;
            let mut l = vec![b'*'];
            for k in 0..digits {
                l.push(b"0123456789-+\r"[((x >> (3 * k)) % 13) as usize]);
            }
            l.extend_from_slice(b"\r\n");
            lines.push(l);
        }
        for l in &lines {
            if let Some((n, nl)) = canonical_len(l) {
                let general = memchr::memchr(b'\r', l).expect("it found one");
                assert_eq!(nl, general, "{:?}", String::from_utf8_lossy(l));
                assert_eq!(
                    Some(n),
                    crate::util::num::parse_i64(&l[1..nl]),
                    "{:?}",
                    String::from_utf8_lossy(l)
                );
            }
        }
        assert_eq!(canonical_len(b"$123\r\n"), Some((123, 4)));
        assert_eq!(canonical_len(b"$0\r\n"), Some((0, 2)));
        assert_eq!(canonical_len(b"$012\r\n"), None);
        assert_eq!(canonical_len(b"$12"), None);
    }

    /// The old consuming interface, for tests: parse at the front of `buf`
    /// and drop the request's bytes once it is complete.
    fn next(
        p: &mut Parser,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Vec<Bytes>>, ParseError> {
        match p.parse(buf, 0, limits)? {
            Some(end) => {
                let args = p
                    .args(buf)
                    .iter()
                    .map(|a| Bytes::copy_from_slice(a))
                    .collect();
                buf.advance(end);
                Ok(Some(args))
            }
            None => Ok(None),
        }
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ParseError> {
        let mut p = Parser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(args) = next(&mut p, &mut buf, Limits::default())? {
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
            if let Some(args) = next(&mut p, &mut buf, Limits::default()).unwrap() {
                got = Some(args);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("hello"));
        assert!(buf.is_empty());
    }

    #[test]
    fn many_arguments_and_chunked_resume() {
        // Twenty arguments (more than Args keeps inline), fed in 7-byte
        // chunks, with the connection's contract: keep the partial request,
        // drop what was consumed.
        let mut req = b"*20\r\n".to_vec();
        for i in 0..20 {
            let a = format!("arg{i}");
            req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        let mut p = Parser::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for chunk in req.chunks(7) {
            buf.extend_from_slice(chunk);
            if let Some(args) = next(&mut p, &mut buf, Limits::default()).unwrap() {
                got = Some(args);
            }
        }
        let got = got.unwrap();
        assert_eq!(got.len(), 20);
        assert_eq!(got[19], Bytes::from("arg19"));
        assert!(buf.is_empty() && !p.in_request());
    }

    #[test]
    fn requests_parse_at_any_offset() {
        let buf = b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        let mut p = Parser::new();
        let first = p.parse(buf, 0, Limits::default()).unwrap().unwrap();
        assert_eq!(&*p.args(buf), &[&b"PING"[..]]);
        let second = p.parse(buf, first, Limits::default()).unwrap().unwrap();
        assert_eq!(second, buf.len());
        assert_eq!(&*p.args(buf), &[&b"GET"[..], &b"k"[..]]);
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

    /// Measured against redis-server 7.0.15 (and again by `tests/protocol_limits.rs`).
    #[test]
    fn long_lines_are_refused_only_while_incomplete() {
        let line = |n: usize| {
            let mut l = b"PING ".to_vec();
            l.resize(n, b'x');
            l
        };
        // Complete lines of any length parse.
        for n in [INLINE_MAX, INLINE_MAX + 1, 70_000, 300_000] {
            let mut req = line(n);
            req.extend_from_slice(b"\r\n");
            let r = parse_all(&req).unwrap();
            assert_eq!(r[0].len(), 2);
            assert_eq!(r[0][1].len(), n - 5);
        }
        // Exactly INLINE_MAX bytes without the newline: wait for more.
        let mut p = Parser::new();
        let mut buf = BytesMut::from(&line(INLINE_MAX)[..]);
        assert_eq!(next(&mut p, &mut buf, Limits::default()), Ok(None));
        // One more byte and the request is refused.
        buf.extend_from_slice(b"x");
        assert_eq!(
            next(&mut p, &mut buf, Limits::default()).unwrap_err().0,
            "Protocol error: too big inline request"
        );
        // Length lines: incomplete past the limit, or complete but too long.
        let mut long = b"*".to_vec();
        long.resize(INLINE_MAX + 2, b'1');
        assert_eq!(
            parse_all(&long).unwrap_err().0,
            "Protocol error: too big mbulk count string"
        );
        long.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_all(&long).unwrap_err().0,
            "Protocol error: invalid multibulk length"
        );
        let mut long = b"*1\r\n$".to_vec();
        long.resize(INLINE_MAX + 6, b'1');
        assert_eq!(
            parse_all(&long).unwrap_err().0,
            "Protocol error: too big bulk count string"
        );
        long.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_all(&long).unwrap_err().0,
            "Protocol error: invalid bulk length"
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
        assert!(next(&mut p, &mut buf, Limits::default()).unwrap().is_none());
        // A 512 MB bulk announced: also waits, without reserving it all.
        let mut p = Parser::new();
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nab"[..]);
        assert!(next(&mut p, &mut buf, Limits::default()).unwrap().is_none());
        // Over the limit: refused.
        let mut buf = BytesMut::from(&b"*1\r\n$536870913\r\n"[..]);
        assert!(next(&mut Parser::new(), &mut buf, Limits::default()).is_err());
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits {
            authenticated: false,
            ..Limits::default()
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            next(&mut Parser::new(), &mut buf, limits).unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            next(&mut Parser::new(), &mut buf, limits).unwrap_err().0,
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
