//! Lua scripting (issue 9, in progress).
//!
//! Built so far: the libraries Redis loads into its Lua 5.1 VM that no crate
//! provides: `bit`, `struct`, `cmsgpack` and `cjson`, and Redis's
//! `math.random` ([`random`]), and the
//! conversion of a script's return value into a reply ([`reply`]). EVAL,
//! EVALSHA, SCRIPT and FUNCTION are not built yet: they answer
//! `-ERR unknown command` (the plan: docs/ARCHITECTURE.md, "Scripts").
//!
//! **How a library is made.** Redis's libraries are C functions; their
//! errors are Lua strings carrying the caller's position
//! (`user_script:1: bad argument #1 to 'band' (number expected, got no
//! value)`), which a script can catch with `pcall` and inspect. An error
//! raised from an mlua callback reaches Lua as a userdata instead, so each
//! library is a small Lua layer that checks and converts its arguments and
//! raises errors with `error(msg, level)` (which adds the caller's position
//! as `luaL_error` does), over Rust functions that compute and cannot fail.

pub mod bit;
mod capi;
pub mod cjson;
pub mod cmsgpack;
pub mod lua_struct;
pub mod random;
pub mod redis_api;
pub mod reply;
pub mod sandbox;

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
pub const SCRIPT_CHUNK: &str = "@user_script";

/// A Lua 5.1 state with the standard libraries Redis loads (base, table,
/// string, math) and the Redis libraries built so far. No sandbox yet (it
/// comes with EVAL): for the libraries' own tests.
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

/// A Lua state as scripts will see it: [`libraries_vm`] with Redis's
/// globals, read-only ([`sandbox`]).
pub fn script_vm() -> mlua::Result<Lua> {
    let lua = libraries_vm()?;
    redis_api::register(&lua)?;
    sandbox::protect(&lua)?;
    Ok(lua)
}

/// Runs `body` as a script chunk in `lua` and converts what it returns to a
/// RESP2 reply, as EVAL will (an error becomes an error reply with Lua's
/// message; EVAL will add Redis's ` script: ...` suffix). The chunk runs
/// under Lua's own `pcall`, so an error arrives as the value Lua raised
/// (mlua would add a traceback to it).
pub fn eval_to_resp2(lua: &Lua, body: &str) -> Vec<u8> {
    let mut out = crate::protocol::Reply::new();
    let run = || -> mlua::Result<(bool, mlua::Value)> {
        let f = lua
            .load(body)
            .set_name(SCRIPT_CHUNK)
            .set_environment(lua.globals())
            .into_function()?;
        let pcall: mlua::Function = lua.named_registry_value(BASE_PCALL)?;
        pcall.call(f)
    };
    match run() {
        Ok((true, v)) => reply::lua_to_reply(&v, &mut out),
        Ok((false, mlua::Value::String(e))) => out.error(&format!("ERR {}", e.to_string_lossy())),
        // An error table (what `redis.call` and `redis.error_reply` make).
        Ok((false, mlua::Value::Table(t))) => match t.raw_get::<mlua::Value>("err") {
            Ok(mlua::Value::String(e)) => out.error(&e.to_string_lossy()),
            _ => out.error("ERR unknown error"),
        },
        Ok((false, _)) => out.error("ERR unknown error"),
        Err(e) => out.error(&format!("ERR {}", reply::error_text(&e))),
    }
    out.buf.to_vec()
}
