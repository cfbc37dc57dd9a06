//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! MULTI makes the connection queue its commands (`server::connection`
//! answers `+QUEUED`); an error while queuing (unknown command, wrong arity,
//! a command not allowed in a transaction) makes EXEC answer `-EXECABORT`.
//!
//! **How EXEC runs, without a global lock.** It gathers every key its
//! queued commands name (following SELECT through the queue) and every
//! WATCHed key, latches them all at once in canonical order
//! ([`HeldKeys::latch_undoable`]), checks the watched keys, and runs the
//! commands through those latches (`Ctx::with_held`); the changes are
//! published when the latches are released, together. Other clients keep
//! running: those on other keys never wait, those on these keys wait for
//! the latches, so none sees half a transaction and none lands in the
//! middle of one. Transactions on disjoint keys run in parallel.
//!
//! A command may reach a key its arguments do not name (SORT's BY and GET
//! patterns, MOVE's key in the other database). Such a key is try-latched;
//! if another client holds it, waiting while holding latches could
//! deadlock, so the transaction abandons its latches (nothing it did is
//! published: these latches never change a value in place), and runs again
//! with that key latched up front. After [`KEYED_ROUNDS`] such rounds, and
//! from the start for a transaction with a command that works on whole
//! databases (FLUSHALL, FLUSHDB, SWAPDB, KEYS, SCAN, RANDOMKEY, DBSIZE...),
//! it runs alone: with every other client stopped (`store::world`).
//!
//! **WATCH** remembers, per key, the version stamp of a present key, or for
//! an absent one a registration in its keyspace that counts the times the
//! key comes to life (`store::watch`). EXEC aborts (a nil reply) when a
//! present key's stamp moved (written, deleted, expired meanwhile, or its
//! database flushed or swapped), or an absent key came to life or is now
//! present: exactly the cases where Redis 7.0 aborts, including its
//! exceptions (a key already expired when it was watched and then deleted
//! does not abort).

use super::flags::*;
use super::key_flags::RO;
use super::{acl, Command, Ctx, Handler, HeldKeys, KeySpec, KeySpecEntry, Unpinned};
use crate::server::{Client, Shared};
use crate::store::{world, Clock, Keyspace, Locked};
use std::sync::Arc;

const G: &str = "transactions";

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command::new("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, KeySpec::NONE, acl::FAST | acl::TRANSACTION, multi)
        .doc(G, "1.2.0", "Starts a transaction.", "O(1)"),
    Command::new("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, KeySpec::NONE, acl::SLOW | acl::TRANSACTION, exec)
        .doc(G, "1.2.0", "Executes all commands in a transaction.", "Depends on commands in the transaction"),
    Command::new("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, KeySpec::NONE, acl::FAST | acl::TRANSACTION, discard)
        .doc(G, "2.0.0", "Discards a transaction.", "O(N), when N is the number of queued commands"),
    Command::new("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, KeySpec::range(1, -1, 1), acl::FAST | acl::TRANSACTION, watch)
        .key_specs(&[KeySpecEntry::range(1, -1, 1, RO)])
        .doc(G, "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", "O(1) for every key."),
    Command::new("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, KeySpec::NONE, acl::FAST | acl::TRANSACTION, unwatch)
        .doc(G, "2.2.0", "Forgets about watched keys of a transaction.", "O(1)"),
];

/// Rounds EXEC runs with its keys latched before it runs alone.
pub const KEYED_ROUNDS: usize = 3;

/// Commands that work on whole databases: a transaction or script holding
/// them runs alone, since no set of key latches covers what they touch.
pub const WHOLE_DB: &[&str] = &[
    "flushall",
    "flushdb",
    "swapdb",
    "keys",
    "scan",
    "randomkey",
    "dbsize",
    "debug",
];

/// A transaction being queued (`Client::tx`). The arguments of every
/// queued command share one buffer: a transaction is usually a handful of
/// small commands, and one allocation per argument cost more than the
/// commands themselves.
#[derive(Default)]
pub struct Queue {
    cmds: Vec<Queued>,
    /// Every queued argument, back to back.
    bytes: Vec<u8>,
    /// (start, end) in `bytes` of each argument.
    bounds: Vec<(u32, u32)>,
    /// An error while queuing: EXEC answers `-EXECABORT`.
    pub aborted: bool,
}

/// One queued command: its arguments are `bounds[first..first + argc]`.
struct Queued {
    cmd: &'static Command,
    stat_id: usize,
    first: u32,
    argc: u32,
}

impl Queue {
    /// Whether a queued command counts as a write for CLIENT PAUSE WRITE
    /// (`scripting::counts_as_write`): EXEC then waits out such a pause.
    /// Asked only while a pause is on, so queuing pays nothing for it.
    pub fn writes(&self, shared: &Shared) -> bool {
        let mut args = Vec::new();
        self.cmds.iter().any(|q| {
            self.args_of(q, &mut args);
            super::scripting::counts_as_write(shared, q.cmd, &args)
        })
    }

    /// Fills `into` with the arguments of `q`.
    fn args_of<'q>(&'q self, q: &Queued, into: &mut Vec<&'q [u8]>) {
        into.clear();
        let bounds = &self.bounds[q.first as usize..(q.first + q.argc) as usize];
        into.extend(
            bounds
                .iter()
                .map(|&(a, b)| &self.bytes[a as usize..b as usize]),
        );
    }
}

/// One WATCHed key (`Client::watched`). Dropping it drops its registration
/// (also when a panicking command unwinds through EXEC).
pub struct Watched {
    db: usize,
    /// The database the key was watched in; a FLUSHDB or SWAPDB replaces it.
    /// Taken out by [`unwatch_all`], to be given back to the store.
    ks: Option<Arc<Keyspace>>,
    key: Box<[u8]>,
    seen: Seen,
}

impl Watched {
    fn ks(&self) -> &Keyspace {
        self.ks.as_deref().expect("a watched key's keyspace")
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let (Some(ks), Seen::Absent(_)) = (&self.ks, &self.seen) {
            ks.absent_watches().unwatch(&self.key);
        }
    }
}

enum Seen {
    /// Present, with this version stamp.
    Live(u64),
    /// Absent (or already expired), registered in the keyspace's absent
    /// watches, which had counted this many creations of it.
    Absent(u64),
}

/// The commands that run at once inside MULTI instead of being queued.
pub fn runs_in_multi(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Queues `args` in the client's open transaction.
pub fn enqueue(client: &mut Client, cmd: &'static Command, stat_id: usize, args: &[&[u8]]) {
    let tx = client.tx.as_mut().expect("queuing inside MULTI");
    let first = tx.bounds.len() as u32;
    for a in args {
        let start = tx.bytes.len();
        tx.bytes.extend_from_slice(a);
        // A transaction over 4 GiB of arguments is refused long before
        // (client-query-buffer-limit applies to each request).
        let end = u32::try_from(tx.bytes.len()).expect("queued arguments under 4 GiB");
        tx.bounds.push((start as u32, end));
    }
    tx.cmds.push(Queued {
        cmd,
        stat_id,
        first,
        argc: args.len() as u32,
    });
    client
        .info
        .set_multi(tx.cmds.len() as i64, tx.bytes.len() as u64);
}

/// Marks the open transaction (if any) to fail with `-EXECABORT`.
pub fn flag_error(client: &mut Client) {
    if let Some(tx) = client.tx.as_mut() {
        tx.aborted = true;
    }
}

/// Ends the open transaction (EXEC, DISCARD, RESET) and forgets watched keys.
pub fn end(client: &mut Client, shared: &Shared) {
    client.tx = None;
    client.info.set_multi(-1, 0);
    unwatch_all(client, shared);
}

/// Forgets every watched key (UNWATCH, EXEC, DISCARD, a closing connection).
pub fn unwatch_all(client: &mut Client, shared: &Shared) {
    for mut w in client.watched.drain(..) {
        if let Seen::Absent(_) = w.seen {
            w.ks().absent_watches().unwatch(&w.key);
        }
        // Given back through the store: if its database was flushed
        // meanwhile, this was the last handle, and the free thread drops it.
        if let Some(ks) = w.ks.take() {
            shared.store.release(ks);
        }
    }
}

fn multi(ctx: &mut Ctx, _args: &[&[u8]]) {
    if ctx.client.tx.is_some() {
        ctx.error("ERR MULTI calls can not be nested");
        return;
    }
    ctx.client.tx = Some(Queue::default());
    ctx.client.info.set_multi(0, 0);
    ctx.out.ok();
}

fn discard(ctx: &mut Ctx, _args: &[&[u8]]) {
    if ctx.client.tx.is_none() {
        ctx.error("ERR DISCARD without MULTI");
        return;
    }
    end(ctx.client, ctx.shared);
    ctx.out.ok();
}

fn watch(ctx: &mut Ctx, args: &[&[u8]]) {
    if ctx.client.tx.is_some() {
        ctx.error("ERR WATCH inside MULTI is not allowed");
        return;
    }
    let db = ctx.client.db;
    for &key in &args[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|w| w.db == db && &*w.key == key)
        {
            continue;
        }
        let ks = ctx.shared.store.db_arc(db);
        // Registered before the lookup (see `store::watch`).
        let creations = ks.absent_watches().watch(key);
        let seen = match ks.get(key, ctx.clock.no_touch(), ctx.guard) {
            Some(view) => {
                ks.absent_watches().unwatch(key);
                Seen::Live(view.stamp)
            }
            None => Seen::Absent(creations),
        };
        ctx.client.watched.push(Watched {
            db,
            ks: Some(ks),
            key: key.into(),
            seen,
        });
    }
    ctx.out.ok();
}

fn unwatch(ctx: &mut Ctx, _args: &[&[u8]]) {
    unwatch_all(ctx.client, ctx.shared);
    ctx.out.ok();
}

/// Whether the watched key is as WATCH saw it. `latch` is the key's latch,
/// `now` the database it is in now.
fn unchanged(w: &Watched, latch: &Locked<'_>, now: &Keyspace) -> bool {
    let same_db = now.id() == w.ks().id();
    match w.seen {
        Seen::Live(stamp) => same_db && latch.exists() && latch.version_at_latch() == Some(stamp),
        Seen::Absent(creations) => {
            !latch.exists() && (!same_db || w.ks().absent_watches().creations(&w.key) == creations)
        }
    }
}

/// The (database, key) pairs the queued commands name, following SELECT;
/// `None` if one of them works on whole databases.
fn queued_keys(queue: &Queue, mut db: usize, dbs: usize) -> Option<Vec<(usize, &[u8])>> {
    let mut keys = Vec::new();
    let mut args = Vec::new();
    for q in &queue.cmds {
        if WHOLE_DB.contains(&q.cmd.name) || matches!(q.cmd.handler, Handler::Unpinned(_)) {
            return None;
        }
        queue.args_of(q, &mut args);
        if q.cmd.name == "select" {
            if let Some(n) = crate::util::num::parse_i64(args[1]) {
                if n >= 0 && (n as usize) < dbs {
                    db = n as usize;
                }
            }
            continue;
        }
        keys.extend(q.cmd.keys_of(&args).into_iter().map(|i| (db, args[i])));
    }
    Some(keys)
}

fn exec(ctx: &mut Ctx, _args: &[&[u8]]) {
    let Some(queue) = ctx.client.tx.take() else {
        ctx.error("ERR EXEC without MULTI");
        return;
    };
    if queue.aborted {
        end(ctx.client, ctx.shared);
        ctx.error("EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    let watched = std::mem::take(&mut ctx.client.watched);
    let start_db = ctx.client.db;
    let deny_blocking = std::mem::replace(&mut ctx.client.deny_blocking, true);
    let mark = ctx.out.len();
    let mut extra: Vec<(usize, Vec<u8>)> = Vec::new();
    let dbs = ctx.shared.store.num_dbs();
    let mut outcome = None;
    if let Some(keys) = queued_keys(&queue, start_db, dbs) {
        for _ in 0..KEYED_ROUNDS {
            match run_keyed(ctx, &queue, &watched, &keys, &extra) {
                Keyed::Done(ran) => {
                    outcome = Some(ran);
                    break;
                }
                Keyed::Busy(db, key) => {
                    // Nothing was published: start over with the key latched.
                    ctx.out.truncate(mark);
                    ctx.client.select(start_db);
                    ctx.client.ready.clear();
                    match key {
                        Some(key) => extra.push((db, key)),
                        None => break,
                    }
                }
            }
        }
    }
    let ran = match outcome {
        Some(ran) => ran,
        None => {
            ctx.out.truncate(mark);
            ctx.client.select(start_db);
            ctx.client.ready.clear();
            run_alone(ctx, &queue, &watched)
        }
    };
    ctx.client.deny_blocking = deny_blocking;
    ctx.client.watched = watched;
    end(ctx.client, ctx.shared);
    if let Some(ran) = ran {
        for r in ran {
            let count = if r.counted {
                crate::server::count_command_counted
            } else {
                crate::server::count_command
            };
            count(ctx.shared, ctx.out, r.mark, r.usec, r.stat_id);
        }
    }
}

/// A queued command that ran: where its reply starts, and its duration.
struct Ran {
    stat_id: usize,
    mark: usize,
    usec: u64,
    /// Its error reply was already counted (see `Client::error_counted`).
    counted: bool,
}

enum Keyed {
    /// Ran to the end (`None`: a watched key changed; nil was replied).
    Done(Option<Vec<Ran>>),
    /// A command needed this key, held by another client (`None`: a sample
    /// of a whole database); nothing was published.
    Busy(usize, Option<Vec<u8>>),
}

/// One round of EXEC with every key latched up front.
fn run_keyed(
    ctx: &mut Ctx,
    queue: &Queue,
    watched: &[Watched],
    keys: &[(usize, &[u8])],
    extra: &[(usize, Vec<u8>)],
) -> Keyed {
    let mut all: Vec<(usize, &[u8])> = keys.to_vec();
    all.extend(watched.iter().map(|w| (w.db, &w.key[..])));
    all.extend(extra.iter().map(|(db, k)| (*db, &k[..])));
    // No access is recorded for latching; each command records its own.
    let clock = Clock::at(ctx.clock.now_ms);
    let mut held = HeldKeys::latch_undoable(&ctx.shared.store, &all, clock.no_touch(), ctx.guard);
    let intact = watched.iter().all(|w| {
        let latch = held
            .latch_of(w.db, &w.key)
            .expect("watched keys are latched");
        unchanged(w, latch, held.keyspace(w.db))
    });
    if !intact {
        drop(held);
        ctx.out.null_array();
        return Keyed::Done(None);
    }
    let mut busy = None;
    let ran = each_queued(ctx, queue, clock, |ctx, cmd, args, cmd_clock| {
        let Handler::Pinned(handler) = cmd.handler else {
            unreachable!("transactions with unpinned commands run alone")
        };
        let mut inner = Ctx::with_held(
            ctx.shared,
            &mut *ctx.client,
            &mut *ctx.out,
            ctx.guard,
            cmd_clock,
            &mut held,
        );
        handler(&mut inner, args);
        busy = inner.keys.busy().cloned();
        busy.is_none()
    });
    match busy {
        Some(busy) => {
            held.abandon();
            Keyed::Busy(busy.db, busy.key)
        }
        None => {
            drop(held);
            Keyed::Done(ran)
        }
    }
}

/// EXEC with every other client stopped: each command latches its own keys
/// as a standalone one would, and nothing else runs in between.
fn run_alone(ctx: &mut Ctx, queue: &Queue, watched: &[Watched]) -> Option<Vec<Ran>> {
    let clock = Clock::at(ctx.clock.now_ms);
    world::alone(|| {
        let intact = watched.iter().all(|w| {
            let now = ctx.shared.store.db(w.db, ctx.guard);
            let latch = now.lock(&w.key, clock.no_touch(), ctx.guard);
            unchanged(w, &latch, now)
        });
        if !intact {
            ctx.out.null_array();
            return None;
        }
        each_queued(ctx, queue, clock, |ctx, cmd, args, cmd_clock| {
            match cmd.handler {
                Handler::Pinned(handler) => {
                    let mut inner = Ctx::alone(
                        ctx.shared,
                        &mut *ctx.client,
                        &mut *ctx.out,
                        ctx.guard,
                        cmd_clock,
                    );
                    handler(&mut inner, args);
                }
                Handler::Unpinned(handler) => {
                    let mut inner = Unpinned {
                        shared: ctx.shared,
                        client: &mut *ctx.client,
                        out: &mut *ctx.out,
                        clock: cmd_clock,
                    };
                    handler(&mut inner, args);
                }
            }
            true
        })
    })
}

/// Writes EXEC's array header and runs each queued command through `run`
/// (which gets its arguments and its clock: EXEC's time, without recording
/// accesses under CLIENT NO-TOUCH), timing it for INFO. `None` as soon as
/// `run` returns false.
fn each_queued<'a, 'g>(
    ctx: &mut Ctx<'a, 'g>,
    queue: &Queue,
    clock: Clock,
    mut run: impl FnMut(&mut Ctx<'a, 'g>, &'static Command, &[&[u8]], Clock) -> bool,
) -> Option<Vec<Ran>> {
    ctx.out.array(queue.cmds.len());
    let mut ran = Vec::with_capacity(queue.cmds.len());
    let mut args = Vec::new();
    for q in &queue.cmds {
        queue.args_of(q, &mut args);
        let start = quanta::Instant::now();
        let mark = ctx.out.len();
        ctx.out.resp3 = ctx.client.resp == 3;
        let cmd_clock = super::command_clock(ctx.client.no_touch, q.cmd, clock);
        if !run(ctx, q.cmd, &args, cmd_clock) {
            return None;
        }
        ran.push(Ran {
            stat_id: q.stat_id,
            mark,
            usec: start.elapsed().as_micros() as u64,
            counted: std::mem::take(&mut ctx.client.error_counted),
        });
    }
    Some(ran)
}
