//! Lua scripting: EVAL's machinery.
//!
//! * [`cache`]: every script seen, by SHA1, shared by all threads.
//! * [`vm`]: one Lua 5.1 state per worker thread, with Redis's libraries
//!   and sandbox; compiling and running a script in it.
//! * [`run`]: a script's run, and `redis.call`/`pcall` and the other
//!   functions that act on it.
//! * [`reply`]: the conversion of what a script returns into a reply.
//! * The libraries Redis loads that no crate provides: [`bit`],
//!   [`lua_struct`], [`cmsgpack`], [`cjson`], Redis's `math.random`
//!   ([`random`]), the server-free part of the `redis` table
//!   ([`redis_api`]) and the read-only globals ([`sandbox`]).
//!
//! The commands (EVAL, EVALSHA, SCRIPT...) and how a script's keys are
//! latched are in `commands::scripting`.
//!
//! **How a library is made.** Redis's libraries are C functions; their
//! errors are Lua strings carrying the caller's position
//! (`user_script:1: bad argument #1 to 'band' (number expected, got no
//! value)`), which a script can catch with `pcall` and inspect. So each is
//! a Lua C function written in Rust over mlua's `ffi`, raising with
//! lauxlib; raising is a long jump over the Rust frame, so such frames
//! hold only plain data whenever they call into Lua (`capi`).

pub mod bit;
pub mod busy;
pub mod cache;
mod capi;
pub mod cjson;
pub mod cmsgpack;
pub mod functions;
pub mod kill_word;
mod loading;
pub mod lua_struct;
pub mod random;
pub mod redis_api;
pub mod reply;
pub mod run;
pub mod sandbox;
pub mod vm;

use mlua::{Lua, LuaOptions, StdLib};

/// `(long long)x` as x86-64 C code computes it: truncation, and `i64::MIN`
/// for NaN and values out of range (Redis converts a script's numbers so).
pub fn c_i64(x: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

/// `(int)x` as x86-64 C code computes it: `i32::MIN` out of range.
pub fn c_i32(x: f64) -> i32 {
    if x.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        i32::MIN
    } else {
        x as i32
    }
}

/// Where [`libraries_vm`] keeps Lua's own `pcall`.
const BASE_PCALL: &str = "ferrite.base_pcall";

/// The chunk name scripts are compiled under, so positions in errors read
/// `user_script:LINE:` as in Redis.
pub const SCRIPT_CHUNK_C: &std::ffi::CStr = c"@user_script";

/// A Lua 5.1 state with the standard libraries Redis loads (base, table,
/// string, math) and Redis's own libraries, without the sandbox.
pub fn libraries_vm() -> mlua::Result<Lua> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    // Lua's own `pcall`, before the sandbox replaces the global with
    // Redis's (which turns error tables into strings).
    let pcall: mlua::Function = lua.globals().get("pcall")?;
    lua.set_named_registry_value(BASE_PCALL, pcall)?;
    bit::register(&lua)?;
    lua_struct::register(&lua)?;
    cmsgpack::register(&lua)?;
    cjson::register(&lua)?;
    random::register(&lua)?;
    Ok(lua)
}

/// A Lua state as scripts see it: [`libraries_vm`] with the `redis` table
/// and Redis's globals, read-only ([`sandbox`]). `eval`: the state of EVAL
/// scripts (else of functions, whose `redis` table lacks the debugger's
/// functions).
pub fn script_vm(eval: bool) -> mlua::Result<Lua> {
    let lua = libraries_vm()?;
    redis_api::register(&lua, eval)?;
    sandbox::protect(&lua)?;
    Ok(lua)
}

/// Runs `body` as `EVAL body 0` would, outside any server (no
/// `redis.call`), and returns the RESP2 reply: for the libraries' tests.
pub fn eval_to_resp2(vm: &mut vm::Vm, body: &str) -> Vec<u8> {
    let scripts = cache::Scripts::default();
    let mut out = crate::protocol::Reply::new();
    match vm.load(&scripts, body.as_bytes()) {
        Ok(compiled) => {
            vm.call(vm::Target::Script(&compiled), &[], &[], &mut out);
        }
        Err(e) => out.error(&e),
    }
    out.buf.to_vec()
}
