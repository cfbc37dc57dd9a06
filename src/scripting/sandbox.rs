//! The environment scripts run in: Redis 7.0's globals, read-only.
//!
//! Redis patches its Lua with a read-only flag on tables and sets it on the
//! globals, every table reachable from them and the string metatable;
//! reading a global that does not exist is an error too. Stock Lua 5.1 has
//! no such flag, so each protected table is replaced, where scripts can
//! reach it, by an empty proxy whose `__index` reads the real table (and
//! hands out the proxy of any protected table it finds there) and whose
//! `__newindex` raises Redis's error. The functions that bypass
//! metamethods are replaced by versions that see through proxies
//! (`rawget`, `next`, `pairs`, `getmetatable`) or refuse to write to them
//! (`rawset`, `setmetatable`), with Redis's messages; `pcall` is Redis 7's
//! (an error table's `err` string is what it returns). The main thread's
//! globals table becomes the globals' proxy, so chunks made by
//! `loadstring` and coroutines run protected too. What differs from Redis:
//! `#` and `ipairs` of a library table read the (empty) proxy, and
//! `table.insert`/`table.remove` on one write into the proxy (never into
//! the real table) instead of failing.
//!
//! The globals are Redis's: the base library without `print`, `dofile`,
//! `loadfile`, `setfenv`, `getfenv` and `newproxy`, and `table`, `string`,
//! `math` (with Redis's `random`), `coroutine`, `bit`, `struct`, `cjson`,
//! `cmsgpack`. (`redis`, `KEYS` and `ARGV` come with EVAL.)

use super::capi::raise;
use mlua::ffi::{self, lua_State};
use mlua::Lua;
use std::ffi::CStr;
use std::os::raw::c_int;

/// Registry tables: proxy -> real table, real table -> proxy, and proxy ->
/// what `getmetatable` shows of it.
const PROXIES: &CStr = c"ferrite.sandbox.proxies";
const PROXY_OF: &CStr = c"ferrite.sandbox.proxy_of";
const SHOWN_META: &CStr = c"ferrite.sandbox.shown_metatable";

const READONLY: &[u8] = b"Attempt to modify a readonly table";

/// Pushes `registry[name][key at index]` (index absolute).
///
/// # Safety
/// A running C call's state; the registry tables exist.
unsafe fn lookup(l: *mut lua_State, name: &CStr, index: c_int) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
        ffi::lua_pushvalue(l, index);
        ffi::lua_rawget(l, -2);
        ffi::lua_remove(l, -2);
    }
}

/// Whether the value at `index` (absolute) is a proxy.
///
/// # Safety
/// As [`lookup`].
unsafe fn is_proxy(l: *mut lua_State, index: c_int) -> bool {
    // SAFETY: per the contract.
    unsafe {
        if ffi::lua_type(l, index) != ffi::LUA_TTABLE {
            return false;
        }
        lookup(l, PROXIES, index);
        let found = ffi::lua_isnil(l, -1) == 0;
        ffi::lua_pop(l, 1);
        found
    }
}

/// Replaces the proxy at `index` (absolute) by its real table.
///
/// # Safety
/// As [`lookup`].
unsafe fn unproxy(l: *mut lua_State, index: c_int) {
    // SAFETY: per the contract.
    unsafe {
        if ffi::lua_type(l, index) != ffi::LUA_TTABLE {
            return;
        }
        lookup(l, PROXIES, index);
        if ffi::lua_isnil(l, -1) != 0 {
            ffi::lua_pop(l, 1);
        } else {
            ffi::lua_replace(l, index);
        }
    }
}

/// Replaces a protected table at `index` (absolute) by its proxy.
///
/// # Safety
/// As [`lookup`].
unsafe fn proxify(l: *mut lua_State, index: c_int) {
    // SAFETY: per the contract.
    unsafe {
        if ffi::lua_type(l, index) != ffi::LUA_TTABLE {
            return;
        }
        lookup(l, PROXY_OF, index);
        if ffi::lua_isnil(l, -1) != 0 {
            ffi::lua_pop(l, 1);
        } else {
            ffi::lua_replace(l, index);
        }
    }
}

/// Raises Redis's read-only error without a position (as the patched
/// `lua_rawset` does).
///
/// # Safety
/// A running C call's state, nothing to drop in the caller's frame.
unsafe fn readonly_no_position(l: *mut lua_State) -> ! {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushlstring(l, READONLY.as_ptr().cast(), READONLY.len());
        ffi::lua_error(l)
    }
}

/// `__index` of a proxy. Upvalue 1: the real table; upvalue 2: whether a
/// missing key is an error (the globals); upvalue 3: the registry's
/// real-table-to-proxy table (an upvalue, not a lookup by name: every
/// global a script reads and every `redis.call` comes through here).
unsafe extern "C-unwind" fn proxy_index(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a metamethod (proxy, key); plain data only.
    unsafe {
        ffi::lua_pushvalue(l, 2);
        ffi::lua_rawget(l, ffi::lua_upvalueindex(1));
        if ffi::lua_isnil(l, -1) != 0 && ffi::lua_toboolean(l, ffi::lua_upvalueindex(2)) != 0 {
            if ffi::lua_isstring(l, 2) == 0 {
                raise(
                    l,
                    b"Second argument to luaProtectedTableError must be a string or number",
                );
            }
            ffi::luaL_where(l, 1);
            ffi::lua_pushstring(
                l,
                c"Script attempted to access nonexistent global variable '".as_ptr(),
            );
            ffi::lua_pushvalue(l, 2);
            ffi::lua_pushstring(l, c"'".as_ptr());
            ffi::lua_concat(l, 4);
            ffi::lua_error(l);
        }
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_pushvalue(l, -1);
            ffi::lua_rawget(l, ffi::lua_upvalueindex(3));
            if ffi::lua_isnil(l, -1) != 0 {
                ffi::lua_pop(l, 1);
            }
        }
    }
    1
}

unsafe extern "C-unwind" fn proxy_newindex(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a metamethod; nothing to drop.
    unsafe { raise(l, READONLY) }
}

unsafe extern "C-unwind" fn sb_rawset(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing to drop.
    unsafe {
        ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
        ffi::luaL_checkany(l, 2);
        ffi::luaL_checkany(l, 3);
        if is_proxy(l, 1) {
            readonly_no_position(l);
        }
        ffi::lua_settop(l, 3);
        ffi::lua_rawset(l, 1);
    }
    1
}

unsafe extern "C-unwind" fn sb_rawget(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing to drop.
    unsafe {
        ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
        ffi::luaL_checkany(l, 2);
        ffi::lua_settop(l, 2);
        unproxy(l, 1);
        ffi::lua_rawget(l, 1);
        proxify(l, 2);
    }
    1
}

unsafe extern "C-unwind" fn sb_next(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing to drop.
    unsafe {
        ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
        ffi::lua_settop(l, 2);
        unproxy(l, 1);
        if ffi::lua_next(l, 1) != 0 {
            proxify(l, 3);
            2
        } else {
            ffi::lua_pushnil(l);
            1
        }
    }
}

/// `pairs`; upvalue 1 is the sandbox's `next`.
unsafe extern "C-unwind" fn sb_pairs(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing to drop.
    unsafe {
        ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
        ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
        ffi::lua_pushvalue(l, 1);
        ffi::lua_pushnil(l);
    }
    3
}

unsafe extern "C-unwind" fn sb_setmetatable(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing to drop.
    unsafe {
        let t = ffi::lua_type(l, 2);
        ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
        if t != ffi::LUA_TNIL && t != ffi::LUA_TTABLE {
            super::capi::arg_error(l, 2, b"nil or table expected");
        }
        if is_proxy(l, 1) {
            readonly_no_position(l);
        }
        if ffi::luaL_getmetafield(l, 1, c"__metatable".as_ptr()) != 0 {
            raise(l, b"cannot change a protected metatable");
        }
        ffi::lua_settop(l, 2);
        ffi::lua_setmetatable(l, 1);
    }
    1
}

unsafe extern "C-unwind" fn sb_getmetatable(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing to drop.
    unsafe {
        ffi::luaL_checkany(l, 1);
        if is_proxy(l, 1) {
            lookup(l, SHOWN_META, 1);
            return 1;
        }
        if ffi::lua_getmetatable(l, 1) == 0 {
            ffi::lua_pushnil(l);
            return 1;
        }
        ffi::luaL_getmetafield(l, 1, c"__metatable".as_ptr());
    }
    1
}

/// Redis 7's `pcall`: an error raised as a table with a string `err` field
/// (what `redis.call` raises) is returned as that string, as older
/// versions returned it; any other error as it was raised.
unsafe extern "C-unwind" fn sb_pcall(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; `lua_pcall` catches every
    // error of the call, so nothing jumps over this frame.
    unsafe {
        let argc = ffi::lua_gettop(l);
        ffi::lua_pushboolean(l, 1);
        ffi::lua_insert(l, 1);
        if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
            ffi::lua_remove(l, 1);
            if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
                ffi::lua_getfield(l, -1, c"err".as_ptr());
                if ffi::lua_isstring(l, -1) != 0 {
                    ffi::lua_replace(l, -2);
                }
            }
            ffi::lua_pushboolean(l, 0);
            ffi::lua_insert(l, 1);
        }
        ffi::lua_gettop(l)
    }
}

/// Pushes the error Redis's Lua gives for a binary chunk (which it parses
/// as text, so its first byte, ESC, is an unexpected symbol): the chunk's
/// name as `luaO_chunkid` writes it, then `:1: unexpected symbol near
/// 'char(27)'`.
///
/// # Safety
/// A running C call's state; `name` stays alive meanwhile.
unsafe fn push_binary_chunk_error(l: *mut lua_State, name: &[u8]) {
    // Lua's LUA_IDSIZE less the room `[string "..."]` takes.
    const ROOM: usize = 60 - 17;
    // SAFETY: per the contract; Lua copies the pieces, then concatenates.
    unsafe {
        let text = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        match text.first() {
            Some(b'=') => {
                let t = &text[1..text.len().min(60)];
                ffi::lua_pushlstring(l, t.as_ptr().cast(), t.len());
            }
            Some(b'@') => {
                let t = &text[1..];
                let room = 60 - 9;
                if t.len() > room {
                    let t = &t[t.len() - room..];
                    ffi::lua_pushstring(l, c"...".as_ptr());
                    ffi::lua_pushlstring(l, t.as_ptr().cast(), t.len());
                    ffi::lua_concat(l, 2);
                } else {
                    ffi::lua_pushlstring(l, t.as_ptr().cast(), t.len());
                }
            }
            _ => {
                let line = text
                    .iter()
                    .position(|&b| b == b'\n' || b == b'\r')
                    .unwrap_or(text.len())
                    .min(ROOM);
                ffi::lua_pushstring(l, c"[string \"".as_ptr());
                ffi::lua_pushlstring(l, text.as_ptr().cast(), line);
                if line < text.len() {
                    ffi::lua_pushstring(l, c"...\"]".as_ptr());
                } else {
                    ffi::lua_pushstring(l, c"\"]".as_ptr());
                }
                ffi::lua_concat(l, 3);
            }
        }
        ffi::lua_pushstring(l, c":1: unexpected symbol near 'char(27)'".as_ptr());
        ffi::lua_concat(l, 2);
    }
}

/// `loadstring(s [, name])` without binary chunks. Upvalue 1: Lua's own.
unsafe extern "C-unwind" fn sb_loadstring(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; plain data only.
    unsafe {
        let code = super::capi::check_bytes(l, 1);
        if code.first() == Some(&27) {
            let name = if ffi::lua_isnoneornil(l, 2) == 0 {
                super::capi::check_bytes(l, 2)
            } else {
                code
            };
            ffi::lua_pushnil(l);
            push_binary_chunk_error(l, name);
            return 2;
        }
        let argc = ffi::lua_gettop(l);
        ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
        ffi::lua_insert(l, 1);
        ffi::lua_call(l, argc, ffi::LUA_MULTRET);
        ffi::lua_gettop(l)
    }
}

/// `load(reader [, name])` without binary chunks: the pieces are read
/// first, then handed to Lua's `loadstring` (upvalue 1).
unsafe extern "C-unwind" fn sb_load(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; plain data only. The pieces
    // wait on the stack and are concatenated as they come.
    unsafe {
        ffi::luaL_checktype(l, 1, ffi::LUA_TFUNCTION);
        if ffi::lua_isnoneornil(l, 2) != 0 {
            ffi::lua_settop(l, 1);
            ffi::lua_pushstring(l, c"=(load)".as_ptr());
        } else {
            super::capi::check_bytes(l, 2);
            ffi::lua_settop(l, 2);
        }
        ffi::lua_pushstring(l, c"".as_ptr());
        loop {
            ffi::lua_pushvalue(l, 1);
            ffi::lua_call(l, 0, 1);
            if ffi::lua_isnil(l, -1) != 0 {
                ffi::lua_pop(l, 1);
                break;
            }
            if ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
                ffi::lua_pushnil(l);
                ffi::lua_pushstring(l, c"reader function must return a string".as_ptr());
                return 2;
            }
            if ffi::lua_objlen(l, -1) == 0 {
                ffi::lua_pop(l, 1);
                break;
            }
            ffi::lua_concat(l, 2);
        }
        // Stack: reader, name, code.
        if super::reply::bytes_at(l, 3).first() == Some(&27) {
            ffi::lua_pushnil(l);
            push_binary_chunk_error(l, super::reply::bytes_at(l, 2));
            return 2;
        }
        ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
        ffi::lua_pushvalue(l, 3);
        ffi::lua_pushvalue(l, 2);
        ffi::lua_call(l, 2, ffi::LUA_MULTRET);
        ffi::lua_gettop(l) - 3
    }
}

/// Makes the proxy of the real table at `index` (absolute), registers it,
/// and leaves it on the stack.
///
/// # Safety
/// A state not running Lua code (set-up), with the registry tables made.
unsafe fn make_proxy(l: *mut lua_State, index: c_int, globals: bool) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_createtable(l, 0, 0);
        let proxy = ffi::lua_gettop(l);
        ffi::lua_createtable(l, 0, 2);
        ffi::lua_pushvalue(l, index);
        ffi::lua_pushboolean(l, globals as c_int);
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, PROXY_OF.as_ptr());
        ffi::lua_pushcclosure(l, proxy_index, 3);
        ffi::lua_setfield(l, -2, c"__index".as_ptr());
        ffi::lua_pushcfunction(l, proxy_newindex);
        ffi::lua_setfield(l, -2, c"__newindex".as_ptr());
        ffi::lua_setmetatable(l, proxy);
        for (name, key, value) in [(PROXIES, proxy, index), (PROXY_OF, index, proxy)] {
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
            ffi::lua_pushvalue(l, key);
            ffi::lua_pushvalue(l, value);
            ffi::lua_rawset(l, -3);
            ffi::lua_pop(l, 1);
        }
    }
}

/// Proxies every table reachable from the table at `index` (absolute)
/// that has none yet.
///
/// # Safety
/// As [`make_proxy`].
unsafe fn protect_tree(l: *mut lua_State, index: c_int) {
    // SAFETY: per the contract.
    unsafe {
        ffi::luaL_checkstack(l, 8, c"sandbox".as_ptr());
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, index) != 0 {
            let value = ffi::lua_gettop(l);
            if ffi::lua_type(l, value) == ffi::LUA_TTABLE && !is_proxy(l, value) {
                lookup(l, PROXY_OF, value);
                let known = ffi::lua_isnil(l, -1) == 0;
                ffi::lua_pop(l, 1);
                if !known {
                    make_proxy(l, value, false);
                    ffi::lua_pop(l, 1);
                    protect_tree(l, value);
                }
            }
            ffi::lua_pop(l, 1);
        }
    }
}

unsafe extern "C-unwind" fn install(l: *mut lua_State) -> c_int {
    // SAFETY: run once by `protect` on a fresh state, before any script.
    unsafe {
        for name in [PROXIES, PROXY_OF, SHOWN_META] {
            ffi::lua_createtable(l, 0, 0);
            ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
        }
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        let real = ffi::lua_gettop(l);
        for name in [
            c"print",
            c"dofile",
            c"loadfile",
            c"setfenv",
            c"getfenv",
            c"newproxy",
        ] {
            ffi::lua_pushnil(l);
            ffi::lua_setfield(l, real, name.as_ptr());
        }
        // The replacements of the functions that bypass metamethods.
        let plain: [(&CStr, ffi::lua_CFunction); 5] = [
            (c"pcall", sb_pcall),
            (c"rawset", sb_rawset),
            (c"rawget", sb_rawget),
            (c"setmetatable", sb_setmetatable),
            (c"getmetatable", sb_getmetatable),
        ];
        for (name, f) in plain {
            ffi::lua_pushcfunction(l, f);
            ffi::lua_setfield(l, real, name.as_ptr());
        }
        // `loadstring` and `load` refuse binary chunks, which can break the
        // VM (Redis's Lua parses them as text); the originals do the rest.
        ffi::lua_getfield(l, real, c"loadstring".as_ptr());
        ffi::lua_pushvalue(l, -1);
        ffi::lua_pushcclosure(l, sb_loadstring, 1);
        ffi::lua_setfield(l, real, c"loadstring".as_ptr());
        ffi::lua_pushcclosure(l, sb_load, 1);
        ffi::lua_setfield(l, real, c"load".as_ptr());
        ffi::lua_pushcfunction(l, sb_next);
        ffi::lua_pushvalue(l, -1);
        ffi::lua_setfield(l, real, c"next".as_ptr());
        ffi::lua_pushcclosure(l, sb_pairs, 1);
        ffi::lua_setfield(l, real, c"pairs".as_ptr());
        // The globals' proxy, `_G`, and what `getmetatable(_G)` shows: a
        // protected table whose `__index` raises, as Redis's.
        make_proxy(l, real, true);
        let globals = ffi::lua_gettop(l);
        ffi::lua_pushvalue(l, globals);
        ffi::lua_setfield(l, real, c"_G".as_ptr());
        ffi::lua_createtable(l, 0, 1);
        let shown = ffi::lua_gettop(l);
        ffi::lua_getmetatable(l, globals);
        ffi::lua_getfield(l, -1, c"__index".as_ptr());
        ffi::lua_setfield(l, shown, c"__index".as_ptr());
        ffi::lua_pop(l, 1);
        make_proxy(l, shown, false);
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, SHOWN_META.as_ptr());
        ffi::lua_pushvalue(l, globals);
        ffi::lua_pushvalue(l, -3);
        ffi::lua_rawset(l, -3);
        ffi::lua_pop(l, 3);
        // Every table reachable from the globals, then the string
        // metatable, which keeps its real `__index` (metamethods are read
        // raw) and shows its proxy through `__metatable`.
        protect_tree(l, real);
        ffi::lua_pushstring(l, c"".as_ptr());
        ffi::lua_getmetatable(l, -1);
        let smt = ffi::lua_gettop(l);
        make_proxy(l, smt, false);
        ffi::lua_setfield(l, smt, c"__metatable".as_ptr());
        ffi::lua_pop(l, 2);
        // From now on the thread's globals are the proxy.
        ffi::lua_pushvalue(l, globals);
        ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
        ffi::lua_settop(l, 0);
    }
    0
}

/// Protects the table at `index` (absolute) as Redis protects its tables:
/// scripts reach it only through a read-only proxy; with `strict`, reading
/// a missing field raises as reading a missing global does (Redis's error
/// metatable). For tables made after [`protect`] (the library API of
/// FUNCTION LOAD).
///
/// # Safety
/// A protected call's state, sandboxed by [`protect`].
pub(crate) unsafe fn protect_table(l: *mut lua_State, index: c_int, strict: bool) {
    // SAFETY: per the contract.
    unsafe {
        make_proxy(l, index, strict);
        ffi::lua_pop(l, 1);
    }
}

/// Makes the globals scripts see (through the globals' proxy) the table on
/// top of the stack, which it pops: FUNCTION LOAD runs a library's code
/// against the library API this way, as Redis swaps its globals' `__index`.
///
/// # Safety
/// A protected call's state, sandboxed by [`protect`]; a table on top.
pub(crate) unsafe fn set_globals_target(l: *mut lua_State) {
    // SAFETY: per the contract; the proxy's metatable holds its `__index`
    // closure, whose first upvalue is the table it reads.
    unsafe {
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        ffi::lua_getmetatable(l, -1);
        ffi::lua_getfield(l, -1, c"__index".as_ptr());
        ffi::lua_pushvalue(l, -4);
        ffi::lua_setupvalue(l, -2, 1);
        ffi::lua_pop(l, 4);
    }
}

/// Pushes the real globals table behind the globals' proxy (where EVAL
/// sets KEYS and ARGV).
///
/// # Safety
/// A protected call's state, sandboxed by [`protect`].
pub unsafe fn push_real_globals(l: *mut lua_State) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        unproxy(l, ffi::lua_gettop(l));
    }
}

/// Applies the sandbox to a state holding Redis's libraries.
pub fn protect(lua: &Lua) -> mlua::Result<()> {
    // SAFETY: `install` follows the C function protocol.
    let f = unsafe { lua.create_c_function(install)? };
    f.call::<()>(())
}
