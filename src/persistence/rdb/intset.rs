//! Redis's intset blob (inside RDB type 11, `RDB_TYPE_SET_INTSET`): a
//! little-endian u32 element width (2, 4 or 8 bytes), a little-endian u32
//! count, then the elements, little-endian, ascending and distinct.

/// Encodes sorted, distinct integers with elements `width` bytes wide (at
/// least the width they need).
pub fn encode(ints: &[i64], width: u8) -> Vec<u8> {
    let need = ints.iter().map(|&i| int_width(i)).max().unwrap_or(2);
    let width = usize::from(width.max(need));
    let mut out = Vec::with_capacity(8 + width * ints.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(ints.len() as u32).to_le_bytes());
    for &i in ints {
        match width {
            2 => out.extend_from_slice(&(i as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(i as i32).to_le_bytes()),
            _ => out.extend_from_slice(&i.to_le_bytes()),
        }
    }
    out
}

use crate::types::set::int_width;

/// Decodes an intset blob into its integers and width; `None` if it is
/// malformed, empty, or not strictly ascending.
pub fn decode(blob: &[u8]) -> Option<(Vec<i64>, u8)> {
    let width = u32::from_le_bytes(blob.get(0..4)?.try_into().ok()?) as usize;
    let len = u32::from_le_bytes(blob.get(4..8)?.try_into().ok()?) as usize;
    if !matches!(width, 2 | 4 | 8) || len == 0 || (blob.len() - 8) != len.checked_mul(width)? {
        return None;
    }
    let ints: Vec<i64> = blob[8..]
        .chunks_exact(width)
        .map(|c| match width {
            2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
            4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            _ => i64::from_le_bytes(c.try_into().expect("8 bytes")),
        })
        .collect();
    ints.windows(2)
        .all(|w| w[0] < w[1])
        .then_some((ints, width as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_widths() {
        for ints in [&[1i64, 2, 3][..], &[-70000, 5], &[i64::MIN, 0, i64::MAX]] {
            assert_eq!(decode(&encode(ints, 2)).unwrap().0, ints);
        }
        assert_eq!(encode(&[1], 2)[0], 2);
        assert_eq!(encode(&[1], 8)[0], 8);
        assert_eq!(encode(&[1, 40000], 2)[0], 4);
        assert_eq!(decode(&encode(&[], 2)), None);
        assert_eq!(
            decode(b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00"),
            None
        );
        assert_eq!(
            decode(b"\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00"),
            None
        );
    }
}
