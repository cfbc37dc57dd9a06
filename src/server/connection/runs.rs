//! Runs on one key: consecutive pipelined requests that all address the
//! same single key execute under one latch of that key, taken once, and
//! their changes are published once, when the run ends.
//!
//! Why: a pipeline of writes to one hot key (a queue fed by RPUSH, a
//! leaderboard by ZADD, redis-benchmark's `-P 16`) otherwise latches,
//! copies, publishes and retires the value once per command, and two
//! workers pass the key's cache lines back and forth between commands. Under
//! one latch, the first write copies the published value (O(1) for the
//! persistent collections, then a path) and every later one changes that
//! private copy in place (`Locked::update`), with nothing to retire.
//!
//! Nothing else can tell: other clients wait for the latch (as they would
//! for any command on the key) and then see every change of the run at
//! once; the run's own replies are not sent before the batch ends. The
//! commands run exactly as in a transaction (`Ctx::with_held`). A run stops
//! before any request that is not a plain single-key command on the same
//! key of the same database (blocking commands, MULTI-like and admin
//! commands, commands without keys such as SELECT), after a command that
//! made a key ready for blocked clients (served right then, as Redis serves
//! them after each command), after [`MAX_RUN`] commands (so one client
//! cannot keep the key for long), and when CLIENT PAUSE applies to the next
//! command. A command that panics rolls back the whole run and closes the
//! connection without sending the run's replies, so no reply ever speaks of
//! a change that was not kept.

use super::{panic_message, pause_for, record, resolve, BatchClock};
use crate::commands::{blocking, flags, Command, Ctx, Handler, HeldKeys, KeySpec};
use crate::protocol::parse::Limits;
use crate::protocol::{peek, Parser, Reply};
use crate::server::{Client, Shared};
use crate::store::stalled::{self, StalledHolder};
use crate::store::Clock;
use crossbeam_epoch::{self as epoch, Guard};
use quanta::Instant;
use std::panic::AssertUnwindSafe;

/// The most commands one run holds its key for.
pub(super) const MAX_RUN: usize = 64;

/// Flags that keep a command out of runs.
const NOT_IN_RUNS: u64 = flags::BLOCKING
    | flags::MOVABLE_KEYS
    | flags::ADMIN
    | flags::PUBSUB
    | flags::NO_MULTI
    | flags::NOSCRIPT;

/// The key of `args` if its command may run in a run: a command that pins
/// the epoch, has one key specification and names exactly one key here.
pub(super) fn single_key<'a>(cmd: &Command, args: &[&'a [u8]]) -> Option<&'a [u8]> {
    if !matches!(cmd.handler, Handler::Pinned(_))
        || cmd.has(NOT_IN_RUNS)
        || cmd.keys_fn.is_some()
        || cmd.key_specs.len() != 1
    {
        return None;
    }
    let KeySpec { first, last, step } = cmd.keys;
    let argc = args.len() as i32;
    let last = if last < 0 { argc + last } else { last };
    if first <= 0 || step <= 0 || last != first || first >= argc {
        return None;
    }
    Some(args[first as usize])
}

/// Whether the request just parsed (`args`) starts a run: it may run in one
/// and the next complete request in `rest` names the same key.
pub(super) fn starts_run(client: &mut Client, args: &[&[u8]], rest: &[u8]) -> bool {
    if !client.authenticated || client.tx.is_some() || rest.is_empty() {
        return false;
    }
    let Ok((cmd, _)) = resolve(client, args) else {
        return false;
    };
    let Some(key) = single_key(cmd, args) else {
        return false;
    };
    let mut same = false;
    peek::second_args(rest, 1, |k| same = k == key);
    same
}

/// How a run ended.
pub(super) enum RunEnd {
    /// Requests up to this offset of the buffer have run.
    Ran(usize),
    /// Its first command needs a key the run does not hold: nothing ran;
    /// run that request on its own.
    FirstBusy,
}

/// Runs the request `parser` holds (which [`starts_run`] accepted, ending
/// at `end` in `inbuf`) and the requests after it, as long as they address
/// the same key; see the module documentation.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    shared: &Shared,
    client: &mut Client,
    parser: &mut Parser,
    ahead: &mut Parser,
    inbuf: &[u8],
    mut end: usize,
    out: &mut Reply,
    clock: &mut BatchClock,
    pin: &mut Option<Guard>,
) -> RunEnd {
    let guard: &Guard = pin.get_or_insert_with(epoch::pin);
    let key = {
        let args = parser.args(inbuf);
        let cmd = resolve(client, &args).expect("a run starts with a known command");
        single_key(cmd.0, &args)
            .expect("a run starts with a single-key command")
            .to_vec()
    };
    let limits = Limits {
        max_bulk_len: shared.config.proto_max_bulk_len(),
        authenticated: true,
    };
    let db = client.db;
    let run_mark = out.len();
    let mut pos = None;
    let mut ran = 0;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        stalled::abortable(|| {
            // Each command records its own access to the key (`Keys`), so the
            // latch itself records none.
            let latch_clock = Clock::at(clock.now_ms()).no_touch();
            let mut held = HeldKeys::latch(&shared.store, &[(db, &key)], latch_clock, guard);
            loop {
                let args = parser.args(inbuf);
                let (cmd, stat_id) = resolve(client, &args).expect("checked before the run");
                let now_ms = clock.now_ms();
                let start = clock.last;
                let Some(done) = execute_held(
                    shared, client, out, &args, cmd, stat_id, now_ms, start, guard, &mut held,
                ) else {
                    // Busy on another key: it changed nothing. It runs again
                    // outside the run.
                    break;
                };
                clock.last = done;
                ran += 1;
                pos = Some(end);
                if ran >= MAX_RUN || !client.ready.is_empty() || client.close_after_reply {
                    break;
                }
                let next = match ahead.parse(inbuf, end, limits) {
                    Ok(Some(next)) => next,
                    _ => {
                        ahead.reset();
                        break;
                    }
                };
                let a = ahead.args(inbuf);
                let same = !a.is_empty()
                    && pause_for(shared, client, &a).is_none()
                    && resolve(client, &a)
                        .ok()
                        .and_then(|(c, _)| single_key(c, &a))
                        == Some(&key[..]);
                drop(a);
                if !same {
                    break;
                }
                std::mem::swap(parser, ahead);
                end = next;
            }
            // Publishes the run's changes, inside the catch: a panic of the
            // commit itself is handled like one of a command.
            drop(held);
        })
    }));
    if let Err(panic) = outcome {
        // Unwinding dropped the latch, rolling the key back to before the
        // run: its replies go too, so nothing is acknowledged that is lost.
        if panic.is::<StalledHolder>() && ran == 0 {
            // A busy script holds the key: the first request runs again on
            // its own, and answers `-BUSY` there. (Later in the run, where
            // the parser has moved on, it is handled as a panic below.)
            out.truncate(run_mark);
            client.ready.clear();
            return RunEnd::FirstBusy;
        }
        let what = panic_message(&*panic);
        tracing::error!(
            id = client.id,
            panic = %what,
            "command panicked in a pipelined run on one key; the key is as before the run, closing the client"
        );
        out.truncate(run_mark);
        client.close_after_reply = true;
        return RunEnd::Ran(end);
    }
    if !client.ready.is_empty() {
        blocking::serve_ready(shared, client, guard, Clock::at(clock.now_ms()));
    }
    match pos {
        Some(p) => RunEnd::Ran(p),
        None => RunEnd::FirstBusy,
    }
}

/// Executes one command of a run through the run's latch; `None` if it
/// needed a key the run does not hold (it changed nothing and replied
/// nothing).
#[allow(clippy::too_many_arguments)]
fn execute_held<'g>(
    shared: &'g Shared,
    client: &mut Client,
    out: &mut Reply,
    args: &[&[u8]],
    cmd: &'static Command,
    stat_id: usize,
    now_ms: u64,
    start: Instant,
    guard: &'g Guard,
    held: &mut HeldKeys<'g>,
) -> Option<Instant> {
    let mark = out.len();
    out.resp3 = client.resp == 3;
    client.info.set_last_cmd(cmd);
    let clock = crate::commands::command_clock(client.no_touch, cmd, Clock::at(now_ms));
    let Handler::Pinned(handler) = cmd.handler else {
        unreachable!("runs hold pinned commands only")
    };
    let mut ctx = Ctx::with_held(shared, client, out, guard, clock, held);
    handler(&mut ctx, args);
    if ctx.keys.busy().is_some() {
        drop(ctx);
        out.truncate(mark);
        return None;
    }
    drop(ctx);
    Some(record(shared, client, out, mark, start, stat_id))
}
