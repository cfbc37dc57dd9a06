//! List commands (the non-blocking ones), as Redis 7.0 answers them.
//!
//! Keys are reached only through `ctx.keys`. Lists are copy-on-write values
//! (`types::list`): a writer clones the list (O(1): its node vector is
//! persistent), changes the nodes it touches and publishes the copy under
//! the key's latch.
//!
//! The pop, push and move cores are small pub functions over latched keys
//! ([`pop_latched`], [`push_latched`], [`move_latched`]) so the blocking
//! commands can serve a blocked client with the same code. Every writing
//! handler publishes its key's new value in one place, marked
//! "publish point": a call serving clients blocked on the key goes right
//! after it, while the latch is still held.

use super::flags::*;
use super::key_flags::*;
use super::keys::count_lookups;
use super::{acl, errors, BeginSearch, Command, Ctx, FindKeys, KeySpec, KeySpecEntry};
use crate::protocol::Reply;
use crate::store::Locked;
use crate::types::list::{End, List};
use crate::types::set::Elem;
use crate::types::Value;

const G: &str = "list";

const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const OUT_OF_RANGE: &str = "ERR index out of range";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
const MPOP_COUNT_POSITIVE: &str = "ERR count should be greater than 0";

const FAST_WRITE_ACL: u64 = acl::WRITE | acl::LIST | acl::FAST;
const SLOW_WRITE_ACL: u64 = acl::WRITE | acl::LIST | acl::SLOW;
const FAST_READ_ACL: u64 = acl::READ | acl::LIST | acl::FAST;
const SLOW_READ_ACL: u64 = acl::READ | acl::LIST | acl::SLOW;

const KEY_RW_INSERT: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | INSERT)];
const KEY_RW_ACCESS_DELETE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | DELETE)];
const KEY_RW_DELETE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | DELETE)];
const KEY_RW_UPDATE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | UPDATE)];
const KEY_RO: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO)];
const KEY_RO_ACCESS: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO | ACCESS)];
const MOVE_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RW | ACCESS | DELETE),
    KeySpecEntry::one(2, RW | INSERT),
];
const LMPOP_KEYS: &[KeySpecEntry] = &[KeySpecEntry::new(
    RW | ACCESS | DELETE,
    BeginSearch::Index(1),
    FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        keystep: 1,
    },
)];

const PUSH_COMPLEXITY: &str = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";

pub static COMMANDS: &[Command] = &[
    Command::new("lpush", -3, WRITE | DENYOOM | FAST, KeySpec::one(1), FAST_WRITE_ACL, lpush)
        .key_specs(KEY_RW_INSERT)
        .doc(G, "1.0.0", "Prepend one or multiple elements to a list", PUSH_COMPLEXITY),
    Command::new("rpush", -3, WRITE | DENYOOM | FAST, KeySpec::one(1), FAST_WRITE_ACL, rpush)
        .key_specs(KEY_RW_INSERT)
        .doc(G, "1.0.0", "Append one or multiple elements to a list", PUSH_COMPLEXITY),
    Command::new("lpushx", -3, WRITE | DENYOOM | FAST, KeySpec::one(1), FAST_WRITE_ACL, lpushx)
        .key_specs(KEY_RW_INSERT)
        .doc(G, "2.2.0", "Prepend an element to a list, only if the list exists", PUSH_COMPLEXITY),
    Command::new("rpushx", -3, WRITE | DENYOOM | FAST, KeySpec::one(1), FAST_WRITE_ACL, rpushx)
        .key_specs(KEY_RW_INSERT)
        .doc(G, "2.2.0", "Append an element to a list, only if the list exists", PUSH_COMPLEXITY),
    Command::new("lpop", -2, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, lpop)
        .key_specs(KEY_RW_ACCESS_DELETE)
        .doc(G, "1.0.0", "Remove and get the first elements in a list", "O(N) where N is the number of elements returned"),
    Command::new("rpop", -2, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, rpop)
        .key_specs(KEY_RW_ACCESS_DELETE)
        .doc(G, "1.0.0", "Remove and get the last elements in a list", "O(N) where N is the number of elements returned"),
    Command::new("llen", 2, READONLY | FAST, KeySpec::one(1), FAST_READ_ACL, llen)
        .key_specs(KEY_RO)
        .doc(G, "1.0.0", "Get the length of a list", "O(1)"),
    Command::new("lindex", 3, READONLY, KeySpec::one(1), SLOW_READ_ACL, lindex)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.0.0", "Get an element from a list by its index", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    Command::new("lset", 4, WRITE | DENYOOM, KeySpec::one(1), SLOW_WRITE_ACL, lset)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "1.0.0", "Set the value of an element in a list by its index", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    Command::new("lrange", 4, READONLY, KeySpec::one(1), SLOW_READ_ACL, lrange)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.0.0", "Get a range of elements from a list", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    Command::new("ltrim", 4, WRITE, KeySpec::one(1), SLOW_WRITE_ACL, ltrim)
        .key_specs(KEY_RW_DELETE)
        .doc(G, "1.0.0", "Trim a list to the specified range", "O(N) where N is the number of elements to be removed by the operation."),
    Command::new("lrem", 4, WRITE, KeySpec::one(1), SLOW_WRITE_ACL, lrem)
        .key_specs(KEY_RW_DELETE)
        .doc(G, "1.0.0", "Remove elements from a list", "O(N+M) where N is the length of the list and M is the number of elements removed."),
    Command::new("linsert", 5, WRITE | DENYOOM, KeySpec::one(1), SLOW_WRITE_ACL, linsert)
        .key_specs(KEY_RW_INSERT)
        .doc(G, "2.2.0", "Insert an element before or after another element in a list", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    Command::new("lpos", -3, READONLY, KeySpec::one(1), SLOW_READ_ACL, lpos)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "6.0.6", "Return the index of matching elements on a list", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    Command::new("lmove", 5, WRITE | DENYOOM, KeySpec::range(1, 2, 1), SLOW_WRITE_ACL, lmove)
        .key_specs(MOVE_KEYS)
        .doc(G, "6.2.0", "Pop an element from a list, push it to another list and return it", "O(1)"),
    Command::new("rpoplpush", 3, WRITE | DENYOOM, KeySpec::range(1, 2, 1), SLOW_WRITE_ACL, rpoplpush)
        .key_specs(MOVE_KEYS)
        .doc(G, "1.2.0", "Remove the last element in a list, prepend it to another list and return it", "O(1)"),
    Command::new("lmpop", -4, WRITE | MOVABLE_KEYS, KeySpec::NONE, SLOW_WRITE_ACL, lmpop)
        .key_specs(LMPOP_KEYS)
        .keys_with(super::table::keynum_keys::<1>)
        .doc(G, "7.0.0", "Pop elements from a list", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

/// Reads a list value, or WRONGTYPE. `Ok(None)` = no such key.
pub fn list_of(v: Option<&Value>) -> Result<Option<&List>, &'static str> {
    match v {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// `list-max-listpack-size`.
pub fn fill(ctx: &Ctx) -> i32 {
    ctx.shared.config.list_max_listpack_size()
}

fn lookup_hit(shared: &crate::server::Shared, hit: bool) {
    count_lookups(shared, hit as u64, !hit as u64);
}

pub fn bulk_elem(out: &mut Reply, e: Elem<'_>) {
    match e {
        Elem::Int(i) => out.bulk_int(i),
        Elem::Bytes(b) => out.bulk(b),
    }
}

/// Publishes `list` under the latch, or deletes the key if it is empty.
pub fn store_or_delete(latch: &mut Locked<'_>, list: List) {
    if list.is_empty() {
        latch.delete();
    } else {
        latch.set(Value::List(list));
    }
}

/// Pops up to `n` elements from `end` of the list `latch` holds (the
/// caller has checked it is one), publishing the rest or deleting the key
/// when the last element goes. The elements in pop order; none if the key
/// holds no list.
pub fn pop_latched(latch: &mut Locked<'_>, end: End, n: usize) -> Vec<Vec<u8>> {
    let mut popped = Vec::new();
    let mut empty = false;
    latch.update(|v| {
        let Value::List(list) = v else { return false };
        popped = list.pop(end, n);
        empty = list.is_empty();
        !popped.is_empty()
    });
    if empty {
        latch.delete();
    }
    popped
}

/// Pushes `elems` one by one at `end` of the key `latch` holds, creating
/// the list (its node limit `fill`) if the key is absent. The new length,
/// or WRONGTYPE.
pub fn push_latched(
    latch: &mut Locked<'_>,
    end: End,
    elems: &[&[u8]],
    fill: i32,
) -> Result<usize, &'static str> {
    if list_of(latch.value())?.is_none() {
        let mut list = List::new(fill);
        list.push_many(end, elems);
        let len = list.len();
        latch.set(Value::List(list));
        return Ok(len);
    }
    let mut len = 0;
    latch.update(|v| {
        let Value::List(list) = v else { return false };
        list.push_many(end, elems);
        len = list.len();
        true
    });
    Ok(len)
}

/// The LMOVE core over the latches of source (index 0) and destination
/// (index 1; one latch when they are the same key): pops from `from` of
/// the source and pushes to `to` of the destination. `Ok(None)`: no source
/// list. WRONGTYPE for either key (the destination is checked only when
/// the source has an element, as Redis does); nothing changes then.
pub fn move_latched(
    latches: &mut super::access::Latches<'_, '_>,
    same_key: bool,
    from: End,
    to: End,
    fill: i32,
) -> Result<Option<Vec<u8>>, &'static str> {
    let Some(src) = list_of(latches.nth_ref(0).value())? else {
        return Ok(None);
    };
    if same_key {
        let mut moved = None;
        latches.nth(0).update(|v| {
            let Value::List(list) = v else { return false };
            let e = list.pop(from, 1).pop().expect("a live list is not empty");
            list.push(to, &e);
            moved = Some(e);
            true
        });
        return Ok(moved);
    }
    let dst = list_of(latches.nth_ref(1).value())?;
    let mut src = src.clone();
    let mut dst = dst.cloned().unwrap_or_else(|| List::new(fill));
    let e = src.pop(from, 1).pop().expect("a live list is not empty");
    dst.push(to, &e);
    store_or_delete(latches.nth(0), src);
    latches.nth(1).set(Value::List(dst));
    Ok(Some(e))
}

fn push_generic(ctx: &mut Ctx, args: &[&[u8]], end: End, only_existing: bool) {
    let fill = fill(ctx);
    let at = super::blocking::PushedAt::of(ctx);
    let Ok(mut latch) = ctx.keys.write(args[1]) else {
        return;
    };
    if only_existing && !latch.exists() {
        drop(latch);
        return ctx.out.int(0);
    }
    // Publish point.
    let r = push_latched(&mut latch, end, &args[2..], fill);
    if r.is_ok() {
        super::list_blocking::serve_pushed(ctx.shared, ctx.client, at, &mut latch);
    }
    drop(latch);
    match r {
        Ok(len) => ctx.out.int(len as i64),
        Err(e) => ctx.error(e),
    }
}

fn lpush(ctx: &mut Ctx, args: &[&[u8]]) {
    push_generic(ctx, args, End::Head, false);
}

fn rpush(ctx: &mut Ctx, args: &[&[u8]]) {
    push_generic(ctx, args, End::Tail, false);
}

fn lpushx(ctx: &mut Ctx, args: &[&[u8]]) {
    push_generic(ctx, args, End::Head, true);
}

fn rpushx(ctx: &mut Ctx, args: &[&[u8]]) {
    push_generic(ctx, args, End::Tail, true);
}

fn pop_generic(ctx: &mut Ctx, args: &[&[u8]], end: End) {
    if args.len() > 3 {
        let name = if end == End::Head { "lpop" } else { "rpop" };
        return ctx.error(&errors::wrong_arity(name));
    }
    let count = match args.get(2) {
        None => None,
        // Redis's getPositiveLongFromObjectOrReply: one message for both.
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
            Some(_) => ctx.out.null_array(),
        };
    };
    if let Err(e) = list_of(latch.value()) {
        drop(latch);
        return ctx.error(e);
    }
    if count == Some(0) {
        drop(latch);
        return ctx.out.array(0);
    }
    let n = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let popped = pop_latched(&mut latch, end, n);
    drop(latch);
    match count {
        None => ctx.out.bulk(&popped[0]),
        Some(_) => {
            ctx.out.array(popped.len());
            for e in &popped {
                ctx.out.bulk(e);
            }
        }
    }
}

fn lpop(ctx: &mut Ctx, args: &[&[u8]]) {
    pop_generic(ctx, args, End::Head);
}

fn rpop(ctx: &mut Ctx, args: &[&[u8]]) {
    pop_generic(ctx, args, End::Tail);
}

fn llen(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    match list_of(view.as_ref().map(|v| v.value())) {
        Ok(l) => ctx.out.int(l.map_or(0, List::len) as i64),
        Err(e) => ctx.out.error(e),
    }
}

fn lindex(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    let list = match list_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(l)) => l,
        Ok(None) => return ctx.out.null(),
        Err(e) => return ctx.out.error(e),
    };
    let Some(index) = crate::util::num::parse_i64(args[2]) else {
        return ctx.out.error(errors::NOT_INTEGER);
    };
    match list.resolve(index) {
        Some(i) => bulk_elem(ctx.out, list.get(i)),
        None => ctx.out.null(),
    }
}

fn lset(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(latch) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = latch else {
        return ctx.error(errors::NO_SUCH_KEY);
    };
    let list = match list_of(latch.value()) {
        Ok(Some(l)) => l,
        Ok(None) => unreachable!("write_existing hands out live keys"),
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    };
    let Some(index) = crate::util::num::parse_i64(args[2]) else {
        drop(latch);
        return ctx.error(errors::NOT_INTEGER);
    };
    let Some(i) = list.resolve(index) else {
        drop(latch);
        return ctx.error(OUT_OF_RANGE);
    };
    let mut list = list.clone();
    list.set(i, args[3]);
    // Publish point.
    latch.set(Value::List(list));
    drop(latch);
    ctx.out.ok();
}

/// Redis's range arithmetic (LRANGE, LTRIM): the inclusive positions, or
/// `None` for an empty range.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    };
    let end = if end < 0 {
        len.saturating_add(end)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

fn lrange(ctx: &mut Ctx, args: &[&[u8]]) {
    let (Some(start), Some(end)) = (
        crate::util::num::parse_i64(args[2]),
        crate::util::num::parse_i64(args[3]),
    ) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    let list = match list_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(l)) => l,
        Ok(None) => return ctx.out.array(0),
        Err(e) => return ctx.out.error(e),
    };
    match clamp_range(start, end, list.len()) {
        None => ctx.out.array(0),
        Some((s, e)) => {
            ctx.out.array(e - s + 1);
            for x in list.iter_from(s).take(e - s + 1) {
                bulk_elem(ctx.out, x);
            }
        }
    }
}

fn ltrim(ctx: &mut Ctx, args: &[&[u8]]) {
    let (Some(start), Some(end)) = (
        crate::util::num::parse_i64(args[2]),
        crate::util::num::parse_i64(args[3]),
    ) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let Ok(latch) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = latch else {
        return ctx.out.ok();
    };
    let list = match list_of(latch.value()) {
        Ok(Some(l)) => l,
        Ok(None) => unreachable!("write_existing hands out live keys"),
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    };
    match clamp_range(start, end, list.len()) {
        None => {
            latch.delete();
        }
        Some((s, e)) if s == 0 && e == list.len() - 1 => {}
        Some((s, e)) => {
            let mut list = list.clone();
            list.retain_range(s, e);
            store_or_delete(&mut latch, list);
        }
    }
    drop(latch);
    ctx.out.ok();
}

fn lrem(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(count) = crate::util::num::parse_i64(args[2]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let Ok(latch) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = latch else {
        return ctx.out.int(0);
    };
    let list = match list_of(latch.value()) {
        Ok(Some(l)) => l,
        Ok(None) => unreachable!("write_existing hands out live keys"),
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    };
    let mut list = list.clone();
    let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_eq(args[3], n, count < 0);
    if removed > 0 {
        store_or_delete(&mut latch, list);
    }
    drop(latch);
    ctx.out.int(removed as i64);
}

fn linsert(ctx: &mut Ctx, args: &[&[u8]]) {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return ctx.error(errors::SYNTAX);
    };
    let Ok(latch) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = latch else {
        return ctx.out.int(0);
    };
    let list = match list_of(latch.value()) {
        Ok(Some(l)) => l,
        Ok(None) => unreachable!("write_existing hands out live keys"),
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    };
    let Some(pos) = list.iter().position(|e| e.with_bytes(|b| b == args[3])) else {
        drop(latch);
        return ctx.out.int(-1);
    };
    let mut list = list.clone();
    list.insert_at(pos, after, args[4]);
    let len = list.len();
    // Publish point.
    latch.set(Value::List(list));
    drop(latch);
    ctx.out.int(len as i64);
}

/// A non-negative option value: `msg` for anything else (Redis's
/// `getPositiveLongFromObjectOrReply` with a message).
fn non_negative(arg: &[u8], msg: &'static str) -> Result<u64, &'static str> {
    match crate::util::num::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(msg),
    }
}

fn lpos(ctx: &mut Ctx, args: &[&[u8]]) {
    let elem = args[2];
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let opt = args[i];
        let r = if opt.eq_ignore_ascii_case(b"rank") && more {
            match crate::util::num::parse_i64(args[i + 1]) {
                None => Err(errors::NOT_INTEGER),
                Some(0) => Err(RANK_ZERO),
                Some(r) => {
                    rank = r;
                    Ok(())
                }
            }
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            non_negative(args[i + 1], COUNT_NEGATIVE).map(|c| count = Some(c))
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            non_negative(args[i + 1], MAXLEN_NEGATIVE).map(|m| maxlen = m)
        } else {
            Err(errors::SYNTAX)
        };
        if let Err(e) = r {
            return ctx.error(e);
        }
        i += 2;
    }
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    lookup_hit(ctx.shared, view.is_some());
    let list = match list_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return match count {
                Some(_) => ctx.out.array(0),
                None => ctx.out.null(),
            }
        }
        Err(e) => return ctx.out.error(e),
    };
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs();
    let len = list.len();
    let limit = if maxlen == 0 {
        usize::MAX
    } else {
        maxlen as usize
    };
    let iter: Box<dyn Iterator<Item = Elem<'_>>> = if from_tail {
        Box::new(list.iter().rev())
    } else {
        Box::new(list.iter())
    };
    let mut matches = 0u64;
    let mut found: Vec<usize> = Vec::new();
    for (index, e) in iter.take(limit).enumerate() {
        if !e.with_bytes(|b| b == elem) {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - index - 1 } else { index });
        match count {
            None => break,
            Some(c) if c != 0 && matches - rank + 1 >= c => break,
            Some(_) => {}
        }
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
    }
}

fn move_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) {
    let fill = fill(ctx);
    let db = ctx.keys.selected();
    let Ok(mut latches) = ctx.keys.write_many(&[src, dst]) else {
        return;
    };
    // Publish point (both keys).
    let r = move_latched(&mut latches, src == dst, from, to, fill);
    // The destination serves its waiters after the command, as Redis.
    let ready = matches!(r, Ok(Some(_))) && ctx.shared.blocked.has_waiters(db, dst);
    drop(latches);
    if ready {
        ctx.client.ready.push((db, dst.to_vec()));
    }
    match r {
        Ok(Some(e)) => ctx.out.bulk(&e),
        Ok(None) => ctx.out.null(),
        Err(e) => ctx.error(e),
    }
}

fn lmove(ctx: &mut Ctx, args: &[&[u8]]) {
    let (Some(from), Some(to)) = (End::parse(args[3]), End::parse(args[4])) else {
        return ctx.error(errors::SYNTAX);
    };
    move_generic(ctx, args[1], args[2], from, to);
}

fn rpoplpush(ctx: &mut Ctx, args: &[&[u8]]) {
    move_generic(ctx, args[1], args[2], End::Tail, End::Head);
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], parsed: the keys,
/// the end and the count, or the error to reply. Shared with BLMPOP
/// (`numkeys_idx` 2).
pub fn parse_mpop<'a>(
    args: &[&'a [u8]],
    numkeys_idx: usize,
) -> Result<(Vec<&'a [u8]>, End, usize), &'static str> {
    let numkeys = match crate::util::num::parse_i64(args[numkeys_idx]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(NUMKEYS_POSITIVE),
    };
    let where_idx = (numkeys_idx as u64 + 1).saturating_add(numkeys);
    if where_idx >= args.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let end = End::parse(args[where_idx]).ok_or(errors::SYNTAX)?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            match crate::util::num::parse_i64(args[j + 1]) {
                Some(n) if n >= 1 => count = Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => return Err(MPOP_COUNT_POSITIVE),
            }
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok((
        args[numkeys_idx + 1..where_idx].to_vec(),
        end,
        count.unwrap_or(1),
    ))
}

/// Writes LMPOP's reply for `popped` elements of `key`.
pub fn reply_mpop(out: &mut Reply, key: &[u8], popped: &[Vec<u8>]) {
    out.array(2);
    out.bulk(key);
    out.array(popped.len());
    for e in popped {
        out.bulk(e);
    }
}

fn lmpop(ctx: &mut Ctx, args: &[&[u8]]) {
    let (keys, end, count) = match parse_mpop(args, 1) {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    let Ok(mut latches) = ctx.keys.write_many(&keys) else {
        return;
    };
    for (i, key) in keys.iter().enumerate() {
        match list_of(latches.nth_ref(i).value()) {
            Ok(None) => continue,
            Ok(Some(_)) => {}
            Err(e) => {
                drop(latches);
                return ctx.error(e);
            }
        }
        let popped = pop_latched(latches.nth(i), end, count);
        drop(latches);
        return reply_mpop(ctx.out, key, &popped);
    }
    drop(latches);
    ctx.out.null_array();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_like_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_range(3, 2, 5), None);
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(clamp_range(0, -6, 5), None);
    }

    #[test]
    fn mpop_parsing() {
        let a: Vec<&[u8]> = vec![b"lmpop", b"2", b"a", b"b", b"left", b"count", b"3"];
        let (keys, end, count) = parse_mpop(&a, 1).unwrap();
        assert_eq!(keys, [&b"a"[..], b"b"]);
        assert_eq!((end, count), (End::Head, 3));
        let a: Vec<&[u8]> = vec![b"lmpop", b"9223372036854775807", b"a", b"left"];
        assert_eq!(parse_mpop(&a, 1).unwrap_err(), errors::SYNTAX);
        let a: Vec<&[u8]> = vec![b"lmpop", b"1", b"a", b"left", b"count", b"0"];
        assert_eq!(parse_mpop(&a, 1).unwrap_err(), MPOP_COUNT_POSITIVE);
        let a: Vec<&[u8]> = vec![
            b"lmpop", b"1", b"a", b"left", b"count", b"1", b"count", b"1",
        ];
        assert_eq!(parse_mpop(&a, 1).unwrap_err(), errors::SYNTAX);
    }
}
