//! Sorted sets in Redis 7.0's RDB forms: `RDB_TYPE_ZSET_LISTPACK` (one RDB
//! string holding a listpack of member, score pairs) for listpack sorted
//! sets and `RDB_TYPE_ZSET_2` (a count, then each member as an RDB string
//! and its score as 8 little-endian bytes, from the highest entry down, as
//! Redis walks its skiplist) for skiplist ones. Loading also accepts the
//! older `RDB_TYPE_ZSET` (scores as strings) and `RDB_TYPE_ZSET_ZIPLIST`.

use super::{listpack, string, write_len, RdbError, Reader, Result};
use crate::types::zset::{ZLimits, ZSet};

/// Scores as strings (RDB 1-7).
pub const TYPE_ZSET: u8 = 3;
/// Scores as binary doubles.
pub const TYPE_ZSET_2: u8 = 5;
/// A ziplist blob (Redis before 7.0).
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
/// A listpack blob.
pub const TYPE_ZSET_LISTPACK: u8 = 17;

/// A score as Redis's `d2string` writes it into a listpack.
pub fn score_string(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v < 0.0 {
            "-inf".into()
        } else {
            "inf".into()
        }
    } else if v == 0.0 {
        if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        }
    } else if v.fract() == 0.0 && v.abs() <= (i64::MAX / 2) as f64 {
        (v as i64).to_string()
    } else {
        crate::util::num::format_g17(v)
    }
}

/// Appends `z`'s type byte and body.
pub fn write(out: &mut Vec<u8>, z: &ZSet, compress: bool) {
    match z {
        ZSet::Listpack(_) => {
            out.push(TYPE_ZSET_LISTPACK);
            let items: Vec<(Vec<u8>, String)> = z
                .iter()
                .map(|(m, s)| (m.to_vec(), score_string(s)))
                .collect();
            let blob =
                listpack::write(items.iter().flat_map(|(m, s)| [m.as_slice(), s.as_bytes()]));
            string::write_bytes(out, &blob, compress);
        }
        ZSet::Skiplist(_) => {
            out.push(TYPE_ZSET_2);
            write_len(out, z.len() as u64);
            if let Some(last) = z.len().checked_sub(1) {
                for (m, s) in z.iter_from(last, true) {
                    string::write_bytes(out, m, compress);
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
    }
}

const DUPLICATE: RdbError = RdbError::Corrupt("duplicate zset member");
const NAN: RdbError = RdbError::Corrupt("zset score is not a number");

/// Parses a score stored as text (a listpack entry, an old string score).
fn parse_score(b: &[u8]) -> Result<f64> {
    let s = std::str::from_utf8(b).map_err(|_| RdbError::Corrupt("bad zset score"))?;
    let v = match s {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => s
            .parse::<f64>()
            .map_err(|_| RdbError::Corrupt("bad zset score"))?,
    };
    if v.is_nan() {
        return Err(NAN);
    }
    Ok(v)
}

/// Reads the body of a sorted set of RDB type `ty` (one of the four above).
pub fn read(r: &mut Reader<'_>, ty: u8, limits: ZLimits) -> Result<ZSet> {
    match ty {
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.plain_length()?;
            if n == 0 {
                return Err(RdbError::Corrupt("empty zset"));
            }
            if n > r.remaining() as u64 / 2 {
                return Err(RdbError::Truncated);
            }
            let mut z = ZSet::new_skiplist();
            for _ in 0..n {
                let m = string::read(r)?.into_bytes();
                let score = if ty == TYPE_ZSET_2 {
                    let b = r.take(8)?;
                    f64::from_le_bytes(b.try_into().expect("8 bytes"))
                } else {
                    let len = r.u8()?;
                    match len {
                        253 => f64::NAN,
                        254 => f64::INFINITY,
                        255 => f64::NEG_INFINITY,
                        _ => parse_score(r.take(len as u64)?)?,
                    }
                };
                if score.is_nan() {
                    return Err(NAN);
                }
                if !z.set(&m, score, limits) {
                    return Err(DUPLICATE);
                }
            }
            z.maybe_shrink(limits);
            Ok(z)
        }
        TYPE_ZSET_LISTPACK | TYPE_ZSET_ZIPLIST => {
            let blob = string::read(r)?.into_bytes();
            let items = if ty == TYPE_ZSET_LISTPACK {
                listpack::read(&blob)?
            } else {
                listpack::read_ziplist(&blob)?
            };
            if items.is_empty() || items.len() % 2 != 0 {
                return Err(RdbError::Corrupt("bad zset listpack"));
            }
            let mut z = if (items.len() / 2) as u64 > limits.entries {
                ZSet::new_skiplist()
            } else {
                ZSet::new_listpack()
            };
            // Loaded as-is in Redis: no member length check here.
            let unbounded = ZLimits {
                entries: u64::MAX,
                value: u64::MAX,
            };
            for pair in items.chunks(2) {
                let score = parse_score(&pair[1])?;
                if !z.set(&pair[0], score, unbounded) {
                    return Err(DUPLICATE);
                }
            }
            Ok(z)
        }
        _ => Err(RdbError::Corrupt("not a zset type")),
    }
}
