//! Hash commands: HSET and friends, counters, HRANDFIELD and HSCAN.
//!
//! Keys are reached only through `ctx.keys` (`commands::access`). A hash is
//! copy-on-write like a string (see `types::hash`): a writer clones the hash
//! it latched (a listpack is one small buffer, a table is cloned in O(1) and
//! only the changed path is copied), changes the clone and publishes it; a
//! hash whose last field goes is deleted. Encoding conversions follow the
//! live `hash-max-listpack-*` settings at the points Redis converts.

use super::flags::*;
use super::key_flags::*;
use super::keys::{count_lookups, parse_cursor};
use super::{acl, errors, Command, Ctx, KeySpec, KeySpecEntry};
use crate::protocol::Reply;
use crate::types::{Hash, HashLimits, Value};
use crate::util::glob::glob_match;
use crate::util::xfloat::LongDouble;

const G: &str = "hash";

const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
const INCR_NAN: &str = "ERR value is NaN or Infinity";
const RESULT_NAN: &str = "ERR increment would produce NaN or Infinity";
const OUT_OF_RANGE: &str = "ERR value is out of range";
const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

const FAST_WRITE: u64 = WRITE | DENYOOM | FAST;
const WRITE_ACL: u64 = acl::WRITE | acl::HASH | acl::FAST;
const READ_FAST_ACL: u64 = acl::READ | acl::HASH | acl::FAST;
const READ_SLOW_ACL: u64 = acl::READ | acl::HASH | acl::SLOW;
const NONDETERMINISTIC_ORDER: &[&str] = &["nondeterministic_output_order"];
const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

const KEY_RW_UPDATE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | UPDATE)];
const KEY_RW_INSERT: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | INSERT)];
const KEY_RW_DELETE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | DELETE)];
const KEY_RW_ACCESS_UPDATE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | UPDATE)];
const KEY_RO: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO)];
const KEY_RO_ACCESS: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO | ACCESS)];

const ALL_COMPLEXITY: &str = "O(N) where N is the size of the hash.";

pub static COMMANDS: &[Command] = &[
    Command::new("hset", -4, FAST_WRITE, KeySpec::one(1), WRITE_ACL, hset)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "2.0.0", "Set the string value of a hash field", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    Command::new("hsetnx", 4, FAST_WRITE, KeySpec::one(1), WRITE_ACL, hsetnx)
        .key_specs(KEY_RW_INSERT)
        .doc(G, "2.0.0", "Set the value of a hash field, only if the field does not exist", "O(1)"),
    Command::new("hmset", -4, FAST_WRITE, KeySpec::one(1), WRITE_ACL, hmset)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "2.0.0", "Set multiple hash fields to multiple values", "O(N) where N is the number of fields being set."),
    Command::new("hget", 3, READONLY | FAST, KeySpec::one(1), READ_FAST_ACL, hget)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.0.0", "Get the value of a hash field", "O(1)"),
    Command::new("hmget", -3, READONLY | FAST, KeySpec::one(1), READ_FAST_ACL, hmget)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.0.0", "Get the values of all the given hash fields", "O(N) where N is the number of fields being requested."),
    Command::new("hdel", -3, WRITE | FAST, KeySpec::one(1), WRITE_ACL, hdel)
        .key_specs(KEY_RW_DELETE)
        .doc(G, "2.0.0", "Delete one or more hash fields", "O(N) where N is the number of fields to be removed."),
    Command::new("hexists", 3, READONLY | FAST, KeySpec::one(1), READ_FAST_ACL, hexists)
        .key_specs(KEY_RO)
        .doc(G, "2.0.0", "Determine if a hash field exists", "O(1)"),
    Command::new("hlen", 2, READONLY | FAST, KeySpec::one(1), READ_FAST_ACL, hlen)
        .key_specs(KEY_RO)
        .doc(G, "2.0.0", "Get the number of fields in a hash", "O(1)"),
    Command::new("hstrlen", 3, READONLY | FAST, KeySpec::one(1), READ_FAST_ACL, hstrlen)
        .key_specs(KEY_RO)
        .doc(G, "3.2.0", "Get the length of the value of a hash field", "O(1)"),
    Command::new("hkeys", 2, READONLY, KeySpec::one(1), READ_SLOW_ACL, hkeys)
        .key_specs(KEY_RO_ACCESS)
        .tips(NONDETERMINISTIC_ORDER)
        .doc(G, "2.0.0", "Get all the fields in a hash", ALL_COMPLEXITY),
    Command::new("hvals", 2, READONLY, KeySpec::one(1), READ_SLOW_ACL, hvals)
        .key_specs(KEY_RO_ACCESS)
        .tips(NONDETERMINISTIC_ORDER)
        .doc(G, "2.0.0", "Get all the values in a hash", ALL_COMPLEXITY),
    Command::new("hgetall", 2, READONLY, KeySpec::one(1), READ_SLOW_ACL, hgetall)
        .key_specs(KEY_RO_ACCESS)
        .tips(NONDETERMINISTIC_ORDER)
        .doc(G, "2.0.0", "Get all the fields and values in a hash", ALL_COMPLEXITY),
    Command::new("hincrby", 4, FAST_WRITE, KeySpec::one(1), WRITE_ACL, hincrby)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "2.0.0", "Increment the integer value of a hash field by the given number", "O(1)"),
    Command::new("hincrbyfloat", 4, FAST_WRITE, KeySpec::one(1), WRITE_ACL, hincrbyfloat)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "2.6.0", "Increment the float value of a hash field by the given amount", "O(1)"),
    Command::new("hrandfield", -2, READONLY, KeySpec::one(1), READ_SLOW_ACL, hrandfield)
        .key_specs(KEY_RO_ACCESS)
        .tips(NONDETERMINISTIC)
        .doc(G, "6.2.0", "Get one or multiple random fields from a hash", "O(N) where N is the number of fields returned"),
    Command::new("hscan", -3, READONLY, KeySpec::one(1), READ_SLOW_ACL, hscan)
        .key_specs(KEY_RO_ACCESS)
        .tips(NONDETERMINISTIC)
        .doc(G, "2.8.0", "Incrementally iterate hash fields and associated values", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];

/// Reads a hash value, or WRONGTYPE. `Ok(None)` = no such key.
pub(crate) fn hash_of(v: Option<&Value>) -> Result<Option<&Hash>, &'static str> {
    match v {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// The live listpack thresholds.
pub(crate) fn limits(ctx: &Ctx) -> HashLimits {
    let c = &ctx.shared.config;
    HashLimits {
        entries: c.hash_max_listpack_entries(),
        value: c.hash_max_listpack_value(),
    }
}

/// Runs `f` on the hash at `key` (a new empty one if absent) under its latch,
/// publishing the result: `f` returns `Ok(reply)` to commit, `Err` to leave
/// the key untouched. An empty result deletes the key. `None`: the access
/// was busy (inside a transaction), nothing is to be replied.
fn update<T>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> Result<T, &'static str>,
) -> Option<Result<T, &'static str>> {
    let Ok(mut latch) = ctx.keys.write(key) else {
        return None;
    };
    match hash_of(latch.value()) {
        Ok(Some(_)) => {}
        Ok(None) => {
            let mut h = Hash::new();
            let r = f(&mut h);
            if r.is_ok() && !h.is_empty() {
                latch.set(Value::Hash(h));
            }
            return Some(r);
        }
        Err(e) => return Some(Err(e)),
    }
    // `f` fails before it changes anything.
    let mut out = None;
    let mut empty = false;
    latch.update(|v| {
        let Value::Hash(h) = v else { return false };
        let r = f(h);
        let ok = r.is_ok();
        empty = h.is_empty();
        out = Some(r);
        ok
    });
    if empty && matches!(out, Some(Ok(_))) {
        latch.delete();
    }
    out
}

/// Replies with an `update` outcome; `None` (busy or nothing to reply) does nothing.
fn reply_int(ctx: &mut Ctx, r: Option<Result<i64, &'static str>>) {
    match r {
        Some(Ok(n)) => ctx.out.int(n),
        Some(Err(e)) => ctx.error(e),
        None => {}
    }
}

fn hset_generic(ctx: &mut Ctx, args: &[&[u8]], hmset: bool) {
    if args.len() % 2 == 1 {
        return ctx.error(&errors::wrong_arity(if hmset { "hmset" } else { "hset" }));
    }
    let lim = limits(ctx);
    let r = update(ctx, args[1], |h| {
        h.convert_for_args(&args[2..], lim);
        let mut created = 0;
        for pair in args[2..].chunks_exact(2) {
            created += h.set(pair[0], pair[1], lim) as i64;
        }
        Ok(created)
    });
    match r {
        Some(Ok(_)) if hmset => ctx.out.ok(),
        r => reply_int(ctx, r),
    }
}

fn hset(ctx: &mut Ctx, args: &[&[u8]]) {
    hset_generic(ctx, args, false);
}

fn hmset(ctx: &mut Ctx, args: &[&[u8]]) {
    hset_generic(ctx, args, true);
}

fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) {
    let lim = limits(ctx);
    let Ok(mut latch) = ctx.keys.write(args[1]) else {
        return;
    };
    match hash_of(latch.value()) {
        Ok(Some(h)) if h.contains(args[2]) => {
            drop(latch);
            return ctx.out.int(0);
        }
        Ok(Some(_)) => {
            latch.update(|v| {
                let Value::Hash(h) = v else { return false };
                h.convert_for_args(&args[2..4], lim);
                h.set(args[2], args[3], lim);
                true
            });
        }
        Ok(None) => {
            let mut h = Hash::new();
            h.convert_for_args(&args[2..4], lim);
            h.set(args[2], args[3], lim);
            latch.set(Value::Hash(h));
        }
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    }
    drop(latch);
    ctx.out.int(1);
}

fn hdel(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(found) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = found else {
        return ctx.out.int(0);
    };
    let h = match hash_of(latch.value()) {
        Ok(Some(h)) => h,
        Ok(None) => {
            drop(latch);
            return ctx.out.int(0);
        }
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    };
    if !args[2..].iter().any(|f| h.contains(f)) {
        drop(latch);
        return ctx.out.int(0);
    }
    let mut deleted = 0;
    let mut empty = false;
    latch.update(|v| {
        let Value::Hash(h) = v else { return false };
        for f in &args[2..] {
            deleted += h.remove(f) as i64;
            if h.is_empty() {
                break;
            }
        }
        empty = h.is_empty();
        true
    });
    if empty {
        latch.delete();
    }
    drop(latch);
    ctx.out.int(deleted);
}

/// Reads the hash at `key` for a read command and replies through `f`;
/// `missing` replies for an absent key. Counts the lookup in INFO's stats.
fn read_hash(
    ctx: &mut Ctx,
    key: &[u8],
    missing: impl FnOnce(&mut Reply),
    f: impl FnOnce(&Hash, &mut Reply),
) {
    let shared = ctx.shared;
    let Ok(view) = ctx.keys.read(key) else {
        return;
    };
    count_lookups(shared, view.is_some() as u64, view.is_none() as u64);
    match hash_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(h)) => f(h, ctx.out),
        Ok(None) => missing(ctx.out),
        Err(e) => ctx.out.error(e),
    }
}

fn hget(ctx: &mut Ctx, args: &[&[u8]]) {
    read_hash(ctx, args[1], Reply::null, |h, out| match h.get(args[2]) {
        Some(v) => out.bulk(v),
        None => out.null(),
    });
}

fn hmget(ctx: &mut Ctx, args: &[&[u8]]) {
    let fields = &args[2..];
    read_hash(
        ctx,
        args[1],
        |out| {
            out.array(fields.len());
            for _ in fields {
                out.null();
            }
        },
        |h, out| {
            out.array(fields.len());
            for f in fields {
                match h.get(f) {
                    Some(v) => out.bulk(v),
                    None => out.null(),
                }
            }
        },
    );
}

fn hexists(ctx: &mut Ctx, args: &[&[u8]]) {
    read_hash(
        ctx,
        args[1],
        |out| out.int(0),
        |h, out| out.int(h.contains(args[2]) as i64),
    );
}

fn hlen(ctx: &mut Ctx, args: &[&[u8]]) {
    read_hash(
        ctx,
        args[1],
        |out| out.int(0),
        |h, out| out.int(h.len() as i64),
    );
}

fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) {
    read_hash(
        ctx,
        args[1],
        |out| out.int(0),
        |h, out| out.int(h.get(args[2]).map_or(0, <[u8]>::len) as i64),
    );
}

fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) {
    read_hash(
        ctx,
        args[1],
        |out| out.array(0),
        |h, out| {
            out.array(h.len());
            for (f, _) in h.iter() {
                out.bulk(f);
            }
        },
    );
}

fn hvals(ctx: &mut Ctx, args: &[&[u8]]) {
    read_hash(
        ctx,
        args[1],
        |out| out.array(0),
        |h, out| {
            out.array(h.len());
            for (_, v) in h.iter() {
                out.bulk(v);
            }
        },
    );
}

fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) {
    read_hash(
        ctx,
        args[1],
        |out| out.map(0),
        |h, out| {
            out.map(h.len());
            for (f, v) in h.iter() {
                out.bulk(f);
                out.bulk(v);
            }
        },
    );
}

fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(incr) = ctx.int_arg(args[3]) else {
        return;
    };
    let lim = limits(ctx);
    let r = update(ctx, args[1], |h| {
        let cur = match h.get(args[2]) {
            Some(v) => crate::util::num::parse_i64(v).ok_or(HASH_NOT_INTEGER)?,
            None => 0,
        };
        let n = cur.checked_add(incr).ok_or(errors::OVERFLOW)?;
        h.set(args[2], itoa::Buffer::new().format(n).as_bytes(), lim);
        Ok(n)
    });
    reply_int(ctx, r);
}

/// Adds in 80-bit extended precision and formats like Redis's `ld2string`
/// (human mode), the same arithmetic as INCRBYFLOAT.
fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(incr) = LongDouble::parse(args[3]) else {
        return ctx.error(errors::NOT_FLOAT);
    };
    if !incr.is_finite() {
        return ctx.error(INCR_NAN);
    }
    let lim = limits(ctx);
    let r = update(ctx, args[1], |h| {
        let cur = match h.get(args[2]) {
            Some(v) => LongDouble::parse(v).ok_or(HASH_NOT_FLOAT)?,
            None => LongDouble::from_i64(0),
        };
        let sum = cur + incr;
        if !sum.is_finite() {
            return Err(RESULT_NAN);
        }
        let text = sum.to_human().into_bytes();
        h.set(args[2], &text, lim);
        Ok(text)
    });
    match r {
        Some(Ok(text)) => ctx.out.bulk(&text),
        Some(Err(e)) => ctx.error(e),
        None => {}
    }
}

/// HRANDFIELD key [count [WITHVALUES]].
fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() == 2 {
        return read_hash(ctx, args[1], Reply::null, |h, out| {
            match h.random(rand::random()) {
                Some((f, _)) => out.bulk(f),
                None => out.null(),
            }
        });
    }
    let Some(count) = ctx.int_arg(args[2]) else {
        return;
    };
    if count == i64::MIN {
        return ctx.error(COUNT_RANGE);
    }
    if args.len() > 4 || (args.len() == 4 && !args[3].eq_ignore_ascii_case(b"withvalues")) {
        return ctx.error(errors::SYNTAX);
    }
    let withvalues = args.len() == 4;
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return ctx.error(OUT_OF_RANGE);
    }
    read_hash(
        ctx,
        args[1],
        |out| out.array(0),
        |h, out| rand_fields(h, count, withvalues, out),
    );
}

fn rand_fields(h: &Hash, count: i64, withvalues: bool, out: &mut Reply) {
    let resp3 = out.resp3;
    let emit = |out: &mut Reply, (f, v): (&[u8], &[u8])| {
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let header = |out: &mut Reply, n: usize| {
        out.array(if withvalues && !resp3 { n * 2 } else { n });
    };
    if count == 0 || h.is_empty() {
        return out.array(0);
    }
    let n = count.unsigned_abs() as usize;
    let size = h.len();
    // Small hashes, or many picks: sample by index from all pairs (exactly
    // uniform); large ones pick through `Hash::random`.
    let by_index = matches!(h, Hash::Listpack(_))
        || size <= crate::types::hash::EXACT_RANDOM_MAX
        || n.saturating_mul(16) >= size;
    if count < 0 || n == 1 {
        // Repeats allowed: independent picks.
        header(out, n);
        if by_index {
            let all: Vec<(&[u8], &[u8])> = h.iter().collect();
            for _ in 0..n {
                emit(out, all[(rand::random::<u64>() % size as u64) as usize]);
            }
        } else {
            for _ in 0..n {
                let pair = h.random(rand::random()).expect("hash is not empty");
                emit(out, pair);
            }
        }
        return;
    }
    if n >= size {
        header(out, size);
        for pair in h.iter() {
            emit(out, pair);
        }
        return;
    }
    header(out, n);
    if by_index || n * 3 > size {
        // Distinct picks by index: a uniform sample without replacement.
        let all: Vec<(&[u8], &[u8])> = h.iter().collect();
        let mut rng = rand::rng();
        for i in rand::seq::index::sample(&mut rng, size, n) {
            emit(out, all[i]);
        }
        return;
    }
    let mut seen = std::collections::HashSet::with_capacity(n);
    while seen.len() < n {
        let pair = h.random(rand::random()).expect("hash is not empty");
        if seen.insert(pair.0) {
            emit(out, pair);
        }
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count].
fn hscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = parse_cursor(args[2]) else {
        return ctx.error("ERR invalid cursor");
    };
    let shared = ctx.shared;
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    count_lookups(shared, view.is_some() as u64, view.is_none() as u64);
    let h = match hash_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(h)) => h,
        Ok(None) => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            return ctx.out.array(0);
        }
        Err(e) => return ctx.out.error(e),
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let (opt, has_value) = (&args[i], i + 1 < args.len());
        if opt.eq_ignore_ascii_case(b"count") && has_value {
            let Some(n) = crate::util::num::parse_i64(args[i + 1]) else {
                return ctx.out.error(errors::NOT_INTEGER);
            };
            if n < 1 {
                return ctx.out.error(errors::SYNTAX);
            }
            count = n;
        } else if opt.eq_ignore_ascii_case(b"match") && has_value {
            pattern = Some(args[i + 1]).filter(|p| *p != b"*");
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
        i += 2;
    }
    let mut found: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, count as usize, |f, v| {
        if pattern.is_none_or(|p| glob_match(p, f, false)) {
            found.push((f, v));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for (f, v) in found {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
}
