//! RDB strings: the encoding of string values, and of every string inside
//! other values (list elements, hash fields, listpack blobs...).
//!
//! Writing follows Redis exactly, so DUMP payloads and RDB files are
//! byte-identical to Redis's: integers that fit in 32 bits get the compact
//! integer encodings, strings over 20 bytes are LZF-compressed when that saves
//! at least 4 bytes (and `rdbcompression` is on), anything else is stored
//! verbatim after its length.

use super::{
    lzf, write_len, Len, RdbError, Reader, Result, ENCVAL, ENC_INT16, ENC_INT32, ENC_INT8, ENC_LZF,
};
use crate::types::Str;

/// Redis never tries to compress strings this short: LZF cannot gain 4 bytes.
const COMPRESS_MIN: usize = 21;

/// A string as it comes out of RDB data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RdbString {
    /// One of the integer encodings.
    Int(i64),
    /// Verbatim or LZF-compressed bytes.
    Bytes(Vec<u8>),
}

impl RdbString {
    /// The string as a value, with the encoding Redis would give it when
    /// loading (int / embstr / raw).
    pub fn into_str(self) -> Str {
        match self {
            RdbString::Int(n) => Str::Int(n),
            RdbString::Bytes(b) => Str::from_vec(b),
        }
    }

    /// The string's bytes (integers in decimal).
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            RdbString::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            RdbString::Bytes(b) => b,
        }
    }
}

/// Appends the integer encoding of `n` if it fits in 32 bits.
fn write_int(out: &mut Vec<u8>, n: i64) -> bool {
    let enc = ENCVAL << 6;
    if let Ok(v) = i8::try_from(n) {
        out.extend_from_slice(&[enc | ENC_INT8, v as u8]);
    } else if let Ok(v) = i16::try_from(n) {
        out.push(enc | ENC_INT16);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(n) {
        out.push(enc | ENC_INT32);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

fn write_verbatim(out: &mut Vec<u8>, s: &[u8]) {
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends `s` the way Redis saves a string given as bytes.
pub fn write_bytes(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    // Only canonical decimal integers (which `parse_i64` accepts) may be
    // stored as integers: anything else would not load back to the same bytes.
    if s.len() <= 11 {
        if let Some(n) = crate::util::num::parse_i64(s) {
            if write_int(out, n) {
                return;
            }
        }
    }
    if compress && s.len() >= COMPRESS_MIN {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push(ENCVAL << 6 | ENC_LZF);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_verbatim(out, s);
}

/// Appends an integer-valued string: compact encoding, else its digits.
pub fn write_i64(out: &mut Vec<u8>, n: i64) {
    if !write_int(out, n) {
        write_verbatim(out, itoa::Buffer::new().format(n).as_bytes());
    }
}

/// Appends a string value (what DUMP and RDB saving do for string keys).
pub fn write_str(out: &mut Vec<u8>, s: &Str, compress: bool) {
    match s {
        Str::Int(n) => write_i64(out, *n),
        Str::Emb(b) => write_bytes(out, b, compress),
        Str::Raw(b) => write_bytes(out, b, compress),
    }
}

/// Reads one string in any of its encodings.
pub fn read(r: &mut Reader<'_>) -> Result<RdbString> {
    match r.length()? {
        Len::Plain(n) => Ok(RdbString::Bytes(r.take(n)?.to_vec())),
        Len::Encoded(ENC_INT8) => Ok(RdbString::Int(i64::from(r.i8()?))),
        Len::Encoded(ENC_INT16) => Ok(RdbString::Int(i64::from(r.i16_le()?))),
        Len::Encoded(ENC_INT32) => Ok(RdbString::Int(i64::from(r.i32_le()?))),
        Len::Encoded(ENC_LZF) => {
            let clen = r.plain_length()?;
            let len = r.plain_length()?;
            let data = r.take(clen)?;
            lzf::decompress(data, len)
                .map(RdbString::Bytes)
                .ok_or(RdbError::Corrupt("invalid LZF compressed string"))
        }
        Len::Encoded(_) => Err(RdbError::Corrupt("unknown string encoding")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_bytes(&mut out, s, true);
        out
    }

    fn loaded(b: &[u8]) -> Result<RdbString> {
        read(&mut Reader::new(b))
    }

    #[test]
    fn integers_use_the_smallest_encoding() {
        assert_eq!(saved(b"12"), [0xc0, 12]);
        assert_eq!(saved(b"-300"), [0xc1, 0xd4, 0xfe]);
        assert_eq!(saved(b"70000"), [0xc2, 0x70, 0x11, 0x01, 0x00]);
        assert_eq!(saved(b"-2147483648"), [0xc2, 0, 0, 0, 0x80]);
        assert_eq!(saved(b"2147483648"), b"\x0a2147483648");
        assert_eq!(saved(b"007"), b"\x03007");
        assert_eq!(saved(b"+7"), b"\x02+7");
        let mut out = Vec::new();
        write_i64(&mut out, i64::MAX);
        assert_eq!(out, b"\x139223372036854775807");
        assert_eq!(loaded(&[0xc1, 0xd4, 0xfe]), Ok(RdbString::Int(-300)));
        assert_eq!(
            loaded(&[0xc2, 0, 0, 0, 0x80]),
            Ok(RdbString::Int(i64::from(i32::MIN)))
        );
    }

    #[test]
    fn long_strings_are_compressed_when_it_pays() {
        let s = [b'a'; 101];
        let out = saved(&s);
        assert_eq!(out, b"\xc3\x09\x40\x65\x01aa\xe0\x58\x00\x01aa");
        assert_eq!(loaded(&out), Ok(RdbString::Bytes(s.to_vec())));
        // 20 bytes: never compressed.
        assert_eq!(saved(&[b'a'; 20])[0], 20);
        // Not compressible enough: verbatim.
        let abc = b"abcdefghijklmnopqrstuvwxyz";
        assert_eq!(saved(abc)[0], 26);
        let mut plain = Vec::new();
        write_bytes(&mut plain, &s, false);
        assert_eq!(plain[..2], [0x40, 101]);
    }

    #[test]
    fn corrupt_strings_are_errors() {
        assert_eq!(loaded(&[0x05, b'a']), Err(RdbError::Truncated));
        assert_eq!(
            loaded(&[0xc4]),
            Err(RdbError::Corrupt("unknown string encoding"))
        );
        assert_eq!(loaded(&[0xc1, 1]), Err(RdbError::Truncated));
        assert!(loaded(b"\xc3\x09\x40\x64\x01aa\xe0\x58\x00\x01aa").is_err());
        assert_eq!(
            loaded(&[0xc3, 0x00, 0x00]),
            Ok(RdbString::Bytes(Vec::new()))
        );
    }
}
