//! One Lua state per worker thread, and running a script in it.
//!
//! A Lua state cannot be shared between threads, and one state for the
//! whole server would make every script wait for the one before it. So
//! each thread that runs a script has its own ([`with_vm`]), made on first
//! use with Redis's libraries and sandbox, and compiles each script of the
//! shared cache (`scripting::cache`) the first time it runs it there. A
//! SCRIPT FLUSH bumps the cache's generation; a thread whose state is older
//! replaces it before its next script, as Redis resets its one state.
//!
//! Everything that touches the state from Rust runs inside a protected call
//! (`lua_cpcall` of a C function here), so a memory error raised by Lua
//! unwinds to that call, never to Rust; those C functions keep only plain
//! data and borrows in their frames.
//!
//! **Limits.** Each state may allocate [`MEMORY_LIMIT`] bytes: a script
//! that asks for more (`string.rep` of a gigabyte) fails with Lua's
//! "not enough memory" and the state stays usable. Lua bounds recursion
//! itself (C stack overflow, "stack overflow" errors). A count hook runs
//! every [`HOOK_INSTRUCTIONS`] instructions to unwind aborted runs (see
//! `scripting::run`).

use super::cache::{Script, Scripts, Sha};
use super::reply::{bytes_at, error_line, lua_to_reply};
use super::run::{is_abort, push_abort};
use super::{functions, loading};
use crate::protocol::Reply;
use mlua::ffi::{self, lua_State};
use mlua::Lua;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes one thread's Lua state may allocate.
pub const MEMORY_LIMIT: usize = 1 << 30;

/// Scripts between two steps of Lua's collector (and memory reports).
const GC_PERIOD: u32 = 50;

/// A state holding more than this after a script is collected at once.
const GC_ABOVE: usize = 64 << 20;

/// Instructions between two runs of the hook.
pub const HOOK_INSTRUCTIONS: c_int = 100_000;

/// Registry keys (light userdata: their addresses; no string to intern
/// on every script).
static ERROR_HANDLER: u8 = 1;
static REAL_GLOBALS: u8 = 2;

/// Pushes `registry[key]`.
///
/// # Safety
/// A protected call's state.
unsafe fn get_registry(l: *mut lua_State, key: &'static u8) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushlightuserdata(l, key as *const u8 as *mut c_void);
        ffi::lua_rawget(l, ffi::LUA_REGISTRYINDEX);
    }
}

/// Sets `registry[key]` to the value on top, which it pops.
///
/// # Safety
/// A protected call's state.
unsafe fn set_registry(l: *mut lua_State, key: &'static u8) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushlightuserdata(l, key as *const u8 as *mut c_void);
        ffi::lua_insert(l, -2);
        ffi::lua_rawset(l, ffi::LUA_REGISTRYINDEX);
    }
}

/// Bytes allocated by all threads' Lua states for EVAL, and for functions
/// (INFO memory's `used_memory_vm_eval`, `used_memory_vm_functions`).
static EVAL_VM_BYTES: AtomicI64 = AtomicI64::new(0);
static FN_VM_BYTES: AtomicI64 = AtomicI64::new(0);

/// (EVAL states' bytes, functions states' bytes) over all threads.
pub fn vm_memory() -> (u64, u64) {
    let get = |a: &AtomicI64| a.load(Ordering::Relaxed).max(0) as u64;
    (get(&EVAL_VM_BYTES), get(&FN_VM_BYTES))
}

/// A thread's Lua state and the scripts compiled in it.
pub struct Vm {
    /// Owns the state (closed when dropped).
    lua: Lua,
    state: *mut lua_State,
    generation: u64,
    /// Registry references of the compiled scripts.
    compiled: HashMap<Sha, (c_int, Arc<Script>), foldhash::fast::RandomState>,
    /// The function libraries loaded here: name -> (version, functions).
    libraries: HashMap<String, (u64, Vec<loading::Registered>)>,
    /// The state of EVAL (else of functions), and the bytes last added to
    /// its counter.
    eval: bool,
    reported: usize,
    /// Scripts run here (see [`GC_PERIOD`]).
    calls: u32,
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.counter()
            .fetch_sub(self.reported as i64, Ordering::Relaxed);
    }
}

thread_local! {
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
    static FN_VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's Lua state for EVAL, made (or remade after a
/// SCRIPT FLUSH) as needed.
pub fn with_vm<R>(scripts: &Scripts, f: impl FnOnce(&mut Vm) -> R) -> R {
    VM.with(|cell| {
        let mut slot = cell.borrow_mut();
        let generation = scripts.generation();
        if slot.as_ref().is_none_or(|vm| vm.generation != generation) {
            // Drop the old state first: two at once would double the peak.
            *slot = None;
            *slot = Some(Vm::new(generation, true).expect("a Lua state with Redis's libraries"));
        }
        f(slot.as_mut().expect("made above"))
    })
}

/// Runs `f` with this thread's Lua state for functions (another state, as
/// in Redis: functions see other globals than EVAL scripts), made as
/// needed; libraries deleted or replaced since its last use are dropped
/// from it first.
pub fn with_fn_vm<R>(registry: &functions::Registry, f: impl FnOnce(&mut Vm) -> R) -> R {
    FN_VM.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Vm::new(0, false).expect("a Lua state with Redis's libraries"));
        }
        let vm = slot.as_mut().expect("made above");
        let generation = registry.generation();
        if vm.generation != generation {
            vm.generation = generation;
            let state = vm.state;
            vm.libraries.retain(|name, (version, registered)| {
                let keep = registry.has_version(name, *version);
                if !keep {
                    loading::release(state, registered);
                }
                keep
            });
        }
        f(vm)
    })
}

/// Bumped when scripts or libraries are dropped (SCRIPT FLUSH, FUNCTION
/// FLUSH, DELETE, RESTORE, LOAD REPLACE): every thread then drops its Lua
/// states at its next idle moment ([`release_if_dropped`]), so that what
/// they compiled is freed even on a thread that never runs another script.
static RELEASES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The value of [`RELEASES`] this thread last acted on.
    static RELEASED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Asks every thread to drop its Lua states when next idle.
pub fn release_everywhere() {
    RELEASES.fetch_add(1, Ordering::AcqRel);
    release_if_dropped();
}

/// Drops this thread's Lua states if scripts or libraries were dropped
/// since it last looked: called when a worker thread goes idle (tokio's
/// `on_thread_park`), which costs one load otherwise. The states are made
/// again, lazily, by the next script or function.
pub fn release_if_dropped() {
    let now = RELEASES.load(Ordering::Acquire);
    // `try_with`: a thread tearing down its locals has nothing to release.
    match RELEASED.try_with(|r| r.replace(now)) {
        Ok(seen) if seen != now => {}
        _ => return,
    }
    for cell in [&VM, &FN_VM] {
        let _ = cell.try_with(|c| {
            if let Ok(mut vm) = c.try_borrow_mut() {
                *vm = None;
            }
        });
    }
}

/// What [`Vm::call`] runs.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// An EVAL script: KEYS and ARGV are globals, errors name its SHA.
    Script(&'a Compiled),
    /// A function (a registry reference in this state): it gets the keys
    /// and arguments as its two arguments, errors name it.
    Function { func: c_int, name: &'a str },
}

/// A compiled script, ready to run in its thread's state. Plain data: the
/// script itself stays in the state's map (an `Arc` cloned per call would
/// make threads running the same script contend on its count).
#[derive(Clone, Copy)]
pub struct Compiled {
    func: c_int,
    pub sha: Sha,
    /// `cache::flags` of its shebang.
    pub flags: u32,
}

impl Vm {
    /// A state as scripts see it: [`super::script_vm`] plus what running
    /// scripts needs (the error handler, the hook, the memory limit).
    pub fn new(generation: u64, eval: bool) -> mlua::Result<Vm> {
        let lua = super::script_vm(eval)?;
        let mut state: *mut lua_State = std::ptr::null_mut();
        // SAFETY: the closure only records the state pointer, which stays
        // valid while `lua` lives (kept in the `Vm`).
        unsafe { lua.exec_raw::<()>((), |s| state = s)? };
        let install = if eval {
            install_eval
        } else {
            install_functions
        };
        // SAFETY: `install` is a C function that keeps nothing to drop.
        let rc = unsafe { ffi::lua_cpcall(state, install, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(mlua::Error::RuntimeError(
                "installing the script runtime".into(),
            ));
        }
        lua.set_memory_limit(MEMORY_LIMIT)?;
        Ok(Vm {
            lua,
            state,
            generation,
            compiled: HashMap::default(),
            libraries: HashMap::new(),
            eval,
            reported: 0,
            calls: 0,
        })
    }

    fn counter(&self) -> &'static AtomicI64 {
        if self.eval {
            &EVAL_VM_BYTES
        } else {
            &FN_VM_BYTES
        }
    }

    /// Brings this state's share of the memory counters up to date.
    fn report(&mut self) {
        let now = self.used_memory();
        self.counter()
            .fetch_add(now as i64 - self.reported as i64, Ordering::Relaxed);
        self.reported = now;
    }

    /// Runs a library's code (after its shebang line) to see what it
    /// registers (FUNCTION LOAD). The error is the reply text without `ERR`.
    /// On success the library is loaded here as `name` at `version`.
    pub fn load_library(
        &mut self,
        name: &str,
        version: u64,
        code: &[u8],
        timeout_ms: u64,
    ) -> Result<Vec<functions::FunctionInfo>, String> {
        let registered = loading::load(self.state, code, timeout_ms);
        self.report();
        let registered = registered?;
        let info = registered
            .iter()
            .map(|r| functions::FunctionInfo {
                name: r.name.clone(),
                description: r.description.clone(),
                flags: r.flags,
            })
            .collect();
        if let Some((_, old)) = self
            .libraries
            .insert(name.to_string(), (version, registered))
        {
            loading::release(self.state, &old);
        }
        Ok(info)
    }

    /// Forgets a library loaded here at `version` (a load that was then
    /// refused).
    pub fn unload_library(&mut self, name: &str, version: u64) {
        if self.libraries.get(name).is_some_and(|(v, _)| *v == version) {
            if let Some((_, old)) = self.libraries.remove(name) {
                loading::release(self.state, &old);
            }
        }
    }

    /// The callback of function `function` of `lib`, loading the library
    /// here first if this state has not got this version of it.
    pub fn function(&mut self, lib: &functions::Library, function: &str) -> Result<c_int, String> {
        if self
            .libraries
            .get(&lib.name)
            .is_none_or(|(v, _)| *v != lib.version)
        {
            let md = functions::metadata(&lib.code)?;
            self.load_library(&lib.name, lib.version, &lib.code[md.code_start..], 0)?;
        }
        self.libraries[&lib.name]
            .1
            .iter()
            .find(|r| r.name == function)
            .map(|r| r.func)
            .ok_or_else(|| format!("Function {function} not registered by its library here"))
    }

    /// The script named `sha`, compiled here if it is cached but not yet
    /// compiled in this state. `None`: no such script.
    pub fn find(&mut self, scripts: &Scripts, sha: &Sha) -> Option<Compiled> {
        if let Some((func, script)) = self.compiled.get(sha) {
            return Some(Compiled {
                func: *func,
                sha: script.sha,
                flags: script.flags,
            });
        }
        let script = scripts.get(sha)?;
        // It compiled when it was cached; only a memory error can fail now.
        self.compile(script).ok()
    }

    /// Compiles `body` (EVAL, SCRIPT LOAD) unless this state has it, and
    /// caches it. The error is Redis's reply text.
    pub fn load(&mut self, scripts: &Scripts, body: &[u8]) -> Result<Compiled, String> {
        let sha = super::cache::sha_of(body);
        if let Some(found) = self.find(scripts, &sha) {
            return Ok(found);
        }
        let (flags, shebang_len) =
            super::cache::parse_shebang(body).map_err(|e| format!("ERR {e}"))?;
        let script = Arc::new(Script {
            sha,
            body: body.into(),
            flags,
            shebang_len,
        });
        let compiled = self.compile(script.clone())?;
        scripts.insert(script);
        Ok(compiled)
    }

    fn compile(&mut self, script: Arc<Script>) -> Result<Compiled, String> {
        let mut job = CompileJob {
            code: script.code(),
            func: ffi::LUA_NOREF,
            err: Vec::new(),
        };
        // SAFETY: `compile_job` reads the job through the pointer while the
        // job lives on this frame, and keeps nothing to drop in its own.
        let rc = unsafe {
            ffi::lua_cpcall(
                self.state,
                compile_job,
                &mut job as *mut CompileJob as *mut c_void,
            )
        };
        if rc != 0 {
            return Err("ERR Error compiling script (new function): not enough memory".into());
        }
        if job.func == ffi::LUA_NOREF {
            return Err(format!(
                "ERR Error compiling script (new function): {}",
                String::from_utf8_lossy(&job.err)
            ));
        }
        let compiled = Compiled {
            func: job.func,
            sha: script.sha,
            flags: script.flags,
        };
        self.compiled.insert(script.sha, (job.func, script));
        Ok(compiled)
    }

    /// Runs `compiled` with `keys` and `argv` as KEYS and ARGV, writing its
    /// reply to `out`. The caller has published the run (`Run::enter`);
    /// `false` if the run was aborted (the caller knows why).
    pub fn call(
        &mut self,
        target: Target<'_>,
        keys: &[&[u8]],
        argv: &[&[u8]],
        out: &mut Reply,
    ) -> bool {
        let mark = out.len();
        let (func, name, as_args) = match target {
            Target::Script(c) => (c.func, &c.sha[..], false),
            Target::Function { func, name } => (func, name.as_bytes(), true),
        };
        let mut job = CallJob {
            func,
            name,
            keys,
            argv,
            as_args,
            out,
            aborted: false,
        };
        // SAFETY: as in `compile`; `call_job` converts the reply into
        // `out` through the job's borrow.
        let rc = unsafe {
            ffi::lua_cpcall(
                self.state,
                call_job,
                &mut job as *mut CallJob as *mut c_void,
            )
        };
        let aborted = job.aborted;
        if rc != 0 {
            // A memory error while setting up or converting the reply.
            out.truncate(mark);
            out.error(&format!(
                "ERR Error running script {}, not enough memory",
                String::from_utf8_lossy(name)
            ));
        }
        // The hook goes back to counting (SCRIPT KILL sets it on lines).
        // SAFETY: a state not running Lua code.
        unsafe {
            ffi::lua_sethook(
                self.state,
                Some(hook),
                ffi::LUA_MASKCOUNT,
                HOOK_INSTRUCTIONS,
            );
        }
        // Lua's collector runs incrementally as scripts allocate; a step
        // every few scripts keeps a quiet state from holding garbage for
        // long (Redis steps every 50 scripts). The memory counters are
        // brought up to date at the same pace: they are shared by all
        // threads, and touching them on every script would make the
        // threads' scripts contend.
        self.calls += 1;
        if !self.calls.is_multiple_of(GC_PERIOD) && rc == 0 && self.used_memory() <= GC_ABOVE {
            return !aborted;
        }
        // SAFETY: a state not running Lua code.
        unsafe { ffi::lua_gc(self.state, ffi::LUA_GCSTEP, GC_PERIOD as c_int) };
        self.report();
        if self.reported > GC_ABOVE {
            // A large script (or one that hit the memory limit) left its
            // garbage here: collect it now rather than hold it while idle.
            // SAFETY: a state not running Lua code.
            unsafe { ffi::lua_gc(self.state, ffi::LUA_GCCOLLECT, 0) };
            self.report();
        }
        !aborted
    }

    /// Bytes allocated by this state.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

struct CompileJob<'a> {
    code: &'a [u8],
    func: c_int,
    err: Vec<u8>,
}

unsafe extern "C-unwind" fn compile_job(l: *mut lua_State) -> c_int {
    // SAFETY: run by `lua_cpcall` with a `CompileJob` that outlives it; the
    // frame holds only the job pointer (extending `err` runs no Lua code).
    unsafe {
        let job = ffi::lua_touserdata(l, 1) as *mut CompileJob;
        let code = (*job).code;
        let rc = ffi::luaL_loadbuffer(
            l,
            code.as_ptr().cast(),
            code.len(),
            super::SCRIPT_CHUNK_C.as_ptr(),
        );
        if rc != 0 {
            (*job).err.extend_from_slice(bytes_at(l, -1));
            return 0;
        }
        (*job).func = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
    }
    0
}

struct CallJob<'a> {
    func: c_int,
    /// What errors name: a script's SHA, a function's name.
    name: &'a [u8],
    keys: &'a [&'a [u8]],
    argv: &'a [&'a [u8]],
    /// Pass KEYS and ARGV as arguments (a function) rather than globals.
    as_args: bool,
    out: &'a mut Reply,
    aborted: bool,
}

/// Pushes a new array of `items`.
///
/// # Safety
/// A protected call's state.
unsafe fn push_array(l: *mut lua_State, items: &[&[u8]]) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_createtable(l, items.len().min(1 << 20) as c_int, 0);
        for (i, item) in items.iter().enumerate() {
            ffi::lua_pushlstring(l, item.as_ptr().cast(), item.len());
            ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
        }
    }
}

unsafe extern "C-unwind" fn call_job(l: *mut lua_State) -> c_int {
    // SAFETY: run by `lua_cpcall` with a `CallJob` that outlives it; the
    // frame holds only the job pointer and borrows.
    unsafe {
        let job = &mut *(ffi::lua_touserdata(l, 1) as *mut CallJob);
        ffi::lua_settop(l, 0);
        get_registry(l, &ERROR_HANDLER);
        let nargs = if job.as_args {
            ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, job.func as ffi::lua_Integer);
            push_array(l, job.keys);
            push_array(l, job.argv);
            2
        } else {
            get_registry(l, &REAL_GLOBALS);
            ffi::lua_pushstring(l, c"KEYS".as_ptr());
            push_array(l, job.keys);
            ffi::lua_rawset(l, 2);
            ffi::lua_pushstring(l, c"ARGV".as_ptr());
            push_array(l, job.argv);
            ffi::lua_rawset(l, 2);
            ffi::lua_settop(l, 1);
            ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, job.func as ffi::lua_Integer);
            0
        };
        if ffi::lua_pcall(l, nargs, 1, 1) == 0 {
            lua_to_reply(l, job.out, super::run::script_resp3());
            return 0;
        }
        if is_abort(l, -1) {
            job.aborted = true;
            return 0;
        }
        error_reply(l, job.out, job.name);
    }
    0
}

/// Writes the error a script raised (on top of the stack), as Redis does:
/// an error table's message with ` script: <sha>, on <source>:<line>.`
/// when the handler found where it was raised.
///
/// # Safety
/// A protected call's state.
unsafe fn error_reply(l: *mut lua_State, out: &mut Reply, sha: &[u8]) {
    // SAFETY: per the contract; the strings read stay on the stack until
    // written out.
    unsafe {
        if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
            // Only errors the handler did not see (a memory error, an error
            // in the handler itself) arrive as strings.
            let msg = if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
                bytes_at(l, -1)
            } else {
                b"execution failure"
            };
            let msg = &msg[..msg.len().min(100)];
            let mut text = b"ERR Error running script ".to_vec();
            text.extend_from_slice(sha);
            text.extend_from_slice(b", ");
            text.extend_from_slice(msg);
            error_line(out, &text);
            return;
        }
        // Every field is read (and a number converted, which allocates in
        // Lua) before the message is built, so no Lua call can raise while
        // the buffer lives.
        let table = ffi::lua_gettop(l);
        ffi::lua_getfield(l, table, c"err".as_ptr());
        ffi::lua_getfield(l, table, c"source".as_ptr());
        ffi::lua_getfield(l, table, c"line".as_ptr());
        let text_of = |idx: c_int| -> Option<&[u8]> {
            (ffi::lua_isstring(l, idx) != 0).then(|| bytes_at(l, idx))
        };
        let (err, source, line) = (text_of(table + 1), text_of(table + 2), text_of(table + 3));
        let mut text = err.unwrap_or(b"ERR unknown error").to_vec();
        if let (Some(source), Some(line)) = (source, line) {
            text.extend_from_slice(b" script: ");
            text.extend_from_slice(sha);
            text.extend_from_slice(b", on ");
            text.extend_from_slice(source);
            text.extend_from_slice(b":");
            text.extend_from_slice(line);
            text.push(b'.');
        }
        error_line(out, &text);
    }
}

/// The error handler scripts run under (Redis's `__redis__err__handler`):
/// turns a raised value into an error table (`{err = "ERR " ..
/// tostring(e)}` unless it is one) and records where it was raised: the
/// function that raised it, or its caller when that is a C function
/// (`redis.call`, `error`).
unsafe extern "C-unwind" fn error_handler(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as the message handler, the raised value at 1;
    // the frame holds plain data only (`lua_Debug` is a C struct).
    unsafe {
        if is_abort(l, 1) {
            return 1;
        }
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        let mut found = ffi::lua_getstack(l, 1, &mut ar) != 0
            && ffi::lua_getinfo(l, c"nSl".as_ptr(), &mut ar) != 0;
        if found && !ar.what.is_null() && std::ffi::CStr::from_ptr(ar.what) == c"C" {
            found = ffi::lua_getstack(l, 2, &mut ar) != 0
                && ffi::lua_getinfo(l, c"nSl".as_ptr(), &mut ar) != 0;
        }
        if ffi::lua_type(l, 1) != ffi::LUA_TTABLE {
            ffi::lua_createtable(l, 0, 3);
            ffi::lua_pushstring(l, c"ERR ".as_ptr());
            push_tostring(l, 1);
            ffi::lua_concat(l, 2);
            ffi::lua_setfield(l, -2, c"err".as_ptr());
            ffi::lua_replace(l, 1);
        }
        if found {
            ffi::lua_pushstring(l, ar.source);
            ffi::lua_setfield(l, 1, c"source".as_ptr());
            ffi::lua_pushinteger(l, ar.currentline as ffi::lua_Integer);
            ffi::lua_setfield(l, 1, c"line".as_ptr());
        }
        ffi::lua_settop(l, 1);
    }
    1
}

/// Pushes `tostring(v)` of the value at `idx`, as Lua's base library
/// writes it (a table with `__tostring` aside: errors are not tables here).
///
/// # Safety
/// A running C call's state.
unsafe fn push_tostring(l: *mut lua_State, idx: c_int) {
    // SAFETY: per the contract.
    unsafe {
        match ffi::lua_type(l, idx) {
            ffi::LUA_TNUMBER | ffi::LUA_TSTRING => {
                // `tolstring` converts a number in place, on the copy.
                ffi::lua_pushvalue(l, idx);
                ffi::lua_tolstring(l, -1, std::ptr::null_mut());
            }
            ffi::LUA_TNIL => {
                ffi::lua_pushstring(l, c"nil".as_ptr());
            }
            ffi::LUA_TBOOLEAN => {
                let s = if ffi::lua_toboolean(l, idx) != 0 {
                    c"true"
                } else {
                    c"false"
                };
                ffi::lua_pushstring(l, s.as_ptr());
            }
            t => {
                let mut buf = super::capi::Msg::new();
                let name = std::ffi::CStr::from_ptr(ffi::lua_typename(l, t));
                let _ = std::fmt::Write::write_fmt(
                    &mut buf,
                    format_args!(
                        "{}: {:p}",
                        name.to_string_lossy(),
                        ffi::lua_topointer(l, idx)
                    ),
                );
                let b = buf.bytes();
                ffi::lua_pushlstring(l, b.as_ptr().cast(), b.len());
            }
        }
    }
}

/// The instruction hook: unwinds an aborted run, raises SCRIPT KILL's
/// error, and registers a script past its busy threshold
/// (`Run::on_hook`).
pub(crate) unsafe extern "C-unwind" fn hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    // SAFETY: called by Lua as a hook, which may raise; `on_hook` has
    // returned (and dropped what it made) before anything is raised.
    unsafe {
        match super::run::on_hook() {
            super::run::Hook::Continue => {}
            super::run::Hook::Abort => {
                push_abort(l);
                ffi::lua_error(l);
            }
            super::run::Hook::Killed => super::run::raise_killed(l),
        }
    }
}

/// Run once per state by [`Vm::new`]: registers the error handler and the
/// real globals table, and sets the hook.
///
/// # Safety
/// A protected call's state made by `script_vm`.
unsafe fn install(l: *mut lua_State) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushcfunction(l, error_handler);
        set_registry(l, &ERROR_HANDLER);
        super::sandbox::push_real_globals(l);
        set_registry(l, &REAL_GLOBALS);
        ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
    }
}

/// [`install`] for EVAL's state, whose error handler is a global too
/// (scripts see `__redis__err__handler` in `_G`, as in Redis).
unsafe extern "C-unwind" fn install_eval(l: *mut lua_State) -> c_int {
    // SAFETY: run by `lua_cpcall` on a state made by `script_vm`.
    unsafe {
        install(l);
        get_registry(l, &REAL_GLOBALS);
        ffi::lua_pushstring(l, c"__redis__err__handler".as_ptr());
        get_registry(l, &ERROR_HANDLER);
        ffi::lua_rawset(l, -3);
        ffi::lua_pop(l, 1);
    }
    0
}

/// [`install`] for the functions' state, with the library API that
/// FUNCTION LOAD runs libraries against (`scripting::loading`).
unsafe extern "C-unwind" fn install_functions(l: *mut lua_State) -> c_int {
    // SAFETY: run by `lua_cpcall` on a state made by `script_vm`.
    unsafe {
        install(l);
        loading::install(l);
    }
    0
}
