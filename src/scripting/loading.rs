//! FUNCTION LOAD's side in a Lua state: running a library's code so that
//! it registers its functions (`redis.register_function`).
//!
//! As in Redis, the code runs against the *library API* instead of the
//! usual globals: a `redis` table with only `register_function`, `log`,
//! the log levels and the version, and nothing else (any other global is
//! an error). The state's globals proxy is pointed at that table for the
//! load (`sandbox::set_globals_target`) and back afterwards. A count hook
//! stops code that runs longer than the load timeout.
//!
//! `redis.register_function` records each function in the load's context
//! ([`LoadCtx`], reached through a thread-local pointer as `scripting::run`
//! reaches a script's run): its name, description, flags and a registry
//! reference to its callback. Its frames hold only plain data and borrows
//! when they raise; strings are copied into the context only once nothing
//! can raise anymore.

use super::redis_api::push_error;
use super::reply::bytes_at;
use mlua::ffi::{self, lua_State};
use std::cell::Cell;
use std::ffi::c_void;
use std::os::raw::c_int;

/// Registry name of the library API table.
const LIBRARY_API: &std::ffi::CStr = c"ferrite.library_api";

/// A function a library's code registered.
pub struct Registered {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: u32,
    /// Registry reference of the callback.
    pub func: c_int,
}

/// One load in progress.
struct LoadCtx {
    registered: Vec<Registered>,
    start: quanta::Instant,
    /// 0: none.
    timeout_ms: u64,
}

thread_local! {
    static LOADING: Cell<*mut LoadCtx> = const { Cell::new(std::ptr::null_mut()) };
}

/// Builds the library API and keeps it in the registry: run once per state
/// of functions, after the sandbox.
///
/// # Safety
/// A protected call's state, sandboxed.
pub unsafe fn install(l: *mut lua_State) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        let api = ffi::lua_gettop(l);
        ffi::lua_createtable(l, 0, 8);
        let redis = ffi::lua_gettop(l);
        ffi::lua_pushcfunction(l, register_function);
        ffi::lua_setfield(l, redis, c"register_function".as_ptr());
        ffi::lua_pushcfunction(l, super::redis_api::log);
        ffi::lua_setfield(l, redis, c"log".as_ptr());
        let levels = [
            (c"LOG_DEBUG", super::redis_api::LOG_DEBUG),
            (c"LOG_VERBOSE", super::redis_api::LOG_VERBOSE),
            (c"LOG_NOTICE", super::redis_api::LOG_NOTICE),
            (c"LOG_WARNING", super::redis_api::LOG_WARNING),
            (
                c"REDIS_VERSION_NUM",
                crate::commands::connection::REDIS_VERSION_NUM,
            ),
        ];
        for (name, n) in levels {
            ffi::lua_pushnumber(l, n as f64);
            ffi::lua_setfield(l, redis, name.as_ptr());
        }
        let version = crate::commands::connection::REDIS_VERSION;
        ffi::lua_pushlstring(l, version.as_ptr().cast(), version.len());
        ffi::lua_setfield(l, redis, c"REDIS_VERSION".as_ptr());
        // Read-only, and a missing field is an error, as in Redis.
        super::sandbox::protect_table(l, redis, true);
        ffi::lua_setfield(l, api, c"redis".as_ptr());
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, LIBRARY_API.as_ptr());
    }
}

/// Runs a library's code (`code`, after its shebang line) in `state` and
/// returns what it registered, or the error reply's text (without `ERR`).
/// `timeout_ms` 0: no timeout. The caller releases the references (or keeps
/// them as the loaded library).
pub fn load(
    state: *mut lua_State,
    code: &[u8],
    timeout_ms: u64,
) -> Result<Vec<Registered>, String> {
    let mut ctx = LoadCtx {
        registered: Vec::new(),
        start: quanta::Instant::now(),
        timeout_ms,
    };
    let mut job = LoadJob {
        code,
        err: Vec::new(),
    };
    struct Reset(*mut LoadCtx);
    impl Drop for Reset {
        fn drop(&mut self) {
            LOADING.with(|c| c.set(self.0));
        }
    }
    let reset = Reset(LOADING.with(|c| c.replace(&mut ctx)));
    // The globals are pointed back even if the load itself failed on memory.
    // SAFETY: the jobs keep nothing to drop in their frames; `job` and the
    // load context outlive the calls.
    let rc = unsafe {
        let entered = ffi::lua_cpcall(state, enter, std::ptr::null_mut());
        let rc = if entered == 0 {
            ffi::lua_cpcall(state, load_job, &mut job as *mut LoadJob as *mut c_void)
        } else {
            entered
        };
        while ffi::lua_cpcall(state, leave, std::ptr::null_mut()) != 0 {}
        rc
    };
    drop(reset);
    let failed = if rc != 0 {
        Some("Error registering functions: not enough memory".to_string())
    } else if !job.err.is_empty() {
        Some(String::from_utf8_lossy(&job.err).into_owned())
    } else {
        None
    };
    match failed {
        Some(e) => {
            release(state, &ctx.registered);
            Err(e)
        }
        None => Ok(ctx.registered),
    }
}

/// Drops the registry references of `registered`.
pub fn release(state: *mut lua_State, registered: &[Registered]) {
    for r in registered {
        // SAFETY: a state not running Lua code; unref never raises.
        unsafe { ffi::luaL_unref(state, ffi::LUA_REGISTRYINDEX, r.func) };
    }
}

struct LoadJob<'a> {
    code: &'a [u8],
    /// The error reply's text, if the load failed.
    err: Vec<u8>,
}

unsafe extern "C-unwind" fn enter(l: *mut lua_State) -> c_int {
    // SAFETY: run by `lua_cpcall`; nothing to drop.
    unsafe {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, LIBRARY_API.as_ptr());
        super::sandbox::set_globals_target(l);
        ffi::lua_sethook(
            l,
            Some(load_hook),
            ffi::LUA_MASKCOUNT,
            super::vm::HOOK_INSTRUCTIONS,
        );
    }
    0
}

unsafe extern "C-unwind" fn leave(l: *mut lua_State) -> c_int {
    // SAFETY: run by `lua_cpcall`; nothing to drop.
    unsafe {
        super::sandbox::push_real_globals(l);
        super::sandbox::set_globals_target(l);
        ffi::lua_sethook(
            l,
            Some(super::vm::hook),
            ffi::LUA_MASKCOUNT,
            super::vm::HOOK_INSTRUCTIONS,
        );
    }
    0
}

unsafe extern "C-unwind" fn load_job(l: *mut lua_State) -> c_int {
    // SAFETY: run by `lua_cpcall` with a `LoadJob` that outlives it; the
    // frame holds only the job pointer (extending `err` runs no Lua code).
    unsafe {
        let job = &mut *(ffi::lua_touserdata(l, 1) as *mut LoadJob);
        ffi::lua_settop(l, 0);
        let code = job.code;
        if ffi::luaL_loadbuffer(
            l,
            code.as_ptr().cast(),
            code.len(),
            c"@user_function".as_ptr(),
        ) != 0
        {
            job.err.extend_from_slice(b"Error compiling function: ");
            job.err.extend_from_slice(bytes_at(l, -1));
            return 0;
        }
        if ffi::lua_pcall(l, 0, 0, 0) != 0 {
            // Redis's reading of the error: a string gets `ERR `; a table
            // gives its `err` field.
            let msg = if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
                ffi::lua_getfield(l, -1, c"err".as_ptr());
                (ffi::lua_isstring(l, -1) != 0).then(|| bytes_at(l, -1))
            } else {
                None
            };
            let plain = (ffi::lua_isstring(l, 1) != 0).then(|| bytes_at(l, 1));
            job.err.extend_from_slice(b"Error registering functions: ");
            match (msg, plain) {
                (Some(m), _) => job.err.extend_from_slice(m),
                (None, Some(p)) => {
                    job.err.extend_from_slice(b"ERR ");
                    job.err.extend_from_slice(p);
                }
                (None, None) => job.err.extend_from_slice(b"(null)"),
            }
        }
    }
    0
}

/// Stops a load that runs past its timeout.
unsafe extern "C-unwind" fn load_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    let ctx = LOADING.with(|c| c.get());
    // SAFETY: the load context published by `load`, alive during the load;
    // the hook raises with nothing to drop.
    unsafe {
        if ctx.is_null() {
            return;
        }
        let timeout = (*ctx).timeout_ms;
        if timeout > 0 && (*ctx).start.elapsed().as_millis() as u64 > timeout {
            ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKLINE, 0);
            push_error(l, b"FUNCTION LOAD timeout");
            ffi::lua_error(l);
        }
    }
}

/// What `register_function` read from its arguments, all borrowed from the
/// Lua stack (plain data: nothing to drop if a later step raises).
struct Args<'a> {
    name: &'a [u8],
    description: Option<&'a [u8]>,
    flags: u32,
    /// Registry reference of the callback (taken last).
    func: c_int,
}

/// A string argument (a number is converted, as Redis's `luaGetStringSds`).
///
/// # Safety
/// A running C call's state.
unsafe fn string_at<'a>(l: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    // SAFETY: per the contract.
    unsafe { (ffi::lua_isstring(l, idx) != 0).then(|| bytes_at(l, idx)) }
}

/// Reads the flags table on top; `None` for an unknown flag.
///
/// # Safety
/// A running C call's state, a table on top.
unsafe fn read_flags(l: *mut lua_State) -> Option<u32> {
    // SAFETY: per the contract; each value is popped after it is read.
    unsafe {
        let mut flags = 0;
        let mut i = 1;
        loop {
            ffi::lua_pushnumber(l, i as f64);
            ffi::lua_gettable(l, -2);
            if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
                ffi::lua_pop(l, 1);
                return Some(flags);
            }
            let flag = string_at(l, -1).and_then(super::functions::flag_named);
            ffi::lua_pop(l, 1);
            flags |= flag?;
            i += 1;
        }
    }
}

/// Reads `register_function`'s arguments: `(name, callback)` or one table
/// of named arguments. The error is Redis's message.
///
/// # Safety
/// A running C call's state.
unsafe fn read_args<'a>(l: *mut lua_State) -> Result<Args<'a>, &'static [u8]> {
    // SAFETY: per the contract; strings stay alive in the argument table or
    // on the stack until the call returns.
    unsafe {
        let argc = ffi::lua_gettop(l);
        if !(1..=2).contains(&argc) {
            return Err(b"wrong number of arguments to redis.register_function");
        }
        if argc == 2 {
            let Some(name) = string_at(l, 1) else {
                return Err(b"first argument to redis.register_function must be a string");
            };
            if ffi::lua_type(l, 2) != ffi::LUA_TFUNCTION {
                return Err(b"second argument to redis.register_function must be a function");
            }
            let func = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
            return Ok(Args {
                name,
                description: None,
                flags: 0,
                func,
            });
        }
        if ffi::lua_type(l, 1) != ffi::LUA_TTABLE {
            return Err(b"calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
        }
        let mut args = Args {
            name: &[],
            description: None,
            flags: 0,
            func: ffi::LUA_NOREF,
        };
        let mut named = false;
        let fail = |l: *mut lua_State, func: c_int, msg: &'static [u8]| {
            ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, func);
            Err(msg)
        };
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, 1) != 0 {
            let key = match ffi::lua_type(l, -2) {
                ffi::LUA_TSTRING => bytes_at(l, -2),
                // A number is a string to Redis, and no argument's name.
                ffi::LUA_TNUMBER => b"",
                _ => {
                    return fail(
                        l,
                        args.func,
                        b"named argument key given to redis.register_function is not a string",
                    )
                }
            };
            if key.eq_ignore_ascii_case(b"function_name") {
                match string_at(l, -1) {
                    Some(n) => {
                        args.name = n;
                        named = true;
                    }
                    None => return fail(
                        l,
                        args.func,
                        b"function_name argument given to redis.register_function must be a string",
                    ),
                }
            } else if key.eq_ignore_ascii_case(b"description") {
                match string_at(l, -1) {
                    Some(d) => args.description = Some(d),
                    None => return fail(
                        l,
                        args.func,
                        b"description argument given to redis.register_function must be a string",
                    ),
                }
            } else if key.eq_ignore_ascii_case(b"callback") {
                if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
                    return fail(
                        l,
                        args.func,
                        b"callback argument given to redis.register_function must be a function",
                    );
                }
                ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, args.func);
                args.func = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                continue;
            } else if key.eq_ignore_ascii_case(b"flags") {
                if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
                    return fail(
                        l,
                        args.func,
                        b"flags argument to redis.register_function must be a table representing function flags",
                    );
                }
                match read_flags(l) {
                    Some(f) => args.flags = f,
                    None => return fail(l, args.func, b"unknown flag given"),
                }
            } else {
                return fail(
                    l,
                    args.func,
                    b"unknown argument given to redis.register_function",
                );
            }
            ffi::lua_pop(l, 1);
        }
        if !named {
            return fail(
                l,
                args.func,
                b"redis.register_function must get a function name argument",
            );
        }
        if args.func == ffi::LUA_NOREF {
            return Err(b"redis.register_function must get a callback argument");
        }
        Ok(args)
    }
}

/// `redis.register_function` (only while a library loads).
unsafe extern "C-unwind" fn register_function(l: *mut lua_State) -> c_int {
    let ctx = LOADING.with(|c| c.get());
    // Every raise happens with only plain data and borrows in this frame;
    // the strings are copied last.
    // SAFETY: called by Lua as a C function; `ctx` is null or the load
    // context published by `load`.
    unsafe {
        if ctx.is_null() {
            push_error(
                l,
                b"redis.register_function can only be called on FUNCTION LOAD command",
            );
            ffi::lua_error(l);
        }
        let args = match read_args(l) {
            Ok(a) => a,
            Err(msg) => {
                push_error(l, msg);
                ffi::lua_error(l);
            }
        };
        let problem: Option<&[u8]> = if !super::functions::valid_name(args.name) {
            Some(super::functions::BAD_NAME.as_bytes())
        } else if (*ctx)
            .registered
            .iter()
            .any(|r| r.name.as_bytes() == args.name)
        {
            Some(b"Function already exists in the library")
        } else {
            None
        };
        if let Some(msg) = problem {
            ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, args.func);
            push_error(l, msg);
            ffi::lua_error(l);
        }
        (*ctx).registered.push(Registered {
            name: String::from_utf8_lossy(args.name).into_owned(),
            description: args.description.map(<[u8]>::to_vec),
            flags: args.flags,
            func: args.func,
        });
    }
    0
}
