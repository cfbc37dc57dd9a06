//! LZF compression as Redis applies it to RDB strings.
//!
//! Decompression uses the `lzf` crate. Compression is Ferrite's own: the crate's
//! compressor is a variant whose output differs from liblzf 3.6 as built into
//! Redis 7 (it refuses matches in the last bytes of the input, and gives up at
//! other output sizes), and DUMP payloads must be byte-identical to Redis's.
//! This one follows liblzf 3.6 as Redis configures it: a 16-bit hash of the
//! next three bytes (`HLOG` 16, the "very fast" variant that re-hashes the last
//! two positions of each match), back references up to 8 KiB away and 264
//! bytes long, literal runs of at most 32 bytes, and the same "does it still
//! fit" checks, so it gives up on exactly the inputs Redis gives up on.
//!
//! One deliberate difference: liblzf leaves its hash table uninitialised, so a
//! stale pointer from an earlier call, into a buffer since freed and reused
//! for this input, may let Redis find a match this code does not. Both outputs
//! are valid LZF and decode to the same bytes.

use std::cell::RefCell;

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The hash table of recent positions, one per thread so a DUMP does not pay
/// for zeroing 512 KiB. Each entry holds `generation << 32 | position`; an
/// entry from an earlier call has another generation and counts as empty.
struct Table {
    slots: Vec<u64>,
    generation: u32,
}

thread_local! {
    static TABLE: RefCell<Table> = const {
        RefCell::new(Table {
            slots: Vec::new(),
            generation: 0,
        })
    };
}

impl Table {
    /// Starts a new compression: bumps the generation (clearing on wrap).
    fn begin(&mut self) {
        if self.slots.is_empty() {
            self.slots = vec![0; HSIZE];
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.fill(0);
            self.generation = 1;
        }
    }

    /// Records `pos` for hash slot `i`, returning the previous position.
    fn swap(&mut self, i: usize, pos: usize) -> Option<usize> {
        let old = self.slots[i];
        self.set(i, pos);
        ((old >> 32) as u32 == self.generation).then_some(old as u32 as usize)
    }

    fn set(&mut self, i: usize, pos: usize) {
        self.slots[i] = u64::from(self.generation) << 32 | pos as u64;
    }
}

fn first(d: &[u8], i: usize) -> u32 {
    u32::from(d[i]) << 8 | u32::from(d[i + 1])
}

fn next(v: u32, d: &[u8], i: usize) -> u32 {
    v << 8 | u32::from(d[i + 2])
}

fn slot(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) & (HSIZE as u32 - 1)) as usize
}

/// Compresses `input` into at most `limit` bytes; `None` if the output would
/// not fit (or the input is empty or larger than 4 GiB, which the position
/// table cannot index).
pub fn compress(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    if input.is_empty() || limit == 0 || input.len() > u32::MAX as usize {
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        t.begin();
        Compressor {
            input,
            // One byte of slack, as Redis allocates: a literal run that
            // fills up on the last input byte reserves the next run's header
            // just past `limit` before `close_run` drops it again.
            out: vec![0; limit + 1],
            end: limit,
            op: 1, // room for the first literal run's header
            lit: 0,
        }
        .run(&mut t)
    })
}

/// Output state of one compression. `op` is the next output index; the byte
/// at `op - lit - 1` is the header of the literal run being built.
struct Compressor<'a> {
    input: &'a [u8],
    out: Vec<u8>,
    /// The output limit (`out` has one byte more).
    end: usize,
    op: usize,
    lit: usize,
}

impl Compressor<'_> {
    fn run(mut self, t: &mut Table) -> Option<Vec<u8>> {
        let d = self.input;
        let end = d.len();
        let mut ip = 0;
        let mut hval = if end >= 2 { first(d, 0) } else { 0 };
        while ip + 2 < end {
            hval = next(hval, d, ip);
            let candidate = t.swap(slot(hval), ip);
            let found = candidate
                .filter(|&r| ip - r - 1 < MAX_OFF && r > 0 && d[r..r + 3] == d[ip..ip + 3]);
            let Some(r) = found else {
                self.literal(ip)?;
                ip += 1;
                continue;
            };
            let len = self.backref(r, ip)?;
            ip += len;
            if ip + 2 >= end {
                break;
            }
            // Hash the last two positions the match covered.
            ip -= 2;
            hval = first(d, ip);
            hval = next(hval, d, ip);
            t.set(slot(hval), ip);
            ip += 1;
            hval = next(hval, d, ip);
            t.set(slot(hval), ip);
            ip += 1;
        }
        if self.op + 3 > self.end {
            return None;
        }
        while ip < end {
            self.push_literal(ip);
            ip += 1;
        }
        self.close_run();
        if self.op > self.end {
            return None;
        }
        self.out.truncate(self.op);
        Some(self.out)
    }

    /// Copies one input byte into the current literal run.
    fn literal(&mut self, ip: usize) -> Option<()> {
        if self.op >= self.end {
            return None;
        }
        self.push_literal(ip);
        Some(())
    }

    fn push_literal(&mut self, ip: usize) {
        self.lit += 1;
        self.out[self.op] = self.input[ip];
        self.op += 1;
        if self.lit == MAX_LIT {
            self.out[self.op - self.lit - 1] = (self.lit - 1) as u8;
            self.lit = 0;
            self.op += 1;
        }
    }

    /// Writes the current run's header, dropping the run if it is empty.
    fn close_run(&mut self) {
        self.out[self.op - self.lit - 1] = (self.lit as u8).wrapping_sub(1);
        if self.lit == 0 {
            self.op -= 1;
        }
    }

    /// Emits a back reference for the match of `ip` against the earlier
    /// position `r`; returns how many input bytes it covers.
    fn backref(&mut self, r: usize, ip: usize) -> Option<usize> {
        let d = self.input;
        let off = ip - r - 1;
        let maxlen = (d.len() - ip - 2).min(MAX_REF);
        self.close_run();
        if self.op + 3 + 1 >= self.end {
            return None;
        }
        let matched = match_len(d, r, ip, maxlen);
        let len = matched - 2;
        if len < 7 {
            self.out[self.op] = ((off >> 8) + (len << 5)) as u8;
            self.op += 1;
        } else {
            self.out[self.op] = ((off >> 8) + (7 << 5)) as u8;
            self.out[self.op + 1] = (len - 7) as u8;
            self.op += 2;
        }
        self.out[self.op] = off as u8;
        self.op += 2; // and start a new literal run
        self.lit = 0;
        Some(matched)
    }
}

/// How many bytes at `ip` equal those at `r` (at least 3, known to match).
///
/// liblzf first compares sixteen bytes unconditionally when more than sixteen
/// may match, then continues up to `maxlen`; near the end of the input that
/// can yield a match one or two bytes longer than `maxlen`. The result must
/// be identical, so the same two phases are kept.
fn match_len(d: &[u8], r: usize, ip: usize, maxlen: usize) -> usize {
    let mut len = 2;
    if maxlen > 16 {
        for _ in 0..16 {
            len += 1;
            if d[r + len] != d[ip + len] {
                return len;
            }
        }
    }
    loop {
        len += 1;
        if !(len < maxlen && d[r + len] == d[ip + len]) {
            return len;
        }
    }
}

/// Decompresses LZF data that must expand to exactly `len` bytes (anything
/// else means the data is corrupt). Refuses lengths the input could not
/// possibly expand to before allocating, so a corrupt length cannot exhaust
/// memory.
pub fn decompress(data: &[u8], len: u64) -> Option<Vec<u8>> {
    if data.is_empty() {
        // liblzf decodes nothing to nothing.
        return (len == 0).then(Vec::new);
    }
    // Each 3-byte back reference yields at most 264 bytes.
    let bound = (data.len() as u64).saturating_mul(MAX_REF as u64 / 3 + 1);
    if len > bound {
        return None;
    }
    let out = lzf::decompress(data, len as usize).ok()?;
    (out.len() as u64 == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(input: &[u8]) -> Option<Vec<u8>> {
        let c = compress(input, input.len().saturating_sub(4))?;
        assert_eq!(decompress(&c, input.len() as u64).as_deref(), Some(input));
        Some(c)
    }

    /// Small inputs of literals and short repeats at every output limit: no
    /// panic, never over the limit, and what is produced decompresses back
    /// (the fuzz regression itself is in `persistence::dump`).
    #[test]
    fn full_literal_run_at_the_limit() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 21 + (x % 60) as usize;
            let input: Vec<u8> = (0..len)
                .map(|i| {
                    let r = x.rotate_left(i as u32 * 5);
                    if r.is_multiple_of(3) {
                        b'a'
                    } else {
                        (r >> 8) as u8
                    }
                })
                .collect();
            roundtrip(&input);
        }
        let mut crafted = [0u8; 33];
        for (i, b) in crafted.iter_mut().enumerate() {
            *b = (i * 37 + 11) as u8;
        }
        for len in 21..80 {
            let input: Vec<u8> = (0..len).map(|i| crafted[i % 33] ^ (i / 33) as u8).collect();
            roundtrip(&input);
            for limit in 0..len + 4 {
                if let Some(c) = compress(&input, limit) {
                    assert!(c.len() <= limit);
                    assert_eq!(decompress(&c, len as u64).as_deref(), Some(&input[..]));
                }
            }
        }
    }

    #[test]
    fn matches_redis_output() {
        // Bytes taken from redis-server 7.0 DUMP payloads.
        assert_eq!(
            roundtrip(&[b'a'; 101]).unwrap(),
            b"\x01aa\xe0\x58\x00\x01aa".to_vec()
        );
        assert_eq!(
            roundtrip(b"abcabcabcabcabcabcabcabcabcabc").unwrap(),
            b"\x03abca\xe0\x0f\x02\x01bc".to_vec()
        );
    }

    #[test]
    fn incompressible_input_is_refused() {
        let noise: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(roundtrip(&noise).is_none());
        assert!(compress(b"", 10).is_none());
        assert!(compress(b"abc", 0).is_none());
    }

    #[test]
    fn many_shapes_roundtrip() {
        let mut seed = 7u64;
        for n in 0..400usize {
            let len = 21 + n * 7 % 3000;
            let alphabet = 1 + n % 9;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b'a' + ((seed >> 33) as usize % alphabet) as u8
                })
                .collect();
            let c = compress(&data, data.len() + 64).expect("room enough");
            assert_eq!(decompress(&c, data.len() as u64).unwrap(), data);
        }
    }

    #[test]
    fn corrupt_data_is_refused() {
        assert!(decompress(b"\x01aa\xe0\x58\x00\x01aa", 100).is_none());
        assert!(decompress(b"\x01aa\xe0\x58\x00\x01aa", 102).is_none());
        assert!(decompress(b"\x10ab", 3).is_none());
        assert!(decompress(b"\x20\x05", 3).is_none());
        assert!(decompress(b"", 5).is_none());
        assert_eq!(decompress(b"", 0), Some(Vec::new()));
        assert!(decompress(b"\x01aa", u64::MAX).is_none());
    }
}
