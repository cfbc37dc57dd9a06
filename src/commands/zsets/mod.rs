//! Sorted set commands, as Redis 7.0 answers them.
//!
//! Keys are reached only through `ctx.keys`. Sorted sets are copy-on-write
//! values (`types::zset`): a writer clones the sorted set it latched (cheap
//! for a skiplist, whose persistent trees are shared), changes the clone
//! and publishes it with [`publish`], the one place a changed sorted set
//! goes back into the keyspace, so that a later "serve clients blocked on
//! this key" step (BZPOPMIN & co) can sit right there, under the latch.
//!
//! * `mod.rs`: the command table, parsing helpers, ZADD/ZINCRBY, point
//!   reads and writes, pops, ZRANDMEMBER, ZSCAN;
//! * `ranges.rs`: ZRANGE in all its forms, ZRANGESTORE, ZCOUNT,
//!   ZLEXCOUNT, ZREMRANGEBY*;
//! * `setops.rs`: ZUNION/ZINTER/ZDIFF(+STORE), ZINTERCARD.

mod ranges;
mod setops;

use super::flags::*;
use super::key_flags::*;
use super::keys::{count_lookups, parse_cursor};
use super::{acl, errors, BeginSearch, Command, Ctx, FindKeys, KeySpec, KeySpecEntry};
use crate::persistence::rdb::zset::score_string;
use crate::protocol::Reply;
use crate::types::hash::SmallBytes;
use crate::types::zset::{ZLimits, ZSet};
use crate::types::Value;
use crate::util::glob::glob_match;
use rand::Rng;

const G: &str = "sorted-set";

const NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const RANDMEMBER_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

const FAST_WRITE_ACL: u64 = acl::WRITE | acl::SORTEDSET | acl::FAST;
const SLOW_WRITE_ACL: u64 = acl::WRITE | acl::SORTEDSET | acl::SLOW;
const FAST_READ_ACL: u64 = acl::READ | acl::SORTEDSET | acl::FAST;
const SLOW_READ_ACL: u64 = acl::READ | acl::SORTEDSET | acl::SLOW;

const KEY_RW_UPDATE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | UPDATE)];
const KEY_RW_ACCESS_UPDATE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | UPDATE)];
const KEY_RW_DELETE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | DELETE)];
const KEY_RW_ACCESS_DELETE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | DELETE)];
const KEY_RO: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO)];
const KEY_RO_ACCESS: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO | ACCESS)];
const ZRANGESTORE_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, OW | UPDATE),
    KeySpecEntry::one(2, RO | ACCESS),
];
const KEYNUM_RO: &[KeySpecEntry] = &[KeySpecEntry::new(
    RO | ACCESS,
    BeginSearch::Index(1),
    FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        keystep: 1,
    },
)];
const KEYNUM_STORE: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, OW | UPDATE),
    KeySpecEntry::new(
        RO | ACCESS,
        BeginSearch::Index(2),
        FindKeys::Keynum {
            keynumidx: 0,
            firstkey: 1,
            keystep: 1,
        },
    ),
];
const ZMPOP_KEYS: &[KeySpecEntry] = &[KeySpecEntry::new(
    RW | ACCESS | DELETE,
    BeginSearch::Index(1),
    FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        keystep: 1,
    },
)];

const RANDOM_TIPS: &[&str] = &["nondeterministic_output"];

const LOG_N: &str = "O(log(N)) where N is the number of elements in the sorted set.";
const LOG_N_WITH: &str = "O(log(N)) with N being the number of elements in the sorted set.";
const RANGE_M: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.";
const RANGE_BY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMRANGE: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const POP: &str = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.";
const UNION: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const UNIONSTORE: &str = "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const INTER: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";

pub static COMMANDS: &[Command] = &[
    Command::new("zadd", -4, WRITE | DENYOOM | FAST, KeySpec::one(1), FAST_WRITE_ACL, zadd)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    Command::new("zincrby", 4, WRITE | DENYOOM | FAST, KeySpec::one(1), FAST_WRITE_ACL, zincrby)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "1.2.0", "Increment the score of a member in a sorted set", LOG_N),
    Command::new("zrem", -3, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, zrem)
        .key_specs(KEY_RW_DELETE)
        .doc(G, "1.2.0", "Remove one or more members from a sorted set", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    Command::new("zcard", 2, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, zcard)
        .key_specs(KEY_RO)
        .doc(G, "1.2.0", "Get the number of members in a sorted set", "O(1)"),
    Command::new("zscore", 3, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, zscore)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.2.0", "Get the score associated with the given member in a sorted set", "O(1)"),
    Command::new("zmscore", -3, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, zmscore)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "6.2.0", "Get the score associated with the given members in a sorted set", "O(N) where N is the number of members being requested."),
    Command::new("zrank", 3, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, zrank)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.0.0", "Determine the index of a member in a sorted set", "O(log(N))"),
    Command::new("zrevrank", 3, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, zrevrank)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", "O(log(N))"),
    Command::new("zcount", 4, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, ranges::zcount)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.0.0", "Count the members in a sorted set with scores within the given values", LOG_N_WITH),
    Command::new("zlexcount", 4, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, ranges::zlexcount)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", LOG_N_WITH),
    Command::new("zrange", -4, READONLY, KeySpec::one(1), SLOW_READ_ACL, ranges::zrange)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.2.0", "Return a range of members in a sorted set", RANGE_M),
    Command::new("zrangestore", -5, WRITE | DENYOOM, KeySpec::range(1, 2, 1), SLOW_WRITE_ACL, ranges::zrangestore)
        .key_specs(ZRANGESTORE_KEYS)
        .doc(G, "6.2.0", "Store a range of members from sorted set into another key", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    Command::new("zrevrange", -4, READONLY, KeySpec::one(1), SLOW_READ_ACL, ranges::zrevrange)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", RANGE_M),
    Command::new("zrangebyscore", -4, READONLY, KeySpec::one(1), SLOW_READ_ACL, ranges::zrangebyscore)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.0.5", "Return a range of members in a sorted set, by score", RANGE_BY),
    Command::new("zrevrangebyscore", -4, READONLY, KeySpec::one(1), SLOW_READ_ACL, ranges::zrevrangebyscore)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", RANGE_BY),
    Command::new("zrangebylex", -4, READONLY, KeySpec::one(1), SLOW_READ_ACL, ranges::zrangebylex)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.8.9", "Return a range of members in a sorted set, by lexicographical range", RANGE_BY),
    Command::new("zrevrangebylex", -4, READONLY, KeySpec::one(1), SLOW_READ_ACL, ranges::zrevrangebylex)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", RANGE_BY),
    Command::new("zremrangebyrank", 4, WRITE, KeySpec::one(1), SLOW_WRITE_ACL, ranges::zremrangebyrank)
        .key_specs(KEY_RW_DELETE)
        .doc(G, "2.0.0", "Remove all members in a sorted set within the given indexes", REMRANGE),
    Command::new("zremrangebyscore", 4, WRITE, KeySpec::one(1), SLOW_WRITE_ACL, ranges::zremrangebyscore)
        .key_specs(KEY_RW_DELETE)
        .doc(G, "1.2.0", "Remove all members in a sorted set within the given scores", REMRANGE),
    Command::new("zremrangebylex", 4, WRITE, KeySpec::one(1), SLOW_WRITE_ACL, ranges::zremrangebylex)
        .key_specs(KEY_RW_DELETE)
        .doc(G, "2.8.9", "Remove all members in a sorted set between the given lexicographical range", REMRANGE),
    Command::new("zpopmin", -2, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, zpopmin)
        .key_specs(KEY_RW_ACCESS_DELETE)
        .doc(G, "5.0.0", "Remove and return members with the lowest scores in a sorted set", POP),
    Command::new("zpopmax", -2, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, zpopmax)
        .key_specs(KEY_RW_ACCESS_DELETE)
        .doc(G, "5.0.0", "Remove and return members with the highest scores in a sorted set", POP),
    Command::new("zmpop", -4, WRITE | MOVABLE_KEYS, KeySpec::NONE, SLOW_WRITE_ACL, zmpop)
        .key_specs(ZMPOP_KEYS)
        .keys_with(super::table::keynum_keys::<1>)
        .doc(G, "7.0.0", "Remove and return members with scores in a sorted set", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    Command::new("zrandmember", -2, READONLY, KeySpec::one(1), SLOW_READ_ACL, zrandmember)
        .key_specs(KEY_RO_ACCESS)
        .tips(RANDOM_TIPS)
        .doc(G, "6.2.0", "Get one or multiple random elements from a sorted set", "O(N) where N is the number of elements returned"),
    Command::new("zunion", -3, READONLY | MOVABLE_KEYS, KeySpec::NONE, SLOW_READ_ACL, setops::zunion)
        .key_specs(KEYNUM_RO)
        .keys_with(super::table::keynum_keys::<1>)
        .doc(G, "6.2.0", "Add multiple sorted sets", UNION),
    Command::new("zinter", -3, READONLY | MOVABLE_KEYS, KeySpec::NONE, SLOW_READ_ACL, setops::zinter)
        .key_specs(KEYNUM_RO)
        .keys_with(super::table::keynum_keys::<1>)
        .doc(G, "6.2.0", "Intersect multiple sorted sets", INTER),
    Command::new("zdiff", -3, READONLY | MOVABLE_KEYS, KeySpec::NONE, SLOW_READ_ACL, setops::zdiff)
        .key_specs(KEYNUM_RO)
        .keys_with(super::table::keynum_keys::<1>)
        .doc(G, "6.2.0", "Subtract multiple sorted sets", DIFF),
    Command::new("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, KeySpec::one(1), SLOW_WRITE_ACL, setops::zunionstore)
        .key_specs(KEYNUM_STORE)
        .keys_with(store_keys)
        .doc(G, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", UNIONSTORE),
    Command::new("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, KeySpec::one(1), SLOW_WRITE_ACL, setops::zinterstore)
        .key_specs(KEYNUM_STORE)
        .keys_with(store_keys)
        .doc(G, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", INTER),
    Command::new("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, KeySpec::one(1), SLOW_WRITE_ACL, setops::zdiffstore)
        .key_specs(KEYNUM_STORE)
        .keys_with(store_keys)
        .doc(G, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", DIFF),
    Command::new("zintercard", -3, READONLY | MOVABLE_KEYS, KeySpec::NONE, SLOW_READ_ACL, setops::zintercard)
        .key_specs(KEYNUM_RO)
        .keys_with(super::table::keynum_keys::<1>)
        .doc(G, "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
    Command::new("zscan", -3, READONLY, KeySpec::one(1), SLOW_READ_ACL, zscan)
        .key_specs(KEY_RO_ACCESS)
        .tips(RANDOM_TIPS)
        .doc(G, "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];

/// ZUNIONSTORE & co: the destination, then `numkeys` keys.
fn store_keys(args: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    keys.extend(super::table::keynum_keys::<2>(args));
    keys
}

/// The live `zset-max-listpack-*` limits.
pub(crate) fn limits(ctx: &Ctx) -> ZLimits {
    let c = &ctx.shared.config;
    ZLimits {
        entries: c.zset_max_listpack_entries(),
        value: c.zset_max_listpack_value(),
    }
}

/// Reads a sorted set value, or WRONGTYPE. `Ok(None)` = no such key.
pub(crate) fn zset_of(v: Option<&Value>) -> Result<Option<&ZSet>, &'static str> {
    match v {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

fn lookup_hit(shared: &crate::server::Shared, hit: bool) {
    count_lookups(shared, hit as u64, !hit as u64);
}

/// Publishes a changed sorted set under its latch, or deletes the key if
/// it is empty. Every write of a sorted set goes through here: the place
/// to serve clients blocked on the key while the latch is still held.
/// Pops up to `count` lowest (or, with `max`, highest) members of the
/// sorted set `latch` holds, changing it under the latch and deleting the
/// key when the last member goes. Nothing if it holds no sorted set.
pub fn pop_latched(
    latch: &mut crate::store::Locked<'_>,
    count: usize,
    max: bool,
) -> Vec<(SmallBytes, f64)> {
    let mut popped = Vec::new();
    let mut empty = false;
    latch.update(|v| {
        let Value::ZSet(z) = v else { return false };
        popped = pop_entries(z, count, max);
        empty = z.is_empty();
        !popped.is_empty()
    });
    if empty {
        latch.delete();
    }
    popped
}

pub fn publish(latch: &mut crate::store::Locked<'_>, z: ZSet) {
    if z.is_empty() {
        latch.delete();
    } else {
        latch.set(Value::ZSet(z));
    }
}

/// C's `strtod` over the whole argument, as Redis's `getDoubleFromObject`
/// applies it to a score: no leading space, nothing left over, no NaN, no
/// overflow to infinity (only `inf` spelled out is infinite) and no
/// underflow to zero.
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() || arg[0] == 0x0b {
        return None;
    }
    let v = strtod_all(arg)?;
    let s = std::str::from_utf8(arg).ok()?.to_ascii_lowercase();
    if v.is_infinite() && !s.contains("inf") {
        return None;
    }
    if v == 0.0 && is_hex_or_dec_nonzero(&s) {
        return None;
    }
    Some(v)
}

/// Whether a decimal float's mantissa has a nonzero digit (an underflow
/// if it parsed as zero).
fn is_hex_or_dec_nonzero(s: &str) -> bool {
    let mant = s.split(['e']).next().unwrap_or("");
    mant.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// `strtod` of the whole of `arg` (leading white space allowed, as strtod
/// skips it), NaN refused. An empty argument is 0, as strtod leaves it.
pub(crate) fn strtod_all(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if s.is_empty() {
        return Some(0.0);
    }
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if lower.len() - body.len() > 1 {
        return None;
    }
    let neg = lower.starts_with('-');
    let v = match body {
        "inf" | "infinity" => f64::INFINITY,
        b if b.starts_with("0x") => {
            let h = &b[2..];
            if h.is_empty() || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            u128::from_str_radix(h, 16).ok()? as f64
        }
        b if b.starts_with("nan") => return None,
        b => {
            if !b
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
            {
                return None;
            }
            b.parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// Writes `(member, score)` pairs: a flat array in RESP2, an array of
/// [member, score] pairs in RESP3, as Redis 7.0 answers ZRANGE WITHSCORES.
pub(crate) fn reply_pairs<'a>(
    out: &mut Reply,
    len: usize,
    withscores: bool,
    items: impl Iterator<Item = (&'a [u8], f64)>,
) {
    let nested = withscores && out.resp3;
    out.array(if withscores && !nested { len * 2 } else { len });
    for (m, s) in items {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

/// What one ZADD element did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    Updated,
    /// Processed, score unchanged.
    Same,
    /// Skipped by NX, XX, GT or LT.
    Skipped,
}

/// ZADD's options.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
    pub ch: bool,
}

/// An increment made a score NaN (`inf + -inf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NanScore;

/// Adds or updates one member as Redis's `zsetAdd`: the outcome and the
/// member's new score, or `Err` if an increment made it NaN.
pub fn add_member(
    z: &mut ZSet,
    member: &[u8],
    score: f64,
    f: AddFlags,
    limits: ZLimits,
) -> Result<(AddOutcome, f64), NanScore> {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Ok((AddOutcome::Skipped, cur));
            }
            let score = if f.incr { score + cur } else { score };
            if score.is_nan() {
                return Err(NanScore);
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Ok((AddOutcome::Skipped, cur));
            }
            if score != cur {
                z.set(member, score, limits);
                Ok((AddOutcome::Updated, score))
            } else {
                Ok((AddOutcome::Same, score))
            }
        }
        None if f.xx => Ok((AddOutcome::Skipped, score)),
        None => {
            z.set(member, score, limits);
            Ok((AddOutcome::Added, score))
        }
    }
}

fn zadd(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut f = AddFlags::default();
    let mut idx = 2;
    while idx < args.len() {
        let o = args[idx];
        if o.eq_ignore_ascii_case(b"nx") {
            f.nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            f.xx = true;
        } else if o.eq_ignore_ascii_case(b"ch") {
            f.ch = true;
        } else if o.eq_ignore_ascii_case(b"incr") {
            f.incr = true;
        } else if o.eq_ignore_ascii_case(b"gt") {
            f.gt = true;
        } else if o.eq_ignore_ascii_case(b"lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    zadd_generic(ctx, args, idx, f);
}

fn zincrby(ctx: &mut Ctx, args: &[&[u8]]) {
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    zadd_generic(ctx, args, 2, f);
}

fn zadd_generic(ctx: &mut Ctx, args: &[&[u8]], scoreidx: usize, f: AddFlags) {
    let elements = args.len() - scoreidx;
    if !elements.is_multiple_of(2) || elements == 0 {
        return ctx.error(errors::SYNTAX);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return ctx.error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 1 {
        return ctx.error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(elements);
    for j in 0..elements {
        let Some(s) = parse_score(args[scoreidx + 2 * j]) else {
            return ctx.error(errors::NOT_FLOAT);
        };
        pairs.push((s, args[scoreidx + 2 * j + 1]));
    }
    let lim = limits(ctx);
    let at = super::blocking::PushedAt::of(ctx);
    let Ok(mut latch) = ctx.keys.write(args[1]) else {
        return;
    };
    let mut fresh = match zset_of(latch.value()) {
        Ok(Some(_)) => None,
        Ok(None) if f.xx => {
            drop(latch);
            return if f.incr {
                ctx.out.null()
            } else {
                ctx.out.int(0)
            };
        }
        Ok(None) => Some(ZSet::for_first(pairs[0].1.len(), lim)),
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut score = 0.0;
    let mut nan = false;
    // A NaN result (INCR only, so a single pair) stops before any change.
    let mut apply = |z: &mut ZSet| {
        for &(s, m) in &pairs {
            match add_member(z, m, s, f, lim) {
                Err(NanScore) => {
                    nan = true;
                    break;
                }
                Ok((o, new)) => {
                    match o {
                        AddOutcome::Added => added += 1,
                        AddOutcome::Updated => updated += 1,
                        _ => {}
                    }
                    if o != AddOutcome::Skipped {
                        processed += 1;
                    }
                    score = new;
                }
            }
        }
        added + updated > 0
    };
    let changed = match fresh.as_mut() {
        Some(z) => apply(z),
        None => latch
            .update(|v| match v {
                Value::ZSet(z) => apply(z),
                _ => false,
            })
            .unwrap_or(false),
    };
    if changed {
        if let Some(z) = fresh {
            publish(&mut latch, z);
        }
        super::zset_blocking::serve_pushed(ctx.shared, ctx.client, at, &mut latch);
    }
    drop(latch);
    if nan {
        ctx.error(NAN_RESULT);
    } else if f.incr {
        if processed > 0 {
            ctx.out.double(score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
}

fn zrem(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(latch) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = latch else {
        return ctx.out.int(0);
    };
    if let Err(e) = zset_of(latch.value()) {
        drop(latch);
        return ctx.error(e);
    }
    let mut removed = 0;
    let mut empty = false;
    latch.update(|v| {
        let Value::ZSet(z) = v else { return false };
        for m in &args[2..] {
            if z.remove(m).is_some() {
                removed += 1;
            }
            if z.is_empty() {
                break;
            }
        }
        empty = z.is_empty();
        removed > 0
    });
    if empty {
        latch.delete();
    }
    drop(latch);
    ctx.out.int(removed);
}

/// Runs `f` on the sorted set at `args[1]` read lock-free (`None`: no
/// such key); WRONGTYPE is answered here.
fn with_zset(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&mut Reply, Option<&ZSet>)) {
    let Ok(view) = ctx.keys.read(key) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    match zset_of(view.as_ref().map(|v| v.value())) {
        Ok(z) => f(ctx.out, z),
        Err(e) => ctx.out.error(e),
    }
}

fn zcard(ctx: &mut Ctx, args: &[&[u8]]) {
    with_zset(ctx, args[1], |out, z| {
        out.int(z.map_or(0, ZSet::len) as i64)
    });
}

fn zscore(ctx: &mut Ctx, args: &[&[u8]]) {
    with_zset(ctx, args[1], |out, z| {
        match z.and_then(|z| z.score(args[2])) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    });
}

fn zmscore(ctx: &mut Ctx, args: &[&[u8]]) {
    with_zset(ctx, args[1], |out, z| {
        out.array(args.len() - 2);
        for m in &args[2..] {
            match z.and_then(|z| z.score(m)) {
                Some(s) => out.double(s),
                None => out.null(),
            }
        }
    });
}

fn zrank(ctx: &mut Ctx, args: &[&[u8]]) {
    rank_generic(ctx, args, false);
}

fn zrevrank(ctx: &mut Ctx, args: &[&[u8]]) {
    rank_generic(ctx, args, true);
}

fn rank_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) {
    with_zset(ctx, args[1], |out, z| {
        match z.and_then(|z| z.rank(args[2]).map(|(r, _)| (r, z.len()))) {
            Some((r, len)) => out.int(if rev { len - 1 - r } else { r } as i64),
            None => out.null(),
        }
    });
}

/// Removes and returns up to `count` entries from the low end (`max`
/// false) or the high end of `z`, in pop order. For ZPOPMIN/ZPOPMAX/ZMPOP
/// and the blocking variants, on a clone of a latched sorted set that is
/// then [`publish`]ed.
pub fn pop_entries(z: &mut ZSet, count: usize, max: bool) -> Vec<(SmallBytes, f64)> {
    let n = count.min(z.len());
    (0..n).map_while(|_| z.pop(max)).collect()
}

fn zpopmin(ctx: &mut Ctx, args: &[&[u8]]) {
    zpop_generic(ctx, args, false);
}

fn zpopmax(ctx: &mut Ctx, args: &[&[u8]]) {
    zpop_generic(ctx, args, true);
}

fn zpop_generic(ctx: &mut Ctx, args: &[&[u8]], max: bool) {
    if args.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match crate::util::num::parse_i64(a) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return ctx.error(MUST_BE_POSITIVE),
        },
    };
    let Ok(latch) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = latch else {
        return ctx.out.array(0);
    };
    if let Err(e) = zset_of(latch.value()) {
        drop(latch);
        return ctx.error(e);
    }
    if count == Some(0) {
        drop(latch);
        return ctx.out.array(0);
    }
    let n = count.unwrap_or(1).min(usize::MAX as u64) as usize;
    let popped = pop_latched(&mut latch, n, max);
    drop(latch);
    let nested = ctx.out.resp3 && count.is_some();
    if nested {
        ctx.out.array(popped.len());
    } else {
        ctx.out.array(popped.len() * 2);
    }
    for (m, s) in &popped {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count], parsed from
/// `numkeys_idx` (1 for ZMPOP, 2 for BZMPOP): the keys, whether MAX, and
/// the count; or the error to reply.
pub fn parse_zmpop<'a>(
    args: &[&'a [u8]],
    numkeys_idx: usize,
) -> Result<(Vec<&'a [u8]>, bool, usize), &'static str> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    const COUNT: &str = "ERR count should be greater than 0";
    let numkeys = match crate::util::num::parse_i64(args[numkeys_idx]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(NUMKEYS),
    };
    let where_idx = (numkeys_idx as u64 + 1).saturating_add(numkeys);
    if where_idx >= args.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let max = if args[where_idx].eq_ignore_ascii_case(b"min") {
        false
    } else if args[where_idx].eq_ignore_ascii_case(b"max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count: Option<u64> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            match crate::util::num::parse_i64(args[j + 1]) {
                Some(n) if n >= 1 => count = Some(n as u64),
                _ => return Err(COUNT),
            }
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let count = count.unwrap_or(1).min(usize::MAX as u64) as usize;
    Ok((args[numkeys_idx + 1..where_idx].to_vec(), max, count))
}

/// Replies `[key, [[member, score], ...]]` (ZMPOP, BZMPOP).
pub fn reply_mpop(out: &mut crate::protocol::Reply, key: &[u8], popped: &[(SmallBytes, f64)]) {
    out.array(2);
    out.bulk(key);
    out.array(popped.len());
    for (m, s) in popped {
        out.array(2);
        out.bulk(m);
        out.double(*s);
    }
}

fn zmpop(ctx: &mut Ctx, args: &[&[u8]]) {
    let (keys, max, count) = match parse_zmpop(args, 1) {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    for key in &keys {
        let Ok(latch) = ctx.keys.write_existing(key) else {
            return;
        };
        let Some(mut latch) = latch else {
            continue;
        };
        match zset_of(latch.value()) {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(e) => {
                drop(latch);
                return ctx.error(e);
            }
        }
        let popped = pop_latched(&mut latch, count, max);
        drop(latch);
        return reply_mpop(ctx.out, key, &popped);
    }
    ctx.out.null_array();
}

fn zrandmember(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut count = None;
    let mut withscores = false;
    if args.len() >= 3 {
        match crate::util::num::parse_i64(args[2]) {
            None => return ctx.error(errors::NOT_INTEGER),
            Some(i64::MIN) => return ctx.error(RANDMEMBER_RANGE),
            Some(n) => count = Some(n),
        }
        if args.len() > 4 || (args.len() == 4 && !args[3].eq_ignore_ascii_case(b"withscores")) {
            return ctx.error(errors::SYNTAX);
        }
        if args.len() == 4 {
            withscores = true;
            let n = count.unwrap_or(0);
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
                return ctx.error("ERR value is out of range");
            }
        }
    }
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    let z = match zset_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(z)) => z,
        Ok(None) => {
            return match count {
                None => ctx.out.null(),
                Some(_) => ctx.out.array(0),
            };
        }
        Err(e) => return ctx.out.error(e),
    };
    let mut rng = rand::rng();
    let len = z.len();
    let Some(count) = count else {
        let (m, _) = z
            .get(rng.random_range(0..len))
            .expect("a live zset is not empty");
        return ctx.out.bulk(m);
    };
    if count == 0 {
        return ctx.out.array(0);
    }
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        let picks = (0..n).map(|_| z.get(rng.random_range(0..len)).expect("in range"));
        return reply_pairs(ctx.out, n, withscores, picks);
    }
    let n = count as usize;
    if n >= len {
        // Redis walks the whole sorted set from the highest entry down.
        return reply_pairs(ctx.out, len, withscores, z.iter_from(len - 1, true));
    }
    // Distinct ranks: a partial shuffle of all ranks when many are asked,
    // rejection sampling otherwise.
    let ranks: Vec<usize> = if n.saturating_mul(3) > len {
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..n {
            let j = rng.random_range(i..len);
            all.swap(i, j);
        }
        all.truncate(n);
        all
    } else {
        let mut seen = std::collections::HashSet::with_capacity(n);
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let r = rng.random_range(0..len);
            if seen.insert(r) {
                v.push(r);
            }
        }
        v
    };
    let picks = ranks.into_iter().map(|r| z.get(r).expect("in range"));
    reply_pairs(ctx.out, n, withscores, picks);
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. A listpack is returned
/// whole with cursor 0, as Redis does; a skiplist is walked in member-hash
/// order, the cursor being the next hash. Scores are written as Redis's
/// `d2string` writes them.
fn zscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = parse_cursor(args[2]) else {
        return ctx.error("ERR invalid cursor");
    };
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    let z = match zset_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(z)) => z,
        Ok(None) => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            return ctx.out.array(0);
        }
        Err(e) => return ctx.out.error(e),
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if args[i].eq_ignore_ascii_case(b"count") && has_value {
            let Some(n) = crate::util::num::parse_i64(args[i + 1]) else {
                return ctx.out.error(errors::NOT_INTEGER);
            };
            if n < 1 {
                return ctx.out.error(errors::SYNTAX);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args[i].eq_ignore_ascii_case(b"match") && has_value {
            pattern = Some(args[i + 1]).filter(|p| *p != b"*");
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
        i += 2;
    }
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut keep = |m: &[u8], s: f64| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            found.push((m.to_vec(), s));
        }
    };
    let next = match z {
        ZSet::Listpack(_) => {
            for (m, s) in z.iter() {
                keep(m, s);
            }
            0
        }
        ZSet::Skiplist(_) => z.scan_skiplist(cursor, count, keep),
    };
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for (m, s) in &found {
        ctx.out.bulk(m);
        ctx.out.bulk(score_string(*s).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"0e-400"), Some(0.0));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"abc"), None);
        assert_eq!(strtod_all(b""), Some(0.0));
        assert_eq!(strtod_all(b" 2"), Some(2.0));
    }
}
