//! Redis's RDB serialization: length encoding, value type bytes and the
//! building blocks every RDB value is made of.
//!
//! Only the pieces Ferrite's value types need are here so far (strings); the
//! RDB file loader and saver will add the other types and the file framing on
//! top of the same [`Reader`] and length encoding.

pub mod hash;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod lzf;
pub mod set;
pub mod string;
pub mod zset;

/// The RDB version Ferrite writes: Redis 7.0's, which Redis 7.0 and later and
/// Valkey all load.
pub const RDB_VERSION: u16 = 10;

/// The newest RDB version Ferrite reads (Redis 7.4). Versions 9 to 12 encode
/// every value type Ferrite supports identically.
pub const RDB_VERSION_MAX_LOAD: u16 = 12;

/// Value type byte of a plain string.
pub const TYPE_STRING: u8 = 0;

/// The top two bits of a length byte: 6-bit length, 14-bit length, 32/64-bit
/// length (`0x80`/`0x81` exactly) or a special string encoding.
const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const ENCVAL: u8 = 3;

/// Special string encodings (the low six bits of an `ENCVAL` length byte).
pub const ENC_INT8: u8 = 0;
pub const ENC_INT16: u8 = 1;
pub const ENC_INT32: u8 = 2;
pub const ENC_LZF: u8 = 3;

/// Why RDB data could not be read. The texts are for logs; commands map any
/// error to their own reply (RESTORE: "Bad data format").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RdbError {
    /// The data ended in the middle of a value.
    Truncated,
    /// The data is malformed.
    Corrupt(&'static str),
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RdbError::Truncated => f.write_str("unexpected end of RDB data"),
            RdbError::Corrupt(why) => write!(f, "corrupt RDB data: {why}"),
        }
    }
}

impl std::error::Error for RdbError {}

pub type Result<T> = std::result::Result<T, RdbError>;

/// A length field: either a plain length or the code of a special string
/// encoding (`ENC_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Len {
    Plain(u64),
    Encoded(u8),
}

/// Appends `len` in RDB length encoding (the shortest form, as Redis writes).
pub fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8 | (LEN_6BIT << 6));
    } else if len < 1 << 14 {
        out.push((len >> 8) as u8 | (LEN_14BIT << 6));
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// A cursor over RDB bytes. Every read is bounds-checked, so corrupt or
/// truncated input yields an error, never a panic or a huge allocation.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn u8(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or(RdbError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(RdbError::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N as u64)?;
        Ok(s.try_into().expect("take returned N bytes"))
    }

    /// Reads a length field (see [`write_len`]).
    pub fn length(&mut self) -> Result<Len> {
        let b = self.u8()?;
        match b >> 6 {
            ENCVAL => Ok(Len::Encoded(b & 0x3f)),
            LEN_6BIT => Ok(Len::Plain(u64::from(b & 0x3f))),
            LEN_14BIT => Ok(Len::Plain(u64::from(b & 0x3f) << 8 | u64::from(self.u8()?))),
            _ => match b {
                LEN_32BIT => Ok(Len::Plain(u64::from(u32::from_be_bytes(self.array()?)))),
                LEN_64BIT => Ok(Len::Plain(u64::from_be_bytes(self.array()?))),
                _ => Err(RdbError::Corrupt("unknown length encoding")),
            },
        }
    }

    /// Reads a length field that must be a plain length.
    pub fn plain_length(&mut self) -> Result<u64> {
        match self.length()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(RdbError::Corrupt(
                "encoded value where a length was expected",
            )),
        }
    }

    pub fn i8(&mut self) -> Result<i8> {
        Ok(self.u8()? as i8)
    }

    pub fn i16_le(&mut self) -> Result<i16> {
        Ok(i16::from_le_bytes(self.array()?))
    }

    pub fn i32_le(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_len(&mut out, n);
        let mut r = Reader::new(&out);
        assert_eq!(r.length().unwrap(), Len::Plain(n));
        assert_eq!(r.remaining(), 0);
        out
    }

    #[test]
    fn lengths_use_redis_forms() {
        assert_eq!(roundtrip(0), [0x00]);
        assert_eq!(roundtrip(63), [0x3f]);
        assert_eq!(roundtrip(64), [0x40, 0x40]);
        assert_eq!(roundtrip(101), [0x40, 0x65]);
        assert_eq!(roundtrip(16383), [0x7f, 0xff]);
        assert_eq!(roundtrip(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(
            roundtrip(u64::from(u32::MAX)),
            [0x80, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(roundtrip(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert_eq!(
            Reader::new(&[0x82]).length(),
            Err(RdbError::Corrupt("unknown length encoding"))
        );
        assert_eq!(Reader::new(&[0x40]).length(), Err(RdbError::Truncated));
        assert_eq!(
            Reader::new(&[0x80, 1, 2]).length(),
            Err(RdbError::Truncated)
        );
        assert_eq!(Reader::new(&[0xc3]).length(), Ok(Len::Encoded(ENC_LZF)));
        assert_eq!(Reader::new(&[1, 2]).take(3), Err(RdbError::Truncated));
    }
}
