//! OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT | HELP.
//!
//! These inspect a key without counting as an access: lookups use a no-touch
//! clock, so OBJECT IDLETIME does not reset the idle time it reports. The
//! access word they read is described in `store::access`.

use super::access::{Keys, Read};
use super::flags::*;
use super::{acl, key_flags, Command, Ctx, KeySpec, KeySpecEntry};
use crate::config::MaxmemoryPolicy;
use crate::protocol::Reply;
use crate::server::Shared;
use crate::store::access;
use crate::types::{Str, Value};

const G: &str = "generic";
const KR_SLOW: u64 = acl::KEYSPACE | acl::READ | acl::SLOW;
const TIPS: &[&str] = &["nondeterministic_output"];
/// The inspected key (COMMAND INFO key specification).
const KEY: &[KeySpecEntry] = &[KeySpecEntry::one(2, key_flags::RO)];

static SUBCOMMANDS: &[Command] = &[
    Command::new(
        "object|encoding",
        3,
        READONLY,
        KeySpec::one(2),
        KR_SLOW,
        encoding,
    )
    .doc(
        G,
        "2.2.3",
        "Returns the internal encoding of a Redis object.",
        "O(1)",
    )
    .tips(TIPS)
    .key_specs(KEY),
    Command::new("object|freq", 3, READONLY, KeySpec::one(2), KR_SLOW, freq)
        .doc(
            G,
            "4.0.0",
            "Returns the logarithmic access frequency counter of a Redis object.",
            "O(1)",
        )
        .tips(TIPS)
        .key_specs(KEY),
    Command::new(
        "object|help",
        2,
        LOADING | STALE,
        KeySpec::NONE,
        acl::KEYSPACE | acl::SLOW,
        help,
    )
    .doc(
        G,
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
    Command::new(
        "object|idletime",
        3,
        READONLY,
        KeySpec::one(2),
        KR_SLOW,
        idletime,
    )
    .doc(
        G,
        "2.2.3",
        "Returns the time since the last access to a Redis object.",
        "O(1)",
    )
    .tips(TIPS)
    .key_specs(KEY),
    Command::new(
        "object|refcount",
        3,
        READONLY,
        KeySpec::one(2),
        KR_SLOW,
        refcount,
    )
    .doc(
        G,
        "2.2.3",
        "Returns the reference count of a value of a key.",
        "O(1)",
    )
    .tips(TIPS)
    .key_specs(KEY),
];

pub static COMMANDS: &[Command] =
    &[
        Command::new("object", -2, 0, KeySpec::NONE, acl::SLOW, container)
            .doc(
                G,
                "2.2.3",
                "A container for object introspection commands.",
                "Depends on subcommand.",
            )
            .subs(SUBCOMMANDS),
    ];

/// Dispatch resolves OBJECT's subcommands before calling a handler, so this
/// runs only if that ever changes; it answers as Redis does for an unknown one.
fn container(ctx: &mut Ctx, args: &[&[u8]]) {
    let sub = args.get(1).map_or(&b""[..], |a| &a[..]);
    ctx.error(&format!(
        "ERR unknown subcommand '{}'. Try OBJECT HELP.",
        super::errors::sanitize(sub, 128)
    ));
}

/// Whether `maxmemory-policy` is an LFU policy (access words are LFU counters).
pub(crate) fn lfu_policy(ctx: &Ctx) -> bool {
    matches!(
        ctx.shared.config.maxmemory_policy(),
        MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
    )
}

/// Whether Redis would store small integers as shared objects: always,
/// unless a maxmemory limit with an LRU or LFU policy needs per-value access
/// fields.
fn shares_integers(ctx: &Ctx) -> bool {
    use MaxmemoryPolicy::*;
    let per_value = matches!(
        ctx.shared.config.maxmemory_policy(),
        AllkeysLru | VolatileLru | AllkeysLfu | VolatileLfu
    );
    ctx.shared.config.maxmemory() == 0 || !per_value
}

/// Looks the key up without touching it (Redis's `LOOKUP_NOTOUCH`),
/// replying null if it is absent.
fn lookup<'r, 'g>(
    keys: &'r mut Keys<'_, 'g>,
    shared: &Shared,
    out: &mut Reply,
    key: &[u8],
) -> Option<Read<'r, 'g>> {
    let view = keys.peek(key).ok()?;
    super::keys::count_lookups(shared, view.is_some() as u64, view.is_none() as u64);
    if view.is_none() {
        out.null();
    }
    view
}

fn encoding(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(v) = lookup(&mut ctx.keys, ctx.shared, ctx.out, args[2]) {
        ctx.out.bulk(v.value().encoding().as_bytes());
    }
}

/// Redis shares the integers 0..9999 between keys and reports their reference
/// count as `INT_MAX`; every other value has one reference.
fn refcount(ctx: &mut Ctx, args: &[&[u8]]) {
    let shares = shares_integers(ctx);
    let Some(v) = lookup(&mut ctx.keys, ctx.shared, ctx.out, args[2]) else {
        return;
    };
    let shared_int = matches!(v.value(), Value::Str(Str::Int(n)) if (0..10_000).contains(n));
    let n = if shared_int && shares {
        i64::from(i32::MAX)
    } else {
        1
    };
    ctx.out.int(n);
}

fn idletime(ctx: &mut Ctx, args: &[&[u8]]) {
    let lfu = lfu_policy(ctx);
    let Some(v) = lookup(&mut ctx.keys, ctx.shared, ctx.out, args[2]) else {
        return;
    };
    if lfu {
        return ctx.out.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    let idle = access::idle_ms(v.slot().access_clock(), ctx.clock.now_ms) / 1000;
    ctx.out.int(idle as i64);
}

fn freq(ctx: &mut Ctx, args: &[&[u8]]) {
    let lfu = lfu_policy(ctx);
    let Some(v) = lookup(&mut ctx.keys, ctx.shared, ctx.out, args[2]) else {
        return;
    };
    if !lfu {
        return ctx.out.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    // Decay first: the counter is only updated when the key is accessed.
    let counter = access::lfu_decr_and_return(
        v.slot().access_clock(),
        access::lfu_minutes(ctx.clock.now_ms),
    );
    ctx.out.int(i64::from(counter));
}

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.array(HELP.len());
    for line in HELP {
        ctx.out.simple(line);
    }
}
