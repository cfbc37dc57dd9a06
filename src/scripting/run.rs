//! A script's run, and the parts of the `redis` table that need one:
//! `redis.call`, `redis.pcall`, `redis.setresp`, `redis.set_repl`,
//! `redis.acl_check_cmd`.
//!
//! **Reaching the run.** These are Lua C functions; the run they act on
//! ([`Run`]: the caller's connection, the latches the script holds, the
//! reply buffer of its calls) lives in the Rust frame that started the
//! script, and is published for the length of the script in a thread-local
//! pointer ([`Run::enter`]). A Lua state belongs to one thread and EVAL
//! cannot be called from a script, so there is never more than one run per
//! thread.
//!
//! **Raising safely.** Raising a Lua error is a long jump over the C
//! function's Rust frame, so `redis.call` works in two phases: the command
//! runs in an ordinary Rust function ([`call_command`]) that may allocate,
//! drop and unwind, touching the Lua stack only to read arguments (which
//! never raises); what it leaves (the reply bytes, an error text) is kept
//! in the run. Then a frame holding nothing to drop pushes the result
//! ([`push_reply`]) and raises if it must.
//!
//! **Aborting a run.** When a command needs a key another client holds
//! (the script holds latches, and must not wait), needs every other client
//! stopped (KEYS, FLUSHALL...), or panics, the run is aborted: the script
//! is unwound by raising a value of its own ([`is_abort`]) that Redis's
//! `pcall` passes on, every later `redis.call` and the instruction hook
//! raise it again (so `xpcall` or a coroutine catching it gains nothing),
//! and the caller releases the latches without publishing and runs the
//! script again (`commands::scripting`).

use super::busy::Busy;
use super::redis_api::push_error;
use crate::commands::{self, BusyKey, Command, Ctx, Handler, HeldKeys};
use crate::protocol::Reply;
use crate::server::{Client, Shared};
use crate::store::Clock;
use crossbeam_epoch::Guard;
use mlua::ffi::{self, lua_State};
use std::any::Any;
use std::cell::Cell;
use std::os::raw::c_int;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// How a script reaches keys.
pub enum Keyed<'r, 'g> {
    /// Through latches held for the whole script (its declared keys, and
    /// those it try-latched since).
    Held(&'r mut HeldKeys<'g>),
    /// With every other client stopped: each command latches its own keys.
    Alone,
}

/// Why a run was cut short, for the caller to act on.
pub enum Abort {
    /// A command needed this key, held by another client.
    Busy(BusyKey),
    /// A command needs every other client stopped.
    Alone,
    /// A command panicked; its payload, to resume unwinding with.
    Panic(Box<dyn Any + Send>),
}

/// One script run: what its `redis.call`s need.
pub struct Run<'r, 'g> {
    pub shared: &'g Shared,
    pub client: &'r mut Client,
    pub guard: &'g Guard,
    /// The script's time, for every command it calls (Redis freezes it).
    pub clock: Clock,
    pub keys: Keyed<'r, 'g>,
    /// The script's selected database (SELECT inside a script does not
    /// change the caller's).
    pub db: usize,
    /// `redis.setresp`: the protocol the script reads replies in.
    pub resp3: bool,
    /// EVAL_RO, or a `no-writes` script.
    pub read_only: bool,
    /// A write command ran (SCRIPT KILL refuses then).
    pub wrote: bool,
    pub abort: Option<Abort>,
    /// When the script started, and `busy-reply-threshold` (0: never busy).
    start: quanta::Instant,
    threshold_ms: u64,
    /// An EVAL script (else a function), and its name (for the log).
    pub eval: bool,
    pub name: &'r [u8],
    /// The command that runs it (FUNCTION STATS shows it).
    pub command: Vec<Vec<u8>>,
    /// Registered once past its threshold.
    busy: Option<Arc<Busy>>,
    /// The last time it tried to leave its worker thread.
    offloaded: Option<quanta::Instant>,
    /// The reply of the command being called.
    out: Reply,
    /// The error text of a call refused before it ran.
    err: Vec<u8>,
    /// Numbers given as arguments, formatted with `%.17g`.
    numbers: Vec<u8>,
    /// Where each argument of a call is: (a number in `numbers`, its
    /// offset or address, its length).
    spans: Vec<(bool, usize, usize)>,
}

impl Drop for Run<'_, '_> {
    fn drop(&mut self) {
        let mut out = std::mem::take(&mut self.out);
        if out.buf.capacity() <= SCRATCH_KEEP {
            out.buf.clear();
            SCRATCH.with(|s| *s.borrow_mut() = out);
        }
    }
}

/// The largest calls' reply buffer kept for the thread's next script.
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    /// The calls' reply buffer between scripts (a run takes it).
    static SCRATCH: std::cell::RefCell<Reply> = std::cell::RefCell::new(Reply::new());
    /// The run of the script executing on this thread, if any.
    static CURRENT: Cell<*mut Run<'static, 'static>> = const { Cell::new(std::ptr::null_mut()) };
}

/// The value raised to unwind an aborted run (its address, as a light
/// userdata).
static ABORT_MARK: u8 = 0;

/// Pushes the value that unwinds an aborted run.
///
/// # Safety
/// A running C call's state.
pub unsafe fn push_abort(l: *mut lua_State) {
    // SAFETY: per the contract; a light userdata needs no allocation.
    unsafe { ffi::lua_pushlightuserdata(l, std::ptr::addr_of!(ABORT_MARK) as *mut _) }
}

/// Whether the value at `idx` is the abort value.
///
/// # Safety
/// A running C call's state.
pub unsafe fn is_abort(l: *mut lua_State, idx: c_int) -> bool {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_type(l, idx) == ffi::LUA_TLIGHTUSERDATA
            && ffi::lua_touserdata(l, idx) as *const u8 == std::ptr::addr_of!(ABORT_MARK)
    }
}

impl<'r, 'g> Run<'r, 'g> {
    pub fn new(
        shared: &'g Shared,
        client: &'r mut Client,
        guard: &'g Guard,
        clock: Clock,
        keys: Keyed<'r, 'g>,
        read_only: bool,
    ) -> Run<'r, 'g> {
        let db = client.db;
        Run {
            threshold_ms: shared.config.busy_reply_threshold(),
            shared,
            client,
            guard,
            clock,
            keys,
            db,
            resp3: false,
            read_only,
            wrote: false,
            abort: None,
            start: quanta::Instant::now(),
            eval: true,
            name: &[],
            command: Vec::new(),
            busy: None,
            offloaded: None,
            // The calls' reply buffer is the thread's, kept between scripts.
            out: SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut())),
            err: Vec::new(),
            numbers: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Runs `f` with this run published to the `redis.*` functions of this
    /// thread. The client's database is the caller's again afterwards.
    pub fn enter<R>(&mut self, f: impl FnOnce() -> R) -> R {
        struct Reset(*mut Run<'static, 'static>);
        impl Drop for Reset {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let caller_db = self.client.db;
        let in_script = std::mem::replace(&mut self.client.in_script, true);
        let ptr: *mut Run<'static, 'static> = (self as *mut Self).cast();
        let reset = Reset(CURRENT.with(|c| c.replace(ptr)));
        let r = f();
        drop(reset);
        self.client.in_script = in_script;
        if let Some(busy) = self.busy.take() {
            busy.finish();
        }
        self.client.select(caller_db);
        r
    }

    /// The instruction hook's work (see `vm`): whether the script must be
    /// unwound, and the busy threshold's bookkeeping.
    fn on_hook(&mut self) -> Hook {
        if self.abort.is_some() {
            return Hook::Abort;
        }
        if let Some(busy) = &self.busy {
            if busy.killed() {
                return Hook::Killed;
            }
            // Keys try-latched since it became busy stall their waiters too.
            if let Keyed::Held(held) = &self.keys {
                busy.holder.set_stamps(held.stamp_addrs());
            }
        } else if self.threshold_ms > 0
            && self.start.elapsed().as_millis() as u64 >= self.threshold_ms
        {
            tracing::warn!(
                "Slow script detected: still in execution after {} milliseconds. \
                 You can try killing the script using the {} command. Script name is: {}.",
                self.start.elapsed().as_millis(),
                if self.eval {
                    "SCRIPT KILL"
                } else {
                    "FUNCTION KILL"
                },
                String::from_utf8_lossy(self.name)
            );
            let (alone, stamps) = match &self.keys {
                Keyed::Held(held) => (false, held.stamp_addrs()),
                Keyed::Alone => (true, Vec::new()),
            };
            let started = super::busy::Started {
                eval: self.eval,
                alone,
                wrote: self.wrote,
                name: String::from_utf8_lossy(self.name).into_owned(),
                command: self.command.clone(),
                started: self.start,
            };
            self.busy = Some(Busy::start(started, stamps));
        }
        if self.busy.is_some() && self.offloaded.is_none_or(|t| t.elapsed().as_secs() >= 1) {
            self.offloaded = Some(quanta::Instant::now());
            leave_worker();
        }
        Hook::Continue
    }
}

/// What the instruction hook must do.
pub enum Hook {
    Continue,
    /// Unwind an aborted run.
    Abort,
    /// Raise SCRIPT KILL's error.
    Killed,
}

/// The hook's work for the run on this thread (`Continue` outside one).
pub fn on_hook() -> Hook {
    let run = current();
    if run.is_null() {
        return Hook::Continue;
    }
    // SAFETY: the run published by `Run::enter`, between two Lua
    // instructions, when no `redis.call` borrows it.
    unsafe { (*run).on_hook() }
}

/// Hands this tokio worker's other connections to a fresh worker thread,
/// so that a long script stalls only the clients that need its keys (with
/// one worker thread, SCRIPT KILL itself could not be served otherwise).
/// `block_in_place` moves the worker to another thread and gets it back
/// when its closure returns unless that thread has taken it meanwhile, so
/// the closure gives it a moment; the script then goes on here, off the
/// runtime's workers. A no-op once done (or outside the runtime).
fn leave_worker() {
    if crate::util::on_runtime_worker() {
        tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(5)));
    }
}

/// The run of the script executing on this thread, null outside one.
fn current() -> *mut Run<'static, 'static> {
    CURRENT.with(|c| c.get())
}

/// Whether the script running on this thread called `redis.setresp(3)`.
pub fn script_resp3() -> bool {
    let run = current();
    // SAFETY: as in `aborted`.
    !run.is_null() && unsafe { (*run).resp3 }
}

/// What [`call_command`] left for the C function to push.
enum Called {
    /// The command replied (`Run::out`).
    Replied,
    /// Refused before it ran (`Run::err`); `counted`: Redis marks the error
    /// so that the script's own error reply is not counted again.
    Refused { counted: bool },
    /// The run is aborted (`Run::abort`).
    Aborted,
    /// SCRIPT KILL stopped the script before this write.
    Killed,
}

/// Phase one of `redis.call`: reads the arguments (left on the stack),
/// checks the command as Redis checks a script's calls, and runs it.
///
/// # Safety
/// `l` is the state of a running `redis.call`, `run` the current run.
unsafe fn call_command(l: *mut lua_State, run: &mut Run<'_, '_>) -> Called {
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        run.err.clear();
        run.err
            .extend_from_slice(b"Please specify at least one argument for this redis lib call");
        return Called::Refused { counted: false };
    }
    // Numbers are formatted with `%.17g` (Lua's own conversion loses
    // precision), the other arguments borrowed from the stack, where they
    // stay until this returns; nothing here allocates in Lua, so the
    // collector cannot run meanwhile.
    run.numbers.clear();
    let mut spans = std::mem::take(&mut run.spans);
    spans.clear();
    for i in 1..=argc {
        // SAFETY: `i` is a valid index; reading a number or a string's bytes
        // never raises.
        unsafe {
            if ffi::lua_type(l, i) == ffi::LUA_TNUMBER {
                let start = run.numbers.len();
                let n = ffi::lua_tonumber(l, i);
                run.numbers
                    .extend_from_slice(crate::util::num::format_g17(n).as_bytes());
                spans.push((true, start, run.numbers.len() - start));
            } else if ffi::lua_type(l, i) == ffi::LUA_TSTRING {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, i, &mut len);
                spans.push((false, p as usize, len));
            } else {
                run.err.clear();
                run.err.extend_from_slice(
                    b"Lua redis lib command arguments must be strings or integers",
                );
                run.spans = spans;
                return Called::Refused { counted: false };
            }
        }
    }
    let numbers = std::mem::take(&mut run.numbers);
    let arg = |&(number, at, len): &(bool, usize, usize)| -> &[u8] {
        if number {
            &numbers[at..at + len]
        } else {
            // SAFETY: a string on the stack, alive until this returns.
            unsafe { std::slice::from_raw_parts(at as *const u8, len) }
        }
    };
    // Most calls have a few arguments: no allocation for them.
    let called = if spans.len() <= 16 {
        let args: arrayvec::ArrayVec<&[u8], 16> = spans.iter().map(arg).collect();
        run_command(run, &args)
    } else {
        let args: Vec<&[u8]> = spans.iter().map(arg).collect();
        run_command(run, &args)
    };
    run.numbers = numbers;
    run.spans = spans;
    called
}

/// Checks and runs one command of a script.
fn run_command(run: &mut Run<'_, '_>, args: &[&[u8]]) -> Called {
    // The messages get their `ERR` code when pushed (`push_error`).
    let refuse = |run: &mut Run<'_, '_>, cmd: Option<&Command>, msg: &str| {
        run.err.clear();
        run.err.extend_from_slice(msg.as_bytes());
        crate::server::count_refused(run.shared, cmd, b"ERR");
        Called::Refused { counted: true }
    };
    let cmd = match commands::lookup_line(args) {
        Some(cmd) if cmd.arity_ok(args.len()) => cmd,
        Some(cmd) => {
            return refuse(
                run,
                Some(cmd),
                "Wrong number of args calling Redis command from script",
            )
        }
        None => return refuse(run, None, "Unknown Redis command called from script"),
    };
    if cmd.has(commands::flags::NOSCRIPT) {
        return refuse(
            run,
            Some(cmd),
            "This Redis command is not allowed from script",
        );
    }
    let writes = cmd.has(commands::flags::WRITE);
    if run.read_only && (writes || cmd.has(commands::flags::MAY_REPLICATE)) {
        return refuse(
            run,
            Some(cmd),
            "Write commands are not allowed from read-only scripts.",
        );
    }
    let whole_db = commands::multi::WHOLE_DB.contains(&cmd.name)
        || matches!(cmd.handler, Handler::Unpinned(_));
    if whole_db && matches!(run.keys, Keyed::Held(_)) {
        run.abort = Some(Abort::Alone);
        return Called::Aborted;
    }
    if writes {
        if run.busy.as_ref().is_some_and(|b| !b.mark_wrote()) {
            return Called::Killed;
        }
        run.wrote = true;
    }
    let stat_id = commands::stat_id(cmd);
    let clock = commands::command_clock(run.client.no_touch, cmd, run.clock);
    let start = quanta::Instant::now();
    run.out.buf.clear();
    run.out.resp3 = run.resp3;
    run.client.select(run.db);
    let shared = run.shared;
    let guard = run.guard;
    let mut busy = None;
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| match cmd.handler {
        Handler::Pinned(handler) => {
            let mut ctx = match &mut run.keys {
                Keyed::Held(held) => {
                    Ctx::with_held(shared, &mut *run.client, &mut run.out, guard, clock, held)
                }
                Keyed::Alone => Ctx::alone(shared, &mut *run.client, &mut run.out, guard, clock),
            };
            handler(&mut ctx, args);
            busy = ctx.keys.busy().cloned();
            run.db = ctx.keys.selected();
        }
        Handler::Unpinned(handler) => {
            let mut ctx = commands::Unpinned {
                shared,
                client: &mut *run.client,
                out: &mut run.out,
                clock,
            };
            handler(&mut ctx, args);
            run.db = ctx.client.db;
        }
    }));
    if let Err(panic) = ran {
        run.abort = Some(Abort::Panic(panic));
        return Called::Aborted;
    }
    if let Some(busy) = busy {
        run.abort = Some(Abort::Busy(busy));
        return Called::Aborted;
    }
    crate::server::count_command(
        shared,
        &run.out,
        0,
        start.elapsed().as_micros() as u64,
        stat_id,
    );
    Called::Replied
}

/// `redis.call` (`raise`) and `redis.pcall`.
///
/// # Safety
/// Called by Lua as a C function.
unsafe fn generic_call(l: *mut lua_State, raise: bool) -> c_int {
    let run = current();
    // `run` is null or the run published by `Run::enter` on this thread,
    // alive until the script returns, and not otherwise borrowed while Lua
    // runs. Every branch that raises holds nothing to drop: `call_command`
    // has returned, and the slices pushed point into the run.
    // SAFETY: called by Lua as a C function, under the conditions above.
    unsafe {
        if run.is_null() {
            push_error(
                l,
                b"redis.call/pcall can only be called inside a script invocation",
            );
            ffi::lua_error(l);
        }
        if (*run).abort.is_some() {
            push_abort(l);
            ffi::lua_error(l);
        }
        let called = call_command(l, &mut *run);
        ffi::lua_settop(l, 0);
        match called {
            Called::Aborted => {
                push_abort(l);
                ffi::lua_error(l)
            }
            Called::Killed => raise_killed(l),
            Called::Refused { counted } => {
                push_error(l, &(*run).err);
                if counted {
                    mark_counted(l);
                }
                if raise {
                    ffi::lua_error(l);
                }
                1
            }
            Called::Replied => {
                let reply: &[u8] = &(*run).out.buf;
                ffi::luaL_checkstack(l, 8, c"pushing a reply".as_ptr());
                push_reply(l, reply, &mut 0);
                if raise && reply.first() == Some(&b'-') {
                    ffi::lua_error(l);
                }
                1
            }
        }
    }
}

/// Raises SCRIPT KILL's error, and makes the hook run on every line so
/// that a script catching it (`pcall`) gets it again at once.
///
/// # Safety
/// A running C call's or hook's state; nothing to drop in the frame.
pub unsafe fn raise_killed(l: *mut lua_State) -> ! {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_sethook(l, Some(super::vm::hook), ffi::LUA_MASKLINE, 0);
        push_error(l, b"Script killed by user with SCRIPT KILL...");
        ffi::lua_error(l)
    }
}

/// Marks the error table on top as already counted in INFO's error
/// statistics (Redis's `ignore_error_stats_update`).
///
/// # Safety
/// A running C call's state, a table on top.
unsafe fn mark_counted(l: *mut lua_State) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushboolean(l, 1);
        ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
    }
}

pub(crate) unsafe extern "C-unwind" fn redis_call(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { generic_call(l, true) }
}

pub(crate) unsafe extern "C-unwind" fn redis_pcall(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { generic_call(l, false) }
}

/// The line at `*at` in `reply` (without CR LF); moves past it.
fn line<'a>(reply: &'a [u8], at: &mut usize) -> &'a [u8] {
    let start = *at;
    let end = memchr::memchr(b'\r', &reply[start..]).map_or(reply.len(), |p| start + p);
    *at = (end + 2).min(reply.len());
    &reply[start..end]
}

fn number(text: &[u8]) -> i64 {
    crate::util::num::parse_i64(text).unwrap_or(0)
}

/// Pushes the reply at `*at` in `reply` (a well-formed reply of one of our
/// commands) as Redis converts replies for scripts, and moves past it.
///
/// # Safety
/// A running C call's state; the frames hold nothing to drop (a push may
/// raise a memory error).
unsafe fn push_reply(l: *mut lua_State, reply: &[u8], at: &mut usize) {
    // SAFETY: per the contract; the stack has room for the few values an
    // aggregate keeps while its elements are pushed (checked per level).
    unsafe {
        let kind = reply[*at];
        *at += 1;
        let text = line(reply, at);
        match kind {
            b':' => ffi::lua_pushnumber(l, number(text) as f64),
            b'$' | b'=' => {
                let n = number(text);
                if n < 0 {
                    ffi::lua_pushboolean(l, 0);
                    return;
                }
                let body = &reply[*at..*at + n as usize];
                *at += n as usize + 2;
                if kind == b'$' {
                    ffi::lua_pushlstring(l, body.as_ptr().cast(), body.len());
                } else {
                    ffi::lua_createtable(l, 0, 1);
                    ffi::lua_createtable(l, 0, 2);
                    let (format, text) = body.split_at(3.min(body.len()));
                    let text = text.get(1..).unwrap_or(&[]);
                    ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
                    ffi::lua_setfield(l, -2, c"string".as_ptr());
                    ffi::lua_pushlstring(l, format.as_ptr().cast(), format.len());
                    ffi::lua_setfield(l, -2, c"format".as_ptr());
                    ffi::lua_setfield(l, -2, c"verbatim_string".as_ptr());
                }
            }
            b'+' => {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
                ffi::lua_setfield(l, -2, c"ok".as_ptr());
            }
            b'-' => {
                // `-CODE msg`: the dash tells `push_error` the code is there.
                let with_dash = &reply[*at - text.len() - 3..*at - 2];
                push_error(l, with_dash);
                mark_counted(l);
            }
            b'*' | b'~' | b'%' => {
                let n = number(text);
                if n < 0 {
                    ffi::lua_pushboolean(l, 0);
                    return;
                }
                ffi::luaL_checkstack(l, 4, c"pushing a reply".as_ptr());
                match kind {
                    b'*' => {
                        ffi::lua_createtable(l, n.min(1 << 16) as c_int, 0);
                        for i in 1..=n {
                            push_reply(l, reply, at);
                            ffi::lua_rawseti(l, -2, i as ffi::lua_Integer);
                        }
                    }
                    b'~' => {
                        ffi::lua_createtable(l, 0, 1);
                        ffi::lua_createtable(l, 0, 0);
                        for _ in 0..n {
                            push_reply(l, reply, at);
                            ffi::lua_pushboolean(l, 1);
                            ffi::lua_settable(l, -3);
                        }
                        ffi::lua_setfield(l, -2, c"set".as_ptr());
                    }
                    _ => {
                        ffi::lua_createtable(l, 0, 1);
                        ffi::lua_createtable(l, 0, 0);
                        for _ in 0..n {
                            push_reply(l, reply, at);
                            push_reply(l, reply, at);
                            ffi::lua_settable(l, -3);
                        }
                        ffi::lua_setfield(l, -2, c"map".as_ptr());
                    }
                }
            }
            b',' => {
                let d = std::str::from_utf8(text)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .unwrap_or(0.0);
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushnumber(l, d);
                ffi::lua_setfield(l, -2, c"double".as_ptr());
            }
            b'(' => {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
                ffi::lua_setfield(l, -2, c"big_number".as_ptr());
            }
            b'#' => ffi::lua_pushboolean(l, (text == b"t") as c_int),
            b'_' => ffi::lua_pushnil(l),
            b'|' => {
                // Attributes are not shown to scripts: skip them, then
                // push the reply they annotate.
                let n = number(text);
                for _ in 0..2 * n {
                    skip_reply(reply, at);
                }
                push_reply(l, reply, at);
            }
            _ => ffi::lua_pushnil(l),
        }
    }
}

/// Moves past the reply at `*at`.
fn skip_reply(reply: &[u8], at: &mut usize) {
    let kind = reply[*at];
    *at += 1;
    let text = line(reply, at);
    let n = number(text);
    match kind {
        b'$' | b'=' if n >= 0 => *at += n as usize + 2,
        b'*' | b'~' | b'>' if n > 0 => (0..n).for_each(|_| skip_reply(reply, at)),
        b'%' | b'|' if n > 0 => (0..2 * n).for_each(|_| skip_reply(reply, at)),
        _ => {}
    }
}

/// `redis.setresp(2|3)`.
pub(crate) unsafe extern "C-unwind" fn setresp(l: *mut lua_State) -> c_int {
    let run = current();
    // SAFETY: called by Lua as a C function; raises with nothing to drop.
    unsafe {
        if run.is_null() {
            push_error(
                l,
                b"redis.setresp can only be called inside a script invocation",
            );
            ffi::lua_error(l);
        }
        if ffi::lua_gettop(l) != 1 {
            push_error(l, b"redis.setresp() requires one argument.");
            ffi::lua_error(l);
        }
        let resp = super::c_i32(ffi::lua_tonumber(l, 1));
        if resp != 2 && resp != 3 {
            push_error(l, b"RESP version must be 2 or 3.");
            ffi::lua_error(l);
        }
        (*run).resp3 = resp == 3;
    }
    0
}

/// `redis.set_repl(flags)`: which of AOF and replicas a script's writes go
/// to. Checked as Redis does; Ferrite has neither yet, so the choice has
/// nothing to act on until they come.
pub(crate) unsafe extern "C-unwind" fn set_repl(l: *mut lua_State) -> c_int {
    let run = current();
    // SAFETY: called by Lua as a C function; raises with nothing to drop.
    unsafe {
        if run.is_null() {
            push_error(
                l,
                b"redis.set_repl can only be called inside a script invocation",
            );
            ffi::lua_error(l);
        }
        if ffi::lua_gettop(l) != 1 {
            push_error(l, b"redis.set_repl() requires two arguments.");
            ffi::lua_error(l);
        }
        let flags = super::c_i32(ffi::lua_tonumber(l, -1));
        if flags & !(REPL_AOF | REPL_REPLICA) != 0 {
            push_error(
                l,
                b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
            );
            ffi::lua_error(l);
        }
    }
    0
}

/// `redis.REPL_*` (Redis's `PROPAGATE_*` values).
pub const REPL_AOF: i32 = 1;
pub const REPL_REPLICA: i32 = 2;

/// `redis.acl_check_cmd(cmd, args...)`: whether the script's user may run
/// the command. Ferrite's one user, the default, may run every command.
pub(crate) unsafe extern "C-unwind" fn acl_check_cmd(l: *mut lua_State) -> c_int {
    let run = current();
    // SAFETY: called by Lua as a C function; raises with nothing to drop
    // (the lookup's result is a plain bool).
    unsafe {
        if run.is_null() {
            push_error(
                l,
                b"redis.acl_check_cmd can only be called inside a script invocation",
            );
            ffi::lua_error(l);
        }
        let argc = ffi::lua_gettop(l);
        if argc == 0 {
            push_error(
                l,
                b"Please specify at least one argument for this redis lib call",
            );
            ffi::lua_error(l);
        }
        for i in 1..=argc {
            let t = ffi::lua_type(l, i);
            if t != ffi::LUA_TNUMBER && t != ffi::LUA_TSTRING {
                push_error(
                    l,
                    b"Lua redis lib command arguments must be strings or integers",
                );
                ffi::lua_error(l);
            }
        }
        let known = {
            let name = super::reply::bytes_at(l, 1);
            let sub = if argc >= 2 && ffi::lua_type(l, 2) == ffi::LUA_TSTRING {
                Some(super::reply::bytes_at(l, 2))
            } else {
                None
            };
            match commands::lookup(name) {
                Some(base) if !base.subcommands.is_empty() && argc >= 2 => {
                    sub.is_some_and(|s| commands::find_subcommand(base, s).is_some())
                }
                Some(_) => true,
                None => false,
            }
        };
        if !known {
            push_error(l, b"Invalid command passed to redis.acl_check_cmd()");
            ffi::lua_error(l);
        }
        ffi::lua_pushboolean(l, 1);
    }
    1
}
