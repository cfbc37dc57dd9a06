//! String commands.

use super::flags::*;
use super::{acl, errors, Command, Ctx, KeySpec};
use crate::store::{lock_many, read_many, Keyspace};
use crate::types::{Str, Value};
use bytes::Bytes;

const G: &str = "string";

pub static COMMANDS: &[Command] = &[
    Command::new("get", 2, READONLY | FAST, KeySpec::one(1), acl::READ | acl::STRING | acl::FAST, get)
        .doc(G, "1.0.0", "Returns the string value of a key.", "O(1)"),
    Command::new("set", -3, WRITE | DENYOOM, KeySpec::one(1), acl::WRITE | acl::STRING | acl::SLOW, set)
        .doc(G, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "O(1)"),
    Command::new("mget", -2, READONLY | FAST, KeySpec::range(1, -1, 1), acl::READ | acl::STRING | acl::FAST, mget)
        .doc(G, "1.0.0", "Atomically returns the string values of one or more keys.", "O(N) where N is the number of keys to retrieve."),
    Command::new("mset", -3, WRITE | DENYOOM, KeySpec::range(1, -1, 2), acl::WRITE | acl::STRING | acl::SLOW, mset)
        .doc(G, "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "O(N) where N is the number of keys to set."),
];

/// Reads a string value, or replies WRONGTYPE. `Ok(None)` = no such key.
pub(crate) fn string_of(v: Option<&Value>) -> Result<Option<&Str>, &'static str> {
    match v {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        #[allow(unreachable_patterns)]
        Some(_) => Err(errors::WRONGTYPE),
    }
}

fn count_lookup(ctx: &Ctx, hit: bool) {
    ctx.shared.stats.with_local(|t| {
        let c = if hit { &t.keyspace_hits } else { &t.keyspace_misses };
        c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
}

fn get(ctx: &mut Ctx, args: &[Bytes]) {
    let view = ctx.db().get(&args[1], ctx.clock, ctx.guard);
    count_lookup(ctx, view.is_some());
    match string_of(view.map(|v| v.value)) {
        Ok(Some(s)) => s.write_bulk(ctx.out),
        Ok(None) => ctx.out.null(),
        Err(e) => ctx.error(e),
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

/// Converts an expiry argument to an absolute deadline in ms, with Redis's
/// validation and error texts (`cmd` names the command in the message).
pub(crate) fn deadline(ctx: &mut Ctx, unit: ExpireUnit, arg: &[u8], cmd: &str) -> Option<u64> {
    let v = ctx.int_arg(arg)?;
    if v <= 0 {
        ctx.error(&errors::invalid_expire(cmd));
        return None;
    }
    let ms = match unit {
        ExpireUnit::Ex | ExpireUnit::ExAt => v.checked_mul(1000),
        ExpireUnit::Px | ExpireUnit::PxAt => Some(v),
    };
    let abs = match (unit, ms) {
        (_, None) => None,
        (ExpireUnit::Ex | ExpireUnit::Px, Some(ms)) => ms.checked_add(ctx.clock.now_ms as i64),
        (_, Some(ms)) => Some(ms),
    };
    match abs {
        Some(t) if t > 0 => Some(t as u64),
        _ => {
            ctx.error(&errors::invalid_expire(cmd));
            None
        }
    }
}

fn set(ctx: &mut Ctx, args: &[Bytes]) {
    let mut nx = false;
    let mut xx = false;
    let mut get_old = false;
    let mut keepttl = false;
    let mut expire: Option<(ExpireUnit, &Bytes)> = None;
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let next = args.get(i + 1);
        let unit = match opt.to_ascii_uppercase().as_slice() {
            b"NX" if !xx => {
                nx = true;
                None
            }
            b"XX" if !nx => {
                xx = true;
                None
            }
            b"GET" => {
                get_old = true;
                None
            }
            b"KEEPTTL" if expire.is_none() => {
                keepttl = true;
                None
            }
            b"EX" => Some(ExpireUnit::Ex),
            b"PX" => Some(ExpireUnit::Px),
            b"EXAT" => Some(ExpireUnit::ExAt),
            b"PXAT" => Some(ExpireUnit::PxAt),
            _ => return ctx.error(errors::SYNTAX),
        };
        if let Some(unit) = unit {
            let conflict = keepttl || expire.is_some_and(|(u, _)| u != unit);
            match next {
                Some(n) if !conflict => expire = Some((unit, n)),
                _ => return ctx.error(errors::SYNTAX),
            }
            i += 1;
        }
        i += 1;
    }
    let when = match expire {
        Some((unit, arg)) => match deadline(ctx, unit, arg, "set") {
            Some(t) => Some(t),
            None => return,
        },
        None => None,
    };
    let db = ctx.db();
    let mut key = db.lock(&args[1], ctx.clock, ctx.guard);
    let old = match string_of(key.value()) {
        Ok(s) => s.cloned(),
        Err(e) => {
            if get_old {
                drop(key);
                return ctx.error(e);
            }
            None
        }
    };
    let exists = key.exists();
    let write = !(nx && exists || xx && !exists);
    if write {
        let value = Value::Str(Str::from_arg(&args[2]));
        match when {
            Some(t) if t <= ctx.clock.now_ms => {
                key.delete();
            }
            Some(t) => key.set_with_expire(value, Some(t)),
            None if keepttl => key.set(value),
            None => key.set_with_expire(value, None),
        }
    }
    drop(key);
    if get_old {
        match old {
            Some(s) => s.write_bulk(ctx.out),
            None => ctx.out.null(),
        }
    } else if write {
        ctx.out.ok();
    } else {
        ctx.out.null();
    }
}

fn mget(ctx: &mut Ctx, args: &[Bytes]) {
    let keys: Vec<&[u8]> = args[1..].iter().map(|a| &a[..]).collect();
    let values = read_many(ctx.db(), &keys, ctx.clock, ctx.guard);
    ctx.out.array(values.len());
    for v in values {
        match v {
            Some(Value::Str(s)) => s.write_bulk(ctx.out),
            #[allow(unreachable_patterns)]
            _ => ctx.out.null(),
        }
    }
}

fn mset(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() % 2 == 0 {
        return ctx.error(&errors::wrong_arity("mset"));
    }
    let db: &Keyspace = ctx.db();
    let pairs: Vec<(&Keyspace, &[u8])> = args[1..].chunks(2).map(|p| (db, &p[0][..])).collect();
    let mut set = lock_many(&pairs, ctx.clock, ctx.guard);
    for p in args[1..].chunks(2) {
        set.get(db, &p[0])
            .set_with_expire(Value::Str(Str::from_arg(&p[1])), None);
    }
    drop(set);
    ctx.out.ok();
}
