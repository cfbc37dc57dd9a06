//! Seeded random command generator for differential tests: string commands and generic key
//! commands over a small key space (8 key names, 2 databases) and small value domains, such
//! that every reply is deterministic in both Ferrite and redis-server.
//!
//! Determinism rules:
//! * No RANDOMKEY, SCAN, OBJECT IDLETIME/FREQ, DEBUG, TIME, INFO, CLIENT ...
//! * No expiry ever falls due during a run: relative timeouts are at least ~11 days, and all
//!   differ from each other by at least an hour, so GT/LT comparisons between two relative
//!   deadlines do not depend on when each command ran. Absolute future timestamps (EXAT, PXAT,
//!   EXPIREAT...) lie after the year 2096, beyond every relative deadline. Timestamps in the
//!   past are only used where Redis deletes the key at once (EXPIREAT, GETEX EXAT/PXAT,
//!   RESTORE ABSTTL), never with SET EXAT/PXAT (which would leave a logically expired key that
//!   DBSIZE counts until the active expiry cycle finds it).
//! * TTL/PTTL/EXPIRETIME/PEXPIRETIME are compared with [`Compare::Time`]: EXPIRETIME and
//!   PEXPIRETIME exactly for the absolute deadlines the generator chose, TTL/PTTL and deadlines
//!   derived from the clock with a tolerance of 2 s.
//! * KEYS is compared after sorting.
//!
//! Seed: `FERRITE_DIFF_SEED` (decimal or 0x-hex), else random and printed. Length:
//! `FERRITE_DIFF_COMMANDS` (default 10000).

use super::Compare;
use std::collections::{HashSet, VecDeque};

/// Key names used by the generator.
pub const KEYS: [&str; 8] = ["a", "b", "c", "k1", "k2", "user:1", "user:2", ""];

/// Relative deadlines are `REL_BASE_S + i * REL_STEP_S` seconds from now, `i` unique.
const REL_BASE_S: i64 = 1_000_000;
const REL_STEP_S: i64 = 3_600;
const REL_SLOTS: u64 = 100_000;
/// Absolute future deadlines start here (2096-10-02); relative ones end before ~2040.
const ABS_BASE_S: i64 = 4_000_000_000;
/// Replies of EXPIRETIME in this range (seconds) come from absolute times chosen by the
/// generator: compare exactly. (Relative deadlines end before ~2.2e9, except for a few huge
/// relative PX values, near 9.2e15 ms, which lie above this range.)
pub const EXACT_S: (i64, i64) = (3_900_000_000, 4_100_000_000);
pub const EXACT_MS: (i64, i64) = (EXACT_S.0 * 1000, EXACT_S.1 * 1000);

/// Small, fast, reproducible PRNG (SplitMix64), independent of any crate's version.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The seed from `FERRITE_DIFF_SEED`, or a fresh random one. Either way it is printed, so a
/// failing run can be replayed.
pub fn seed_from_env() -> u64 {
    let seed = match std::env::var("FERRITE_DIFF_SEED") {
        Ok(s) if !s.trim().is_empty() => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse::<u64>(),
            };
            parsed.unwrap_or_else(|_| panic!("FERRITE_DIFF_SEED={s:?} is not a u64"))
        }
        _ => {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            h.write_u32(std::process::id());
            h.finish()
        }
    };
    eprintln!("differential generator: FERRITE_DIFF_SEED={seed} (set it to replay this run)");
    seed
}

/// `FERRITE_DIFF_COMMANDS`, default 10000.
pub fn commands_from_env() -> usize {
    match std::env::var("FERRITE_DIFF_COMMANDS") {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("FERRITE_DIFF_COMMANDS={s:?} is not a number")),
        _ => 10_000,
    }
}

/// One generated command.
#[derive(Clone, Debug)]
pub struct GenCmd {
    pub args: Vec<Vec<u8>>,
    /// How the two replies must be compared.
    pub compare: Compare,
    /// If set, the runner replaces `args[i]` with the bulk string of the previous reply (the
    /// DUMP the generator emitted just before), or leaves the placeholder (an invalid
    /// payload) when that reply was nil.
    pub payload_from_previous: Option<usize>,
}

impl GenCmd {
    fn new(args: Vec<Vec<u8>>) -> GenCmd {
        GenCmd {
            args,
            compare: Compare::Exact,
            payload_from_previous: None,
        }
    }
    fn with(mut self, compare: Compare) -> GenCmd {
        self.compare = compare;
        self
    }
}

/// Command names and relative weights.
const TABLE: &[(&str, u32)] = &[
    ("GET", 60),
    ("SET", 80),
    ("SETNX", 10),
    ("SETEX", 10),
    ("PSETEX", 8),
    ("MGET", 15),
    ("MSET", 15),
    ("MSETNX", 10),
    ("GETSET", 10),
    ("GETDEL", 10),
    ("GETEX", 20),
    ("INCR", 20),
    ("DECR", 12),
    ("INCRBY", 15),
    ("DECRBY", 12),
    ("INCRBYFLOAT", 20),
    ("APPEND", 20),
    ("STRLEN", 10),
    ("GETRANGE", 15),
    ("SETRANGE", 15),
    ("SUBSTR", 5),
    ("LCS", 10),
    ("DEL", 15),
    ("UNLINK", 8),
    ("EXISTS", 15),
    ("TYPE", 10),
    ("RENAME", 10),
    ("RENAMENX", 8),
    ("COPY", 10),
    ("MOVE", 8),
    ("EXPIRE", 15),
    ("PEXPIRE", 10),
    ("EXPIREAT", 12),
    ("PEXPIREAT", 10),
    ("PERSIST", 10),
    ("TTL", 10),
    ("PTTL", 8),
    ("EXPIRETIME", 10),
    ("PEXPIRETIME", 10),
    ("TOUCH", 5),
    ("KEYS", 8),
    ("DBSIZE", 5),
    ("OBJECT", 10),
    ("SELECT", 15),
    ("SWAPDB", 2),
    ("FLUSHDB", 1),
    ("DUMP", 6),
    ("RESTORE", 12),
    ("SADD", 25),
    ("SREM", 12),
    ("SMEMBERS", 8),
    ("SISMEMBER", 8),
    ("SMISMEMBER", 6),
    ("SCARD", 6),
    ("SINTER", 6),
    ("SINTERCARD", 6),
    ("SINTERSTORE", 6),
    ("SUNION", 6),
    ("SUNIONSTORE", 6),
    ("SDIFF", 6),
    ("SDIFFSTORE", 6),
    ("SMOVE", 8),
    ("SSCAN", 5),
    ("PING", 3),
    ("ECHO", 3),
    ("HSET", 40),
    ("HSETNX", 8),
    ("HMSET", 6),
    ("HGET", 25),
    ("HMGET", 10),
    ("HDEL", 20),
    ("HEXISTS", 8),
    ("HLEN", 8),
    ("HSTRLEN", 8),
    ("HKEYS", 6),
    ("HVALS", 6),
    ("HGETALL", 15),
    ("HINCRBY", 15),
    ("HINCRBYFLOAT", 12),
    ("HRANDFIELD", 6),
    ("HSCAN", 6),
    ("LPUSH", 20),
    ("RPUSH", 20),
    ("LPUSHX", 6),
    ("RPUSHX", 6),
    ("LPOP", 12),
    ("RPOP", 12),
    ("LLEN", 6),
    ("LINDEX", 8),
    ("LSET", 8),
    ("LRANGE", 12),
    ("LTRIM", 6),
    ("LREM", 8),
    ("LINSERT", 8),
    ("LPOS", 8),
    ("LMOVE", 8),
    ("RPOPLPUSH", 6),
    ("LMPOP", 8),
    ("LISTFILL", 2),
    // Blocking forms with short timeouts: on empty keys both servers time
    // out (10 ms each); on lists they pop as the non-blocking forms.
    ("BLPOP", 3),
    ("BRPOP", 3),
    ("BLMOVE", 2),
    ("BRPOPLPUSH", 2),
    ("BLMPOP", 2),
    ("ZADD", 25),
    ("ZINCRBY", 8),
    ("ZREM", 8),
    ("ZCARD", 4),
    ("ZSCORE", 6),
    ("ZMSCORE", 4),
    ("ZRANK", 4),
    ("ZREVRANK", 4),
    ("ZCOUNT", 5),
    ("ZLEXCOUNT", 4),
    ("ZRANGE", 10),
    ("ZRANGESTORE", 4),
    ("ZREVRANGE", 4),
    ("ZRANGEBYSCORE", 5),
    ("ZREVRANGEBYSCORE", 4),
    ("ZRANGEBYLEX", 4),
    ("ZREVRANGEBYLEX", 4),
    ("ZREMRANGEBYRANK", 3),
    ("ZREMRANGEBYSCORE", 3),
    ("ZREMRANGEBYLEX", 3),
    ("ZPOPMIN", 4),
    ("ZPOPMAX", 4),
    ("ZMPOP", 4),
    ("ZRANDMEMBER", 3),
    ("ZUNION", 4),
    ("ZINTER", 4),
    ("ZDIFF", 4),
    ("ZUNIONSTORE", 4),
    ("ZINTERSTORE", 4),
    ("ZDIFFSTORE", 4),
    ("ZINTERCARD", 4),
    ("ZSCAN", 3),
    ("UNKNOWN", 1),
];

/// The generator: an endless iterator of [`GenCmd`]s, fully determined by its seed.
pub struct Generator {
    rng: Rng,
    used_rel: HashSet<u64>,
    pending: VecDeque<GenCmd>,
    total_weight: u64,
    /// Percent of key picks that reuse the previous key ([`Generator::with_sticky_keys`]).
    sticky: u64,
    last_key: Option<Vec<u8>>,
}

fn b(s: impl AsRef<[u8]>) -> Vec<u8> {
    s.as_ref().to_vec()
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            used_rel: HashSet::new(),
            pending: VecDeque::new(),
            total_weight: TABLE.iter().map(|&(_, w)| w as u64).sum(),
            sticky: 0,
            last_key: None,
        }
    }

    /// Makes `percent` of key picks reuse the key picked before, so that consecutive
    /// commands often address one key (pipelined runs on one key). Off (0) by default, and
    /// then the generator draws exactly what it drew before this option existed.
    pub fn with_sticky_keys(mut self, percent: u64) -> Generator {
        self.sticky = percent;
        self
    }

    /// The next command.
    pub fn next_cmd(&mut self) -> GenCmd {
        if let Some(c) = self.pending.pop_front() {
            return c;
        }
        let mut x = self.rng.below(self.total_weight);
        let mut name = TABLE[0].0;
        for &(n, w) in TABLE {
            if x < w as u64 {
                name = n;
                break;
            }
            x -= w as u64;
        }
        let mut cmd = self.build(name);
        // Junk appended to SADD would be a non-integer member, making a hashtable set whose
        // order (SMEMBERS, DUMP) Redis leaves unspecified.
        // HRANDFIELD and ZRANDMEMBER lose their count to a dropped argument: a random reply.
        let keep_arity = matches!(name, "SADD" | "LISTFILL" | "HRANDFIELD" | "ZRANDMEMBER");
        if cmd.payload_from_previous.is_none() && self.pending.is_empty() && !keep_arity {
            self.maybe_mutate_arity(&mut cmd);
        }
        if self.rng.chance(10) {
            cmd.args[0] = self.random_case(&cmd.args[0]);
        }
        cmd
    }

    fn random_case(&mut self, name: &[u8]) -> Vec<u8> {
        name.iter()
            .map(|&c| {
                if self.rng.chance(50) {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    }

    /// Occasionally drops trailing arguments or appends junk ones (arity and syntax errors).
    /// Neither can create a key with a short TTL: a dropped timeout leaves a dangling option
    /// (syntax error) or no option at all.
    fn maybe_mutate_arity(&mut self, cmd: &mut GenCmd) {
        if !self.rng.chance(4) {
            return;
        }
        if cmd.args.len() > 1 && self.rng.chance(50) {
            let drop = self.rng.range(1, (cmd.args.len() - 1) as i64) as usize;
            cmd.args.truncate(cmd.args.len() - drop);
        } else if !matches!(&cmd.args[0][..], b"BLPOP" | b"BRPOP") {
            // (A junk "0" after BLPOP's timeout would be a timeout of 0:
            // both servers would wait forever.)
            for _ in 0..self.rng.range(1, 2) {
                let junk = b(*self.rng.pick(&["junk", "0", "", "x y"]));
                cmd.args.push(junk);
            }
        }
        // With arguments changed, a clock-dependent reply could become any integer; keep the
        // original comparison (it is exact unless the command is TTL-like, where an arity
        // error is compared exactly anyway).
    }

    // ---- domains ------------------------------------------------------------------------

    /// A blocking command's timeout: short (never 0, which would wait
    /// forever on an empty key), or invalid.
    fn block_timeout(&mut self) -> Vec<u8> {
        b(*self
            .rng
            .pick(&["0.01", "0.01", "0.01", "0.005", "-1", "x", "inf"]))
    }

    fn key(&mut self) -> Vec<u8> {
        if self.sticky == 0 {
            return b(self.rng.pick(&KEYS));
        }
        if let Some(k) = &self.last_key {
            let k = k.clone();
            if self.rng.chance(self.sticky) {
                return k;
            }
        }
        let k = b(self.rng.pick(&KEYS));
        self.last_key = Some(k.clone());
        k
    }

    fn keys(&mut self, min: i64, max: i64) -> Vec<Vec<u8>> {
        let n = self.rng.range(min, max);
        (0..n).map(|_| self.key()).collect()
    }

    fn db_index(&mut self) -> Vec<u8> {
        if self.rng.chance(85) {
            b(self.rng.pick(&["0", "1"]))
        } else {
            b(self
                .rng
                .pick(&["2", "15", "16", "-1", "x", "1.0", "99999999999999999999"]))
        }
    }

    fn short_string(&mut self, alphabet: &[u8], min: i64, max: i64) -> Vec<u8> {
        let n = self.rng.range(min, max);
        (0..n).map(|_| *self.rng.pick(alphabet)).collect()
    }

    /// A value for SET-like commands.
    fn value(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=29 => b(self.rng.range(-10, 100).to_string()),
            30..=39 => b(self.rng.pick(&[
                "0",
                "-0",
                "01",
                " 1",
                "1 ",
                "+1",
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775808",
                "-9223372036854775809",
                "4294967296",
                "9999",
                "10000",
                "-1",
                "1000000000000",
            ])),
            40..=49 => b(self.rng.pick(&[
                "1.5",
                "-0.25",
                "3.0",
                "1e3",
                "1E-2",
                "0.1",
                "inf",
                "-inf",
                "nan",
                "1.7976931348623157e308",
                "5e-324",
                ".5",
                "5.",
                "0x10",
                " 1.5",
                "1.5 ",
                "10.50",
                "-0.0",
                "3.14159265358979323846",
            ])),
            50..=74 => self.short_string(b"abcxyz", 1, 8),
            75..=79 => Vec::new(),
            80..=84 => self.short_string(b"a\x00\r\n\xff\xfe \"'\\", 1, 6),
            85..=98 => self.short_string(b"abcdefghij0123456789", 20, 60),
            _ => {
                // Large-ish: compressible (LZF in DUMP) and not.
                let n = self.rng.range(100, 3000);
                if self.rng.chance(50) {
                    self.short_string(b"ab", n, n)
                } else {
                    (0..n).map(|_| self.rng.next_u64() as u8).collect()
                }
            }
        }
    }

    /// A hash field: a few names so fields are hit again, occasionally odd bytes.
    fn field(&mut self) -> Vec<u8> {
        match self.rng.below(20) {
            0 => Vec::new(),
            1 => b("f\x00\r\n"),
            2 => b("1"),
            3 => b("x".repeat(64)),
            _ => b(*self.rng.pick(&["a", "b", "c", "f1", "f2", "f3", "counter"])),
        }
    }

    /// A hash value, at most 64 bytes: hashes stay listpacks (at most a dozen fields), so
    /// HGETALL, HSCAN and DUMP replies are in Redis's exact order and byte-identical.
    fn hash_value(&mut self) -> Vec<u8> {
        let mut v = self.value();
        v.truncate(64);
        v
    }

    /// A set member that keeps sets intset-encoded (their order and DUMP payloads are then
    /// Redis's exactly), with widths of 16, 32 and 64 bits.
    fn set_member(&mut self) -> Vec<u8> {
        match self.rng.below(20) {
            0 => b(*self
                .rng
                .pick(&["70000", "-70000", "9000000000", "-9223372036854775808"])),
            _ => b(self.rng.range(-20, 30).to_string()),
        }
    }

    /// A sorted set member: few of them, so sorted sets stay listpacks (their order, ZSCAN
    /// and DUMP replies are then Redis's exactly).
    fn zset_member(&mut self) -> Vec<u8> {
        b(*self
            .rng
            .pick(&["a", "b", "c", "d", "e", "ab", "1", "2", "10", "-1", ""]))
    }

    /// A score: dyadic fractions only, so sums are exact whatever order Redis adds them in
    /// (ZUNION sorts its inputs with an unstable sort), and no infinities (inf + -inf is a
    /// NaN that ZUNION turns into 0 at an order-dependent point).
    fn zscore(&mut self) -> Vec<u8> {
        if self.rng.chance(3) {
            return b(*self.rng.pick(&["x", "nan", "", "1e400"]));
        }
        b(*self
            .rng
            .pick(&["0", "1", "1.5", "-2", "2", "10", "3", "0.25", "-0.5", "-0"]))
    }

    /// A score range bound.
    fn zbound(&mut self) -> Vec<u8> {
        b(*self.rng.pick(&[
            "-inf", "+inf", "0", "1", "(1", "1.5", "(2", "3", "10", "(10", "-2", "x", "(",
        ]))
    }

    /// A lex range bound.
    fn zlex(&mut self) -> Vec<u8> {
        b(*self
            .rng
            .pick(&["-", "+", "[a", "(a", "[c", "(c", "[1", "[", "(", "a", "[zz"]))
    }

    /// A rank.
    fn zrank_arg(&mut self) -> Vec<u8> {
        b(*self
            .rng
            .pick(&["0", "1", "2", "-1", "-2", "5", "-100", "100", "x"]))
    }

    /// Optional LIMIT offset count.
    fn zlimit(&mut self, a: &mut Vec<Vec<u8>>) {
        if self.rng.chance(30) {
            a.push(b("LIMIT"));
            a.push(b(*self.rng.pick(&["0", "1", "2", "-1", "x"])));
            a.push(b(*self.rng.pick(&["0", "1", "2", "-1", "10"])));
        }
    }

    /// numkeys, keys, then options of ZUNION & co.
    fn zsetop(&mut self, a: &mut Vec<Vec<u8>>, weights: bool, withscores: bool) {
        let keys = self.keys(1, 3);
        a.push(match self.rng.below(12) {
            0 => b(*self.rng.pick(&["0", "-1", "x", "9"])),
            _ => b(keys.len().to_string()),
        });
        let n = keys.len();
        a.extend(keys);
        if weights && self.rng.chance(30) {
            a.push(b("WEIGHTS"));
            for _ in 0..n {
                a.push(b(*self.rng.pick(&["1", "2", "0.5", "-1", "0", "x"])));
            }
        }
        if weights && self.rng.chance(30) {
            a.push(b("AGGREGATE"));
            a.push(b(*self.rng.pick(&["SUM", "MIN", "max", "foo"])));
        }
        if withscores && self.rng.chance(40) {
            a.push(b("WITHSCORES"));
        }
    }

    /// A member to look up or remove: mostly like [`Generator::set_member`], sometimes one
    /// no intset can hold.
    fn probe_member(&mut self) -> Vec<u8> {
        if self.rng.chance(15) {
            b(*self.rng.pick(&["x", "01", "+1", "", "9223372036854775808"]))
        } else {
            self.set_member()
        }
    }

    /// A list element: few distinct ones (so LREM, LPOS and LINSERT find them), integers
    /// in every listpack width, sometimes a long one.
    fn list_elem(&mut self) -> Vec<u8> {
        match self.rng.below(20) {
            0 => b(*self.rng.pick(&["70000", "-9223372036854775808", "007", ""])),
            1 => vec![b'L'; self.rng.range(60, 200) as usize],
            2..=8 => b(self.rng.range(-3, 3).to_string()),
            _ => self.short_string(b"abc", 1, 2),
        }
    }

    fn list_index(&mut self) -> Vec<u8> {
        match self.rng.below(12) {
            0 => b(*self
                .rng
                .pick(&["x", "9223372036854775807", "-9223372036854775808"])),
            _ => b(self.rng.range(-8, 8).to_string()),
        }
    }

    /// A short value for APPEND / SETRANGE (keeps strings small).
    fn small_value(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0 => Vec::new(),
            1 => b(self.rng.range(0, 999).to_string()),
            2 => self.short_string(b"\x00\xff\r\n", 1, 3),
            _ => self.short_string(b"abcxyz", 1, 10),
        }
    }

    fn integer_arg(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=5 => b(self.rng.range(-100, 100).to_string()),
            6 => b(self.rng.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775806",
                "-9223372036854775807",
                "4611686018427387904",
            ])),
            7 => b(self
                .rng
                .pick(&["1.5", "abc", "", " 1", "01", "+1", "1e3", "0x10"])),
            _ => b(self.rng.range(-5, 5).to_string()),
        }
    }

    fn float_arg(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=3 => {
                let v = self.rng.range(-1000, 1000) as f64 / 8.0;
                b(format!("{v}"))
            }
            4 => b(self.rng.range(-20, 20).to_string()),
            5..=8 => b(self.rng.pick(&[
                "0.1",
                "-0.1",
                "0.2",
                "1.1",
                "3.0e3",
                "1e-5",
                "5.0e3",
                "1.7976931348623157e308",
                "-1.7976931348623157e308",
                "1e308",
                "inf",
                "-inf",
                "nan",
                "abc",
                "",
                " 1",
                "0x10",
                "1.5e",
                "9223372036854775807",
                "0.3333333333333333",
                "100000000000000000000",
            ])),
            _ => b(self.rng.pick(&["1", "-1", "0", "0.5"])),
        }
    }

    fn offset(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=6 => b(self.rng.range(-12, 12).to_string()),
            7 => b(self.rng.pick(&["100", "1000", "-100", "-1000"])),
            8 => b(self.rng.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "2147483647",
                "-2147483648",
                "4294967296",
            ])),
            _ => b(self.rng.pick(&["abc", "", "1.5", " 1"])),
        }
    }

    /// A unique relative timeout in seconds (see the module docs).
    fn rel_secs_i(&mut self) -> i64 {
        loop {
            let i = self.rng.below(REL_SLOTS);
            if self.used_rel.insert(i) {
                return REL_BASE_S + i as i64 * REL_STEP_S;
            }
        }
    }
    fn rel_secs(&mut self) -> Vec<u8> {
        let s = self.rel_secs_i();
        b(s.to_string())
    }
    fn rel_ms(&mut self) -> Vec<u8> {
        let ms = self.rel_secs_i() * 1000 + self.rng.range(0, 999);
        b(ms.to_string())
    }
    fn abs_secs_i(&mut self) -> i64 {
        ABS_BASE_S + self.rng.range(0, 40) * 1000
    }
    fn abs_secs(&mut self) -> Vec<u8> {
        let s = self.abs_secs_i();
        b(s.to_string())
    }
    fn abs_ms(&mut self) -> Vec<u8> {
        let ms = *self.rng.pick(&[0, 1, 499, 500, 501, 999]);
        let v = self.abs_secs_i() * 1000 + ms;
        b(v.to_string())
    }
    fn past_secs(&mut self) -> Vec<u8> {
        b(self
            .rng
            .pick(&["0", "1", "-1", "1000000000", "1600000000", "-5000"]))
    }
    fn past_ms(&mut self) -> Vec<u8> {
        b(self
            .rng
            .pick(&["0", "1", "-1", "1000000000000", "1600000000123"]))
    }
    fn bad_time(&mut self) -> Vec<u8> {
        b(self.rng.pick(&[
            "abc",
            "1.5",
            "",
            " 1",
            "9223372036854775807",
            "-9223372036854775808",
            "99999999999999999999",
            "9223372036854775",
            "9223372036854776",
        ]))
    }

    fn ttl_compare(ms: bool) -> Compare {
        Compare::Time {
            tolerance: if ms { 2000 } else { 2 },
            exact: (1, 0), // empty: always clock-dependent
        }
    }
    fn expiretime_compare(ms: bool) -> Compare {
        Compare::Time {
            tolerance: if ms { 2000 } else { 2 },
            exact: if ms { EXACT_MS } else { EXACT_S },
        }
    }

    // ---- RESTORE payloads ----------------------------------------------------------------

    /// A DUMP payload for a string value, built by hand (RDB string encoding, version, CRC64).
    fn crafted_payload(&mut self) -> Vec<u8> {
        let mut p = vec![0u8]; // RDB_TYPE_STRING
        match self.rng.below(4) {
            0 => {
                // Integer encodings.
                match self.rng.below(3) {
                    0 => {
                        p.push(0xC0);
                        p.push(self.rng.range(-128, 127) as i8 as u8);
                    }
                    1 => {
                        p.push(0xC1);
                        p.extend_from_slice(&(self.rng.range(-32768, 32767) as i16).to_le_bytes());
                    }
                    _ => {
                        p.push(0xC2);
                        p.extend_from_slice(&(self.rng.next_u64() as i32).to_le_bytes());
                    }
                }
            }
            1 => {
                // 14-bit length.
                let s = self.short_string(b"xyz", 64, 200);
                p.push(0x40 | (s.len() >> 8) as u8);
                p.push(s.len() as u8);
                p.extend_from_slice(&s);
            }
            _ => {
                let s = if self.rng.chance(50) {
                    self.short_string(b"abc12", 0, 30)
                } else {
                    self.value()
                };
                if s.len() < 64 {
                    p.push(s.len() as u8);
                } else if s.len() < 16384 {
                    p.push(0x40 | (s.len() >> 8) as u8);
                    p.push(s.len() as u8);
                } else {
                    p.push(0x80);
                    p.extend_from_slice(&(s.len() as u32).to_be_bytes());
                }
                p.extend_from_slice(&s);
            }
        }
        let version: u16 = if self.rng.chance(80) { 10 } else { 9 };
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    /// An invalid payload: bad checksum, bad version, truncated, garbage.
    fn bad_payload(&mut self) -> Vec<u8> {
        let mut p = self.crafted_payload();
        match self.rng.below(5) {
            0 => {
                let n = p.len();
                p[n - 1] ^= 0x55; // checksum
            }
            1 => {
                // Newer RDB version than Redis 7.0 knows, with a valid checksum.
                let n = p.len();
                p[n - 10] = 99;
                let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&p[..n - 8]);
                p[n - 8..].copy_from_slice(&crc.to_le_bytes());
            }
            2 => p.truncate(self.rng.below(10) as usize),
            3 => p = b("not a dump payload at all"),
            _ => {
                // Valid footer, garbage body.
                let mut q = vec![0u8, 0x3f, b'x'];
                q.extend_from_slice(&10u16.to_le_bytes());
                let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&q);
                q.extend_from_slice(&crc.to_le_bytes());
                p = q;
            }
        }
        p
    }

    // ---- commands ------------------------------------------------------------------------

    fn build(&mut self, name: &str) -> GenCmd {
        if name == "LISTFILL" {
            // Small node limits make lists of a few elements span several nodes, so DUMP
            // compares node boundaries after every kind of list edit.
            let fill = *self.rng.pick(&["1", "2", "3", "-1", "-2"]);
            return GenCmd::new(vec![
                b("CONFIG"),
                b("SET"),
                b("list-max-listpack-size"),
                b(fill),
            ]);
        }
        let mut a: Vec<Vec<u8>> = vec![b(name)];
        match name {
            "GET" | "GETDEL" | "INCR" | "DECR" | "STRLEN" | "TYPE" | "PERSIST" | "DUMP" => {
                a.push(self.key())
            }
            "SET" => {
                a.push(self.key());
                a.push(self.value());
                let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
                match self.rng.below(20) {
                    0..=9 => {}
                    10 | 11 => opts.push(vec![b("EX"), self.rel_secs()]),
                    12 | 13 => opts.push(vec![b("PX"), self.rel_ms()]),
                    14 => opts.push(vec![b("EXAT"), self.abs_secs()]),
                    15 => opts.push(vec![b("PXAT"), self.abs_ms()]),
                    16 | 17 => opts.push(vec![b("KEEPTTL")]),
                    18 => {
                        let o = b(*self.rng.pick(&["EX", "PX", "EXAT", "PXAT"]));
                        let v = if self.rng.chance(50) {
                            b(*self.rng.pick(&["0", "-1", "-100"]))
                        } else {
                            self.bad_time()
                        };
                        opts.push(vec![o, v]);
                    }
                    _ => {
                        // Two expiration options: always a syntax error.
                        opts.push(vec![b("EX"), self.rel_secs()]);
                        if self.rng.chance(50) {
                            opts.push(vec![b("KEEPTTL")]);
                        } else {
                            opts.push(vec![b("PX"), self.rel_ms()]);
                        }
                    }
                }
                match self.rng.below(10) {
                    0 | 1 => opts.push(vec![b("NX")]),
                    2 | 3 => opts.push(vec![b("XX")]),
                    4 => opts.push(vec![b("NX"), b("XX")]),
                    _ => {}
                }
                if self.rng.chance(25) {
                    opts.push(vec![b("GET")]);
                }
                if self.rng.chance(3) {
                    opts.push(vec![b(*self.rng.pick(&["FOO", "EX", "NXX"]))]);
                }
                self.rng.shuffle(&mut opts);
                for o in opts {
                    a.extend(o);
                }
            }
            "SETNX" | "GETSET" => {
                a.push(self.key());
                a.push(self.value());
            }
            "SETEX" | "PSETEX" => {
                a.push(self.key());
                let ms = name == "PSETEX";
                a.push(match self.rng.below(10) {
                    0 => b(*self.rng.pick(&["0", "-1", "-100"])),
                    1 => self.bad_time(),
                    _ if ms => self.rel_ms(),
                    _ => self.rel_secs(),
                });
                a.push(self.value());
            }
            "MGET" => a.extend(self.keys(1, 5)),
            "SADD" => {
                a.push(self.key());
                for _ in 0..self.rng.range(1, 5) {
                    a.push(self.set_member());
                }
            }
            "SREM" | "SMISMEMBER" => {
                a.push(self.key());
                for _ in 0..self.rng.range(1, 4) {
                    a.push(self.probe_member());
                }
            }
            "SMEMBERS" | "SCARD" => a.push(self.key()),
            "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX" => {
                a.push(self.key());
                for _ in 0..self.rng.range(1, 6) {
                    a.push(self.list_elem());
                }
            }
            "LPOP" | "RPOP" => {
                a.push(self.key());
                if self.rng.chance(50) {
                    a.push(b(*self.rng.pick(&["0", "1", "2", "5", "100", "-1", "x"])));
                }
            }
            "LLEN" => a.push(self.key()),
            "LINDEX" => {
                a.push(self.key());
                a.push(self.list_index());
            }
            "LSET" => {
                a.push(self.key());
                a.push(self.list_index());
                a.push(self.list_elem());
            }
            "LRANGE" | "LTRIM" => {
                a.push(self.key());
                a.push(self.list_index());
                a.push(self.list_index());
            }
            "LREM" => {
                a.push(self.key());
                a.push(b(*self.rng.pick(&["0", "1", "2", "-1", "-2", "x"])));
                a.push(self.list_elem());
            }
            "LINSERT" => {
                a.push(self.key());
                a.push(b(*self
                    .rng
                    .pick(&["BEFORE", "after", "AFTER", "before", "MIDDLE"])));
                a.push(self.list_elem());
                a.push(self.list_elem());
            }
            "LPOS" => {
                a.push(self.key());
                a.push(self.list_elem());
                if self.rng.chance(40) {
                    a.push(b("RANK"));
                    a.push(b(*self.rng.pick(&["1", "2", "-1", "-3", "0", "x"])));
                }
                if self.rng.chance(40) {
                    a.push(b("COUNT"));
                    a.push(b(*self.rng.pick(&["0", "1", "2", "-1", "x"])));
                }
                if self.rng.chance(30) {
                    a.push(b("MAXLEN"));
                    a.push(b(*self.rng.pick(&["0", "1", "3", "-1"])));
                }
            }
            "LMOVE" => {
                a.push(self.key());
                a.push(self.key());
                a.push(b(*self.rng.pick(&["LEFT", "RIGHT", "left", "right", "up"])));
                a.push(b(*self.rng.pick(&["LEFT", "RIGHT", "left", "right"])));
            }
            "RPOPLPUSH" => {
                a.push(self.key());
                a.push(self.key());
            }
            "BLPOP" | "BRPOP" => {
                a.extend(self.keys(1, 3));
                a.push(self.block_timeout());
            }
            "BLMOVE" => {
                a.push(self.key());
                a.push(self.key());
                a.push(b(*self.rng.pick(&["LEFT", "RIGHT", "left", "right", "up"])));
                a.push(b(*self.rng.pick(&["LEFT", "RIGHT", "left", "right"])));
                a.push(self.block_timeout());
            }
            "BRPOPLPUSH" => {
                a.push(self.key());
                a.push(self.key());
                a.push(self.block_timeout());
            }
            "BLMPOP" => {
                a.push(self.block_timeout());
                let keys = self.keys(1, 3);
                let n = match self.rng.below(10) {
                    0 => b(*self.rng.pick(&["0", "-1", "x", "9"])),
                    _ => b(keys.len().to_string()),
                };
                a.push(n);
                a.extend(keys);
                a.push(b(*self.rng.pick(&["LEFT", "RIGHT", "left", "middle"])));
                if self.rng.chance(40) {
                    a.push(b("COUNT"));
                    a.push(b(*self.rng.pick(&["1", "2", "10", "0", "-1", "x"])));
                }
            }
            "LMPOP" => {
                let keys = self.keys(1, 3);
                let n = match self.rng.below(10) {
                    0 => b(*self.rng.pick(&["0", "-1", "x", "9"])),
                    _ => b(keys.len().to_string()),
                };
                a.push(n);
                a.extend(keys);
                a.push(b(*self.rng.pick(&["LEFT", "RIGHT", "left", "middle"])));
                if self.rng.chance(40) {
                    a.push(b("COUNT"));
                    a.push(b(*self.rng.pick(&["1", "2", "10", "0", "-1", "x"])));
                }
            }
            "SISMEMBER" => {
                a.push(self.key());
                a.push(self.probe_member());
            }
            "SINTER" | "SUNION" | "SDIFF" => a.extend(self.keys(1, 4)),
            "SINTERSTORE" | "SUNIONSTORE" | "SDIFFSTORE" => a.extend(self.keys(2, 4)),
            "SINTERCARD" => {
                let keys = self.keys(1, 3);
                let n = match self.rng.below(10) {
                    0 => b(*self.rng.pick(&["0", "-1", "x", "9"])),
                    _ => b(keys.len().to_string()),
                };
                a.push(n);
                a.extend(keys);
                if self.rng.chance(40) {
                    a.push(b(*self.rng.pick(&["LIMIT", "limit", "LIMIT", "FOO"])));
                    a.push(b(*self.rng.pick(&["0", "1", "2", "-1", "x"])));
                }
            }
            "SMOVE" => {
                a.push(self.key());
                a.push(self.key());
                a.push(self.probe_member());
            }
            "SSCAN" => {
                a.push(self.key());
                a.push(b(*self.rng.pick(&["0", "0", "0", "5", "x", "-1"])));
                if self.rng.chance(30) {
                    a.push(b("MATCH"));
                    a.push(b(*self.rng.pick(&["*", "1*", "-*", "?"])));
                }
                if self.rng.chance(30) {
                    a.push(b("COUNT"));
                    a.push(b(*self.rng.pick(&["1", "10", "0", "x"])));
                }
            }
            "MSET" | "MSETNX" => {
                for _ in 0..self.rng.range(1, 4) {
                    a.push(self.key());
                    a.push(self.value());
                }
                if self.rng.chance(5) {
                    a.push(self.key()); // odd number of arguments
                }
            }
            "GETEX" => {
                a.push(self.key());
                match self.rng.below(16) {
                    0..=3 => {}
                    4 => a.extend([b("EX"), self.rel_secs()]),
                    5 => a.extend([b("PX"), self.rel_ms()]),
                    6 => a.extend([b("EXAT"), self.abs_secs()]),
                    7 => a.extend([b("PXAT"), self.abs_ms()]),
                    8 => a.extend([b("EXAT"), self.past_secs()]),
                    9 => a.extend([b("PXAT"), self.past_ms()]),
                    10 | 11 => a.push(b("PERSIST")),
                    12 => {
                        let o = b(*self.rng.pick(&["EX", "PX", "EXAT", "PXAT"]));
                        let v = if self.rng.chance(50) {
                            b(*self.rng.pick(&["0", "-1"]))
                        } else {
                            self.bad_time()
                        };
                        a.extend([o, v]);
                    }
                    13 => a.extend([b("EX"), self.rel_secs(), b("PERSIST")]),
                    14 => a.extend([b("PX"), self.rel_ms(), b("EX"), self.rel_secs()]),
                    _ => a.push(b(*self.rng.pick(&["FOO", "EX", "KEEPTTL"]))),
                }
            }
            "INCRBY" | "DECRBY" => {
                a.push(self.key());
                a.push(self.integer_arg());
            }
            "INCRBYFLOAT" => {
                a.push(self.key());
                a.push(self.float_arg());
            }
            "APPEND" => {
                a.push(self.key());
                a.push(self.small_value());
            }
            "GETRANGE" | "SUBSTR" => {
                a.push(self.key());
                a.push(self.offset());
                a.push(self.offset());
            }
            "SETRANGE" => {
                a.push(self.key());
                a.push(match self.rng.below(20) {
                    0..=13 => b(self.rng.range(0, 40).to_string()),
                    14 | 15 => b(*self.rng.pick(&["100", "300"])),
                    16 => b("-1"),
                    // Never 536870911 or less with a non-empty value: that allocates 512 MB.
                    17 => b(*self
                        .rng
                        .pick(&["536870912", "1000000000", "9223372036854775807"])),
                    _ => b(*self.rng.pick(&["abc", "", "1.5"])),
                });
                a.push(self.small_value());
            }
            "LCS" => {
                a.push(self.key());
                a.push(self.key());
                let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
                if self.rng.chance(25) {
                    opts.push(vec![b("LEN")]);
                }
                if self.rng.chance(40) {
                    opts.push(vec![b("IDX")]);
                }
                if self.rng.chance(30) {
                    let n = b(*self.rng.pick(&["0", "1", "2", "3", "5", "-1", "abc"]));
                    opts.push(vec![b("MINMATCHLEN"), n]);
                }
                if self.rng.chance(30) {
                    opts.push(vec![b("WITHMATCHLEN")]);
                }
                if self.rng.chance(3) {
                    opts.push(vec![b("FOO")]);
                }
                self.rng.shuffle(&mut opts);
                for o in opts {
                    a.extend(o);
                }
            }
            "DEL" | "UNLINK" | "EXISTS" | "TOUCH" => a.extend(self.keys(1, 4)),
            "RENAME" | "RENAMENX" => {
                a.push(self.key());
                a.push(self.key());
            }
            "COPY" => {
                a.push(self.key());
                a.push(self.key());
                let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
                if self.rng.chance(40) {
                    opts.push(vec![b("DB"), self.db_index()]);
                }
                if self.rng.chance(40) {
                    opts.push(vec![b("REPLACE")]);
                }
                if self.rng.chance(3) {
                    opts.push(vec![b(*self.rng.pick(&["FOO", "DB"]))]);
                }
                self.rng.shuffle(&mut opts);
                for o in opts {
                    a.extend(o);
                }
            }
            "MOVE" => {
                a.push(self.key());
                a.push(self.db_index());
            }
            "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => {
                a.push(self.key());
                let ms = name.starts_with('P');
                let absolute = name.ends_with("AT");
                a.push(match (self.rng.below(20), absolute, ms) {
                    (0..=11, false, false) => self.rel_secs(),
                    (0..=11, false, true) => self.rel_ms(),
                    (0..=11, true, false) => self.abs_secs(),
                    (0..=11, true, true) => self.abs_ms(),
                    (12..=14, false, _) => b(*self.rng.pick(&["0", "-1", "-100000"])),
                    (12..=14, true, false) => self.past_secs(),
                    (12..=14, true, true) => self.past_ms(),
                    _ => self.bad_time(),
                });
                match self.rng.below(10) {
                    0..=4 => {}
                    5..=8 => a.push(b(*self.rng.pick(&["NX", "XX", "GT", "LT", "nx", "gt"]))),
                    _ => {
                        a.push(b(*self.rng.pick(&["NX", "XX", "GT", "LT"])));
                        a.push(b(*self.rng.pick(&["NX", "XX", "GT", "LT", "FOO"])));
                    }
                }
            }
            "TTL" | "PTTL" => {
                a.push(self.key());
                return GenCmd::new(a).with(Self::ttl_compare(name == "PTTL"));
            }
            "EXPIRETIME" | "PEXPIRETIME" => {
                a.push(self.key());
                return GenCmd::new(a).with(Self::expiretime_compare(name == "PEXPIRETIME"));
            }
            "KEYS" => {
                a.push(b(self.rng.pick(&[
                    "*",
                    "*",
                    "k*",
                    "user:*",
                    "?",
                    "[ab]",
                    "[^a]*",
                    "*1",
                    "a",
                    "\\*",
                    "",
                    "*:*",
                    "[a-c]*",
                    "user:[12]",
                    "*[",
                    "[",
                    "k?",
                ])));
                return GenCmd::new(a).with(Compare::Sorted);
            }
            "DBSIZE" => {}
            "OBJECT" => match self.rng.below(20) {
                0 => a.extend([b("FOO"), self.key()]),
                1 => a.push(b("ENCODING")),
                _ => a.extend([b(*self.rng.pick(&["ENCODING", "encoding"])), self.key()]),
            },
            "SELECT" => a.push(self.db_index()),
            "SWAPDB" => {
                a.push(self.db_index());
                a.push(self.db_index());
            }
            "FLUSHDB" => {
                if self.rng.chance(50) {
                    a.push(b(*self.rng.pick(&["ASYNC", "SYNC", "async", "FOO"])));
                }
            }
            "RESTORE" => return self.restore(),
            "PING" => {
                if self.rng.chance(50) {
                    a.push(self.value());
                }
            }
            "ECHO" => a.push(self.value()),
            "HSET" | "HMSET" => {
                a.push(self.key());
                for _ in 0..self.rng.range(1, 3) {
                    a.push(self.field());
                    a.push(self.hash_value());
                }
            }
            "HSETNX" => a.extend([self.key(), self.field(), self.hash_value()]),
            "HGET" | "HEXISTS" | "HSTRLEN" => a.extend([self.key(), self.field()]),
            "HMGET" | "HDEL" => {
                a.push(self.key());
                for _ in 0..self.rng.range(1, 3) {
                    a.push(self.field());
                }
            }
            "HLEN" | "HKEYS" | "HVALS" | "HGETALL" => a.push(self.key()),
            "HINCRBY" => a.extend([self.key(), self.field(), self.integer_arg()]),
            "HINCRBYFLOAT" => {
                a.extend([self.key(), self.field()]);
                let mut f = self.float_arg();
                // A result over 64 bytes would make a hashtable (unordered replies).
                if f.ends_with(b"e308") || f.len() > 15 {
                    f = b("1e30");
                }
                a.push(f);
            }
            "HRANDFIELD" => {
                // Only the deterministic forms: no count on a missing key, count 0, a count
                // over the size (the whole hash, in order), bad arguments.
                a.push(self.key());
                match self.rng.below(6) {
                    0 => a.push(b("0")),
                    1 => a.extend([b("50"), b("WITHVALUES")]),
                    2 => a.push(b("50")),
                    3 => a.push(b(*self.rng.pick(&["abc", "-9223372036854775808", ""]))),
                    4 => a.extend([b("20"), b("WITHVALUES"), b("x")]),
                    _ => a.extend([b("-4611686018427387905"), b("withvalues")]),
                }
            }
            "HSCAN" => {
                a.push(self.key());
                a.push(b(*self.rng.pick(&["0", "0", "0", "abc", "-1"])));
                match self.rng.below(5) {
                    0 => a.extend([b("MATCH"), b(*self.rng.pick(&["f*", "*", "[ab]"]))]),
                    1 => a.extend([b("COUNT"), b(*self.rng.pick(&["1", "100", "0", "x"]))]),
                    2 => a.push(b("MATCH")),
                    _ => {}
                }
            }
            "ZADD" => {
                a.push(self.key());
                for o in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
                    if self.rng.chance(8) {
                        a.push(b(o));
                    }
                }
                for _ in 0..self.rng.range(1, 4) {
                    a.push(self.zscore());
                    a.push(self.zset_member());
                }
            }
            "ZINCRBY" => {
                a.push(self.key());
                a.push(self.zscore());
                a.push(self.zset_member());
            }
            "ZREM" | "ZMSCORE" => {
                a.push(self.key());
                for _ in 0..self.rng.range(1, 3) {
                    a.push(self.zset_member());
                }
            }
            "ZCARD" => a.push(self.key()),
            "ZSCORE" | "ZRANK" | "ZREVRANK" => {
                a.push(self.key());
                a.push(self.zset_member());
            }
            "ZCOUNT" | "ZREMRANGEBYSCORE" => {
                a.push(self.key());
                a.push(self.zbound());
                a.push(self.zbound());
            }
            "ZLEXCOUNT" | "ZREMRANGEBYLEX" => {
                a.push(self.key());
                a.push(self.zlex());
                a.push(self.zlex());
            }
            "ZREMRANGEBYRANK" => {
                a.push(self.key());
                a.push(self.zrank_arg());
                a.push(self.zrank_arg());
            }
            "ZRANGE" | "ZRANGESTORE" => {
                if name == "ZRANGESTORE" {
                    a.push(self.key());
                }
                a.push(self.key());
                let kind = self.rng.below(3);
                let (min, max) = match kind {
                    0 => (self.zrank_arg(), self.zrank_arg()),
                    1 => (self.zbound(), self.zbound()),
                    _ => (self.zlex(), self.zlex()),
                };
                a.push(min);
                a.push(max);
                match kind {
                    1 => a.push(b("BYSCORE")),
                    2 => a.push(b("BYLEX")),
                    _ => {}
                }
                if self.rng.chance(30) {
                    a.push(b("REV"));
                }
                if kind != 0 || self.rng.chance(5) {
                    self.zlimit(&mut a);
                }
                if self.rng.chance(30) {
                    a.push(b("WITHSCORES"));
                }
            }
            "ZREVRANGE" => {
                a.push(self.key());
                a.push(self.zrank_arg());
                a.push(self.zrank_arg());
                if self.rng.chance(40) {
                    a.push(b("WITHSCORES"));
                }
            }
            "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" => {
                a.push(self.key());
                a.push(self.zbound());
                a.push(self.zbound());
                if self.rng.chance(40) {
                    a.push(b("WITHSCORES"));
                }
                self.zlimit(&mut a);
            }
            "ZRANGEBYLEX" | "ZREVRANGEBYLEX" => {
                a.push(self.key());
                a.push(self.zlex());
                a.push(self.zlex());
                self.zlimit(&mut a);
            }
            "ZPOPMIN" | "ZPOPMAX" => {
                a.push(self.key());
                if self.rng.chance(50) {
                    a.push(b(*self.rng.pick(&["0", "1", "2", "10", "-1", "x"])));
                }
            }
            "ZMPOP" => {
                let keys = self.keys(1, 3);
                a.push(match self.rng.below(12) {
                    0 => b(*self.rng.pick(&["0", "-1", "x", "9"])),
                    _ => b(keys.len().to_string()),
                });
                a.extend(keys);
                a.push(b(*self.rng.pick(&["MIN", "MAX", "min", "foo"])));
                if self.rng.chance(40) {
                    a.push(b("COUNT"));
                    a.push(b(*self.rng.pick(&["1", "2", "10", "0", "x"])));
                }
            }
            "ZRANDMEMBER" => {
                // Only the deterministic forms (the whole sorted set, count 0, errors).
                a.push(self.key());
                match self.rng.below(5) {
                    0 => a.push(b("0")),
                    1 => a.extend([b("50"), b("WITHSCORES")]),
                    2 => a.push(b("50")),
                    3 => a.push(b(*self.rng.pick(&["abc", "-9223372036854775808", ""]))),
                    _ => a.extend([b("-4611686018427387905"), b("withscores")]),
                }
            }
            "ZUNION" | "ZINTER" => self.zsetop(&mut a, true, true),
            "ZDIFF" => self.zsetop(&mut a, false, true),
            "ZUNIONSTORE" | "ZINTERSTORE" => {
                a.push(self.key());
                self.zsetop(&mut a, true, false);
            }
            "ZDIFFSTORE" => {
                a.push(self.key());
                self.zsetop(&mut a, false, false);
            }
            "ZINTERCARD" => {
                self.zsetop(&mut a, false, false);
                if self.rng.chance(40) {
                    a.push(b("LIMIT"));
                    a.push(b(*self.rng.pick(&["0", "1", "2", "-1", "x"])));
                }
            }
            "ZSCAN" => {
                a.push(self.key());
                a.push(b(*self.rng.pick(&["0", "0", "0", "abc", "-1"])));
                match self.rng.below(5) {
                    0 => a.extend([b("MATCH"), b(*self.rng.pick(&["a*", "*", "[ab]"]))]),
                    1 => a.extend([b("COUNT"), b(*self.rng.pick(&["1", "100", "0", "x"]))]),
                    2 => a.push(b("MATCH")),
                    _ => {}
                }
            }
            "UNKNOWN" => {
                a[0] = b(*self.rng.pick(&["FOOBAR", "GETT", "SETX"]));
                a.extend(self.keys(0, 2));
            }
            other => unreachable!("no generator for {other}"),
        }
        GenCmd::new(a)
    }

    fn restore(&mut self) -> GenCmd {
        let dst = self.key();
        let ttl_and_abs: (Vec<u8>, bool) = match self.rng.below(20) {
            0..=10 => (b("0"), false),
            11..=13 => (self.rel_ms(), false),
            14 | 15 => (self.abs_ms(), true),
            16 => (self.past_ms(), true),
            _ => (b(*self.rng.pick(&["-1", "abc", "1.5"])), false),
        };
        let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
        if self.rng.chance(50) {
            opts.push(vec![b("REPLACE")]);
        }
        if ttl_and_abs.1 {
            opts.push(vec![b("ABSTTL")]);
        }
        match self.rng.below(20) {
            0 => opts.push(vec![b("IDLETIME"), b(*self.rng.pick(&["10", "-1", "abc"]))]),
            1 => opts.push(vec![b("FREQ"), b(*self.rng.pick(&["5", "256", "-1"]))]),
            2 => opts.push(vec![b("FOO")]),
            _ => {}
        }
        self.rng.shuffle(&mut opts);
        let mut args = vec![b("RESTORE"), dst, ttl_and_abs.0];
        let from_dump = self.rng.chance(50);
        args.push(match self.rng.below(10) {
            _ if from_dump => b("placeholder: replaced by the previous DUMP reply"),
            0..=6 => self.crafted_payload(),
            _ => self.bad_payload(),
        });
        for o in opts {
            args.extend(o);
        }
        let mut restore = GenCmd::new(args);
        if from_dump {
            restore.payload_from_previous = Some(3);
            self.pending.push_back(restore);
            let src = self.key();
            GenCmd::new(vec![b("DUMP"), src])
        } else {
            restore
        }
    }
}

impl Iterator for Generator {
    type Item = GenCmd;
    fn next(&mut self) -> Option<GenCmd> {
        Some(self.next_cmd())
    }
}
