//! Redis's listpack and ziplist blobs, as RDB payloads carry them (hash,
//! set and sorted-set small encodings; list quicklist nodes).
//!
//! [`write`] produces exactly the bytes Redis's `lpAppend` would for the
//! same elements (integer-looking strings stored as integers in the smallest
//! form, strings with the shortest length header, a back-length after every
//! entry), so a DUMP of a small hash is byte-identical to Redis's. [`read`]
//! and [`read_ziplist`] validate every header, entry and terminator and
//! return the elements as strings; corrupt input is an error, never a panic.

use super::{RdbError, Result};

/// The terminator byte.
pub const EOF: u8 = 0xff;
/// Header bytes: total size (u32 LE) and entry count (u16 LE).
pub const HEADER: usize = 6;

/// Bytes the back-length of an entry of `l` bytes takes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Appends the back-length of an entry of `l` bytes (read right to left).
fn put_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let b = ((l >> (7 * i)) & 127) as u8;
        // The most significant group comes first, without the high bit;
        // every later byte has it.
        out.push(if i == n - 1 { b } else { b | 128 });
    }
}

/// Appends one entry holding `s` (an integer form when `s` is one by
/// Redis's rules), back-length included.
pub fn put_entry(out: &mut Vec<u8>, s: &[u8]) {
    let start = out.len();
    match crate::util::num::parse_i64(s) {
        Some(v) if (0..=127).contains(&v) => out.push(v as u8),
        Some(v) if (-4096..=4095).contains(&v) => {
            let u = if v < 0 { (1 << 13) + v } else { v } as u16;
            out.push(0xc0 | (u >> 8) as u8);
            out.push(u as u8);
        }
        Some(v) if i16::try_from(v).is_ok() => {
            out.push(0xf1);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        Some(v) if (-8388608..=8388607).contains(&v) => {
            out.push(0xf2);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        Some(v) if i32::try_from(v).is_ok() => {
            out.push(0xf3);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        Some(v) => {
            out.push(0xf4);
            out.extend_from_slice(&v.to_le_bytes());
        }
        None => {
            let len = s.len();
            if len < 64 {
                out.push(0x80 | len as u8);
            } else if len < 4096 {
                out.push(0xe0 | (len >> 8) as u8);
                out.push(len as u8);
            } else {
                out.push(0xf0);
                out.extend_from_slice(&(len as u32).to_le_bytes());
            }
            out.extend_from_slice(s);
        }
    }
    let l = out.len() - start;
    put_backlen(out, l);
}

/// At most the bytes [`put_entry`] writes for `s`: its string form, which
/// no integer form exceeds.
pub fn entry_len_max(s: &[u8]) -> usize {
    let len = s.len();
    let head = match len {
        0..64 => 1,
        64..4096 => 2,
        _ => 5,
    };
    head + len + backlen_size(head + len)
}

/// A listpack holding `items` in order.
pub fn write<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; HEADER];
    let mut count = 0usize;
    for s in items {
        put_entry(&mut out, s);
        count += 1;
    }
    out.push(EOF);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    let n = if count < 65535 { count as u16 } else { 65535 };
    out[4..6].copy_from_slice(&n.to_le_bytes());
    out
}

/// The entry starting at `p` of a well-formed listpack (one this process
/// built, or one [`read`] accepted) and its size, back-length included.
/// Panics on a malformed one (an index out of bounds), never reads past it.
pub fn entry_at(buf: &[u8], p: usize) -> (crate::types::set::Elem<'_>, usize) {
    use crate::types::set::Elem;
    let b = buf[p];
    let (e, len) = if b & 0x80 == 0 {
        (Elem::Int(i64::from(b)), 1)
    } else if b & 0xc0 == 0x80 {
        let n = (b & 0x3f) as usize;
        (Elem::Bytes(&buf[p + 1..p + 1 + n]), 1 + n)
    } else if b & 0xe0 == 0xc0 {
        let u = ((i64::from(b) & 0x1f) << 8) | i64::from(buf[p + 1]);
        (Elem::Int(if u >= 1 << 12 { u - (1 << 13) } else { u }), 2)
    } else if b & 0xf0 == 0xe0 {
        let n = ((b as usize & 0x0f) << 8) | buf[p + 1] as usize;
        (Elem::Bytes(&buf[p + 2..p + 2 + n]), 2 + n)
    } else if b == 0xf0 {
        let n = u32::from_le_bytes(buf[p + 1..p + 5].try_into().expect("4 bytes")) as usize;
        (Elem::Bytes(&buf[p + 5..p + 5 + n]), 5 + n)
    } else {
        let n = [2, 3, 4, 8][(b - 0xf1) as usize];
        (Elem::Int(int_le(&buf[p + 1..p + 1 + n])), 1 + n)
    };
    (e, len + backlen_size(len))
}

/// The start of the entry that ends at `end` (the start of the next entry,
/// or of the terminator) in a well-formed listpack, read from its
/// back-length.
pub fn entry_before(buf: &[u8], end: usize) -> usize {
    let mut len = 0usize;
    let mut shift = 0;
    let mut q = end;
    loop {
        q -= 1;
        let b = buf[q];
        len |= ((b & 127) as usize) << shift;
        shift += 7;
        if b & 128 == 0 {
            break;
        }
    }
    q - len
}

const BAD: RdbError = RdbError::Corrupt("invalid listpack");

fn int_le(b: &[u8]) -> i64 {
    let mut v = [0u8; 8];
    v[..b.len()].copy_from_slice(b);
    let shift = 64 - 8 * b.len() as u32;
    (i64::from_le_bytes(v) << shift) >> shift
}

fn slice(buf: &[u8], from: usize, len: usize) -> Result<&[u8]> {
    let end = from.checked_add(len).ok_or(BAD)?;
    buf.get(from..end).ok_or(BAD)
}

/// The elements of a listpack blob, validated whole.
pub fn read(buf: &[u8]) -> Result<Vec<Vec<u8>>> {
    if buf.len() < HEADER + 1 {
        return Err(BAD);
    }
    let total = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
    let declared = u16::from_le_bytes([buf[4], buf[5]]) as usize;
    if total != buf.len() || buf[total - 1] != EOF {
        return Err(BAD);
    }
    let mut items = Vec::new();
    let mut p = HEADER;
    let mut buf_int = itoa::Buffer::new();
    loop {
        let b = *buf.get(p).ok_or(BAD)?;
        if b == EOF {
            break;
        }
        let (item, len): (Vec<u8>, usize) = if b & 0x80 == 0 {
            (buf_int.format(b).as_bytes().to_vec(), 1)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (slice(buf, p + 1, n)?.to_vec(), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let lo = *buf.get(p + 1).ok_or(BAD)?;
            let u = ((b as i64 & 0x1f) << 8) | lo as i64;
            let v = if u >= 1 << 12 { u - (1 << 13) } else { u };
            (buf_int.format(v).as_bytes().to_vec(), 2)
        } else if b & 0xf0 == 0xe0 {
            let lo = *buf.get(p + 1).ok_or(BAD)?;
            let n = ((b as usize & 0x0f) << 8) | lo as usize;
            (slice(buf, p + 2, n)?.to_vec(), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let n = u32::from_le_bytes(slice(buf, p + 1, 4)?.try_into().expect("4"));
                    let n = n as usize;
                    (slice(buf, p + 5, n)?.to_vec(), 5 + n)
                }
                0xf1..=0xf4 => {
                    let n = [2, 3, 4, 8][(b - 0xf1) as usize];
                    let v = int_le(slice(buf, p + 1, n)?);
                    (buf_int.format(v).as_bytes().to_vec(), 1 + n)
                }
                _ => return Err(BAD),
            }
        };
        p += len;
        // The back-length must say `len`.
        let bl = backlen_size(len);
        let mut expect = Vec::with_capacity(bl);
        put_backlen(&mut expect, len);
        if slice(buf, p, bl)? != expect.as_slice() {
            return Err(BAD);
        }
        p += bl;
        items.push(item);
    }
    if p != total - 1 || (declared != 65535 && declared != items.len()) {
        return Err(BAD);
    }
    Ok(items)
}

const BAD_ZIPLIST: RdbError = RdbError::Corrupt("invalid ziplist");

/// The elements of a ziplist blob (RDB version 9 and older small
/// encodings), validated whole.
pub fn read_ziplist(buf: &[u8]) -> Result<Vec<Vec<u8>>> {
    const ZL_HEADER: usize = 10;
    if buf.len() < ZL_HEADER + 1 {
        return Err(BAD_ZIPLIST);
    }
    let total = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
    let tail = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes")) as usize;
    let declared = u16::from_le_bytes([buf[8], buf[9]]) as usize;
    if total != buf.len() || buf[total - 1] != EOF {
        return Err(BAD_ZIPLIST);
    }
    let bad = |_| BAD_ZIPLIST;
    let mut items = Vec::new();
    let mut p = ZL_HEADER;
    let mut prev_len = 0usize;
    let mut last_start = ZL_HEADER;
    let mut n = itoa::Buffer::new();
    while *buf.get(p).ok_or(BAD_ZIPLIST)? != EOF {
        let start = p;
        // Previous entry's length: one byte, or 0xfe and four bytes.
        let pl = if buf[p] < 0xfe {
            p += 1;
            buf[p - 1] as usize
        } else if buf[p] == 0xfe {
            let v = u32::from_le_bytes(slice(buf, p + 1, 4).map_err(bad)?.try_into().expect("4"));
            p += 5;
            v as usize
        } else {
            return Err(BAD_ZIPLIST);
        };
        if pl != prev_len {
            return Err(BAD_ZIPLIST);
        }
        let e = *buf.get(p).ok_or(BAD_ZIPLIST)?;
        let item: Vec<u8> = match e >> 6 {
            0 => {
                let len = (e & 0x3f) as usize;
                p += 1;
                let s = slice(buf, p, len).map_err(bad)?;
                p += len;
                s.to_vec()
            }
            1 => {
                let lo = *buf.get(p + 1).ok_or(BAD_ZIPLIST)?;
                let len = ((e as usize & 0x3f) << 8) | lo as usize;
                p += 2;
                let s = slice(buf, p, len).map_err(bad)?;
                p += len;
                s.to_vec()
            }
            2 => {
                if e != 0x80 {
                    return Err(BAD_ZIPLIST);
                }
                let len =
                    u32::from_be_bytes(slice(buf, p + 1, 4).map_err(bad)?.try_into().expect("4"));
                let len = len as usize;
                p += 5;
                let s = slice(buf, p, len).map_err(bad)?;
                p += len;
                s.to_vec()
            }
            _ => {
                p += 1;
                let v = match e {
                    0xc0 => int_le(slice(buf, p, 2).map_err(bad)?),
                    0xd0 => int_le(slice(buf, p, 4).map_err(bad)?),
                    0xe0 => int_le(slice(buf, p, 8).map_err(bad)?),
                    0xf0 => int_le(slice(buf, p, 3).map_err(bad)?),
                    0xfe => int_le(slice(buf, p, 1).map_err(bad)?),
                    0xf1..=0xfd => (e & 0x0f) as i64 - 1,
                    _ => return Err(BAD_ZIPLIST),
                };
                p += match e {
                    0xc0 => 2,
                    0xd0 => 4,
                    0xe0 => 8,
                    0xf0 => 3,
                    0xfe => 1,
                    _ => 0,
                };
                n.format(v).as_bytes().to_vec()
            }
        };
        prev_len = p - start;
        last_start = start;
        items.push(item);
    }
    let expected_tail = if items.is_empty() {
        ZL_HEADER
    } else {
        last_start
    };
    if p != total - 1 || tail != expected_tail || (declared != 65535 && declared != items.len()) {
        return Err(BAD_ZIPLIST);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_every_encoding() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let items: Vec<&[u8]> = vec![
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"4096",
            b"-32768",
            b"32767",
            b"8388607",
            b"-8388608",
            b"2147483647",
            b"-2147483648",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"",
            b"abc",
            b"007",
            &mid,
            &long,
        ];
        let lp = write(items.iter().copied());
        let back = read(&lp).unwrap();
        assert_eq!(back, items.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
        for cut in 0..lp.len() {
            assert!(read(&lp[..cut]).is_err());
        }
    }

    #[test]
    fn matches_redis_bytes() {
        // DUMP of `HSET h a 1 b hello` in redis-server 7.0, type 16 body.
        let lp = write([&b"a"[..], b"1", b"b", b"hello"]);
        assert_eq!(
            lp,
            b"\x16\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x85hello\x06\xff"
        );
    }
}
