//! Database commands: DBSIZE SWAPDB FLUSHDB FLUSHALL (SELECT is a connection
//! command).
//!
//! SWAPDB and the flushes replace entries of the store's database table in one
//! atomic step (`Store::swap_dbs` / `flush_db` / `flush_all`): a command that
//! already resolved a database finishes on it and is ordered before the
//! change. Old keyspaces are always dropped on a background thread, so
//! FLUSHDB and FLUSHALL never block the caller, with or without ASYNC.

use super::flags::*;
use super::{acl, errors, Command, Ctx, KeySpec};

const G: &str = "server";

const FLUSH_TIPS: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];
const KW_DANGER: u64 = acl::KEYSPACE | acl::WRITE | acl::DANGEROUS;

pub static COMMANDS: &[Command] = &[
    Command::new(
        "dbsize",
        1,
        READONLY | FAST,
        KeySpec::NONE,
        acl::KEYSPACE | acl::READ | acl::FAST,
        dbsize,
    )
    .doc(
        G,
        "1.0.0",
        "Returns the number of keys in the database.",
        "O(1)",
    )
    .tips(&["request_policy:all_shards", "response_policy:agg_sum"]),
    Command::new(
        "swapdb",
        3,
        WRITE | FAST,
        KeySpec::NONE,
        KW_DANGER | acl::FAST,
        swapdb,
    )
    .doc(
        G,
        "4.0.0",
        "Swaps two Redis databases.",
        "O(N) where N is the count of clients watching or blocking on keys from both databases.",
    ),
    Command::new(
        "flushdb",
        -1,
        WRITE,
        KeySpec::NONE,
        KW_DANGER | acl::SLOW,
        flushdb,
    )
    .doc(
        G,
        "1.0.0",
        "Remove all keys from the current database.",
        "O(N) where N is the number of keys in the selected database",
    )
    .tips(FLUSH_TIPS),
    Command::new(
        "flushall",
        -1,
        WRITE,
        KeySpec::NONE,
        KW_DANGER | acl::SLOW,
        flushall,
    )
    .doc(
        G,
        "1.0.0",
        "Removes all keys from all databases.",
        "O(N) where N is the total number of keys in all databases",
    )
    .tips(FLUSH_TIPS),
];

/// DBSIZE counts keys that have expired but not been reclaimed yet, as Redis
/// does (active expiry keeps that number small).
fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.int(ctx.db().len() as i64);
}

/// A database index as Redis reads it for SWAPDB: a C `int`.
fn int_arg(arg: &[u8]) -> Option<i64> {
    crate::util::num::parse_i64(arg).filter(|n| i32::try_from(*n).is_ok())
}

fn swapdb(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(a) = int_arg(args[1]) else {
        return ctx.error("ERR invalid first DB index");
    };
    let Some(b) = int_arg(args[2]) else {
        return ctx.error("ERR invalid second DB index");
    };
    let n = ctx.shared.store.num_dbs() as i64;
    if !(0..n).contains(&a) || !(0..n).contains(&b) {
        return ctx.error(errors::DB_INDEX);
    }
    if a != b {
        ctx.shared.store.swap_dbs(a as usize, b as usize);
        // Clients blocked on a key of either database now wait on the
        // other database's key: serve those that became ready.
        super::blocking::signal_db_ready(ctx.shared, ctx.client, a as usize);
        super::blocking::signal_db_ready(ctx.shared, ctx.client, b as usize);
    }
    ctx.out.ok();
}

/// Validates the optional ASYNC / SYNC argument of FLUSHDB and FLUSHALL.
fn flush_args_ok(ctx: &mut Ctx, args: &[&[u8]]) -> bool {
    let ok = match args {
        [_] => true,
        [_, mode] => mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync"),
        _ => false,
    };
    if !ok {
        ctx.error(errors::SYNTAX);
    }
    ok
}

fn flushdb(ctx: &mut Ctx, args: &[&[u8]]) {
    if flush_args_ok(ctx, args) {
        ctx.shared.store.flush_db(ctx.client.db);
        ctx.out.ok();
    }
}

fn flushall(ctx: &mut Ctx, args: &[&[u8]]) {
    if flush_args_ok(ctx, args) {
        ctx.shared.store.flush_all();
        ctx.out.ok();
    }
}
