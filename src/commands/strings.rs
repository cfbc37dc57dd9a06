//! String commands: GET/SET and their variants, counters, ranges and LCS.
//!
//! Keys are reached only through `ctx.keys` (`commands::access`). Every write
//! latches only the key it touches (multi-key writes latch all of theirs at
//! once); multi-key reads read all their keys as of one instant. Values are
//! built the way Redis encodes them so OBJECT ENCODING agrees: arguments
//! stored whole become `int` or `embstr` (`Str::from_arg`), counters are
//! `int`, strings modified in place by Redis (APPEND, SETRANGE) are `raw`, and
//! INCRBYFLOAT results are plain strings.

use super::flags::*;
use super::key_flags::*;
use super::{acl, errors, Command, Ctx, KeySpec, KeySpecEntry};
use crate::server::Shared;
use crate::types::{EmbStr, Str, Value};
use crate::util::xfloat::LongDouble;
use std::borrow::Cow;

const G: &str = "string";

const DECR_OVERFLOW: &str = "ERR decrement would overflow";
const NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
const OFFSET_RANGE: &str = "ERR offset is out of range";
const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
const LCS_IDX_AND_LEN: &str = "ERR If you want both the length and indexes, please just use IDX.";
const LCS_TOO_LONG: &str = "ERR String too long for LCS";
const LCS_OVER_LIMIT: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
const LCS_NO_MEMORY: &str = "ERR Insufficient memory, failed allocating transient memory for LCS";

const RANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

/// Flags shared by the counter commands (INCR & co) and other small writes.
const FAST_WRITE: u64 = WRITE | DENYOOM | FAST;
const FAST_WRITE_ACL: u64 = acl::WRITE | acl::STRING | acl::FAST;
const SLOW_WRITE_ACL: u64 = acl::WRITE | acl::STRING | acl::SLOW;

// Key specifications (COMMAND INFO), by how each command uses its keys.
const KEY_RO: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO)];
const KEY_RO_ACCESS: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO | ACCESS)];
const KEY_RW_ACCESS_UPDATE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | UPDATE)];
const KEY_OW_UPDATE: &[KeySpecEntry] = &[KeySpecEntry::one(1, OW | UPDATE)];
const KEY_OW_INSERT: &[KeySpecEntry] = &[KeySpecEntry::one(1, OW | INSERT)];
const SET_KEY: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | UPDATE | VARIABLE_FLAGS)
    .notes("RW and ACCESS due to the optional `GET` argument")];
const GETEX_KEY: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RW | ACCESS | UPDATE).notes("RW and UPDATE because it changes the TTL")
];
const GETDEL_KEY: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | DELETE)];
const APPEND_KEY: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | INSERT)];
const SETRANGE_KEY: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | UPDATE)];
const MGET_KEYS: &[KeySpecEntry] = &[KeySpecEntry::range(1, -1, 1, RO | ACCESS)];
const MSET_KEYS: &[KeySpecEntry] = &[KeySpecEntry::range(1, -1, 2, OW | UPDATE)];
const MSETNX_KEYS: &[KeySpecEntry] = &[KeySpecEntry::range(1, -1, 2, OW | INSERT)];
const LCS_KEYS: &[KeySpecEntry] = &[KeySpecEntry::range(1, 1, 1, RO | ACCESS)];

pub static COMMANDS: &[Command] = &[
    Command::new("get", 2, READONLY | FAST, KeySpec::one(1), acl::READ | acl::STRING | acl::FAST, get)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.0.0", "Returns the string value of a key.", "O(1)"),
    Command::new("set", -3, WRITE | DENYOOM, KeySpec::one(1), SLOW_WRITE_ACL, set)
        .key_specs(SET_KEY)
        .key_flags_with(set_key_flags)
        .doc(G, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "O(1)"),
    Command::new("setnx", 3, FAST_WRITE, KeySpec::one(1), FAST_WRITE_ACL, setnx)
        .key_specs(KEY_OW_INSERT)
        .doc(G, "1.0.0", "Set the string value of a key only when the key doesn't exist.", "O(1)"),
    Command::new("setex", 4, WRITE | DENYOOM, KeySpec::one(1), SLOW_WRITE_ACL, setex)
        .key_specs(KEY_OW_UPDATE)
        .doc(G, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "O(1)"),
    Command::new("psetex", 4, WRITE | DENYOOM, KeySpec::one(1), SLOW_WRITE_ACL, psetex)
        .key_specs(KEY_OW_UPDATE)
        .doc(G, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "O(1)"),
    Command::new("mget", -2, READONLY | FAST, KeySpec::range(1, -1, 1), acl::READ | acl::STRING | acl::FAST, mget)
        .key_specs(MGET_KEYS)
        .tips(&["request_policy:multi_shard"])
        .doc(G, "1.0.0", "Atomically returns the string values of one or more keys.", "O(N) where N is the number of keys to retrieve."),
    Command::new("mset", -3, WRITE | DENYOOM, KeySpec::range(1, -1, 2), SLOW_WRITE_ACL, mset)
        .key_specs(MSET_KEYS)
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .doc(G, "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "O(N) where N is the number of keys to set."),
    Command::new("msetnx", -3, WRITE | DENYOOM, KeySpec::range(1, -1, 2), SLOW_WRITE_ACL, msetnx)
        .key_specs(MSETNX_KEYS)
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .doc(G, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "O(N) where N is the number of keys to set."),
    Command::new("getset", 3, FAST_WRITE, KeySpec::one(1), FAST_WRITE_ACL, getset)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "1.0.0", "Returns the previous string value of a key after setting it to a new value.", "O(1)"),
    Command::new("getdel", 2, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, getdel)
        .key_specs(GETDEL_KEY)
        .doc(G, "6.2.0", "Returns the string value of a key after deleting the key.", "O(1)"),
    Command::new("getex", -2, WRITE | FAST, KeySpec::one(1), FAST_WRITE_ACL, getex)
        .key_specs(GETEX_KEY)
        .doc(G, "6.2.0", "Returns the string value of a key after setting its expiration time.", "O(1)"),
    Command::new("incr", 2, FAST_WRITE, KeySpec::one(1), FAST_WRITE_ACL, incr)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    Command::new("decr", 2, FAST_WRITE, KeySpec::one(1), FAST_WRITE_ACL, decr)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    Command::new("incrby", 3, FAST_WRITE, KeySpec::one(1), FAST_WRITE_ACL, incrby)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    Command::new("decrby", 3, FAST_WRITE, KeySpec::one(1), FAST_WRITE_ACL, decrby)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    Command::new("incrbyfloat", 3, FAST_WRITE, KeySpec::one(1), FAST_WRITE_ACL, incrbyfloat)
        .key_specs(KEY_RW_ACCESS_UPDATE)
        .doc(G, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    Command::new("append", 3, FAST_WRITE, KeySpec::one(1), FAST_WRITE_ACL, append)
        .key_specs(APPEND_KEY)
        .doc(G, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation."),
    Command::new("strlen", 2, READONLY | FAST, KeySpec::one(1), acl::READ | acl::STRING | acl::FAST, strlen)
        .key_specs(KEY_RO)
        .doc(G, "2.2.0", "Returns the length of a string value.", "O(1)"),
    Command::new("getrange", 4, READONLY, KeySpec::one(1), acl::READ | acl::STRING | acl::SLOW, getrange)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.4.0", "Returns a substring of the string stored at a key.", RANGE_COMPLEXITY),
    Command::new("setrange", 4, WRITE | DENYOOM, KeySpec::one(1), SLOW_WRITE_ACL, setrange)
        .key_specs(SETRANGE_KEY)
        .doc(G, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument."),
    Command::new("substr", 4, READONLY, KeySpec::one(1), acl::READ | acl::STRING | acl::SLOW, getrange)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.0.0", "Returns a substring from a string value.", RANGE_COMPLEXITY),
    Command::new("lcs", -3, READONLY, KeySpec::range(1, 2, 1), acl::READ | acl::STRING | acl::SLOW, lcs)
        .key_specs(LCS_KEYS)
        .doc(G, "7.0.0", "Finds the longest common substring.", "O(N*M) where N and M are the lengths of s1 and s2, respectively"),
];

/// SET's key flags (its key-spec says `variable_flags`): with a GET argument
/// it reads the old value (RW access update), otherwise it overwrites (OW
/// update). Like Redis, any argument after the value spelled GET counts.
fn set_key_flags(args: &[&[u8]], _pos: usize) -> u32 {
    let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
    if get {
        RW | ACCESS | UPDATE
    } else {
        OW | UPDATE
    }
}

/// Reads a string value, or replies WRONGTYPE. `Ok(None)` = no such key.
pub(crate) fn string_of(v: Option<&Value>) -> Result<Option<&Str>, &'static str> {
    match v {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        #[allow(unreachable_patterns)]
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// Counts a read lookup in INFO's keyspace_hits/keyspace_misses, as Redis
/// does for lookups made to read (not for lookups made to write).
fn count_lookup(shared: &Shared, hit: bool) {
    shared.stats.with_local(|t| {
        let c = if hit {
            &t.keyspace_hits
        } else {
            &t.keyspace_misses
        };
        c.add(1);
    });
}

/// A string built whole from computed bytes (INCRBYFLOAT's result): Redis
/// makes such objects `embstr` when short and `raw` otherwise, never `int`.
fn plain_string(data: Vec<u8>) -> Str {
    match EmbStr::new(&data) {
        Some(e) => Str::Emb(e),
        None => Str::Raw(crate::types::RawStr::from_vec(data)),
    }
}

/// An option argument as Redis compares it: as a C string, so anything after
/// an embedded NUL byte is ignored (`NX\0junk` is `NX`).
fn opt_name(arg: &[u8]) -> &[u8] {
    match memchr::memchr(0, arg) {
        Some(end) => &arg[..end],
        None => arg,
    }
}

/// `proto-max-bulk-len`: the largest string APPEND and SETRANGE may build.
fn max_string_len(ctx: &Ctx) -> u64 {
    ctx.shared.config.proto_max_bulk_len()
}

fn get(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    count_lookup(ctx.shared, view.is_some());
    match string_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(s)) => s.write_bulk(ctx.out),
        Ok(None) => ctx.out.null(),
        Err(e) => ctx.out.error(e),
    }
}

/// When a new expiry is given, how it is expressed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ExpireUnit {
    /// EX: relative seconds.
    Ex,
    /// PX: relative milliseconds.
    Px,
    /// EXAT: absolute Unix seconds.
    ExAt,
    /// PXAT: absolute Unix milliseconds.
    PxAt,
}

impl ExpireUnit {
    fn from_opt(opt: &[u8]) -> Option<ExpireUnit> {
        [
            (&b"EX"[..], ExpireUnit::Ex),
            (b"PX", ExpireUnit::Px),
            (b"EXAT", ExpireUnit::ExAt),
            (b"PXAT", ExpireUnit::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| opt.eq_ignore_ascii_case(name))
        .map(|(_, unit)| unit)
    }

    /// EXAT and PXAT name an instant that may already be past.
    fn is_absolute(self) -> bool {
        matches!(self, ExpireUnit::ExAt | ExpireUnit::PxAt)
    }
}

/// Converts an expiry argument to an absolute deadline in ms, with Redis's
/// validation and error texts (`cmd` names the command in the message).
pub(crate) fn deadline(ctx: &mut Ctx, unit: ExpireUnit, arg: &[u8], cmd: &str) -> Option<u64> {
    match deadline_at(unit, arg, ctx.clock.now_ms, cmd) {
        Ok(t) => Some(t),
        Err(e) => {
            ctx.error(&e);
            None
        }
    }
}

/// [`deadline`] for a command running at `now_ms`, with the error text
/// instead of a reply (for a handler that holds a key meanwhile).
fn deadline_at(
    unit: ExpireUnit,
    arg: &[u8],
    now_ms: u64,
    cmd: &str,
) -> Result<u64, Cow<'static, str>> {
    let v = crate::util::num::parse_i64(arg).ok_or(errors::NOT_INTEGER)?;
    if v <= 0 {
        return Err(errors::invalid_expire(cmd).into());
    }
    let ms = match unit {
        ExpireUnit::Ex | ExpireUnit::ExAt => v.checked_mul(1000),
        ExpireUnit::Px | ExpireUnit::PxAt => Some(v),
    };
    let abs = match (unit, ms) {
        (_, None) => None,
        (ExpireUnit::Ex | ExpireUnit::Px, Some(ms)) => ms.checked_add(now_ms as i64),
        (_, Some(ms)) => Some(ms),
    };
    match abs {
        Some(t) if t > 0 => Ok(t as u64),
        _ => Err(errors::invalid_expire(cmd).into()),
    }
}

/// Which command's option grammar [`parse_options`] applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsFor {
    /// SET: NX, XX, GET, KEEPTTL, EX/PX/EXAT/PXAT.
    Set,
    /// GETEX: PERSIST, EX/PX/EXAT/PXAT.
    GetEx,
}

/// The options of SET or GETEX, parsed but not yet validated numerically.
#[derive(Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

/// Parses SET/GETEX options with Redis's rules: an option may repeat, but
/// NX/XX, KEEPTTL/PERSIST and the different expiry forms exclude each other,
/// and an expiry form needs a following argument. Any violation is a syntax
/// error (the numeric value is checked later, by [`deadline`]).
fn parse_options<'a>(args: &[&'a [u8]], mode: OptionsFor) -> Option<StringOptions<'a>> {
    let set = mode == OptionsFor::Set;
    let mut o = StringOptions::default();
    let mut i = 0;
    while i < args.len() {
        let opt = opt_name(args[i]);
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        if set && is("NX") && !o.xx {
            o.nx = true;
        } else if set && is("XX") && !o.nx {
            o.xx = true;
        } else if set && is("GET") {
            o.get = true;
        } else if set && is("KEEPTTL") && !o.persist && o.expire.is_none() {
            o.keepttl = true;
        } else if !set && is("PERSIST") && !o.keepttl && o.expire.is_none() {
            o.persist = true;
        } else {
            let unit = ExpireUnit::from_opt(opt)?;
            let clash = o.keepttl || o.persist || o.expire.is_some_and(|(u, _)| u != unit);
            let value = args.get(i + 1)?;
            if clash {
                return None;
            }
            o.expire = Some((unit, &value[..]));
            i += 1;
        }
        i += 1;
    }
    Some(o)
}

/// What SET-like commands answer when they write, and when NX/XX stops them.
#[derive(Clone, Copy)]
enum SetReplies {
    /// SET, SETEX, PSETEX: `+OK`, or a null when NX/XX aborts.
    OkOrNull,
    /// SETNX: `:1` or `:0`.
    OneOrZero,
}

/// One SET-family write, decided under the key's latch.
struct SetRequest<'a> {
    value: &'a [u8],
    nx: bool,
    xx: bool,
    /// Reply with the old value instead of the usual reply (SET ... GET).
    get: bool,
    keepttl: bool,
    /// Absolute deadline in ms. A deadline already past is stored as such:
    /// the key is then invisible and is reclaimed by expiry, as in Redis 7.0.
    expire: Option<u64>,
    replies: SetReplies,
}

fn set_generic(ctx: &mut Ctx, key: &[u8], req: SetRequest<'_>) {
    let Ok(mut latch) = ctx.keys.write(key) else {
        return;
    };
    if req.get {
        // The old value is the reply; it is written while the key is still
        // latched, before it is replaced.
        match string_of(latch.value()) {
            Ok(old) => {
                count_lookup(ctx.shared, old.is_some());
                match old {
                    Some(s) => s.write_bulk(ctx.out),
                    None => ctx.out.null(),
                }
            }
            Err(e) => {
                drop(latch);
                return ctx.error(e);
            }
        }
    }
    let exists = latch.exists();
    let write = !(req.nx && exists || req.xx && !exists);
    if write {
        let value = Value::Str(Str::from_arg(req.value));
        if req.keepttl && req.expire.is_none() {
            latch.set(value);
        } else {
            latch.set_with_expire(value, req.expire);
        }
    }
    drop(latch);
    match (req.get, req.replies, write) {
        (true, _, _) => {}
        (false, SetReplies::OkOrNull, true) => ctx.out.ok(),
        (false, SetReplies::OkOrNull, false) => ctx.out.null(),
        (false, SetReplies::OneOrZero, w) => ctx.out.int(w as i64),
    }
}

fn set(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(o) = parse_options(&args[3..], OptionsFor::Set) else {
        return ctx.error(errors::SYNTAX);
    };
    let expire = match o.expire {
        Some((unit, arg)) => match deadline(ctx, unit, arg, "set") {
            Some(t) => Some(t),
            None => return,
        },
        None => None,
    };
    let req = SetRequest {
        value: args[2],
        nx: o.nx,
        xx: o.xx,
        get: o.get,
        keepttl: o.keepttl,
        expire,
        replies: SetReplies::OkOrNull,
    };
    set_generic(ctx, args[1], req);
}

fn setnx(ctx: &mut Ctx, args: &[&[u8]]) {
    let req = SetRequest {
        value: args[2],
        nx: true,
        xx: false,
        get: false,
        keepttl: false,
        expire: None,
        replies: SetReplies::OneOrZero,
    };
    set_generic(ctx, args[1], req);
}

/// SETEX and PSETEX: `key ttl value`.
fn set_with_ttl(ctx: &mut Ctx, args: &[&[u8]], unit: ExpireUnit, cmd: &str) {
    let Some(expire) = deadline(ctx, unit, args[2], cmd) else {
        return;
    };
    let req = SetRequest {
        value: args[3],
        nx: false,
        xx: false,
        get: false,
        keepttl: false,
        expire: Some(expire),
        replies: SetReplies::OkOrNull,
    };
    set_generic(ctx, args[1], req);
}

fn setex(ctx: &mut Ctx, args: &[&[u8]]) {
    set_with_ttl(ctx, args, ExpireUnit::Ex, "setex");
}

fn psetex(ctx: &mut Ctx, args: &[&[u8]]) {
    set_with_ttl(ctx, args, ExpireUnit::Px, "psetex");
}

fn mget(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(values) = ctx.keys.read_many(&args[1..]) else {
        return;
    };
    ctx.out.array(values.len());
    for i in 0..values.len() {
        let v = values.get(i);
        count_lookup(ctx.shared, v.is_some());
        match string_of(v) {
            Ok(Some(s)) => s.write_bulk(ctx.out),
            _ => ctx.out.null(),
        }
    }
}

/// MSET and MSETNX: all keys are latched together, so no client sees some
/// of the keys set and others not.
fn mset_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) {
    if args.len().is_multiple_of(2) {
        return ctx.error(&errors::wrong_arity(if nx { "msetnx" } else { "mset" }));
    }
    let keys: Vec<&[u8]> = args[1..].iter().step_by(2).copied().collect();
    // Values are built before latching, so the latches are held only for
    // the lookups and the commits.
    let values: Vec<Value> = args[2..]
        .iter()
        .step_by(2)
        .map(|v| Value::Str(Str::from_arg(v)))
        .collect();
    ctx.db().reserve(keys.len(), ctx.guard);
    let Ok(mut set) = ctx.keys.write_many(&keys) else {
        return;
    };
    if nx && (0..keys.len()).any(|i| set.nth_ref(i).exists()) {
        drop(set);
        return ctx.out.int(0);
    }
    // In argument order: a key given twice ends with its last value.
    for (i, v) in values.into_iter().enumerate() {
        set.nth(i).set_with_expire(v, None);
    }
    drop(set);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
}

fn mset(ctx: &mut Ctx, args: &[&[u8]]) {
    mset_generic(ctx, args, false);
}

fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) {
    mset_generic(ctx, args, true);
}

fn getset(ctx: &mut Ctx, args: &[&[u8]]) {
    let req = SetRequest {
        value: args[2],
        nx: false,
        xx: false,
        get: true,
        keepttl: false,
        expire: None,
        replies: SetReplies::OkOrNull,
    };
    set_generic(ctx, args[1], req);
}

fn getdel(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(found) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = found else {
        count_lookup(ctx.shared, false);
        return ctx.out.null();
    };
    match string_of(latch.value()) {
        Ok(Some(s)) => {
            s.write_bulk(ctx.out);
            latch.delete();
            drop(latch);
            count_lookup(ctx.shared, true);
        }
        Ok(None) => {
            drop(latch);
            count_lookup(ctx.shared, false);
            ctx.out.null();
        }
        Err(e) => {
            drop(latch);
            count_lookup(ctx.shared, true);
            ctx.error(e);
        }
    }
}

fn getex(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(o) = parse_options(&args[2..], OptionsFor::GetEx) else {
        return ctx.error(errors::SYNTAX);
    };
    if o.expire.is_none() && !o.persist {
        return get(ctx, args);
    }
    let Ok(found) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = found else {
        count_lookup(ctx.shared, false);
        return ctx.out.null();
    };
    let value = match string_of(latch.value()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            drop(latch);
            count_lookup(ctx.shared, false);
            return ctx.out.null();
        }
        Err(e) => {
            drop(latch);
            count_lookup(ctx.shared, true);
            return ctx.error(e);
        }
    };
    count_lookup(ctx.shared, true);
    let expire = match o.expire {
        Some((unit, arg)) => match deadline_at(unit, arg, ctx.clock.now_ms, "getex") {
            Ok(t) => Some((unit, t)),
            Err(e) => {
                drop(latch);
                return ctx.error(&e);
            }
        },
        None => None,
    };
    // The reply is the value before this command changes the key, written
    // while the key is still latched.
    value.write_bulk(ctx.out);
    match expire {
        Some((unit, t)) if unit.is_absolute() && t <= ctx.clock.now_ms => {
            latch.delete();
        }
        Some((_, t)) => latch.set_expire(Some(t)),
        None if latch.expire().is_some() => latch.set_expire(None),
        None => {}
    }
}

/// INCR, DECR, INCRBY, DECRBY: adds `delta` to the integer at `key` (0 if
/// absent), keeping its TTL; the result is stored `int`-encoded.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) {
    let Ok(mut latch) = ctx.keys.write(key) else {
        return;
    };
    let current = match string_of(latch.value()) {
        Ok(None) => Ok(0),
        Ok(Some(s)) => s.as_int().ok_or(errors::NOT_INTEGER),
        Err(e) => Err(e),
    };
    let result = current.and_then(|n| n.checked_add(delta).ok_or(errors::OVERFLOW));
    match result {
        Ok(n) => {
            latch.set(Value::Str(Str::Int(n)));
            drop(latch);
            ctx.out.int(n);
        }
        Err(e) => {
            drop(latch);
            ctx.error(e);
        }
    }
}

fn incr(ctx: &mut Ctx, args: &[&[u8]]) {
    incr_by(ctx, args[1], 1);
}

fn decr(ctx: &mut Ctx, args: &[&[u8]]) {
    incr_by(ctx, args[1], -1);
}

fn incrby(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(delta) = ctx.int_arg(args[2]) {
        incr_by(ctx, args[1], delta);
    }
}

fn decrby(ctx: &mut Ctx, args: &[&[u8]]) {
    match ctx.int_arg(args[2]) {
        Some(i64::MIN) => ctx.error(DECR_OVERFLOW),
        Some(delta) => incr_by(ctx, args[1], -delta),
        None => {}
    }
}

/// Adds in 80-bit extended precision and prints with `%.17Lf` semantics,
/// exactly as Redis does on x86-64 (see `util::xfloat`). The TTL is kept.
fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(mut latch) = ctx.keys.write(args[1]) else {
        return;
    };
    let current = match string_of(latch.value()) {
        Ok(None) => Ok(LongDouble::from_i64(0)),
        Ok(Some(Str::Int(n))) => Ok(LongDouble::from_i64(*n)),
        Ok(Some(s)) => LongDouble::parse(&s.bytes()).ok_or(errors::NOT_FLOAT),
        Err(e) => Err(e),
    };
    let sum = current.and_then(|cur| {
        let incr = LongDouble::parse(args[2]).ok_or(errors::NOT_FLOAT)?;
        let sum = cur + incr;
        if sum.is_finite() {
            Ok(sum)
        } else {
            Err(NAN_OR_INFINITY)
        }
    });
    match sum {
        Ok(sum) => {
            let text = sum.to_human().into_bytes();
            ctx.out.bulk(&text);
            latch.set(Value::Str(plain_string(text)));
            drop(latch);
        }
        Err(e) => {
            drop(latch);
            ctx.error(e);
        }
    }
}

fn append(ctx: &mut Ctx, args: &[&[u8]]) {
    let max = max_string_len(ctx);
    let Ok(mut latch) = ctx.keys.write(args[1]) else {
        return;
    };
    let result = match string_of(latch.value()) {
        Err(e) => Err(e),
        // A new key stores the argument as SET would (int/embstr/raw).
        Ok(None) => {
            latch.set_with_expire(Value::Str(Str::from_arg(args[2])), None);
            Ok(args[2].len())
        }
        Ok(Some(s)) if (s.len() + args[2].len()) as u64 > max => Err(errors::STRING_TOO_LONG),
        // Redis appends to a private raw copy, even when appending nothing;
        // a raw string grows in place (types::raw_str), so appends are linear.
        Ok(Some(s)) => {
            let grown = s.appended(args[2]);
            let len = grown.len();
            latch.set(Value::Str(grown));
            Ok(len)
        }
    };
    drop(latch);
    match result {
        Ok(len) => ctx.out.int(len as i64),
        Err(e) => ctx.error(e),
    }
}

fn strlen(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    count_lookup(ctx.shared, view.is_some());
    match string_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(s)) => ctx.out.int(s.len() as i64),
        Ok(None) => ctx.out.int(0),
        Err(e) => ctx.out.error(e),
    }
}

/// The byte range GETRANGE returns for `start..=end` over a string of `len`
/// bytes, with Redis 7.0's rules for negative and out-of-range indexes;
/// `None` means the empty string.
fn byte_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len_i = len as i64;
    let start = if start < 0 {
        (len_i + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { (len_i + end).max(0) } else { end };
    let end = end.min(len_i - 1);
    if len == 0 || start > end {
        return None;
    }
    Some((start as usize, end as usize))
}

/// GETRANGE and SUBSTR.
fn getrange(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(start) = ctx.int_arg(args[2]) else {
        return;
    };
    let Some(end) = ctx.int_arg(args[3]) else {
        return;
    };
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    count_lookup(ctx.shared, view.is_some());
    match string_of(view.as_ref().map(|v| v.value())) {
        Ok(Some(s)) => {
            let bytes = s.bytes();
            match byte_range(start, end, bytes.len()) {
                Some((a, b)) => ctx.out.bulk(&bytes[a..=b]),
                None => ctx.out.bulk(b""),
            }
        }
        Ok(None) => ctx.out.bulk(b""),
        Err(e) => ctx.out.error(e),
    }
}

fn setrange(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(offset) = ctx.int_arg(args[2]) else {
        return;
    };
    if offset < 0 {
        return ctx.error(OFFSET_RANGE);
    }
    let patch = args[3];
    let max = max_string_len(ctx);
    let Ok(mut latch) = ctx.keys.write(args[1]) else {
        return;
    };
    let result = match string_of(latch.value()) {
        Err(e) => Err(e),
        // Writing nothing changes nothing (and creates no key).
        Ok(cur) if patch.is_empty() => Ok(cur.map_or(0, |s| s.len())),
        Ok(_) if offset as u64 + patch.len() as u64 > max => Err(errors::STRING_TOO_LONG),
        Ok(cur) => {
            let end = offset as usize + patch.len();
            let old = cur.map(|s| s.bytes()).unwrap_or_default();
            let mut v = Vec::with_capacity(old.len().max(end));
            v.extend_from_slice(&old);
            if v.len() < end {
                v.resize(end, 0);
            }
            v[offset as usize..end].copy_from_slice(patch);
            let len = v.len();
            if cur.is_some() {
                latch.set(Value::Str(Str::raw(v)));
            } else {
                latch.set_with_expire(Value::Str(Str::raw(v)), None);
            }
            Ok(len)
        }
    };
    drop(latch);
    match result {
        Ok(len) => ctx.out.int(len as i64),
        Err(e) => ctx.error(e),
    }
}

/// LCS options.
#[derive(Default)]
struct LcsOptions {
    idx: bool,
    len: bool,
    with_match_len: bool,
    min_match_len: u64,
}

/// Parses LCS options, or returns the error to reply.
fn lcs_options(args: &[&[u8]]) -> Result<LcsOptions, &'static str> {
    let mut o = LcsOptions::default();
    let mut i = 0;
    while i < args.len() {
        let opt = opt_name(args[i]);
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        if is("IDX") {
            o.idx = true;
        } else if is("LEN") {
            o.len = true;
        } else if is("WITHMATCHLEN") {
            o.with_match_len = true;
        } else if is("MINMATCHLEN") && i + 1 < args.len() {
            let n = crate::util::num::parse_i64(args[i + 1]).ok_or(errors::NOT_INTEGER)?;
            o.min_match_len = n.max(0) as u64;
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if o.idx && o.len {
        return Err(LCS_IDX_AND_LEN);
    }
    Ok(o)
}

/// One matching stretch reported by LCS IDX: inclusive byte ranges in the
/// first and second string.
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

impl Match {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// The dynamic-programming table of LCS lengths for all prefix pairs, laid
/// out row by row (`(a.len()+1) * (b.len()+1)` cells).
struct LcsTable {
    cells: Vec<u32>,
    width: usize,
}

impl LcsTable {
    /// Builds the table, or returns the error text when it would be too big.
    fn build(a: &[u8], b: &[u8], limit: u64) -> Result<LcsTable, &'static str> {
        if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
            return Err(LCS_TOO_LONG);
        }
        let width = b.len() + 1;
        let cells_n = (a.len() as u64 + 1) * width as u64;
        if cells_n * 4 > limit {
            return Err(LCS_OVER_LIMIT);
        }
        let mut cells = Vec::new();
        if cells.try_reserve_exact(cells_n as usize).is_err() {
            return Err(LCS_NO_MEMORY);
        }
        cells.resize(cells_n as usize, 0u32);
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Ok(LcsTable { cells, width })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end to recover the common subsequence and its
    /// contiguous stretches, last stretch first (the order Redis reports),
    /// keeping only stretches of at least `min_len` bytes.
    fn walk(&self, a: &[u8], b: &[u8], min_len: u64) -> (Vec<u8>, Vec<Match>) {
        let total = self.at(a.len(), b.len()) as usize;
        let mut text = vec![0u8; total];
        let mut matches = Vec::new();
        let (mut i, mut j, mut k) = (a.len(), b.len(), total);
        let mut cur: Option<Match> = None;
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                text[k - 1] = a[i - 1];
                match &mut cur {
                    None => {
                        cur = Some(Match {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        })
                    }
                    Some(m) if m.a.0 == i && m.b.0 == j => {
                        m.a.0 -= 1;
                        m.b.0 -= 1;
                    }
                    Some(_) => emit = true,
                }
                if cur.as_ref().is_some_and(|m| m.a.0 == 0 || m.b.0 == 0) {
                    emit = true;
                }
                k -= 1;
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = cur.is_some();
            }
            if emit {
                if let Some(m) = cur.take() {
                    if min_len == 0 || m.len() as u64 >= min_len {
                        matches.push(m);
                    }
                }
            }
        }
        (text, matches)
    }
}

fn lcs(ctx: &mut Ctx, args: &[&[u8]]) {
    let limit = max_string_len(ctx);
    let Ok(values) = ctx.keys.read_many(&args[1..3]) else {
        return;
    };
    for i in 0..values.len() {
        count_lookup(ctx.shared, values.get(i).is_some());
    }
    let (Ok(a), Ok(b)) = (string_of(values.get(0)), string_of(values.get(1))) else {
        return ctx.out.error(LCS_NOT_STRINGS);
    };
    let opts = match lcs_options(&args[3..]) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let a = a.map(|s| s.bytes()).unwrap_or_default();
    let b = b.map(|s| s.bytes()).unwrap_or_default();
    let table = match LcsTable::build(&a, &b, limit) {
        Ok(t) => t,
        Err(e) => return ctx.out.error(e),
    };
    if opts.len {
        return ctx.out.int(table.at(a.len(), b.len()) as i64);
    }
    let (text, matches) = table.walk(&a, &b, opts.min_match_len);
    if !opts.idx {
        return ctx.out.bulk(&text);
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(matches.len());
    for m in &matches {
        ctx.out.array(if opts.with_match_len { 3 } else { 2 });
        for (s, e) in [m.a, m.b] {
            ctx.out.array(2);
            ctx.out.int(s as i64);
            ctx.out.int(e as i64);
        }
        if opts.with_match_len {
            ctx.out.int(m.len() as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(table.at(a.len(), b.len()) as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(
        list: &[&str],
        mode: OptionsFor,
    ) -> Option<(bool, bool, bool, bool, bool, Option<ExpireUnit>)> {
        let args: Vec<&[u8]> = list.iter().map(|s| s.as_bytes()).collect();
        parse_options(&args, mode).map(|o| {
            (
                o.nx,
                o.xx,
                o.get,
                o.keepttl,
                o.persist,
                o.expire.map(|e| e.0),
            )
        })
    }

    #[test]
    fn set_options_follow_redis() {
        use OptionsFor::*;
        assert!(opts(&["nx", "NX", "get"], Set).is_some());
        assert!(opts(&["NX", "XX"], Set).is_none());
        assert!(opts(&["EX", "1", "EX", "2"], Set).is_some());
        assert!(opts(&["EX", "1", "PX", "2"], Set).is_none());
        assert!(opts(&["EX", "1", "KEEPTTL"], Set).is_none());
        assert!(opts(&["KEEPTTL", "PXAT", "1"], Set).is_none());
        assert!(opts(&["EX"], Set).is_none());
        assert!(opts(&["PERSIST"], Set).is_none());
        assert!(opts(&["NX\0junk"], Set).is_some_and(|o| o.0));
        assert!(opts(&["PERSIST", "PERSIST"], GetEx).is_some());
        assert!(opts(&["PERSIST", "EX", "1"], GetEx).is_none());
        assert!(opts(&["NX"], GetEx).is_none());
        assert_eq!(
            opts(&["exat", "5"], GetEx).and_then(|o| o.5),
            Some(ExpireUnit::ExAt)
        );
    }

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(byte_range(0, -1, 5), Some((0, 4)));
        assert_eq!(byte_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(byte_range(-1, -3, 5), None);
        assert_eq!(byte_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(byte_range(3, 1, 5), None);
        assert_eq!(byte_range(0, 0, 0), None);
        assert_eq!(byte_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(byte_range(5, 10, 5), None);
    }

    #[test]
    fn lcs_walk_matches_redis_example() {
        let (a, b) = (&b"ohmytext"[..], &b"mynewtext"[..]);
        let t = LcsTable::build(a, b, u64::MAX).unwrap();
        let (text, matches) = t.walk(a, b, 0);
        assert_eq!(text, b"mytext");
        let got: Vec<_> = matches.iter().map(|m| (m.a, m.b)).collect();
        assert_eq!(got, vec![((4, 7), (5, 8)), ((2, 3), (0, 1))]);
        assert_eq!(t.walk(a, b, 4).1.len(), 1);
        assert_eq!(LcsTable::build(a, b, 10).err(), Some(LCS_OVER_LIMIT));
    }
}
