//! The parts of the `redis` table a script sees that need no server:
//! `redis.sha1hex`, `redis.error_reply`, `redis.status_reply`. (`call`,
//! `pcall`, `log`, `setresp`, `set_repl` and the rest come with EVAL.)
//!
//! Errors follow Redis 7's shape: an error is a table `{err = "CODE
//! message"}`. A message given without a code gets `ERR`; a leading `-`
//! is dropped and the first word is the code. `redis.status_reply` and
//! `redis.error_reply` *return* such a table when their argument is wrong,
//! and `redis.sha1hex` raises it.

use mlua::ffi::{self, lua_State};
use mlua::Lua;
use std::os::raw::c_int;

/// The SHA1 of `data` in lower-case hex (scripts' names, `redis.sha1hex`).
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// `-CODE msg` without its dash: (code, message); no space means `ERR`.
fn split_code(rest: &[u8]) -> (&[u8], &[u8]) {
    match rest.iter().position(|&b| b == b' ') {
        Some(sp) => (&rest[..sp], &rest[sp + 1..]),
        None => (b"ERR", rest),
    }
}

/// Pushes Redis's error table `{err = "CODE msg"}`, CR/LF trimmed from
/// both ends of the message.
///
/// # Safety
/// A running C call's state.
unsafe fn push_error_table(l: *mut lua_State, code: &[u8], msg: &[u8]) {
    let trim = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = msg.iter().position(|b| !trim(b)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|b| !trim(b)).map_or(start, |e| e + 1);
    let msg = &msg[start..end];
    // SAFETY: per the contract; Lua copies the strings.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushlstring(l, code.as_ptr().cast(), code.len());
        ffi::lua_pushstring(l, c" ".as_ptr());
        ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
        ffi::lua_concat(l, 3);
        ffi::lua_setfield(l, -2, c"err".as_ptr());
    }
}

/// Pushes the error table of a message (`-CODE msg`, or `msg`, which gets
/// `ERR`), as Redis's `luaPushError`.
///
/// # Safety
/// A running C call's state.
pub(crate) unsafe fn push_error(l: *mut lua_State, text: &[u8]) {
    let (code, msg) = match text.strip_prefix(b"-") {
        Some(rest) => split_code(rest),
        None => (&b"ERR"[..], text),
    };
    // SAFETY: per the contract.
    unsafe { push_error_table(l, code, msg) }
}

/// `redis.status_reply` / `redis.error_reply` argument check: exactly one
/// string (a number is not one).
///
/// # Safety
/// A running C call's state.
unsafe fn one_string(l: *mut lua_State) -> bool {
    // SAFETY: per the contract.
    unsafe { ffi::lua_gettop(l) == 1 && ffi::lua_type(l, -1) == ffi::LUA_TSTRING }
}

unsafe extern "C-unwind" fn status_reply(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing to drop.
    unsafe {
        if !one_string(l) {
            push_error(l, b"wrong number or type of arguments");
            return 1;
        }
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushvalue(l, 1);
        ffi::lua_setfield(l, -2, c"ok".as_ptr());
    }
    1
}

unsafe extern "C-unwind" fn error_reply(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; the argument string stays on
    // the stack while it is read.
    unsafe {
        if !one_string(l) {
            push_error(l, b"wrong number or type of arguments");
            return 1;
        }
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, 1, &mut len);
        let text = std::slice::from_raw_parts(p.cast::<u8>(), len);
        // A dash is added when missing, so the first word is always the code.
        let (code, msg) = split_code(text.strip_prefix(b"-").unwrap_or(text));
        push_error_table(l, code, msg);
    }
    1
}

unsafe extern "C-unwind" fn sha1hex(l: *mut lua_State) -> c_int {
    // The digest is computed into a stack array before anything is pushed;
    // the error is raised as Lua's value (the error table) with nothing to
    // drop in this frame.
    // SAFETY: called by Lua as a C function, with its own state.
    unsafe {
        if ffi::lua_gettop(l) != 1 {
            push_error(l, b"wrong number of arguments");
            ffi::lua_error(l);
        }
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, 1, &mut len);
        let data: &[u8] = if p.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(p.cast(), len)
        };
        let digest = sha1_smol::Sha1::from(data).digest().bytes();
        let mut hex = [0u8; 40];
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in digest.iter().enumerate() {
            hex[2 * i] = HEX[(b >> 4) as usize];
            hex[2 * i + 1] = HEX[(b & 15) as usize];
        }
        ffi::lua_pushlstring(l, hex.as_ptr().cast(), hex.len());
    }
    1
}

/// `redis.log(level, msg...)`: Redis's log levels on `tracing`'s (the
/// configured `loglevel` filters them as it filters the server's own).
pub(crate) unsafe extern "C-unwind" fn log(l: *mut lua_State) -> c_int {
    // Errors are raised before anything needing a drop exists; every
    // argument is converted to a string (which may raise) before the
    // message buffer is made.
    // SAFETY: called by Lua as a C function; see above for raising.
    unsafe {
        let argc = ffi::lua_gettop(l);
        if argc < 2 {
            push_error(l, b"redis.log() requires two arguments or more.");
            ffi::lua_error(l);
        }
        if ffi::lua_isnumber(l, 1) == 0 {
            push_error(l, b"First argument must be a number (log level).");
            ffi::lua_error(l);
        }
        let level = super::c_i32(ffi::lua_tonumber(l, 1));
        if !(LOG_DEBUG..=LOG_WARNING).contains(&level) {
            push_error(l, b"Invalid debug level.");
            ffi::lua_error(l);
        }
        for i in 2..=argc {
            ffi::lua_tolstring(l, i, std::ptr::null_mut());
        }
        let mut text = Vec::new();
        for i in 2..=argc {
            if ffi::lua_isstring(l, i) != 0 {
                if i != 2 {
                    text.push(b' ');
                }
                text.extend_from_slice(super::reply::bytes_at(l, i));
            }
        }
        let text = String::from_utf8_lossy(&text);
        match level {
            LOG_DEBUG => tracing::trace!("{text}"),
            LOG_VERBOSE => tracing::debug!("{text}"),
            LOG_NOTICE => tracing::info!("{text}"),
            _ => tracing::warn!("{text}"),
        }
    }
    0
}

pub(crate) const LOG_DEBUG: i32 = 0;
pub(crate) const LOG_VERBOSE: i32 = 1;
pub(crate) const LOG_NOTICE: i32 = 2;
pub(crate) const LOG_WARNING: i32 = 3;

/// `redis.breakpoint()`: false outside the Lua debugger (SCRIPT DEBUG),
/// which Ferrite does not have.
unsafe extern "C-unwind" fn breakpoint(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { ffi::lua_pushboolean(l, 0) };
    1
}

/// `redis.debug(...)`: logs to the Lua debugger's console, so nothing
/// outside one.
unsafe extern "C-unwind" fn debug(_l: *mut lua_State) -> c_int {
    0
}

/// `redis.replicate_commands()`: effects replication is the only mode
/// since Redis 7; always true.
unsafe extern "C-unwind" fn replicate_commands(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { ffi::lua_pushboolean(l, 1) };
    1
}

/// Registers the global `redis` table: the functions above, those that
/// act on a script's run (`scripting::run`), and Redis's constants. The
/// state EVAL uses (`eval`) also has `breakpoint`, `debug` and
/// `replicate_commands`; the one functions use does not, as in Redis.
pub fn register(lua: &Lua, eval: bool) -> mlua::Result<()> {
    use super::run;
    let t = lua.create_table()?;
    let fns: [(&str, ffi::lua_CFunction); 9] = [
        ("call", run::redis_call),
        ("pcall", run::redis_pcall),
        ("sha1hex", sha1hex),
        ("error_reply", error_reply),
        ("status_reply", status_reply),
        ("log", log),
        ("setresp", run::setresp),
        ("set_repl", run::set_repl),
        ("acl_check_cmd", run::acl_check_cmd),
    ];
    let eval_fns: [(&str, ffi::lua_CFunction); 3] = [
        ("breakpoint", breakpoint),
        ("debug", debug),
        ("replicate_commands", replicate_commands),
    ];
    let extra: &[(&str, ffi::lua_CFunction)] = if eval { &eval_fns } else { &[] };
    for &(name, f) in fns.iter().chain(extra) {
        // SAFETY: each follows the C function protocol and raises only
        // with nothing to drop in its frame.
        t.set(name, unsafe { lua.create_c_function(f)? })?;
    }
    let numbers: [(&str, i32); 10] = [
        ("LOG_DEBUG", LOG_DEBUG),
        ("LOG_VERBOSE", LOG_VERBOSE),
        ("LOG_NOTICE", LOG_NOTICE),
        ("LOG_WARNING", LOG_WARNING),
        ("REPL_NONE", 0),
        ("REPL_AOF", run::REPL_AOF),
        ("REPL_SLAVE", run::REPL_REPLICA),
        ("REPL_REPLICA", run::REPL_REPLICA),
        ("REPL_ALL", run::REPL_AOF | run::REPL_REPLICA),
        (
            "REDIS_VERSION_NUM",
            crate::commands::connection::REDIS_VERSION_NUM,
        ),
    ];
    for (name, n) in numbers {
        t.set(name, n as f64)?;
    }
    t.set("REDIS_VERSION", crate::commands::connection::REDIS_VERSION)?;
    lua.globals().set("redis", t)
}
