//! The blocking list commands: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP, and
//! the serving of clients blocked on a list (`commands::blocking` has the
//! machinery they share with the sorted sets').
//!
//! A blocking command latches its keys, and if one holds a list, behaves as
//! its non-blocking form (LPOP, LMOVE, LMPOP); if none does, it parks the
//! client under those latches. A push serves the key's waiters under its
//! latch ([`serve_under_latch`]).

use super::blocking::{self, PushedAt, Served, Want};
use super::flags::*;
use super::key_flags::*;
use super::lists::{fill, list_of, move_latched, parse_mpop, pop_latched, reply_mpop};
use super::{acl, errors, BeginSearch, Command, Ctx, FindKeys, KeySpec, KeySpecEntry};
use crate::server::{Client, Shared};
use crate::store::waiters::Flow;
use crate::store::{Clock, Locked};
use crate::types::list::{End, List};
use crate::types::Value;
use crossbeam_epoch::Guard;

const G: &str = "list";
const ACL: u64 = acl::WRITE | acl::LIST | acl::SLOW | acl::BLOCKING;

const POP_KEYS: &[KeySpecEntry] = &[KeySpecEntry::range(1, -2, 1, RW | ACCESS | DELETE)];
const MOVE_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RW | ACCESS | DELETE),
    KeySpecEntry::one(2, RW | INSERT),
];
const MPOP_KEYS: &[KeySpecEntry] = &[KeySpecEntry::new(
    RW | ACCESS | DELETE,
    BeginSearch::Index(2),
    FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        keystep: 1,
    },
)];
const MOVE_SUMMARY: &str =
    "Pop an element from a list, push it to another list and return it; or block until one is available";

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, KeySpec::range(1, -2, 1), ACL, blpop)
        .key_specs(POP_KEYS)
        .doc(G, "2.0.0", "Remove and get the first element in a list, or block until one is available", "O(N) where N is the number of provided keys."),
    Command::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, KeySpec::range(1, -2, 1), ACL, brpop)
        .key_specs(POP_KEYS)
        .doc(G, "2.0.0", "Remove and get the last element in a list, or block until one is available", "O(N) where N is the number of provided keys."),
    Command::new("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, KeySpec::range(1, 2, 1), ACL, brpoplpush)
        .key_specs(MOVE_KEYS)
        .doc(G, "2.2.0", MOVE_SUMMARY, "O(1)"),
    Command::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, KeySpec::range(1, 2, 1), ACL, blmove)
        .key_specs(MOVE_KEYS)
        .doc(G, "6.2.0", MOVE_SUMMARY, "O(1)"),
    Command::new("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, KeySpec::NONE, ACL, blmpop)
        .key_specs(MPOP_KEYS)
        .keys_with(super::table::keynum_keys::<2>)
        .doc(G, "7.0.0", "Pop elements from a list, or block until one is available", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

fn blpop(ctx: &mut Ctx, args: &[&[u8]]) {
    pop_generic(ctx, args, End::Head);
}

fn brpop(ctx: &mut Ctx, args: &[&[u8]]) {
    pop_generic(ctx, args, End::Tail);
}

/// BLPOP/BRPOP key [key ...] timeout.
fn pop_generic(ctx: &mut Ctx, args: &[&[u8]], end: End) {
    let Some(deadline) = blocking::timeout_arg(ctx, args[args.len() - 1]) else {
        return;
    };
    let keys = &args[1..args.len() - 1];
    pop_or_park(ctx, keys, end, None, deadline);
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: its
/// arguments are checked before its timeout, as Redis does.
fn blmpop(ctx: &mut Ctx, args: &[&[u8]]) {
    let (keys, end, count) = match parse_mpop(args, 2) {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    let Some(deadline) = blocking::timeout_arg(ctx, args[1]) else {
        return;
    };
    pop_or_park(ctx, &keys, end, Some(count), deadline);
}

/// Pops from the first of `keys` that holds a list (WRONGTYPE if a key
/// before it holds something else), or parks the client on all of them.
fn pop_or_park(ctx: &mut Ctx, keys: &[&[u8]], end: End, count: Option<usize>, deadline: u64) {
    let db = ctx.keys.selected();
    let table = blocking::table_mark(ctx.shared, ctx.guard);
    let may_block = blocking::may_block(ctx);
    let Ok(mut latches) = ctx.keys.write_many(keys) else {
        return;
    };
    for (i, key) in keys.iter().enumerate() {
        match list_of(latches.nth_ref(i).value()) {
            Err(e) => {
                drop(latches);
                return ctx.error(e);
            }
            Ok(None) => continue,
            Ok(Some(_)) => {
                let popped = pop_latched(latches.nth(i), end, count.unwrap_or(1));
                drop(latches);
                match count {
                    None => {
                        ctx.out.array(2);
                        ctx.out.bulk(key);
                        ctx.out.bulk(&popped[0]);
                    }
                    Some(_) => reply_mpop(ctx.out, key, &popped),
                }
                return;
            }
        }
    }
    if !may_block {
        drop(latches);
        return ctx.out.null_array();
    }
    let want = Want::Pop { end, count };
    blocking::park(ctx.shared, ctx.client, db, keys, want, deadline, table);
    drop(latches);
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout.
fn blmove(ctx: &mut Ctx, args: &[&[u8]]) {
    let (Some(from), Some(to)) = (End::parse(args[3]), End::parse(args[4])) else {
        return ctx.error(errors::SYNTAX);
    };
    let Some(deadline) = blocking::timeout_arg(ctx, args[5]) else {
        return;
    };
    move_or_park(ctx, args[1], args[2], from, to, deadline);
}

/// BRPOPLPUSH source destination timeout.
fn brpoplpush(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(deadline) = blocking::timeout_arg(ctx, args[3]) else {
        return;
    };
    move_or_park(ctx, args[1], args[2], End::Tail, End::Head, deadline);
}

fn move_or_park(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End, deadline: u64) {
    let db = ctx.keys.selected();
    let fill = fill(ctx);
    let table = blocking::table_mark(ctx.shared, ctx.guard);
    let may_block = blocking::may_block(ctx);
    let Ok(mut latches) = ctx.keys.write_many(&[src, dst]) else {
        return;
    };
    match list_of(latches.nth_ref(0).value()) {
        Err(e) => {
            drop(latches);
            ctx.error(e)
        }
        Ok(Some(_)) => {
            let r = move_latched(&mut latches, src == dst, from, to, fill);
            let ready = src != dst && ctx.shared.blocked.has_waiters(db, dst);
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
        Ok(None) if !may_block => {
            drop(latches);
            ctx.out.null()
        }
        Ok(None) => {
            let want = Want::Move {
                from,
                to,
                dst: dst.to_vec(),
            };
            blocking::park(ctx.shared, ctx.client, db, &[src], want, deadline, table);
            drop(latches);
        }
    }
}

/// What serving a key's list waiters needs besides the key's latch.
pub struct ServeEnv<'s, 'g> {
    pub shared: &'s Shared,
    pub db: usize,
    pub clock: Clock,
    pub guard: &'g Guard,
    pub fill: i32,
    /// Keys that became ready on the way (BLMOVE destinations with
    /// waiters of their own).
    pub ready: &'s mut Vec<(usize, Vec<u8>)>,
}

/// Serves the list waiters of the latched key `latch` in blocking order,
/// as long as it holds a list. Returns the destination of a BLMOVE waiter
/// that could not be latched without waiting: serving stopped there.
pub fn serve_list<'g>(env: &mut ServeEnv<'_, 'g>, latch: &mut Locked<'g>) -> Option<Vec<u8>> {
    let key = latch.key();
    let mut dsts: Vec<Locked<'g>> = Vec::new();
    let mut blocked_on = None;
    env.shared.blocked.serve(env.db, key, |w| {
        if !matches!(latch.value(), Some(Value::List(_))) {
            return Flow::Stop;
        }
        match &w.request.want {
            Want::ZPop { .. } => Flow::Next,
            Want::Pop { end, count } => {
                if w.claim() {
                    let items = pop_latched(latch, *end, count.unwrap_or(1));
                    blocking::hand(
                        w,
                        Served::Pop {
                            key: key.to_vec(),
                            items,
                        },
                    );
                }
                Flow::Next
            }
            Want::Move { from, to, dst } if dst[..] == *key => {
                if w.claim() {
                    let mut moved = None;
                    latch.update(|v| {
                        let Value::List(l) = v else {
                            unreachable!("checked above")
                        };
                        let e = l.pop(*from, 1).pop().expect("a live list is not empty");
                        l.push(*to, &e);
                        moved = Some(e);
                        true
                    });
                    blocking::hand(w, Served::Moved(moved.expect("a list to rotate")));
                }
                Flow::Next
            }
            Want::Move { from, to, dst } => {
                let at = match dsts.iter().position(|d| d.key() == &dst[..]) {
                    Some(at) => at,
                    None => match latch.keyspace().try_lock(dst, env.clock, env.guard) {
                        Some(l) => {
                            dsts.push(l);
                            dsts.len() - 1
                        }
                        None => {
                            blocked_on = Some(dst.clone());
                            return Flow::Stop;
                        }
                    },
                };
                let d = &mut dsts[at];
                let dst_list = match list_of(d.value()) {
                    Ok(l) => l.cloned(),
                    Err(e) => {
                        // As Redis: the client gets WRONGTYPE and is
                        // unblocked; the element stays.
                        if w.claim() {
                            blocking::hand(w, Served::Error(e));
                        }
                        return Flow::Next;
                    }
                };
                if !w.claim() {
                    return Flow::Next;
                }
                let e = pop_latched(latch, *from, 1).pop().expect("a live list");
                let mut dl = dst_list.unwrap_or_else(|| List::new(env.fill));
                dl.push(*to, &e);
                d.set(Value::List(dl));
                if env.shared.blocked.has_waiters(env.db, dst) {
                    env.ready.push((env.db, dst.clone()));
                }
                blocking::hand(w, Served::Moved(e));
                Flow::Next
            }
        }
    });
    blocked_on
}

/// After a push filled `latch`'s key, still under its latch: serves the
/// key's waiters, or, inside a transaction, marks the key ready for after
/// it. A BLMOVE waiter whose destination another client has latched is
/// served after the command instead (`blocking::serve_ready`).
pub fn serve_pushed<'g>(
    shared: &Shared,
    client: &mut Client,
    at: PushedAt<'g>,
    latch: &mut Locked<'g>,
) {
    if !at.serve_now(shared, client, latch.key()) {
        return;
    }
    let mut env = ServeEnv {
        shared,
        db: at.db,
        clock: at.clock,
        guard: at.guard,
        fill: at.fill,
        ready: &mut client.ready,
    };
    if serve_list(&mut env, latch).is_some() {
        client.ready.push((at.db, latch.key().to_vec()));
    }
}
