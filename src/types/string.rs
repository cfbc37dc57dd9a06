//! Strings, with Redis's three encodings so OBJECT ENCODING answers as Redis does.

use bytes::Bytes;
use std::borrow::Cow;

/// Redis's limit for the `embstr` encoding.
pub const EMBSTR_MAX: usize = 44;

#[derive(Debug, Clone, PartialEq)]
pub enum Str {
    /// A canonical decimal integer that fits in an i64 (`int`).
    Int(i64),
    /// A short string created whole (`embstr`).
    Emb(Bytes),
    /// A string built or modified in place, or a long one (`raw`).
    Raw(Bytes),
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
        if data.len() <= EMBSTR_MAX {
            Str::Emb(Bytes::copy_from_slice(data))
        } else {
            Str::Raw(Bytes::copy_from_slice(data))
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
        if data.len() <= EMBSTR_MAX {
            Str::Emb(Bytes::from(data))
        } else {
            Str::Raw(Bytes::from(data))
        }
    }

    /// A string produced by modifying another (APPEND, SETRANGE): always `raw`.
    pub fn raw(data: Vec<u8>) -> Str {
        Str::Raw(Bytes::from(data))
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
            Str::Emb(b) | Str::Raw(b) => Cow::Borrowed(b),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            Str::Emb(b) | Str::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if it is one in canonical form (INCR & co).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            Str::Emb(b) | Str::Raw(b) => crate::util::num::parse_i64(b),
        }
    }

    /// Writes the value as a bulk reply without an intermediate allocation.
    pub fn write_bulk(&self, out: &mut crate::protocol::Reply) {
        match self {
            Str::Int(n) => out.bulk_int(*n),
            Str::Emb(b) | Str::Raw(b) => out.bulk(b),
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
