//! Set commands, as Redis 7.0 answers them.
//!
//! Keys are reached only through `ctx.keys`. Sets are copy-on-write values
//! (`types::set`): a writer clones the set (cheap for a hashtable, whose
//! persistent tree is shared) and publishes the changed copy. Multi-key
//! reads read their keys as of one instant (`read_many`); the STORE
//! variants and SMOVE latch sources and destination together
//! (`write_many`).

use super::flags::*;
use super::key_flags::*;
use super::keys::{count_lookups, parse_cursor};
use super::{acl, errors, BeginSearch, Command, Ctx, FindKeys, KeySpec, KeySpecEntry};
use crate::protocol::Reply;
use crate::types::set::{Elem, Set};
use crate::types::Value;
use crate::util::glob::glob_match;
use rand::Rng;
use std::collections::HashSet;

const G: &str = "set";

const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const SRANDMEMBER_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
const TOO_MANY_KEYS: &str = "ERR Number of keys can't be greater than number of args";
const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";

const FAST_WRITE_ACL: u64 = acl::WRITE | acl::SET | acl::FAST;
const SLOW_WRITE_ACL: u64 = acl::WRITE | acl::SET | acl::SLOW;
const FAST_READ_ACL: u64 = acl::READ | acl::SET | acl::FAST;
const SLOW_READ_ACL: u64 = acl::READ | acl::SET | acl::SLOW;

const KEY_RW_INSERT: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | INSERT)];
const KEY_RW_DELETE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | DELETE)];
const KEY_RW_ACCESS_DELETE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | DELETE)];
const KEY_RO: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO)];
const KEY_RO_ACCESS: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO | ACCESS)];
const KEYS_RO_ACCESS: &[KeySpecEntry] = &[KeySpecEntry::range(1, -1, 1, RO | ACCESS)];
const SMOVE_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RW | ACCESS | DELETE),
    KeySpecEntry::one(2, RW | INSERT),
];
const SINTERSTORE_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RW | UPDATE),
    KeySpecEntry::range(2, -1, 1, RO | ACCESS),
];
const STORE_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, OW | UPDATE),
    KeySpecEntry::range(2, -1, 1, RO | ACCESS),
];
const SINTERCARD_KEYS: &[KeySpecEntry] = &[KeySpecEntry::new(
    RO | ACCESS,
    BeginSearch::Index(1),
    FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        keystep: 1,
    },
)];

const INTER_COMPLEXITY: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const TOTAL_COMPLEXITY: &str = "O(N) where N is the total number of elements in all given sets.";
const ORDER_TIPS: &[&str] = &["nondeterministic_output_order"];
const RANDOM_TIPS: &[&str] = &["nondeterministic_output"];

pub static COMMANDS: &[Command] = &[
    Command::new("sadd", -3, WRITE | DENYOOM | FAST, KeySpec::one(1), FAST_WRITE_ACL, sadd)
        .key_specs(KEY_RW_INSERT)
        .doc(G, "1.0.0", "Add one or more members to a set", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    Command::new("srem", -3, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, srem)
        .key_specs(KEY_RW_DELETE)
        .doc(G, "1.0.0", "Remove one or more members from a set", "O(N) where N is the number of members to be removed."),
    Command::new("smembers", 2, READONLY, KeySpec::one(1), SLOW_READ_ACL, smembers)
        .key_specs(KEY_RO_ACCESS)
        .tips(ORDER_TIPS)
        .doc(G, "1.0.0", "Get all the members in a set", "O(N) where N is the set cardinality."),
    Command::new("sismember", 3, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, sismember)
        .key_specs(KEY_RO)
        .doc(G, "1.0.0", "Determine if a given value is a member of a set", "O(1)"),
    Command::new("smismember", -3, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, smismember)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "6.2.0", "Returns the membership associated with the given elements for a set", "O(N) where N is the number of elements being checked for membership"),
    Command::new("scard", 2, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, scard)
        .key_specs(KEY_RO)
        .doc(G, "1.0.0", "Get the number of members in a set", "O(1)"),
    Command::new("spop", -2, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, spop)
        .key_specs(KEY_RW_ACCESS_DELETE)
        .tips(RANDOM_TIPS)
        .doc(G, "3.2.0", "Remove and return one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."),
    Command::new("srandmember", -2, READONLY, KeySpec::one(1), SLOW_READ_ACL, srandmember)
        .key_specs(KEY_RO_ACCESS)
        .tips(RANDOM_TIPS)
        .doc(G, "2.6.0", "Get one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."),
    Command::new("smove", 4, WRITE | FAST, KeySpec::range(1, 2, 1), FAST_WRITE_ACL, smove)
        .key_specs(SMOVE_KEYS)
        .doc(G, "1.0.0", "Move a member from one set to another", "O(1)"),
    Command::new("sinter", -2, READONLY, KeySpec::range(1, -1, 1), SLOW_READ_ACL, sinter)
        .key_specs(KEYS_RO_ACCESS)
        .tips(ORDER_TIPS)
        .doc(G, "1.0.0", "Intersect multiple sets", INTER_COMPLEXITY),
    Command::new("sintercard", -3, READONLY | MOVABLE_KEYS, KeySpec::NONE, SLOW_READ_ACL, sintercard)
        .key_specs(SINTERCARD_KEYS)
        .keys_with(super::table::keynum_keys::<1>)
        .doc(G, "7.0.0", "Intersect multiple sets and return the cardinality of the result", INTER_COMPLEXITY),
    Command::new("sinterstore", -3, WRITE | DENYOOM, KeySpec::range(1, -1, 1), SLOW_WRITE_ACL, sinterstore)
        .key_specs(SINTERSTORE_KEYS)
        .doc(G, "1.0.0", "Intersect multiple sets and store the resulting set in a key", INTER_COMPLEXITY),
    Command::new("sunion", -2, READONLY, KeySpec::range(1, -1, 1), SLOW_READ_ACL, sunion)
        .key_specs(KEYS_RO_ACCESS)
        .tips(ORDER_TIPS)
        .doc(G, "1.0.0", "Add multiple sets", TOTAL_COMPLEXITY),
    Command::new("sunionstore", -3, WRITE | DENYOOM, KeySpec::range(1, -1, 1), SLOW_WRITE_ACL, sunionstore)
        .key_specs(STORE_KEYS)
        .doc(G, "1.0.0", "Add multiple sets and store the resulting set in a key", TOTAL_COMPLEXITY),
    Command::new("sdiff", -2, READONLY, KeySpec::range(1, -1, 1), SLOW_READ_ACL, sdiff)
        .key_specs(KEYS_RO_ACCESS)
        .tips(ORDER_TIPS)
        .doc(G, "1.0.0", "Subtract multiple sets", TOTAL_COMPLEXITY),
    Command::new("sdiffstore", -3, WRITE | DENYOOM, KeySpec::range(1, -1, 1), SLOW_WRITE_ACL, sdiffstore)
        .key_specs(STORE_KEYS)
        .doc(G, "1.0.0", "Subtract multiple sets and store the resulting set in a key", TOTAL_COMPLEXITY),
    Command::new("sscan", -3, READONLY, KeySpec::one(1), SLOW_READ_ACL, sscan)
        .key_specs(KEY_RO_ACCESS)
        .tips(RANDOM_TIPS)
        .doc(G, "2.8.0", "Incrementally iterate Set elements", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];

/// Reads a set value, or WRONGTYPE. `Ok(None)` = no such key.
pub(crate) fn set_of(v: Option<&Value>) -> Result<Option<&Set>, &'static str> {
    match v {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

fn max_intset(ctx: &Ctx) -> u64 {
    ctx.shared.config.set_max_intset_entries()
}

fn lookup_hit(shared: &crate::server::Shared, hit: bool) {
    count_lookups(shared, hit as u64, !hit as u64);
}

fn bulk_elem(out: &mut Reply, e: Elem<'_>) {
    match e {
        Elem::Int(i) => out.bulk_int(i),
        Elem::Bytes(b) => out.bulk(b),
    }
}

/// Replies with every member of `set` as a set (RESP3) or array.
fn reply_members(out: &mut Reply, set: &Set) {
    out.set(set.len());
    for e in set.iter() {
        bulk_elem(out, e);
    }
}

fn sadd(ctx: &mut Ctx, args: &[&[u8]]) {
    let max = max_intset(ctx);
    let Ok(mut latch) = ctx.keys.write(args[1]) else {
        return;
    };
    let mut added = 0;
    match set_of(latch.value()) {
        Ok(Some(_)) => {
            latch.update(|v| {
                let Value::Set(set) = v else { return false };
                added = args[2..].iter().filter(|m| set.insert(m, max)).count();
                added > 0
            });
        }
        Ok(None) => {
            let mut set = Set::for_first(args[2]);
            added = args[2..].iter().filter(|m| set.insert(m, max)).count();
            latch.set(Value::Set(set));
        }
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    }
    drop(latch);
    ctx.out.int(added as i64);
}

/// Publishes `set` under the latch, or deletes the key if it is empty.
fn store_or_delete(latch: &mut crate::store::Locked<'_>, set: Set) {
    if set.is_empty() {
        latch.delete();
    } else {
        latch.set(Value::Set(set));
    }
}

fn srem(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(latch) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = latch else {
        return ctx.out.int(0);
    };
    if let Err(e) = set_of(latch.value()) {
        drop(latch);
        return ctx.error(e);
    }
    let mut removed = 0;
    let mut empty = false;
    latch.update(|v| {
        let Value::Set(set) = v else { return false };
        removed = args[2..].iter().filter(|m| set.remove(m)).count();
        empty = set.is_empty();
        removed > 0
    });
    if empty {
        latch.delete();
    }
    drop(latch);
    ctx.out.int(removed as i64);
}

fn smembers(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    match set_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(s)) => reply_members(ctx.out, s),
        Ok(None) => ctx.out.set(0),
        Err(e) => ctx.out.error(e),
    }
}

fn sismember(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    match set_of(view.as_ref().map(|v| v.value())) {
        Ok(s) => ctx.out.int(s.is_some_and(|s| s.contains(args[2])) as i64),
        Err(e) => ctx.out.error(e),
    }
}

fn smismember(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    match set_of(view.as_ref().map(|v| v.value())) {
        Ok(s) => {
            ctx.out.array(args.len() - 2);
            for m in &args[2..] {
                ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
            }
        }
        Err(e) => ctx.out.error(e),
    }
}

fn scard(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    match set_of(view.as_ref().map(|v| v.value())) {
        Ok(s) => ctx.out.int(s.map_or(0, Set::len) as i64),
        Err(e) => ctx.out.error(e),
    }
}

/// `count` distinct random members of `set` (`count` < its size).
fn sample_distinct(set: &Set, count: usize) -> Vec<Vec<u8>> {
    let mut rng = rand::rng();
    if count.saturating_mul(3) > set.len() || set.sample_from_list() {
        // Many of them: shuffle all members and take a prefix.
        let mut all: Vec<Vec<u8>> = set.iter().map(Elem::to_vec).collect();
        for i in 0..count {
            let j = rng.random_range(i..all.len());
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(count);
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let e = set.random(rng.random()).expect("set is not empty").to_vec();
        if seen.insert(e.clone()) {
            picked.push(e);
        }
    }
    picked
}

fn spop(ctx: &mut Ctx, args: &[&[u8]]) {
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
        return match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        };
    };
    let len = match set_of(latch.value()) {
        Ok(Some(s)) => s.len() as u64,
        Ok(None) => unreachable!("write_existing hands out live keys"),
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    };
    match count {
        None => {
            let mut m = Vec::new();
            let mut empty = false;
            latch.update(|v| {
                let Value::Set(set) = v else { return false };
                m = set
                    .random(rand::random())
                    .expect("a live set is not empty")
                    .to_vec();
                set.remove(&m);
                empty = set.is_empty();
                true
            });
            if empty {
                latch.delete();
            }
            drop(latch);
            ctx.out.bulk(&m);
        }
        Some(0) => {
            drop(latch);
            ctx.out.set(0);
        }
        Some(n) if n >= len => {
            if let Ok(Some(set)) = set_of(latch.value()) {
                reply_members(ctx.out, set);
            }
            latch.delete();
            drop(latch);
        }
        Some(n) => {
            let Ok(Some(set)) = set_of(latch.value()) else {
                unreachable!("a set was checked above")
            };
            let picked = sample_distinct(set, n as usize);
            latch.update(|v| {
                let Value::Set(set) = v else { return false };
                for m in &picked {
                    set.remove(m);
                }
                true
            });
            drop(latch);
            ctx.out.set(picked.len());
            for m in &picked {
                ctx.out.bulk(m);
            }
        }
    }
}

fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match crate::util::num::parse_i64(a) {
            None => return ctx.error(errors::NOT_INTEGER),
            Some(i64::MIN) => return ctx.error(SRANDMEMBER_RANGE),
            Some(n) => Some(n),
        },
    };
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    let set = match set_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return match count {
                None => ctx.out.null(),
                Some(_) => ctx.out.array(0),
            };
        }
        Err(e) => return ctx.out.error(e),
    };
    let mut rng = rand::rng();
    match count {
        None => bulk_elem(
            ctx.out,
            set.random(rng.random()).expect("a live set is not empty"),
        ),
        Some(0) => ctx.out.array(0),
        Some(n) if n < 0 => {
            let n = n.unsigned_abs() as usize;
            ctx.out.array(n);
            if set.sample_from_list() {
                let all: Vec<Elem<'_>> = set.iter().collect();
                for _ in 0..n {
                    bulk_elem(ctx.out, all[rng.random_range(0..all.len())]);
                }
            } else {
                for _ in 0..n {
                    bulk_elem(ctx.out, set.random(rng.random()).expect("not empty"));
                }
            }
        }
        Some(n) if n as u64 >= set.len() as u64 => {
            ctx.out.array(set.len());
            for e in set.iter() {
                bulk_elem(ctx.out, e);
            }
        }
        Some(n) => {
            let picked = sample_distinct(set, n as usize);
            ctx.out.array(picked.len());
            for m in &picked {
                ctx.out.bulk(m);
            }
        }
    }
}

fn smove(ctx: &mut Ctx, args: &[&[u8]]) {
    let max = max_intset(ctx);
    let member = args[3];
    let Ok(mut latches) = ctx.keys.write_many(&args[1..3]) else {
        return;
    };
    let (src, dst) = {
        let src = set_of(latches.nth_ref(0).value());
        let dst = set_of(latches.nth_ref(1).value());
        match (src, dst) {
            (Ok(None), _) => {
                drop(latches);
                return ctx.out.int(0);
            }
            (Err(e), _) | (_, Err(e)) => {
                drop(latches);
                return ctx.error(e);
            }
            (Ok(Some(s)), Ok(d)) => {
                if args[1] == args[2] {
                    let found = s.contains(member);
                    drop(latches);
                    return ctx.out.int(found as i64);
                }
                (s.clone(), d.cloned())
            }
        }
    };
    let mut src = src;
    if !src.remove(member) {
        drop(latches);
        return ctx.out.int(0);
    }
    let mut dst = dst.unwrap_or_else(|| Set::for_first(member));
    dst.insert(member, max);
    store_or_delete(latches.nth(0), src);
    latches.nth(1).set(Value::Set(dst));
    drop(latches);
    ctx.out.int(1);
}

/// The intersection of `sets` in the order of the smallest one, stopping
/// after `limit` members (0: no limit). `None` among them is an empty set.
fn intersect<'s>(sets: &[Option<&'s Set>], limit: usize) -> Vec<Elem<'s>> {
    let mut sets: Vec<&Set> = match sets.iter().copied().collect::<Option<Vec<_>>>() {
        Some(v) => v,
        None => return Vec::new(),
    };
    sets.sort_by_key(|s| s.len());
    let mut out = Vec::new();
    for e in sets[0].iter() {
        if sets[1..].iter().all(|s| s.contains_elem(e)) {
            out.push(e);
            if out.len() == limit {
                break;
            }
        }
    }
    out
}

/// Union (`diff` false) or difference of `sets`, built as Redis 7.0 builds
/// its result: an intset converted as members make it necessary.
fn union_or_diff(sets: &[Option<&Set>], diff: bool, max: u64) -> Set {
    let mut out = Set::default();
    if diff {
        if let Some(Some(first)) = sets.first() {
            for e in first.iter() {
                if !sets[1..].iter().flatten().any(|s| s.contains_elem(e)) {
                    out.insert_elem(e, max);
                }
            }
        }
    } else {
        for s in sets.iter().flatten() {
            for e in s.iter() {
                out.insert_elem(e, max);
            }
        }
    }
    out
}

/// The source sets of a multi-key command, or WRONGTYPE.
fn sources<'v>(
    values: impl Iterator<Item = Option<&'v Value>>,
) -> Result<Vec<Option<&'v Set>>, &'static str> {
    values.map(set_of).collect()
}

fn sinter(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(values) = ctx.keys.read_many(&args[1..]) else {
        return;
    };
    let found = values.found();
    count_lookups(ctx.shared, found as u64, (values.len() - found) as u64);
    match sources((0..values.len()).map(|i| values.get(i))) {
        Ok(sets) => {
            let members = intersect(&sets, 0);
            ctx.out.set(members.len());
            for e in members {
                bulk_elem(ctx.out, e);
            }
        }
        Err(e) => ctx.out.error(e),
    }
}

fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) {
    let numkeys = match crate::util::num::parse_i64(args[1]) {
        Some(n) if n > 0 => n as u64,
        _ => return ctx.error(NUMKEYS_POSITIVE),
    };
    if numkeys > (args.len() - 2) as u64 {
        return ctx.error(TOO_MANY_KEYS);
    }
    let keys = &args[2..2 + numkeys as usize];
    let mut limit = 0usize;
    let mut i = 2 + numkeys as usize;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"limit") && i + 1 < args.len() {
            match crate::util::num::parse_i64(args[i + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return ctx.error(LIMIT_NEGATIVE),
            }
            i += 2;
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let Ok(values) = ctx.keys.read_many(keys) else {
        return;
    };
    let found = values.found();
    count_lookups(ctx.shared, found as u64, (values.len() - found) as u64);
    match sources((0..values.len()).map(|i| values.get(i))) {
        Ok(sets) => ctx.out.int(intersect(&sets, limit).len() as i64),
        Err(e) => ctx.out.error(e),
    }
}

fn sunion(ctx: &mut Ctx, args: &[&[u8]]) {
    union_diff_reply(ctx, args, false);
}

fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) {
    union_diff_reply(ctx, args, true);
}

fn union_diff_reply(ctx: &mut Ctx, args: &[&[u8]], diff: bool) {
    let max = max_intset(ctx);
    let Ok(values) = ctx.keys.read_many(&args[1..]) else {
        return;
    };
    let found = values.found();
    count_lookups(ctx.shared, found as u64, (values.len() - found) as u64);
    let result = match sources((0..values.len()).map(|i| values.get(i))) {
        Ok(sets) => union_or_diff(&sets, diff, max),
        Err(e) => return ctx.out.error(e),
    };
    drop(values);
    reply_members(ctx.out, &result);
}

/// Which operation a STORE command performs.
#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

fn store_generic(ctx: &mut Ctx, args: &[&[u8]], op: SetOp) {
    let max = max_intset(ctx);
    let Ok(mut latches) = ctx.keys.write_many(&args[1..]) else {
        return;
    };
    let n = latches.len();
    let result = match sources((1..n).map(|i| latches.nth_ref(i).value())) {
        Ok(sets) => match op {
            SetOp::Inter => {
                let mut out = Set::default();
                for e in intersect(&sets, 0) {
                    out.insert_elem(e, max);
                }
                out
            }
            SetOp::Union => union_or_diff(&sets, false, max),
            SetOp::Diff => union_or_diff(&sets, true, max),
        },
        Err(e) => {
            drop(latches);
            return ctx.error(e);
        }
    };
    let len = result.len();
    let dst = latches.nth(0);
    if len == 0 {
        dst.delete();
    } else {
        dst.set_with_expire(Value::Set(result), None);
    }
    drop(latches);
    ctx.out.int(len as i64);
}

fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) {
    store_generic(ctx, args, SetOp::Inter);
}

fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) {
    store_generic(ctx, args, SetOp::Union);
}

fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) {
    store_generic(ctx, args, SetOp::Diff);
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]. An intset is returned
/// whole with cursor 0, as Redis does; a hashtable is walked in hash order,
/// the cursor being the next hash, so a member present for the whole scan
/// is returned however the set changes between calls.
fn sscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = parse_cursor(args[2]) else {
        return ctx.error("ERR invalid cursor");
    };
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    let set = match set_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(s)) => s,
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
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut keep = |m: &[u8]| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            found.push(m.to_vec());
        }
    };
    let next = match set {
        Set::Ints(..) => {
            for e in set.iter() {
                e.with_bytes(&mut keep);
            }
            0
        }
        Set::Table(_) => set.scan_table(cursor, count, keep),
    };
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for m in &found {
        ctx.out.bulk(m);
    }
}
