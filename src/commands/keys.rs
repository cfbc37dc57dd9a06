//! Generic key commands: DEL UNLINK EXISTS TYPE RENAME RENAMENX COPY MOVE,
//! EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST,
//! TOUCH KEYS SCAN RANDOMKEY, DUMP RESTORE.
//!
//! Reads that Redis performs with `LOOKUP_NOTOUCH` (EXISTS, TYPE, the TTL
//! family) use a no-touch clock so they leave OBJECT IDLETIME / FREQ alone;
//! lookups Redis counts in `keyspace_hits`/`keyspace_misses` are counted here
//! too. Keys are reached only through `ctx.keys` (`commands::access`):
//! multi-key writes latch all their keys at once, across databases for MOVE
//! and COPY ... DB, so they are atomic and cannot deadlock.

use super::access::Latches;
use super::blocking;
use super::flags::*;
use super::key_flags::*;
use super::{acl, errors, Command, Ctx, KeySpec, KeySpecEntry, Unpinned};
use crate::persistence::dump;
use crate::protocol::Reply;
use crate::server::Shared;
use crate::store::access;
use crate::types::Value;
use crate::util::glob::glob_match;

const G: &str = "generic";

const MULTI_SHARD: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];
const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

const KW: u64 = acl::KEYSPACE | acl::WRITE;
const KR: u64 = acl::KEYSPACE | acl::READ;

// Key specifications (COMMAND INFO), by how each command uses its keys.
const KEY_RO: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO)];
const KEY_RO_ACCESS: &[KeySpecEntry] = &[KeySpecEntry::one(1, RO | ACCESS)];
const KEY_RW_UPDATE: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | UPDATE)];
const RO_KEYS: &[KeySpecEntry] = &[KeySpecEntry::range(1, -1, 1, RO)];
const DEL_KEYS: &[KeySpecEntry] = &[KeySpecEntry::range(1, -1, 1, RM | DELETE)];
const RENAME_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RW | ACCESS | DELETE),
    KeySpecEntry::one(2, OW | UPDATE),
];
const RENAMENX_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RW | ACCESS | DELETE),
    KeySpecEntry::one(2, OW | INSERT),
];
const COPY_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RO | ACCESS),
    KeySpecEntry::one(2, OW | UPDATE),
];
const MOVE_KEY: &[KeySpecEntry] = &[KeySpecEntry::one(1, RW | ACCESS | UPDATE)];
const RESTORE_KEY: &[KeySpecEntry] = &[KeySpecEntry::one(1, OW | UPDATE)];

pub static COMMANDS: &[Command] = &[
    Command::new("del", -2, WRITE, KeySpec::range(1, -1, 1), KW | acl::SLOW, del)
        .key_specs(DEL_KEYS)
        .doc(G, "1.0.0", "Deletes one or more keys.", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).")
        .tips(MULTI_SHARD),
    Command::new("unlink", -2, WRITE | FAST, KeySpec::range(1, -1, 1), KW | acl::FAST, del)
        .key_specs(DEL_KEYS)
        .doc(G, "4.0.0", "Asynchronously deletes one or more keys.", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.")
        .tips(MULTI_SHARD),
    Command::new("exists", -2, READONLY | FAST, KeySpec::range(1, -1, 1), KR | acl::FAST, exists)
        .key_specs(RO_KEYS)
        .doc(G, "1.0.0", "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check.")
        .tips(MULTI_SHARD),
    Command::new("type", 2, READONLY | FAST, KeySpec::one(1), KR | acl::FAST, type_cmd)
        .key_specs(KEY_RO)
        .doc(G, "1.0.0", "Determines the type of value stored at a key.", "O(1)"),
    Command::new("rename", 3, WRITE, KeySpec::range(1, 2, 1), KW | acl::SLOW, rename)
        .key_specs(RENAME_KEYS)
        .doc(G, "1.0.0", "Renames a key and overwrites the destination.", "O(1)"),
    Command::new("renamenx", 3, WRITE | FAST, KeySpec::range(1, 2, 1), KW | acl::FAST, renamenx)
        .key_specs(RENAMENX_KEYS)
        .doc(G, "1.0.0", "Renames a key only when the target key name doesn't exist.", "O(1)"),
    Command::new("copy", -3, WRITE | DENYOOM, KeySpec::range(1, 2, 1), KW | acl::SLOW, copy)
        .key_specs(COPY_KEYS)
        .doc(G, "6.2.0", "Copies the value of a key to a new key.", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values."),
    Command::new("move", 3, WRITE | FAST, KeySpec::one(1), KW | acl::FAST, move_cmd)
        .key_specs(MOVE_KEY)
        .doc(G, "1.0.0", "Moves a key to another database.", "O(1)"),
    Command::new("expire", -3, WRITE | FAST, KeySpec::one(1), KW | acl::FAST, expire)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "1.0.0", "Sets the expiration time of a key in seconds.", "O(1)"),
    Command::new("pexpire", -3, WRITE | FAST, KeySpec::one(1), KW | acl::FAST, pexpire)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "2.6.0", "Sets the expiration time of a key in milliseconds.", "O(1)"),
    Command::new("expireat", -3, WRITE | FAST, KeySpec::one(1), KW | acl::FAST, expireat)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", "O(1)"),
    Command::new("pexpireat", -3, WRITE | FAST, KeySpec::one(1), KW | acl::FAST, pexpireat)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)"),
    Command::new("ttl", 2, READONLY | FAST, KeySpec::one(1), KR | acl::FAST, ttl)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "1.0.0", "Returns the expiration time in seconds of a key.", "O(1)")
        .tips(NONDETERMINISTIC),
    Command::new("pttl", 2, READONLY | FAST, KeySpec::one(1), KR | acl::FAST, pttl)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.6.0", "Returns the expiration time in milliseconds of a key.", "O(1)")
        .tips(NONDETERMINISTIC),
    Command::new("expiretime", 2, READONLY | FAST, KeySpec::one(1), KR | acl::FAST, expiretime)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", "O(1)"),
    Command::new("pexpiretime", 2, READONLY | FAST, KeySpec::one(1), KR | acl::FAST, pexpiretime)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)"),
    Command::new("persist", 2, WRITE | FAST, KeySpec::one(1), KW | acl::FAST, persist)
        .key_specs(KEY_RW_UPDATE)
        .doc(G, "2.2.0", "Removes the expiration time of a key.", "O(1)"),
    Command::new("touch", -2, READONLY | FAST, KeySpec::range(1, -1, 1), KR | acl::FAST, touch)
        .key_specs(RO_KEYS)
        .doc(G, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "O(N) where N is the number of keys that will be touched.")
        .tips(MULTI_SHARD),
    Command::unpinned("keys", 2, READONLY, KeySpec::NONE, KR | acl::SLOW | acl::DANGEROUS, keys)
        .doc(G, "1.0.0", "Returns all key names that match a pattern.", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.")
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"]),
    Command::unpinned("scan", -2, READONLY, KeySpec::NONE, KR | acl::SLOW, scan)
        .doc(G, "2.8.0", "Iterates over the key names in the database.", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")
        .tips(&["nondeterministic_output", "request_policy:special"]),
    Command::new("randomkey", 1, READONLY, KeySpec::NONE, KR | acl::SLOW, randomkey)
        .doc(G, "1.0.0", "Returns a random key name from the database.", "O(1)")
        .tips(&["request_policy:all_shards", "nondeterministic_output"]),
    Command::new("dump", 2, READONLY, KeySpec::one(1), KR | acl::SLOW, dump_cmd)
        .key_specs(KEY_RO_ACCESS)
        .doc(G, "2.6.0", "Returns a serialized representation of the value stored at a key.", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).")
        .tips(NONDETERMINISTIC),
    Command::new("restore", -4, WRITE | DENYOOM, KeySpec::one(1), KW | acl::SLOW | acl::DANGEROUS, restore)
        .key_specs(RESTORE_KEY)
        .doc(G, "2.6.0", "Creates a key from the serialized representation of a value.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."),
];

/// Counts read lookups in INFO's `keyspace_hits` / `keyspace_misses`, as
/// Redis does for every lookup made for reading.
pub(crate) fn count_lookups(shared: &Shared, hits: u64, misses: u64) {
    shared.stats.with_local(|t| {
        if hits > 0 {
            t.keyspace_hits.add(hits);
        }
        if misses > 0 {
            t.keyspace_misses.add(misses);
        }
    });
}

/// DEL and UNLINK. Ferrite never frees a value on the command path (memory is
/// reclaimed after readers unpin), so both are the same non-blocking delete.
fn del(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(mut set) = ctx.keys.write_many(&args[1..]) else {
        return;
    };
    let mut n = 0;
    for i in 0..set.len() {
        if set.nth(i).delete() {
            n += 1;
        }
    }
    drop(set);
    ctx.out.int(n);
}

/// EXISTS counts a key once per mention (`EXISTS k k` is 2) and does not
/// touch the keys.
fn exists(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(reads) = ctx.keys.peek_many(&args[1..]) else {
        return;
    };
    let n = reads.found();
    drop(reads);
    count_lookups(ctx.shared, n as u64, (args.len() - 1 - n) as u64);
    ctx.out.int(n as i64);
}

/// TOUCH: like EXISTS, but records an access on every existing key.
fn touch(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(reads) = ctx.keys.read_many(&args[1..]) else {
        return;
    };
    let n = reads.found();
    drop(reads);
    count_lookups(ctx.shared, n as u64, (args.len() - 1 - n) as u64);
    ctx.out.int(n as i64);
}

fn type_cmd(ctx: &mut Ctx, args: &[&[u8]]) {
    // Without touching the key (Redis's `LOOKUP_NOTOUCH`).
    let Ok(view) = ctx.keys.peek(args[1]) else {
        return;
    };
    count_lookups(ctx.shared, view.is_some() as u64, view.is_none() as u64);
    let name = view.map_or("none", |v| v.value().type_name());
    ctx.out.simple(name);
}

fn rename(ctx: &mut Ctx, args: &[&[u8]]) {
    rename_generic(ctx, args, false);
}

fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) {
    rename_generic(ctx, args, true);
}

/// RENAME / RENAMENX: the value and its TTL move to the new name; both names
/// are latched together, so no client sees the key under both or neither.
fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) {
    let (src, dst) = (args[1], args[2]);
    let Ok(mut set) = ctx.keys.write_many(&[src, dst]) else {
        return;
    };
    let outcome = if !set.nth_ref(0).exists() {
        Err(errors::NO_SUCH_KEY)
    } else if src == dst || (nx && set.nth_ref(1).exists()) {
        Ok(false)
    } else {
        move_key(&mut set);
        Ok(true)
    };
    drop(set);
    if outcome == Ok(true) {
        let db = ctx.keys.selected();
        blocking::signal_ready(ctx.shared, ctx.client, db, dst);
    }
    match outcome {
        Err(e) => ctx.error(e),
        Ok(done) if nx => ctx.out.int(done as i64),
        Ok(_) => ctx.out.ok(),
    }
}

/// Moves an existing key's value, TTL and access word (LRU clock or LFU
/// counter: in Redis the same object changes name) from the first latched
/// key to the second (a different key).
fn move_key(set: &mut Latches<'_, '_>) {
    let src = set.nth(0);
    let word = src.slot().access_clock();
    let (value, expire) = src.take().expect("source exists");
    let dst = set.nth(1);
    dst.set_with_expire(value, expire);
    dst.slot().set_access(word);
}

/// COPY source destination [DB index] [REPLACE]. The copy keeps the TTL and
/// starts with a fresh access time (it is a new value, as in Redis).
fn copy(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut dst_db = ctx.client.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if args[i].eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            let Some(n) = ctx.db_index_arg(args[i + 1]) else {
                return;
            };
            dst_db = n;
            i += 1;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 1;
    }
    let (src_key, dst_key) = (args[1], args[2]);
    if dst_db == ctx.client.db && src_key == dst_key {
        return ctx.error(errors::SAME_OBJECT);
    }
    let src_db = ctx.client.db;
    // Both databases come from one version of the database table.
    let Ok(mut set) = ctx
        .keys
        .write_many_in(&[(src_db, src_key), (dst_db, dst_key)])
    else {
        return;
    };
    let source = set.nth_ref(0);
    let found = source.value().cloned().map(|v| (v, source.expire()));
    let hit = found.is_some();
    let copied = match found {
        Some((value, expire)) if replace || !set.nth_ref(1).exists() => {
            let dst = set.nth(1);
            dst.set_with_expire(value, expire);
            dst.slot()
                .set_access(access::initial(access::clock_word(ctx.clock.now_ms)));
            true
        }
        _ => false,
    };
    drop(set);
    if copied {
        blocking::signal_ready(ctx.shared, ctx.client, dst_db, dst_key);
    }
    count_lookups(ctx.shared, hit as u64, !hit as u64);
    ctx.out.int(copied as i64);
}

/// MOVE key db: moves the key with its TTL unless the target database
/// already has one of that name.
fn move_cmd(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(dst_db) = ctx.db_index_arg(args[2]) else {
        return;
    };
    if dst_db == ctx.client.db {
        return ctx.error(errors::SAME_OBJECT);
    }
    let key = args[1];
    let src_db = ctx.client.db;
    let Ok(mut set) = ctx.keys.write_many_in(&[(src_db, key), (dst_db, key)]) else {
        return;
    };
    let moved = set.nth_ref(0).exists() && !set.nth_ref(1).exists();
    if moved {
        move_key(&mut set);
    }
    drop(set);
    if moved {
        blocking::signal_ready(ctx.shared, ctx.client, dst_db, key);
    }
    ctx.out.int(moved as i64);
}

/// The NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Clone, Copy, Debug, Default)]
struct ExpireIf {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireIf {
    /// Parses the options after the time, with Redis's errors.
    fn parse(opts: &[&[u8]]) -> Result<ExpireIf, String> {
        let mut f = ExpireIf::default();
        for opt in opts {
            match opt.to_ascii_lowercase().as_slice() {
                b"nx" => f.nx = true,
                b"xx" => f.xx = true,
                b"gt" => f.gt = true,
                b"lt" => f.lt = true,
                _ => return Err(format!("ERR Unsupported option {}", c_string(opt))),
            }
        }
        if f.nx && (f.xx || f.gt || f.lt) {
            return Err(
                "ERR NX and XX, GT or LT options at the same time are not compatible".into(),
            );
        }
        if f.gt && f.lt {
            return Err("ERR GT and LT options at the same time are not compatible".into());
        }
        Ok(f)
    }

    /// Whether the new deadline `when` may replace `current` (`None` =
    /// persistent, which GT treats as infinite and LT as always greater).
    fn allows(self, current: Option<i64>, when: i64) -> bool {
        !(self.nx && current.is_some()
            || self.xx && current.is_none()
            || self.gt && current.is_none_or(|c| when <= c)
            || self.lt && current.is_some_and(|c| when >= c))
    }
}

/// How Redis's `%s` shows an argument in an error line: up to the first NUL,
/// with CR and LF turned into spaces.
fn c_string(b: &[u8]) -> String {
    let end = memchr::memchr(0, b).unwrap_or(b.len());
    errors::sanitize(&b[..end], end)
}

fn expire(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, "expire", true, true);
}

fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, "pexpire", true, false);
}

fn expireat(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, "expireat", false, true);
}

fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, "pexpireat", false, false);
}

/// The absolute deadline in ms an EXPIRE-family argument names, or `None`
/// when the conversion overflows (Redis's "invalid expire time").
fn expire_deadline(value: i64, relative_to: i64, seconds: bool) -> Option<i64> {
    let ms = if seconds {
        value.checked_mul(1000)?
    } else {
        value
    };
    // Redis only guards against overflow past the top: a very negative
    // deadline is simply in the past.
    if ms > i64::MAX - relative_to {
        return None;
    }
    Some(ms + relative_to)
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX | XX] [GT | LT].
/// A deadline that has already passed deletes the key (and replies 1).
fn expire_generic(ctx: &mut Ctx, args: &[&[u8]], name: &str, relative: bool, seconds: bool) {
    let cond = match ExpireIf::parse(&args[3..]) {
        Ok(c) => c,
        Err(e) => return ctx.error(&e),
    };
    let Some(value) = ctx.int_arg(args[2]) else {
        return;
    };
    let now = ctx.clock.now_ms as i64;
    let Some(when) = expire_deadline(value, if relative { now } else { 0 }, seconds) else {
        return ctx.error(&errors::invalid_expire(name));
    };
    let Ok(found) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut key) = found else {
        return ctx.out.int(0);
    };
    let current = key.expire().map(|e| e as i64);
    let done = cond.allows(current, when);
    if done {
        if when <= now {
            key.delete();
        } else {
            key.set_expire(Some(when as u64));
        }
    }
    drop(key);
    ctx.out.int(done as i64);
}

fn ttl(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args, false, false);
}

fn pttl(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args, true, false);
}

fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args, false, true);
}

fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args, true, true);
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 for no key, -1 for no TTL;
/// seconds are rounded to the nearest second, as Redis does.
fn ttl_generic(ctx: &mut Ctx, args: &[&[u8]], ms: bool, absolute: bool) {
    // Without touching the key (Redis's `LOOKUP_NOTOUCH`).
    let Ok(view) = ctx.keys.peek(args[1]) else {
        return;
    };
    count_lookups(ctx.shared, view.is_some() as u64, view.is_none() as u64);
    let Some(view) = view else {
        return ctx.out.int(-2);
    };
    let Some(expire) = view.expire() else {
        return ctx.out.int(-1);
    };
    let t = if absolute {
        expire
    } else {
        expire.saturating_sub(ctx.clock.now_ms)
    };
    let t = if ms { t } else { (t + 500) / 1000 };
    ctx.out.int(t as i64);
}

fn persist(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(found) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut key) = found else {
        return ctx.out.int(0);
    };
    let had_ttl = key.expire().is_some();
    if had_ttl {
        key.set_expire(None);
    }
    drop(key);
    ctx.out.int(had_ttl as i64);
}

/// Writes keys as an array of bulk strings.
fn reply_key_list(out: &mut Reply, keys: &[Vec<u8>]) {
    out.array(keys.len());
    for k in keys {
        out.bulk(k);
    }
}

/// KEYS pattern: every live key matching the glob pattern. Walks with
/// periodic re-pins (see `Keyspace::walk`), holding its database by handle.
fn keys(ctx: &mut Unpinned, args: &[&[u8]]) {
    let pattern = args[1];
    let all = pattern == b"*";
    let mut found = Vec::new();
    let db = ctx.shared.store.db_arc(ctx.client.db);
    let repeats = db.walk(ctx.clock.no_touch(), |k, _| {
        if all || glob_match(pattern, k, false) {
            found.push(k.to_vec());
        }
    });
    ctx.shared.store.release(db);
    if repeats {
        // The table resized during the walk, which may show a key twice.
        found.sort_unstable();
        found.dedup();
    }
    reply_key_list(ctx.out, &found);
}

/// Parses a SCAN cursor as Redis does (`strtoul` in base 10): an optional
/// sign, digits, nothing after them up to the first NUL, no leading space and
/// no overflow; a minus sign negates modulo 2^64 and the empty string is 0.
pub(crate) fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let s = &arg[..memchr::memchr(0, arg).unwrap_or(arg.len())];
    let digits = match s.first() {
        None => return Some(0),
        Some(b'-' | b'+') => &s[1..],
        Some(_) => s,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    Some(if s[0] == b'-' { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
///
/// The cursor is Redis's reverse-binary bucket cursor over the keyspace's
/// hash table, so every key that exists for the whole iteration is returned
/// at least once however the table grows or shrinks meanwhile, and cursors
/// stay far below 2^53. COUNT bounds the keys visited (before MATCH and TYPE
/// filter them), as in Redis.
fn scan(ctx: &mut Unpinned, args: &[&[u8]]) {
    let Some(cursor) = parse_cursor(args[1]) else {
        return ctx.error("ERR invalid cursor");
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let (opt, has_value) = (&args[i], i + 1 < args.len());
        if opt.eq_ignore_ascii_case(b"count") && has_value {
            let Some(n) = ctx.int_arg(args[i + 1]) else {
                return;
            };
            if n < 1 {
                return ctx.error(errors::SYNTAX);
            }
            count = n;
        } else if opt.eq_ignore_ascii_case(b"match") && has_value {
            pattern = Some(args[i + 1]).filter(|p| *p != b"*");
        } else if opt.eq_ignore_ascii_case(b"type") && has_value {
            type_name = Some(args[i + 1]);
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 2;
    }
    let mut found = Vec::new();
    let mut visited = 0i64;
    let db = ctx.shared.store.db_arc(ctx.client.db);
    // As Redis: visit whole buckets until COUNT keys were seen, or ten
    // times COUNT buckets (mostly empty ones) were.
    let max_buckets = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .saturating_mul(10);
    let next = db.scan(cursor, ctx.clock.no_touch(), max_buckets, |k, view| {
        visited += 1;
        let matches = pattern.is_none_or(|p| glob_match(p, k, false))
            && type_name.is_none_or(|t| t.eq_ignore_ascii_case(view.type_name().as_bytes()));
        if matches {
            found.push(k.to_vec());
        }
        visited < count
    });
    ctx.shared.store.release(db);
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply_key_list(ctx.out, &found);
}

fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) {
    match ctx.keys.random_key() {
        Ok(Some(k)) => ctx.out.bulk(k),
        Ok(None) => ctx.out.null(),
        Err(_) => {}
    }
}

/// Whether `rdbcompression` is on (it governs DUMP payloads too).
pub(crate) fn rdb_compression(ctx: &Ctx) -> bool {
    ctx.shared
        .config
        .value("rdbcompression")
        .is_none_or(|v| v.eq_ignore_ascii_case("yes"))
}

fn dump_cmd(ctx: &mut Ctx, args: &[&[u8]]) {
    let compress = rdb_compression(ctx);
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    count_lookups(ctx.shared, view.is_some() as u64, view.is_none() as u64);
    match view {
        Some(v) => {
            let payload = dump::create(v.value(), compress);
            ctx.out.bulk(&payload);
        }
        None => ctx.out.null(),
    }
}

/// The options of RESTORE after the payload.
#[derive(Default)]
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    idletime: Option<i64>,
    freq: Option<u8>,
}

impl RestoreOpts {
    /// Parses the options with Redis's errors. IDLETIME and FREQ exclude each
    /// other (the second one is a syntax error).
    fn parse(ctx: &mut Ctx, opts: &[&[u8]]) -> Option<RestoreOpts> {
        let mut o = RestoreOpts::default();
        let mut i = 0;
        while i < opts.len() {
            let (opt, value) = (&opts[i], opts.get(i + 1));
            if opt.eq_ignore_ascii_case(b"replace") {
                o.replace = true;
            } else if opt.eq_ignore_ascii_case(b"absttl") {
                o.absttl = true;
            } else if let (true, Some(v), None) =
                (opt.eq_ignore_ascii_case(b"idletime"), value, o.freq)
            {
                let n = ctx.int_arg(v)?;
                if n < 0 {
                    ctx.error("ERR Invalid IDLETIME value, must be >= 0");
                    return None;
                }
                o.idletime = Some(n);
                i += 1;
            } else if let (true, Some(v), None) =
                (opt.eq_ignore_ascii_case(b"freq"), value, o.idletime)
            {
                let n = ctx.int_arg(v)?;
                let Ok(f) = u8::try_from(n) else {
                    ctx.error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                    return None;
                };
                o.freq = Some(f);
                i += 1;
            } else {
                ctx.error(errors::SYNTAX);
                return None;
            }
            i += 1;
        }
        Some(o)
    }
}

/// Validates RESTORE's TTL and decodes the payload (before any latch is
/// taken): the value and its TTL argument, or the error to reply.
fn restore_input(args: &[&[u8]], limits: dump::Limits) -> Result<(Value, i64), &'static str> {
    let ttl = crate::util::num::parse_i64(args[2]).ok_or(errors::NOT_INTEGER)?;
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0");
    }
    let value = dump::load(args[3], limits).map_err(dump::RestoreError::message)?;
    Ok((value, ttl))
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f].
///
/// Errors come in Redis's order: options, then BUSYKEY, then the TTL, then
/// the payload. The payload is decoded before the key is latched, so the
/// latch is held only to check and publish.
fn restore(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(opts) = RestoreOpts::parse(ctx, &args[4..]) else {
        return;
    };
    let limits = dump::Limits {
        hash: super::hashes::limits(ctx),
        max_intset: ctx.shared.config.set_max_intset_entries(),
        list_fill: ctx.shared.config.list_max_listpack_size(),
        zset: crate::commands::zsets::limits(ctx),
    };
    let input = restore_input(args, limits);
    let now = ctx.clock.now_ms;
    let access_word = restore_access(ctx, &opts, now);
    let Ok(mut key) = ctx.keys.write(args[1]) else {
        return;
    };
    if !opts.replace && key.exists() {
        drop(key);
        return ctx.error("BUSYKEY Target key name already exists.");
    }
    let (value, ttl) = match input {
        Ok(x) => x,
        Err(e) => {
            drop(key);
            return ctx.error(e);
        }
    };
    // Like Redis, a relative TTL that overflows wraps into the past.
    let deadline = match ttl {
        0 => None,
        t if opts.absttl => Some(t),
        t => Some(t.wrapping_add(now as i64)),
    };
    match deadline {
        Some(t) if t <= now as i64 => {
            key.delete();
        }
        _ => {
            key.set_with_expire(value, deadline.map(|t| t as u64));
            key.slot().set_access(access_word);
        }
    }
    drop(key);
    let db = ctx.keys.selected();
    blocking::signal_ready(ctx.shared, ctx.client, db, args[1]);
    ctx.out.ok();
}

/// The access word of a restored key: a new value's (REPLACE does not
/// inherit the old key's), unless IDLETIME (LRU policies) or FREQ (LFU
/// policies) gives one; the option that does not match the policy is ignored,
/// as in Redis.
fn restore_access(ctx: &Ctx, opts: &RestoreOpts, now: u64) -> u32 {
    match (super::object::lfu_policy(ctx), opts.freq, opts.idletime) {
        (true, Some(f), _) => access::lfu_for_freq(f, now),
        (false, _, Some(idle)) => access::lru_for_idle(idle, now),
        _ => access::initial(access::clock_word(now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"-0"), Some(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"5\0junk"), Some(5));
        for bad in [
            &b"18446744073709551616"[..],
            b"abc",
            b" 1",
            b"1 ",
            b"1.5",
            b"-",
            b"+",
            b"0x10",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn expire_conditions() {
        let f = |o: &[&str]| ExpireIf::parse(&o.iter().map(|s| s.as_bytes()).collect::<Vec<_>>());
        assert!(f(&["nx", "xx"]).unwrap_err().contains("NX and XX"));
        assert!(f(&["gt", "LT"]).unwrap_err().contains("GT and LT"));
        assert_eq!(f(&["foo"]).unwrap_err(), "ERR Unsupported option foo");
        let gt = f(&["gt"]).unwrap();
        assert!(!gt.allows(None, 5));
        assert!(gt.allows(Some(4), 5));
        assert!(!gt.allows(Some(5), 5));
        let lt = f(&["lt"]).unwrap();
        assert!(lt.allows(None, 5));
        assert!(!lt.allows(Some(5), 5));
        let xx_gt = f(&["xx", "gt"]).unwrap();
        assert!(!xx_gt.allows(None, 5));
        assert!(f(&["nx", "nx"]).unwrap().allows(None, 1));
    }

    #[test]
    fn deadlines_overflow_like_redis() {
        assert_eq!(expire_deadline(1, 100, true), Some(1100));
        assert_eq!(expire_deadline(i64::MAX / 1000 + 1, 0, true), None);
        assert_eq!(expire_deadline(i64::MIN / 1000 - 1, 0, true), None);
        assert_eq!(expire_deadline(i64::MAX, 1, false), None);
        assert_eq!(expire_deadline(i64::MAX, 0, false), Some(i64::MAX));
        assert_eq!(expire_deadline(i64::MIN, 5, false), Some(i64::MIN + 5));
    }
}
