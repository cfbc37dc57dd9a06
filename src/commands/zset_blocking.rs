//! The blocking sorted set commands: BZPOPMIN BZPOPMAX BZMPOP, and the
//! serving of clients blocked on a sorted set (`commands::blocking` has
//! the machinery they share with the blocking list commands).

use super::blocking::{self, PushedAt, Served, Want};
use super::flags::*;
use super::key_flags::*;
use super::zsets::{parse_zmpop, pop_latched, zset_of};
use super::{acl, BeginSearch, Command, Ctx, FindKeys, KeySpec, KeySpecEntry};
use crate::server::{Client, Shared};
use crate::store::waiters::Flow;
use crate::store::Locked;
use crate::types::Value;

const G: &str = "sorted-set";

const POP_KEYS: &[KeySpecEntry] = &[KeySpecEntry::range(1, -2, 1, RW | ACCESS | DELETE)];
const MPOP_KEYS: &[KeySpecEntry] = &[KeySpecEntry::new(
    RW | ACCESS | DELETE,
    BeginSearch::Index(2),
    FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        keystep: 1,
    },
)];
const FAST_ACL: u64 = acl::WRITE | acl::SORTEDSET | acl::FAST | acl::BLOCKING;
const SLOW_ACL: u64 = acl::WRITE | acl::SORTEDSET | acl::SLOW | acl::BLOCKING;
const POP_COMPLEXITY: &str = "O(log(N)) with N being the number of elements in the sorted set.";

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command::new("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, KeySpec::range(1, -2, 1), FAST_ACL, bzpopmin)
        .key_specs(POP_KEYS)
        .doc(G, "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", POP_COMPLEXITY),
    Command::new("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, KeySpec::range(1, -2, 1), FAST_ACL, bzpopmax)
        .key_specs(POP_KEYS)
        .doc(G, "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", POP_COMPLEXITY),
    Command::new("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, KeySpec::NONE, SLOW_ACL, bzmpop)
        .key_specs(MPOP_KEYS)
        .keys_with(super::table::keynum_keys::<2>)
        .doc(G, "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
];

fn bzpopmin(ctx: &mut Ctx, args: &[&[u8]]) {
    bzpop_generic(ctx, args, false);
}

fn bzpopmax(ctx: &mut Ctx, args: &[&[u8]]) {
    bzpop_generic(ctx, args, true);
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout.
fn bzpop_generic(ctx: &mut Ctx, args: &[&[u8]], max: bool) {
    let Some(deadline) = blocking::timeout_arg(ctx, args[args.len() - 1]) else {
        return;
    };
    pop_or_park(ctx, &args[1..args.len() - 1], max, None, deadline);
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: its
/// arguments are checked before its timeout, as Redis does.
fn bzmpop(ctx: &mut Ctx, args: &[&[u8]]) {
    let (keys, max, count) = match parse_zmpop(args, 2) {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    let Some(deadline) = blocking::timeout_arg(ctx, args[1]) else {
        return;
    };
    pop_or_park(ctx, &keys, max, Some(count), deadline);
}

/// Pops from the first of `keys` that holds a sorted set (WRONGTYPE if a
/// key before it holds something else), or parks the client on all of
/// them.
fn pop_or_park(ctx: &mut Ctx, keys: &[&[u8]], max: bool, count: Option<usize>, deadline: u64) {
    let db = ctx.keys.selected();
    let table = blocking::table_mark(ctx.shared, ctx.guard);
    let may_block = blocking::may_block(ctx);
    let Ok(mut latches) = ctx.keys.write_many(keys) else {
        return;
    };
    for (i, key) in keys.iter().enumerate() {
        match zset_of(latches.nth_ref(i).value()) {
            Err(e) => {
                drop(latches);
                return ctx.error(e);
            }
            Ok(None) => continue,
            Ok(Some(_)) => {}
        }
        let popped = pop_latched(latches.nth(i), count.unwrap_or(1), max);
        drop(latches);
        let want = Want::ZPop { max, count };
        let served = Served::ZPop {
            key: key.to_vec(),
            items: popped,
        };
        return blocking::reply_served(ctx.out, &want, served);
    }
    if !may_block {
        drop(latches);
        return ctx.out.null_array();
    }
    let want = Want::ZPop { max, count };
    blocking::park(ctx.shared, ctx.client, db, keys, want, deadline, table);
    drop(latches);
}

/// Serves the sorted set waiters of the latched key `latch` in blocking
/// order, as long as it holds a sorted set.
pub fn serve_zset(shared: &Shared, db: usize, latch: &mut Locked<'_>) {
    let key = latch.key();
    shared.blocked.serve(db, key, |w| {
        let Some(Value::ZSet(_)) = latch.value() else {
            return Flow::Stop;
        };
        let Want::ZPop { max, count } = w.request.want else {
            return Flow::Next;
        };
        if w.claim() {
            let items = pop_latched(latch, count.unwrap_or(1), max);
            blocking::hand(
                w,
                Served::ZPop {
                    key: key.to_vec(),
                    items,
                },
            );
        }
        Flow::Next
    });
}

/// After ZADD/ZINCRBY filled `latch`'s key, still under its latch: serves
/// the key's waiters, or, inside a transaction, marks the key ready for
/// after it.
pub fn serve_pushed(
    shared: &Shared,
    client: &mut Client,
    at: PushedAt<'_>,
    latch: &mut Locked<'_>,
) {
    if !at.serve_now(shared, client, latch.key()) {
        return;
    }
    serve_zset(shared, at.db, latch);
}
