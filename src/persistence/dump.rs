//! The DUMP payload: one RDB-serialized value followed by a footer, exactly
//! as Redis writes it, so payloads move between Ferrite and Redis in both
//! directions (DUMP/RESTORE, MIGRATE, backup tools).
//!
//! ```text
//! type byte | value | RDB version (2 bytes LE) | CRC-64/Jones (8 bytes LE)
//! ```
//!
//! The CRC covers everything before it, version included.

use super::rdb::{self, Reader, RDB_VERSION, RDB_VERSION_MAX_LOAD, TYPE_STRING};
use crate::types::{HashLimits, Value, ZLimits};

/// Redis's CRC-64 (Jones polynomial, reflected, no final xor).
const CRC64: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

/// Version and checksum take the last 10 bytes.
const FOOTER_LEN: usize = 10;

/// The encoding limits a restored value is built with: the server's live
/// `hash-max-listpack-*`, `set-max-intset-entries` and
/// `list-max-listpack-size`, which decide a
/// restored collection's encoding as in Redis's loader.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash: HashLimits,
    pub max_intset: u64,
    /// `list-max-listpack-size`.
    pub list_fill: i32,
    pub zset: ZLimits,
}

impl Limits {
    /// Redis 7.0's defaults.
    pub const DEFAULT: Limits = Limits {
        hash: HashLimits::DEFAULT,
        max_intset: 512,
        list_fill: -2,
        zset: ZLimits::DEFAULT,
    };
}

/// Why RESTORE refuses a payload; [`RestoreError::message`] is the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// Too short, written by a newer RDB version, or the checksum fails.
    VersionOrChecksum,
    /// Intact but not a value Ferrite can load.
    BadFormat,
}

impl RestoreError {
    /// The error reply Redis sends for this case.
    pub fn message(self) -> &'static str {
        match self {
            RestoreError::VersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            RestoreError::BadFormat => "ERR Bad data format",
        }
    }
}

/// Serializes `value` as a DUMP payload. `compress` is `rdbcompression`.
pub fn create(value: &Value, compress: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    match value {
        Value::Str(s) => {
            out.push(TYPE_STRING);
            rdb::string::write_str(&mut out, s, compress);
        }
        Value::Hash(h) => rdb::hash::write(&mut out, h, compress),
        Value::Set(s) => rdb::set::write(&mut out, s, compress),
        Value::List(l) => rdb::list::write(&mut out, l, compress),
        Value::ZSet(z) => rdb::zset::write(&mut out, z, compress),
    }
    frame(out)
}

/// Appends the footer to a serialized body: the RDB version and the CRC64
/// of everything before it (DUMP, FUNCTION DUMP).
pub fn frame(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// Checks the footer: an RDB version Ferrite can read and a matching CRC.
/// Returns the payload's RDB version.
pub fn verify(payload: &[u8]) -> Result<u16, RestoreError> {
    if payload.len() < FOOTER_LEN {
        return Err(RestoreError::VersionOrChecksum);
    }
    let footer = &payload[payload.len() - FOOTER_LEN..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION_MAX_LOAD {
        return Err(RestoreError::VersionOrChecksum);
    }
    let crc = CRC64.checksum(&payload[..payload.len() - 8]);
    if crc.to_le_bytes() != footer[2..] {
        return Err(RestoreError::VersionOrChecksum);
    }
    Ok(version)
}

/// Verifies a payload and decodes its value.
///
/// Like Redis, the value is read from the whole payload, footer included:
/// a value that claims more bytes than it has runs into the footer rather
/// than failing, so both servers accept and refuse the same payloads. Bytes
/// left between the value and the footer are ignored, as Redis does.
///
/// Strings, hashes, sets, lists and sorted sets load; a payload of any other type is refused as
/// `BadFormat` (Redis would load it).
pub fn load(payload: &[u8], limits: Limits) -> Result<Value, RestoreError> {
    verify(payload)?;
    let mut r = Reader::new(payload);
    let value = match r.u8() {
        Ok(TYPE_STRING) => rdb::string::read(&mut r).map(|s| Value::Str(s.into_str())),
        Ok(
            ty @ (rdb::hash::TYPE_HASH
            | rdb::hash::TYPE_HASH_LISTPACK
            | rdb::hash::TYPE_HASH_ZIPLIST),
        ) => rdb::hash::read(&mut r, ty, limits.hash).map(Value::Hash),
        Ok(rdb::set::TYPE_SET) => rdb::set::read_set(&mut r, limits.max_intset).map(Value::Set),
        Ok(rdb::set::TYPE_SET_INTSET) => {
            rdb::set::read_intset(&mut r, limits.max_intset).map(Value::Set)
        }
        Ok(
            ty @ (rdb::list::TYPE_LIST
            | rdb::list::TYPE_LIST_QUICKLIST
            | rdb::list::TYPE_LIST_QUICKLIST_2),
        ) => rdb::list::read(&mut r, ty, limits.list_fill).map(Value::List),
        Ok(
            ty @ (rdb::zset::TYPE_ZSET
            | rdb::zset::TYPE_ZSET_2
            | rdb::zset::TYPE_ZSET_ZIPLIST
            | rdb::zset::TYPE_ZSET_LISTPACK),
        ) => rdb::zset::read(&mut r, ty, limits.zset).map(Value::ZSet),
        _ => return Err(RestoreError::BadFormat),
    };
    value.map_err(|_| RestoreError::BadFormat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Str;

    /// DUMP replies of redis-server 7.0.15.
    const REDIS_DUMPS: &[(&[u8], &[u8])] = &[
        (b"12", b"\x00\xc0\x0c\n\x00<*\xf8Q\\\x04\xbc\xd5"),
        (b"-300", b"\x00\xc1\xd4\xfe\n\x00\xc6\xc4\x86#\xfe\xbe\xde."),
        (b"70000", b"\x00\xc2p\x11\x01\x00\n\x00\x01\xa4\x08\xfe\x950\x95\xa5"),
        (b"9223372036854775807", b"\x00\x139223372036854775807\n\x00:e~\x94\x81\xe8_\""),
        (b"hello", b"\x00\x05hello\n\x00cr\xdfve4 \n"),
        (b"", b"\x00\x00\n\x00]\x9b\\@\x0f\x7f\xa2\xda"),
        (b"007", b"\x00\x03007\n\x00rX\xe2{Li\xba\xd9"),
        (
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            b"\x00\xc3\t@e\x01aa\xe0X\x00\x01aa\n\x00M\xb8\x905b\x16\x96\x0f",
        ),
        (
            b"abcabcabcabcabcabcabcabcabcabc",
            b"\x00\xc3\x0b\x1e\x03abca\xe0\x0f\x02\x01bc\n\x00\x88t\xbemg\xe5\x9d*",
        ),
    ];

    #[test]
    fn payloads_are_byte_identical_to_redis() {
        for (s, dump) in REDIS_DUMPS {
            let v = Value::Str(Str::from_arg(s));
            assert_eq!(
                create(&v, true),
                *dump,
                "DUMP of {:?}",
                String::from_utf8_lossy(s)
            );
            let loaded = load(dump, Limits::DEFAULT).unwrap();
            assert_eq!(&*loaded.as_str().unwrap().bytes(), *s);
            assert_eq!(loaded.encoding(), v.encoding());
        }
    }

    #[test]
    fn hash_payloads_are_byte_identical_to_redis() {
        // redis-server 7.0: HSET hh a 1 b hello; DUMP hh.
        let dump = b"\x10\x16\x16\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x85hello\x06\xff\n\x00\xe8\xc5\xfe\x99\xee\x07\x95]";
        let v = load(dump, Limits::DEFAULT).unwrap();
        assert_eq!(v.encoding(), "listpack");
        assert_eq!(create(&v, true), dump);
        let h = v.as_hash().unwrap();
        assert_eq!(h.get(b"b"), Some(&b"hello"[..]));
        let tight = HashLimits {
            entries: 1,
            value: 64,
        };
        let tight = Limits {
            hash: tight,
            ..Limits::DEFAULT
        };
        assert_eq!(load(dump, tight).unwrap().encoding(), "hashtable");
    }

    #[test]
    fn list_payloads_are_byte_identical_to_redis() {
        // redis-server 7.0: RPUSH l a b 1 -300 70000 hello; DUMP l.
        let one = b"\x12\x01\x02\x1e\x1e\x00\x00\x00\x06\x00\x81a\x02\x81b\x02\x01\x01\xde\xd4\x02\xf2p\x11\x01\x04\x85hello\x06\xff\n\x00\x1ag\x13r2\xf8\xb7\xaf";
        // With list-max-listpack-size 2: RPUSH l a b c d e (three nodes).
        let nodes = b"\x12\x03\x02\r\r\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff\x02\r\r\x00\x00\x00\x02\x00\x81c\x02\x81d\x02\xff\x02\n\n\x00\x00\x00\x01\x00\x81e\x02\xff\n\x00\xecR6\xa7` \xa1\xdb";
        // A node LZF-compressed as an RDB string.
        let lzf = b"\x12\x01\x02\xc3\x19@\x8e\x08\x8e\x00\x00\x00\x02\x00\xe0dx\xe0Z\x00\x04f\x9eabc\xe0\x12\x02\x01\x1f\xff\n\x00\x8c\x12qS=\x01\x9f:";
        for dump in [&one[..], &nodes[..], &lzf[..]] {
            let v = load(dump, Limits::DEFAULT).unwrap();
            assert_eq!(v.encoding(), "quicklist");
            assert_eq!(create(&v, true), dump);
        }
        let Value::List(l) = load(one, Limits::DEFAULT).unwrap() else {
            panic!("not a list");
        };
        let items: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
        assert_eq!(items, [&b"a"[..], b"b", b"1", b"-300", b"70000", b"hello"]);
        // RDB_TYPE_LIST and a quicklist of ziplists load too.
        let plain = load(&with_footer(b"\x01\x02\x01a\x01b", 10), Limits::DEFAULT).unwrap();
        let zl = load(
            &with_footer(
                b"\x0e\x01\x10\x10\x00\x00\x00\x0d\x00\x00\x00\x02\x00\x00\x01a\x03\xf6\xff",
                10,
            ),
            Limits::DEFAULT,
        )
        .unwrap();
        let Value::List(zl) = zl else {
            panic!("not a list");
        };
        assert_eq!(
            zl.iter().map(|e| e.to_vec()).collect::<Vec<_>>(),
            [&b"a"[..], b"5"]
        );
        assert_eq!(plain.type_name(), "list");
    }

    /// Found by the restore_payload fuzz target: DUMP of this hash made the
    /// LZF compressor write one byte past its output limit.
    #[test]
    fn fuzz_regression_lzf_literal_run_at_the_limit() {
        let body = [
            4u8, 3, 1, 4, 2, 0, 0, 0, 10, 1, 4, 3, 43, 1, 0, 0, 167, 1, 0, 1, 2, 4, 2, 0, 0, 0, 10,
            1, 4, 3, 43, 1, 0, 0, 139, 1, 5, 10, 98,
        ];
        let v = load(&with_footer(&body, 10), Limits::DEFAULT).unwrap();
        for compress in [false, true] {
            let again = create(&v, compress);
            assert_eq!(load(&again, Limits::DEFAULT).unwrap(), v);
        }
    }

    #[test]
    fn crc_is_redis_crc64() {
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    fn with_footer(body: &[u8], version: u16) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = CRC64.checksum(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    /// The fuzz seeds made from redis-server 7.0.15 DUMPs of sorted sets (a listpack and a
    /// 150-member skiplist) load with their encodings and DUMP back byte for byte.
    #[test]
    fn redis_zset_dumps_round_trip() {
        let seeds: [(&[u8], &str); 2] = [
            (
                include_bytes!("../../fuzz/seeds/restore_payload/zset_listpack"),
                "listpack",
            ),
            (
                include_bytes!("../../fuzz/seeds/restore_payload/zset_skiplist"),
                "skiplist",
            ),
        ];
        for (seed, encoding) in seeds {
            let p = with_footer(&seed[1..], 10);
            let v = load(&p, Limits::DEFAULT).unwrap();
            assert_eq!(v.encoding(), encoding);
            assert_eq!(create(&v, true), p, "{encoding}");
        }
    }

    #[test]
    fn damaged_payloads_are_refused() {
        let good = REDIS_DUMPS[4].1;
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut p = good.to_vec();
                p[i] ^= 1 << bit;
                assert!(load(&p, Limits::DEFAULT).is_err(), "bit {bit} of byte {i}");
            }
        }
        for n in 0..good.len() {
            assert_eq!(
                load(&good[..n], Limits::DEFAULT),
                Err(RestoreError::VersionOrChecksum)
            );
        }
        assert_eq!(
            load(&with_footer(b"\x00\x05hello", 13), Limits::DEFAULT),
            Err(RestoreError::VersionOrChecksum)
        );
        assert!(load(&with_footer(b"\x00\x05hello", 12), Limits::DEFAULT).is_ok());
        assert_eq!(
            load(&with_footer(b"", 10), Limits::DEFAULT),
            Err(RestoreError::BadFormat)
        );
        assert_eq!(
            load(&with_footer(b"\x20\x05hello", 10), Limits::DEFAULT),
            Err(RestoreError::BadFormat)
        );
        // A list (quicklist 2) loads; one with a bad container type or an
        // empty node does not.
        let list = load(
            &with_footer(
                b"\x12\x01\x02\r\r\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff",
                10,
            ),
            Limits::DEFAULT,
        );
        assert_eq!(list.unwrap().type_name(), "list");
        for bad in [
            &b"\x12\x01\x03\r\r\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff"[..],
            b"\x12\x01\x02\x07\x07\x00\x00\x00\x00\x00\xff",
            b"\x12\x00",
            b"\x12\x01\x02\r\r\x00\x00\x00\x03\x00\x81a\x02\x81b\x02\xff",
        ] {
            assert_eq!(
                load(&with_footer(bad, 10), Limits::DEFAULT),
                Err(RestoreError::BadFormat)
            );
        }
    }

    #[test]
    fn short_values_read_into_the_footer_like_redis() {
        // Redis reads "hell" plus the first version byte (0x0a).
        let v = load(&with_footer(b"\x00\x05hell", 10), Limits::DEFAULT).unwrap();
        assert_eq!(&*v.as_str().unwrap().bytes(), b"hell\n");
        let v = load(&with_footer(b"\x00\xc0", 10), Limits::DEFAULT).unwrap();
        assert_eq!(v, Value::Str(Str::Int(10)));
        // Trailing bytes before the footer are ignored.
        let v = load(&with_footer(b"\x00\x05hellox", 10), Limits::DEFAULT).unwrap();
        assert_eq!(&*v.as_str().unwrap().bytes(), b"hello");
    }
}
