//! Strings, with Redis's three encodings so OBJECT ENCODING answers as Redis does.

use super::raw_str::RawStr;
use std::borrow::Cow;

/// Redis's limit for the `embstr` encoding.
pub const EMBSTR_MAX: usize = 44;

#[derive(Debug, Clone, PartialEq)]
pub enum Str {
    /// A canonical decimal integer that fits in an i64 (`int`).
    Int(i64),
    /// A short string created whole (`embstr`), stored inside the value
    /// itself as Redis stores it inside the object: one allocation per value.
    Emb(EmbStr),
    /// A string built or modified in place, or a long one (`raw`).
    Raw(RawStr),
}

/// Up to [`EMBSTR_MAX`] bytes stored inline.
#[derive(Clone, PartialEq, Eq)]
pub struct EmbStr {
    len: u8,
    buf: [u8; EMBSTR_MAX],
}

impl EmbStr {
    /// `None` if `data` is longer than [`EMBSTR_MAX`].
    pub fn new(data: &[u8]) -> Option<EmbStr> {
        if data.len() > EMBSTR_MAX {
            return None;
        }
        let mut buf = [0u8; EMBSTR_MAX];
        buf[..data.len()].copy_from_slice(data);
        Some(EmbStr {
            len: data.len() as u8,
            buf,
        })
    }
}

impl std::ops::Deref for EmbStr {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl std::fmt::Debug for EmbStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmbStr({:?})", String::from_utf8_lossy(self))
    }
}

impl Str {
    /// Builds a string from client bytes the way `SET` stores it: integers
    /// become `int`, short strings `embstr`, longer ones `raw`. The bytes are
    /// copied so the value never pins a connection's read buffer.
    pub fn from_arg(data: &[u8]) -> Str {
        if data.len() <= 20 {
            if let Some(n) = crate::util::num::parse_i64(data) {
                return Str::Int(n);
            }
        }
        match EmbStr::new(data) {
            Some(e) => Str::Emb(e),
            None => Str::Raw(RawStr::new(data)),
        }
    }

    /// Like [`Str::from_arg`] for bytes the caller already owns (RESTORE, RDB
    /// loading): same encoding rules, no copy.
    pub fn from_vec(data: Vec<u8>) -> Str {
        if data.len() <= 20 {
            if let Some(n) = crate::util::num::parse_i64(&data) {
                return Str::Int(n);
            }
        }
        match EmbStr::new(&data) {
            Some(e) => Str::Emb(e),
            None => Str::Raw(RawStr::from_vec(data)),
        }
    }

    /// A string produced by modifying another (SETRANGE): always `raw`.
    pub fn raw(data: Vec<u8>) -> Str {
        Str::Raw(RawStr::from_vec(data))
    }

    /// APPEND: always `raw`; a `raw` string grows in place when it can (see
    /// [`RawStr`]), so building a string by appends is linear, as in Redis.
    pub fn appended(&self, extra: &[u8]) -> Str {
        match self {
            Str::Raw(r) => Str::Raw(r.appended(extra)),
            other => Str::Raw(RawStr::concat(&other.bytes(), extra)),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Emb(_) => "embstr",
            Str::Raw(_) => "raw",
        }
    }

    /// The string's bytes (integers are formatted on demand).
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Str::Int(n) => Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            Str::Emb(b) => Cow::Borrowed(b),
            Str::Raw(b) => Cow::Borrowed(b),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            Str::Emb(b) => b.len(),
            Str::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if it is one in canonical form (INCR & co).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            Str::Emb(b) => crate::util::num::parse_i64(b),
            Str::Raw(b) => crate::util::num::parse_i64(b),
        }
    }

    /// Writes the value as a bulk reply without an intermediate allocation.
    pub fn write_bulk(&self, out: &mut crate::protocol::Reply) {
        match self {
            Str::Int(n) => out.bulk_int(*n),
            Str::Emb(b) => out.bulk(b),
            Str::Raw(b) => out.bulk(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Str::from_arg(b"123").encoding(), "int");
        assert_eq!(Str::from_arg(b"0123").encoding(), "embstr");
        assert_eq!(Str::from_arg(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_arg(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(&*Str::Int(-5).bytes(), b"-5");
    }
}
