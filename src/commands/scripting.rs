//! Scripts: EVAL EVALSHA EVAL_RO EVALSHA_RO, SCRIPT LOAD/EXISTS/FLUSH.
//!
//! **Atomic without a global lock.** A script runs as a transaction does
//! (`commands::multi`): it latches its declared keys (KEYS, in the
//! caller's database) up front with undoable latches, and every command it
//! calls reaches keys through them (`Ctx::with_held`). A key it did not
//! declare is try-latched when first touched; if another client holds it,
//! waiting while holding latches could deadlock, so the run is aborted
//! (`scripting::run`), everything it did is released unpublished
//! (`HeldKeys::abandon`), and the script runs again with that key latched
//! up front as well. A script that calls a command working on whole
//! databases (KEYS, SCAN, FLUSHALL...), or that met busy keys
//! [`KEYED_ROUNDS`] times, runs alone: every other client stopped
//! (`store::world`), each call latching its own keys. So scripts on
//! disjoint keys run in parallel on different threads, and none is ever
//! seen half done.
//!
//! A script run by EXEC uses the transaction's latches, and a conflict
//! aborts the transaction's round instead (EXEC retries it).
//!
//! Each worker thread has its own Lua state (`scripting::vm`); the script
//! cache is shared.

use super::flags::*;
use super::key_flags::{ACCESS, RO, RW, UPDATE};
use super::multi::KEYED_ROUNDS;
use super::{acl, BeginSearch, BusyKey, Command, Ctx, FindKeys, HeldKeys, KeySpec, KeySpecEntry};
use crate::protocol::Reply;
use crate::scripting::busy::{self, Kill};
use crate::scripting::cache::{self, flags as script_flags};
use crate::scripting::run::{Abort, Keyed, Run};
use crate::scripting::vm::{self, Target, Vm};
use crate::server::{Client, Shared};
use crate::store::{world, Clock};
use crossbeam_epoch::Guard;

const G: &str = "scripting";
const ACL: u64 = acl::SLOW | acl::SCRIPTING;
/// EVAL's flags and key specifications; FCALL and FCALL_RO have the same.
pub(crate) const EVAL_FLAGS: u64 =
    NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS;
pub(crate) const EVAL_RO_FLAGS: u64 =
    NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY | MOVABLE_KEYS;

const fn script_keys(flags: u32) -> KeySpecEntry {
    KeySpecEntry::new(
        flags,
        BeginSearch::Index(2),
        FindKeys::Keynum {
            keynumidx: 0,
            firstkey: 1,
            keystep: 1,
        },
    )
}

pub(crate) const EVAL_KEYS: &[KeySpecEntry] = &[script_keys(RW | ACCESS | UPDATE)
    .notes("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")];
pub(crate) const EVAL_RO_KEYS: &[KeySpecEntry] = &[script_keys(RO | ACCESS)
    .notes("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")];
const EVALSHA_KEYS: &[KeySpecEntry] = &[script_keys(RW | ACCESS | UPDATE)];
const EVALSHA_RO_KEYS: &[KeySpecEntry] = &[script_keys(RO | ACCESS)];

static SCRIPT_SUBCOMMANDS: &[Command] = &[
    Command::new("script|exists", -3, NOSCRIPT, KeySpec::NONE, ACL, script_exists)
        .doc(G, "2.6.0", "Check existence of scripts in the script cache.", "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).")
        .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"]),
    Command::new("script|flush", -2, NOSCRIPT, KeySpec::NONE, ACL, script_flush)
        .doc(G, "2.6.0", "Remove all the scripts from the script cache.", "O(N) with N being the number of scripts in cache")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    Command::new("script|help", 2, LOADING | STALE, KeySpec::NONE, ACL, script_help)
        .doc(G, "5.0.0", "Show helpful text about the different subcommands", "O(1)"),
    Command::new("script|kill", 2, NOSCRIPT | ALLOW_BUSY, KeySpec::NONE, ACL, script_kill)
        .doc(G, "2.6.0", "Kill the script currently in execution.", "O(1)")
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"]),
    Command::new("script|load", 3, NOSCRIPT | STALE, KeySpec::NONE, ACL, script_load)
        .doc(G, "2.6.0", "Load the specified Lua script into the script cache.", "O(N) with N being the length in bytes of the script body.")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
];

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command::new("eval", -3, EVAL_FLAGS, KeySpec::NONE, ACL, eval)
        .key_specs(EVAL_KEYS)
        .keys_with(super::table::keynum_keys::<2>)
        .doc(G, "2.6.0", "Execute a Lua script server side", "Depends on the script that is executed."),
    Command::new("eval_ro", -3, EVAL_RO_FLAGS, KeySpec::NONE, ACL, eval_ro)
        .key_specs(EVAL_RO_KEYS)
        .keys_with(super::table::keynum_keys::<2>)
        .doc(G, "7.0.0", "Execute a read-only Lua script server side", "Depends on the script that is executed."),
    Command::new("evalsha", -3, EVAL_FLAGS, KeySpec::NONE, ACL, evalsha)
        .key_specs(EVALSHA_KEYS)
        .keys_with(super::table::keynum_keys::<2>)
        .doc(G, "2.6.0", "Execute a Lua script server side", "Depends on the script that is executed."),
    Command::new("evalsha_ro", -3, EVAL_RO_FLAGS, KeySpec::NONE, ACL, evalsha_ro)
        .key_specs(EVALSHA_RO_KEYS)
        .keys_with(super::table::keynum_keys::<2>)
        .doc(G, "7.0.0", "Execute a read-only Lua script server side", "Depends on the script that is executed."),
    Command::new("script", -2, 0, KeySpec::NONE, acl::SLOW, container)
        .doc(G, "2.6.0", "A container for Lua scripts management commands.", "Depends on subcommand.")
        .subs(SCRIPT_SUBCOMMANDS),
];

const NOSCRIPT_ERR: &str = "NOSCRIPT No matching script. Please use EVAL.";

fn eval(ctx: &mut Ctx, args: &[&[u8]]) {
    eval_generic(ctx, args, false, false);
}

fn eval_ro(ctx: &mut Ctx, args: &[&[u8]]) {
    eval_generic(ctx, args, false, true);
}

fn evalsha(ctx: &mut Ctx, args: &[&[u8]]) {
    eval_generic(ctx, args, true, false);
}

fn evalsha_ro(ctx: &mut Ctx, args: &[&[u8]]) {
    eval_generic(ctx, args, true, true);
}

/// EVAL and its variants: checks the arguments in Redis's order (a SHA of
/// the wrong length, numkeys, then the script itself), then runs it.
fn eval_generic(ctx: &mut Ctx, args: &[&[u8]], by_sha: bool, ro: bool) {
    let sha = if by_sha {
        match cache::sha_arg(args[1]) {
            Some(sha) => Some(sha),
            None => return ctx.error(NOSCRIPT_ERR),
        }
    } else {
        None
    };
    let Some(numkeys) = ctx.int_arg(args[2]) else {
        return;
    };
    if numkeys > (args.len() - 3) as i64 {
        return ctx.error("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return ctx.error("ERR Number of keys can't be negative");
    }
    let (keys, argv) = args[3..].split_at(numkeys as usize);
    let shared = ctx.shared;
    vm::with_vm(&shared.scripts, |vm| {
        let compiled = match sha {
            Some(sha) => match vm.find(&shared.scripts, &sha) {
                Some(c) => c,
                None => return ctx.error(NOSCRIPT_ERR),
            },
            None => match vm.load(&shared.scripts, args[1]) {
                Ok(c) => c,
                Err(e) => return ctx.error(&e),
            },
        };
        let flags = compiled.flags;
        let declared = flags & script_flags::EVAL_COMPAT == 0;
        if declared && flags & script_flags::NO_WRITES == 0 && ro {
            return ctx.error("ERR Can not execute a script with write flag using *_ro command.");
        }
        let read_only = ro || (declared && flags & script_flags::NO_WRITES != 0);
        let job = Job {
            vm,
            target: Target::Script(&compiled),
            name: &compiled.sha,
            command: args,
            keys,
            argv,
            read_only,
        };
        execute(ctx, job);
    });
}

/// A script or function to run, and what it runs with.
pub(crate) struct Job<'j> {
    pub vm: &'j mut Vm,
    pub target: Target<'j>,
    /// Its name in logs and FUNCTION STATS: a SHA or a function's name.
    pub name: &'j [u8],
    /// The command that runs it (EVAL ..., FCALL ...).
    pub command: &'j [&'j [u8]],
    pub keys: &'j [&'j [u8]],
    pub argv: &'j [&'j [u8]],
    /// EVAL_RO/FCALL_RO, or declared `no-writes`.
    pub read_only: bool,
}

impl Job<'_> {
    /// Runs the script once; `Some` if the run was aborted.
    fn run<'g>(
        &mut self,
        shared: &'g Shared,
        client: &mut Client,
        out: &mut Reply,
        guard: &'g Guard,
        clock: Clock,
        keys: Keyed<'_, 'g>,
    ) -> Option<Abort> {
        let mark = out.len();
        let mut run = Run::new(shared, client, guard, clock, keys, self.read_only);
        run.name = self.name;
        run.eval = matches!(self.target, Target::Script(_));
        // Kept only for FUNCTION STATS, which shows only functions.
        if !run.eval {
            run.command = self.command.iter().map(|a| a.to_vec()).collect();
        }
        let (vm, target, k, a) = (&mut *self.vm, self.target, self.keys, self.argv);
        run.enter(|| vm.call(target, k, a, out));
        // Also when the script caught the abort (a coroutine) and returned.
        let abort = run.abort.take();
        if abort.is_some() {
            out.truncate(mark);
        }
        abort
    }
}

/// Runs a script or function atomically (see the module documentation).
pub(crate) fn execute(ctx: &mut Ctx, mut job: Job<'_>) {
    let clock = Clock::at(ctx.clock.now_ms);
    let keys = job.keys;
    let deny_blocking = std::mem::replace(&mut ctx.client.deny_blocking, true);
    let (shared, guard, db) = (ctx.shared, ctx.guard, ctx.client.db);
    if ctx.keys.in_held() {
        // Run by EXEC: through the transaction's latches, or alone with it.
        let abort = match ctx.keys.held_mut() {
            Some(held) => job.run(shared, ctx.client, ctx.out, guard, clock, Keyed::Held(held)),
            None => job.run(shared, ctx.client, ctx.out, guard, clock, Keyed::Alone),
        };
        match abort {
            None => {}
            Some(Abort::Busy(busy)) => ctx.keys.set_busy(busy),
            Some(Abort::Alone) => ctx.keys.set_busy(BusyKey { db, key: None }),
            Some(Abort::Panic(p)) => std::panic::resume_unwind(p),
        }
    } else {
        let mut extra: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut done = false;
        for _ in 0..KEYED_ROUNDS {
            let mut all: Vec<(usize, &[u8])> = keys.iter().map(|k| (db, *k)).collect();
            all.extend(extra.iter().map(|(d, k)| (*d, &k[..])));
            let mut held = HeldKeys::latch_undoable(&shared.store, &all, clock.no_touch(), guard);
            match job.run(
                shared,
                ctx.client,
                ctx.out,
                guard,
                clock,
                Keyed::Held(&mut held),
            ) {
                None => {
                    drop(held);
                    done = true;
                    break;
                }
                Some(abort) => {
                    // Nothing was published: start over with the key latched.
                    held.abandon();
                    ctx.client.ready.clear();
                    match abort {
                        Abort::Busy(BusyKey { db, key: Some(key) }) => extra.push((db, key)),
                        Abort::Busy(_) | Abort::Alone => break,
                        Abort::Panic(p) => std::panic::resume_unwind(p),
                    }
                }
            }
        }
        if !done {
            let (client, out) = (&mut *ctx.client, &mut *ctx.out);
            if let Some(Abort::Panic(p)) =
                world::alone(|| job.run(shared, client, out, guard, clock, Keyed::Alone))
            {
                std::panic::resume_unwind(p);
            }
        }
    }
    ctx.client.deny_blocking = deny_blocking;
}

/// Whether `cmd` counts as a write for CLIENT PAUSE WRITE: it writes or may
/// replicate, except that EVAL, EVALSHA, their `_RO` forms and FCALL,
/// FCALL_RO take the flags their script or function declared instead of
/// their own (Redis's `getCommandFlags`): a declared `no-writes` one is not
/// held back, any other declared one is. A script without a shebang, one not
/// known yet (EVALSHA of a missing SHA, an EVAL whose shebang does not
/// parse) or a missing function keeps the command's own flags.
pub fn counts_as_write(shared: &Shared, cmd: &Command, args: &[&[u8]]) -> bool {
    match declared_flags(shared, cmd, args) {
        Some(declared) => declared & script_flags::NO_WRITES == 0,
        None => cmd.has(WRITE) || cmd.has(MAY_REPLICATE),
    }
}

/// The flags the script or function that `args` runs declared, if it runs
/// one and it declared them.
fn declared_flags(shared: &Shared, cmd: &Command, args: &[&[u8]]) -> Option<u32> {
    let body = args.get(1)?;
    let flags = match cmd.name {
        "evalsha" | "evalsha_ro" => shared.scripts.get(&cache::sha_arg(body)?)?.flags,
        "eval" | "eval_ro" => match shared.scripts.get(&cache::sha_of(body)) {
            Some(script) => script.flags,
            None => cache::parse_shebang(body).ok()?.0,
        },
        "fcall" | "fcall_ro" => {
            let name = String::from_utf8_lossy(body);
            let (lib, idx) = shared.functions.read(|libs| libs.function(&name))?;
            return Some(lib.functions[idx].flags);
        }
        _ => return None,
    };
    (flags & script_flags::EVAL_COMPAT == 0).then_some(flags)
}

/// Dispatch resolves SCRIPT's subcommands before calling a handler, so this
/// runs only if that ever changes; it answers as Redis does for an unknown one.
fn container(ctx: &mut Ctx, args: &[&[u8]]) {
    let sub = args.get(1).map_or(&b""[..], |a| &a[..]);
    ctx.error(&format!(
        "ERR unknown subcommand '{}'. Try SCRIPT HELP.",
        super::errors::sanitize(sub, 128)
    ));
}

const HELP: &[&str] = &[
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
];

fn script_help(ctx: &mut Ctx, args: &[&[u8]]) {
    super::introspection::help_reply(ctx, args[0], HELP);
}

fn script_exists(ctx: &mut Ctx, args: &[&[u8]]) {
    let scripts = &ctx.shared.scripts;
    ctx.out.array(args.len() - 2);
    for arg in &args[2..] {
        let found = cache::sha_arg(arg).is_some_and(|sha| scripts.contains(&sha));
        ctx.out.int(found as i64);
    }
}

fn script_flush(ctx: &mut Ctx, args: &[&[u8]]) {
    let is_async = match args.get(2) {
        None => ctx.shared.config.lazyfree_lazy_user_flush(),
        Some(a) if args.len() == 3 && a.eq_ignore_ascii_case(b"sync") => false,
        Some(a) if args.len() == 3 && a.eq_ignore_ascii_case(b"async") => true,
        Some(_) => return ctx.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
    };
    let old = ctx.shared.scripts.flush();
    if is_async && !old.is_empty() {
        std::thread::spawn(move || drop(old));
    }
    vm::release_everywhere();
    ctx.out.ok();
}

fn script_kill(ctx: &mut Ctx, _args: &[&[u8]]) {
    match busy::kill(true) {
        Kill::Killed => ctx.out.ok(),
        Kill::NotBusy => ctx.error("NOTBUSY No scripts in execution right now."),
        Kill::Unkillable => ctx.error(busy::UNKILLABLE),
        Kill::OtherKind => ctx.error(busy::busy_error(false)),
    }
}

fn script_load(ctx: &mut Ctx, args: &[&[u8]]) {
    let shared = ctx.shared;
    match vm::with_vm(&shared.scripts, |vm| vm.load(&shared.scripts, args[2])) {
        Ok(compiled) => ctx.out.bulk(&compiled.sha),
        Err(e) => ctx.error(&e),
    }
}
