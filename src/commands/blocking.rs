//! What the blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP,
//! BZPOPMIN, BZPOPMAX, BZMPOP) share: the timeout argument, parking a
//! client on its keys, the reply a served or timed-out client gets, and
//! serving the waiters of keys that became ready.
//!
//! The hand-off itself is `store::waiters` (model-checked in
//! `loom-tests/tests/waiters.rs`): a blocking command that finds its keys
//! empty parks under their latches; a command that fills a key serves the
//! key's waiters in blocking order before it releases the latch (a push), or
//! marks the key ready and serves it right after the command (a key that
//! becomes ready indirectly: RENAME, a STORE, SWAPDB; and every key a
//! transaction fills, after the transaction), as Redis does.
//!
//! A parked client occupies no worker: its handler returns with
//! `Client::blocked` set, and its connection task awaits the waiter's
//! wake-up, its deadline, a kill or the peer closing (`server::connection`).

use super::Ctx;
use crate::protocol::Reply;
use crate::server::{Client, Shared};
use crate::store::waiters::{Cancel, Waiter, Waiters};
use crate::store::{Clock, DbTable};
use crate::types::Value;
use crossbeam_epoch::Guard;
use std::sync::Arc;

pub use crate::types::list::End;

/// What a blocked command waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// BLPOP/BRPOP (`count: None`: one element, replied `[key, element]`)
    /// and BLMPOP (`Some(n)`: up to n, replied `[key, [elements]]`).
    Pop { end: End, count: Option<usize> },
    /// BLMOVE and BRPOPLPUSH: one element moved to `dst`.
    Move { from: End, to: End, dst: Vec<u8> },
    /// BZPOPMIN/BZPOPMAX (`count: None`: replied `[key, member, score]`)
    /// and BZMPOP (`Some(n)`: `[key, [[member, score], ...]]`).
    ZPop { max: bool, count: Option<usize> },
}

/// A parked command: what it wants and how to wake its connection.
pub struct Request {
    pub want: Want,
    pub wake: tokio::sync::Notify,
}

/// What a server hands a waiter.
#[derive(Debug)]
pub enum Served {
    /// Elements popped from `key`.
    Pop { key: Vec<u8>, items: Vec<Vec<u8>> },
    /// The element BLMOVE moved.
    Moved(Vec<u8>),
    /// Members and scores popped from the sorted set `key`.
    ZPop {
        key: Vec<u8>,
        items: Vec<(crate::types::hash::SmallBytes, f64)>,
    },
    /// An error reply (BLMOVE whose destination holds another type; the
    /// element stays where it was, and the client is unblocked, as Redis).
    Error(&'static str),
}

pub type BlockedWaiter = Waiter<Request, Served>;
pub type Registry = Waiters<Request, Served>;

/// A client parked by its last command (`Client::blocked`).
pub struct Blocked {
    pub waiter: Arc<BlockedWaiter>,
    /// Absolute deadline in ms; 0: wait forever.
    pub deadline_ms: u64,
    /// The database table the command latched its keys in (its address):
    /// if a FLUSHDB/SWAPDB replaced it meanwhile, a push into the new table
    /// may have missed the waiter, so its keys are checked again.
    table: usize,
}

/// The reply of a client unblocked by CLIENT UNBLOCK ... ERROR.
pub const UNBLOCKED_ERROR: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// Parses a timeout in seconds (a float; 0 = forever) into an absolute
/// deadline in ms (0 = forever), as Redis: the milliseconds are rounded up,
/// and what does not fit a 64-bit count of milliseconds is "negative".
pub fn timeout_arg(ctx: &mut Ctx, arg: &[u8]) -> Option<u64> {
    let Some(secs) = crate::util::num::parse_f64(arg) else {
        ctx.error("ERR timeout is not a float or out of range");
        return None;
    };
    let ms = (secs * 1000.0).ceil();
    // Redis converts with a C cast, which gives i64::MIN for what does not
    // fit (and for infinities). 2^63 as a float is exact.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let ms = if ms.is_finite() && (-LIMIT..LIMIT).contains(&ms) {
        ms as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        ctx.error("ERR timeout is negative");
        return None;
    }
    if ms == 0 {
        return Some(0);
    }
    Some(ctx.clock.now_ms.saturating_add(ms as u64))
}

/// The address of the database table `guard` sees now: a blocking command
/// takes it before it latches its keys (see [`Blocked`]).
pub fn table_mark(shared: &Shared, guard: &Guard) -> usize {
    shared.store.table(guard) as *const DbTable as usize
}

/// Whether this client may block (not inside MULTI or a script, where a
/// blocking command that finds nothing answers as if it timed out).
pub fn may_block(ctx: &Ctx) -> bool {
    !ctx.client.deny_blocking && !ctx.keys.in_held()
}

/// Parks the client on `keys` of database `db` for `want`. The
/// caller holds the latch of every key and found them all empty; `table`
/// is its [`table_mark`] from before it latched them. The handler then
/// returns without a reply: the connection waits (`server::connection`).
pub fn park(
    shared: &Shared,
    client: &mut Client,
    db: usize,
    keys: &[&[u8]],
    want: Want,
    deadline_ms: u64,
    table: usize,
) {
    use crate::server::client::cflags;
    let request = Request {
        want,
        wake: tokio::sync::Notify::new(),
    };
    let waiter = Arc::new(Waiter::new(db, keys, request));
    shared.blocked.park(&waiter);
    *crate::server::client::lock(&client.info.waiter) = Some(waiter.clone());
    client.info.set_flag(cflags::BLOCKED);
    if deadline_ms != 0 {
        client.info.set_flag(cflags::IN_TIMEOUT_TABLE);
    }
    client.blocked = Some(Blocked {
        waiter,
        deadline_ms,
        table,
    });
}

/// After the command that parked the client released its latches: if the
/// database table changed since it latched them, a command that filled one
/// of its keys in the new table may have looked for waiters before it
/// parked, so its keys are served again now (`serve_ready`).
pub fn recheck_after_park(shared: &Shared, client: &mut Client, guard: &Guard) {
    let Some(b) = &client.blocked else { return };
    if table_mark(shared, guard) == b.table {
        return;
    }
    let keys: Vec<(usize, Vec<u8>)> = b.waiter.keys().map(|(db, k)| (db, k.to_vec())).collect();
    client.ready.extend(keys);
}

/// Takes a parked client off the registry once it stopped waiting.
pub fn unpark(shared: &Shared, client: &mut Client, waiter: &Arc<BlockedWaiter>) {
    shared.blocked.unpark(waiter);
    *crate::server::client::lock(&client.info.waiter) = None;
    client.info.clear_flag(
        crate::server::client::cflags::BLOCKED | crate::server::client::cflags::IN_TIMEOUT_TABLE,
    );
}

/// Delivers `served` to a claimed waiter and wakes its client.
pub fn hand(w: &BlockedWaiter, served: Served) {
    w.deliver(served);
    w.request.wake.notify_one();
}

/// CLIENT UNBLOCK: stops `waiter` waiting for `why` and wakes its client;
/// false if it was served or cancelled first.
pub fn unblock(waiter: &BlockedWaiter, why: Cancel) -> bool {
    if waiter.cancel(why) {
        waiter.request.wake.notify_one();
        true
    } else {
        false
    }
}

/// The reply of a client that timed out (or CLIENT UNBLOCK ... TIMEOUT):
/// a null array, whatever the command.
pub fn reply_timeout(out: &mut Reply) {
    out.null_array();
}

/// Writes what `want` was served, as the command's reply.
pub fn reply_served(out: &mut Reply, want: &Want, served: Served) {
    match served {
        Served::Pop { key, items } => match want {
            Want::Pop { count: None, .. } => {
                out.array(2);
                out.bulk(&key);
                out.bulk(items.first().map_or(&[][..], |i| &i[..]));
            }
            _ => {
                out.array(2);
                out.bulk(&key);
                out.array(items.len());
                for i in &items {
                    out.bulk(i);
                }
            }
        },
        Served::Moved(elem) => out.bulk(&elem),
        Served::ZPop { key, items } => match want {
            Want::ZPop { count: None, .. } => {
                out.array(3);
                out.bulk(&key);
                let (m, s) = items.first().map_or((&[][..], 0.0), |(m, s)| (&m[..], *s));
                out.bulk(m);
                out.double(s);
            }
            _ => {
                out.array(2);
                out.bulk(&key);
                out.array(items.len());
                for (m, s) in &items {
                    out.array(2);
                    out.bulk(m);
                    out.double(*s);
                }
            }
        },
        Served::Error(e) => out.error(e),
    }
}

/// Marks `key` of `db` ready if a client waits on it, so that it is served
/// after the command: for a key that a command fills without serving it
/// under its latch (RENAME, MOVE, COPY, RESTORE, a STORE, and every write
/// inside a transaction). Call it under the key's latch.
pub fn signal_ready(shared: &Shared, client: &mut Client, db: usize, key: &[u8]) {
    if shared.blocked.has_waiters(db, key) {
        client.ready.push((db, key.to_vec()));
    }
}

/// Marks every key of `db` that clients wait on ready (SWAPDB: the
/// database under the index they wait on is another one now).
pub fn signal_db_ready(shared: &Shared, client: &mut Client, db: usize) {
    if shared.blocked.is_empty() {
        return;
    }
    for k in shared.blocked.keys_of(db) {
        client.ready.push((db, k.into_vec()));
    }
}

/// Serves the waiters of the keys the last command marked ready, until no
/// key is left (serving a BLMOVE can make its destination ready in turn).
/// Keys are served in the order they became ready, as Redis serves its
/// `ready_keys`: after `MULTI, LPUSH a, LPUSH b, EXEC` a client blocked on
/// both keys gets `a`'s element. Runs with no latch held.
pub fn serve_ready(shared: &Shared, client: &mut Client, guard: &Guard, clock: Clock) {
    let mut queue = std::collections::VecDeque::from(std::mem::take(&mut client.ready));
    while let Some((db, key)) = queue.pop_front() {
        queue.extend(serve_key(shared, db, &key, guard, clock));
    }
}

/// Serves the waiters of `key` of `db` from whatever it holds now, with the
/// key latched. Returns the keys that became ready on the way.
fn serve_key(
    shared: &Shared,
    db: usize,
    key: &[u8],
    guard: &Guard,
    clock: Clock,
) -> Vec<(usize, Vec<u8>)> {
    let mut ready = Vec::new();
    let clock = clock.no_touch();
    loop {
        if !shared.blocked.has_waiters(db, key) {
            return ready;
        }
        let ks = shared.store.db(db, guard);
        let mut latch = ks.lock(key, clock, guard);
        let busy_dst = match latch.value() {
            Some(Value::List(_)) => {
                let mut env = super::list_blocking::ServeEnv {
                    shared,
                    db,
                    clock,
                    guard,
                    fill: shared.config.list_max_listpack_size(),
                    ready: &mut ready,
                };
                super::list_blocking::serve_list(&mut env, &mut latch)
            }
            Some(Value::ZSet(_)) => {
                super::zset_blocking::serve_zset(shared, db, &mut latch);
                None
            }
            _ => None,
        };
        drop(latch);
        let Some(dst) = busy_dst else { return ready };
        // A BLMOVE destination another client holds: wait for it with no
        // latch held, then try again.
        drop(ks.lock(&dst, clock, guard));
    }
}

/// Where a push ran, for the `serve_pushed` of lists and sorted sets: taken from the command's
/// context before it latched its key.
#[derive(Clone, Copy)]
pub struct PushedAt<'g> {
    pub db: usize,
    pub in_held: bool,
    pub clock: Clock,
    pub guard: &'g Guard,
    pub fill: i32,
}

impl<'g> PushedAt<'g> {
    pub fn of(ctx: &Ctx<'_, 'g>) -> PushedAt<'g> {
        PushedAt {
            db: ctx.keys.selected(),
            in_held: ctx.keys.in_held(),
            clock: ctx.clock,
            guard: ctx.guard,
            fill: ctx.shared.config.list_max_listpack_size(),
        }
    }

    /// Whether `key`'s waiters are to be served now, under its latch: false
    /// if none waits, or (inside a transaction) once the key is marked ready
    /// for after it.
    pub fn serve_now(&self, shared: &Shared, client: &mut Client, key: &[u8]) -> bool {
        if !shared.blocked.has_waiters(self.db, key) {
            return false;
        }
        if self.in_held {
            client.ready.push((self.db, key.to_vec()));
            return false;
        }
        true
    }
}
