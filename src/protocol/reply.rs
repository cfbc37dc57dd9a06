//! Reply encoding into the connection's output buffer.
//!
//! Every command writes its reply straight into one `BytesMut` that is flushed
//! once per batch of pipelined commands. RESP3 types degrade to their RESP2
//! equivalents when the client has not said `HELLO 3`, following Redis's
//! mapping (maps become flat arrays, doubles become bulk strings, null becomes
//! `$-1` or `*-1` as appropriate).

use bytes::{BufMut, BytesMut};

/// Output buffer plus the protocol version the client speaks.
pub struct Reply {
    pub buf: BytesMut,
    pub resp3: bool,
}

impl Reply {
    pub fn new() -> Self {
        Reply {
            buf: BytesMut::with_capacity(16 * 1024),
            resp3: false,
        }
    }

    fn line(&mut self, prefix: u8, body: &[u8]) {
        self.buf.reserve(body.len() + 3);
        self.buf.put_u8(prefix);
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(b"\r\n");
    }

    fn len_line(&mut self, prefix: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        self.line(prefix, b.format(n).as_bytes());
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply (`+...`). The text must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.line(b'+', s.as_bytes());
    }

    /// An error reply. `msg` is the full text including its code, e.g.
    /// `ERR syntax error` or `WRONGTYPE ...`. Newlines are replaced by spaces,
    /// as Redis does, so that a message can never break the framing.
    pub fn error(&mut self, msg: &str) {
        if msg.contains(['\r', '\n']) {
            let clean: String = msg
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            self.line(b'-', clean.as_bytes());
        } else {
            self.line(b'-', msg.as_bytes());
        }
    }

    pub fn int(&mut self, n: i64) {
        self.len_line(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.len_line(b'$', data.len() as i64);
        self.buf.reserve(data.len() + 2);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n` (e.g. GET of an int-encoded value).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string (`$-1` / `_`).
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` / `_`), used where Redis 2 replies with a null multibulk.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.len_line(b'*', n as i64);
    }

    /// A map of `n` pairs (`%n`); in RESP2 an array of `2n` elements.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.len_line(b'%', n as i64);
        } else {
            self.len_line(b'*', 2 * n as i64);
        }
    }

    /// A set of `n` elements (`~n`); in RESP2 an array.
    pub fn set(&mut self, n: usize) {
        if self.resp3 {
            self.len_line(b'~', n as i64);
        } else {
            self.len_line(b'*', n as i64);
        }
    }

    /// A push message header (`>n`); in RESP2 an array.
    pub fn push(&mut self, n: usize) {
        if self.resp3 {
            self.len_line(b'>', n as i64);
        } else {
            self.len_line(b'*', n as i64);
        }
    }

    /// A double: `,` in RESP3, a bulk string with `%.17g` in RESP2.
    pub fn double(&mut self, v: f64) {
        if let Some(i) = crate::util::num::integral_digits(v, 17) {
            let mut digits = itoa::Buffer::new();
            let s = digits.format(i).as_bytes();
            return if self.resp3 {
                self.line(b',', s)
            } else {
                self.bulk(s)
            };
        }
        if self.resp3 {
            let s = if v.is_infinite() {
                if v > 0.0 {
                    "inf".to_string()
                } else {
                    "-inf".to_string()
                }
            } else {
                crate::util::num::format_g17(v)
            };
            self.line(b',', s.as_bytes());
        } else {
            self.bulk(crate::util::num::format_g17(v).as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Verbatim text (`=len\r\ntxt:...`), used by INFO and CLIENT LIST/INFO in RESP3.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.len_line(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Appends already-encoded RESP bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `mark` (used by CLIENT REPLY OFF/SKIP).
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }
}

/// An empty reply buffer that has allocated nothing yet (`Reply::new`
/// reserves room for a connection's replies).
impl Default for Reply {
    fn default() -> Self {
        Reply {
            buf: BytesMut::new(),
            resp3: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_forms() {
        let mut r = Reply::new();
        r.null();
        r.map(1);
        r.double(1.5);
        r.boolean(true);
        assert_eq!(&r.buf[..], b"$-1\r\n*2\r\n$3\r\n1.5\r\n:1\r\n");
        let mut r = Reply::new();
        r.resp3 = true;
        r.null();
        r.map(1);
        r.double(1.5);
        r.boolean(true);
        assert_eq!(&r.buf[..], b"_\r\n%1\r\n,1.5\r\n#t\r\n");
    }

    #[test]
    fn errors_cannot_break_framing() {
        let mut r = Reply::new();
        r.error("ERR a\r\nb");
        assert_eq!(&r.buf[..], b"-ERR a  b\r\n");
    }
}
