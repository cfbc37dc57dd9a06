//! The `cmsgpack` library (lua-cmsgpack 0.4.0, as Redis loads it):
//! `cmsgpack.pack(...)`, `cmsgpack.unpack(s)`, `cmsgpack.unpack_one(s
//! [, offset])`, `cmsgpack.unpack_limit(s, limit [, offset])`.
//!
//! Encoding: strings as raw (str) with the shortest header, booleans,
//! numbers that are whole 64-bit integers as the shortest integer,
//! others as a float when a float holds them exactly, else a double; a
//! table whose keys are exactly 1..n as an array (elements read with
//! `lua_gettable`, so `__index` applies), any other table as a map; tables
//! nested 16 deep, and every other type, as nil. Decoding understands the
//! same types (and 32-bit lengths); anything else is "Bad data format in
//! input.", a value cut short is "Missing bytes in input.". The unpack
//! functions other than `unpack` also return the offset of the next value
//! (-1 at the end), first.
//!
//! The functions are Lua C functions (see `scripting`); the encoder builds
//! its output in a buffer the Lua state owns (`capi::new_buffer`), since
//! `__index` metamethods it calls may raise.

use super::capi::{arg_error, msg, new_buffer, raise};
use super::{c_i32, c_i64};
use mlua::ffi::{self, lua_State};
use mlua::Lua;
use std::os::raw::c_int;

/// Tables nested deeper than this encode as nil (a cycle ends there).
const MAX_NESTING: u32 = 16;

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if !n.is_infinite() && c_i64(n) as f64 == n {
        encode_int(out, n as i64);
        return;
    }
    let f = n as f32;
    if n == f as f64 {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_header(out: &mut Vec<u8>, n: usize, fix: u8, x16: u8, x32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(x16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(x32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Whether the table on top of the stack has exactly the keys 1..n.
///
/// # Safety
/// `l` is a running C call's state with a table on top.
unsafe fn is_array(l: *mut lua_State) -> bool {
    // SAFETY: per the contract; the stack is restored before returning.
    unsafe {
        let top = ffi::lua_gettop(l);
        ffi::luaL_checkstack(l, 2, c"in function table_is_an_array".as_ptr());
        let (mut count, mut max) = (0i32, 0i32);
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pop(l, 1);
            let n = ffi::lua_tonumber(l, -1);
            if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER
                || n <= 0.0
                || n.is_infinite()
                || c_i32(n) as f64 != n
            {
                ffi::lua_settop(l, top);
                return false;
            }
            if n > max as f64 {
                max = c_i32(n);
            }
            count += 1;
        }
        ffi::lua_settop(l, top);
        max == count
    }
}

/// Encodes the value on top of the stack into `*out`, and pops it.
///
/// # Safety
/// `l` is a running C call's state; `out` points into a buffer made by
/// `new_buffer` that stays on the stack. Only plain data is live in this
/// frame when Lua is called (a metamethod may raise).
unsafe fn encode(l: *mut lua_State, out: *mut Vec<u8>, level: u32) {
    // SAFETY: per the contract; `out` is only borrowed between Lua calls.
    unsafe {
        let mut t = ffi::lua_type(l, -1);
        if t == ffi::LUA_TTABLE && level == MAX_NESTING {
            t = ffi::LUA_TNIL;
        }
        match t {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, -1, &mut len);
                encode_bytes(&mut *out, std::slice::from_raw_parts(p.cast(), len));
            }
            ffi::LUA_TBOOLEAN => {
                (*out).push(if ffi::lua_toboolean(l, -1) != 0 {
                    0xc3
                } else {
                    0xc2
                });
            }
            ffi::LUA_TNUMBER => encode_number(&mut *out, ffi::lua_tonumber(l, -1)),
            ffi::LUA_TTABLE => {
                if is_array(l) {
                    let len = ffi::lua_objlen(l, -1);
                    encode_header(&mut *out, len, 0x90, 0xdc, 0xdd);
                    ffi::luaL_checkstack(
                        l,
                        1,
                        c"in function mp_encode_lua_table_as_array".as_ptr(),
                    );
                    for j in 1..=len {
                        ffi::lua_pushnumber(l, j as f64);
                        ffi::lua_gettable(l, -2);
                        encode(l, out, level + 1);
                    }
                } else {
                    ffi::luaL_checkstack(l, 3, c"in function mp_encode_lua_table_as_map".as_ptr());
                    let mut len = 0usize;
                    ffi::lua_pushnil(l);
                    while ffi::lua_next(l, -2) != 0 {
                        ffi::lua_pop(l, 1);
                        len += 1;
                    }
                    encode_header(&mut *out, len, 0x80, 0xde, 0xdf);
                    ffi::lua_pushnil(l);
                    while ffi::lua_next(l, -2) != 0 {
                        ffi::lua_pushvalue(l, -2);
                        encode(l, out, level + 1);
                        encode(l, out, level + 1);
                    }
                }
            }
            _ => (*out).push(0xc0),
        }
        ffi::lua_pop(l, 1);
    }
}

unsafe extern "C-unwind" fn mp_pack(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; the frame holds plain data and
    // a pointer to a Lua-owned buffer.
    unsafe {
        let nargs = ffi::lua_gettop(l);
        if nargs == 0 {
            arg_error(l, 0, b"MessagePack pack needs input.");
        }
        if ffi::lua_checkstack(l, nargs) == 0 {
            arg_error(l, 0, b"Too many arguments for MessagePack pack.");
        }
        let out = new_buffer(l);
        for i in 1..=nargs {
            ffi::luaL_checkstack(l, 1, c"in function mp_check".as_ptr());
            ffi::lua_pushvalue(l, i);
            encode(l, out, 0);
        }
        let bytes = &*out;
        ffi::lua_pushlstring(l, bytes.as_ptr().cast(), bytes.len());
        // Give the memory back now rather than at the next collection.
        *out = Vec::new();
    }
    1
}

/// Why decoding stopped.
enum Stop {
    Eof,
    BadFormat,
}

/// A cursor over the input (plain data: the input is a string on the stack).
struct Cursor<'a> {
    data: &'a [u8],
}

impl Cursor<'_> {
    fn need(&self, n: usize) -> Result<(), Stop> {
        if self.data.len() < n {
            Err(Stop::Eof)
        } else {
            Ok(())
        }
    }

    fn be(&self, from: usize, n: usize) -> u64 {
        self.data[from..from + n]
            .iter()
            .fold(0u64, |v, &b| (v << 8) | b as u64)
    }
}

/// Decodes one value onto the stack.
///
/// # Safety
/// `l` is a running C call's state; the cursor's data is a string on the
/// stack below everything pushed here.
unsafe fn decode(l: *mut lua_State, c: &mut Cursor<'_>) -> Result<(), Stop> {
    // SAFETY: per the contract.
    unsafe {
        c.need(1)?;
        ffi::luaL_checkstack(
            l,
            1,
            c"too many return values at once; use unpack_one or unpack_limit instead.".as_ptr(),
        );
        let b = c.data[0];
        let (consumed, container) = match b {
            0xcc => {
                c.need(2)?;
                ffi::lua_pushinteger(l, c.data[1] as ffi::lua_Integer);
                (2, None)
            }
            0xd0 => {
                c.need(2)?;
                ffi::lua_pushinteger(l, c.data[1] as i8 as ffi::lua_Integer);
                (2, None)
            }
            0xcd => {
                c.need(3)?;
                ffi::lua_pushinteger(l, c.be(1, 2) as ffi::lua_Integer);
                (3, None)
            }
            0xd1 => {
                c.need(3)?;
                ffi::lua_pushinteger(l, c.be(1, 2) as u16 as i16 as ffi::lua_Integer);
                (3, None)
            }
            0xce => {
                c.need(5)?;
                ffi::lua_pushinteger(l, c.be(1, 4) as ffi::lua_Integer);
                (5, None)
            }
            0xd2 => {
                c.need(5)?;
                ffi::lua_pushinteger(l, c.be(1, 4) as u32 as i32 as ffi::lua_Integer);
                (5, None)
            }
            0xcf => {
                c.need(9)?;
                ffi::lua_pushinteger(l, c.be(1, 8) as i64 as ffi::lua_Integer);
                (9, None)
            }
            0xd3 => {
                c.need(9)?;
                ffi::lua_pushnumber(l, c.be(1, 8) as i64 as f64);
                (9, None)
            }
            0xc0 => {
                ffi::lua_pushnil(l);
                (1, None)
            }
            0xc3 | 0xc2 => {
                ffi::lua_pushboolean(l, (b == 0xc3) as c_int);
                (1, None)
            }
            0xca => {
                c.need(5)?;
                ffi::lua_pushnumber(l, f32::from_bits(c.be(1, 4) as u32) as f64);
                (5, None)
            }
            0xcb => {
                c.need(9)?;
                ffi::lua_pushnumber(l, f64::from_bits(c.be(1, 8)));
                (9, None)
            }
            0xd9 | 0xda => {
                let hdr = if b == 0xd9 { 2 } else { 3 };
                c.need(hdr)?;
                let len = c.be(1, hdr - 1) as usize;
                c.need(hdr + len)?;
                let s = &c.data[hdr..hdr + len];
                ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                (hdr + len, None)
            }
            0xdb => {
                c.need(5)?;
                let len = c.be(1, 4) as usize;
                c.data = &c.data[5..];
                c.need(len)?;
                let s = &c.data[..len];
                ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                (len, None)
            }
            0xdc | 0xde => {
                c.need(3)?;
                (3, Some((b == 0xdc, c.be(1, 2) as usize)))
            }
            0xdd | 0xdf => {
                c.need(5)?;
                (5, Some((b == 0xdd, c.be(1, 4) as usize)))
            }
            _ if b & 0x80 == 0 => {
                ffi::lua_pushinteger(l, b as ffi::lua_Integer);
                (1, None)
            }
            _ if b & 0xe0 == 0xe0 => {
                ffi::lua_pushinteger(l, b as i8 as ffi::lua_Integer);
                (1, None)
            }
            _ if b & 0xe0 == 0xa0 => {
                let len = (b & 0x1f) as usize;
                c.need(1 + len)?;
                let s = &c.data[1..1 + len];
                ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                (1 + len, None)
            }
            _ if b & 0xf0 == 0x90 => (1, Some((true, (b & 0xf) as usize))),
            _ if b & 0xf0 == 0x80 => (1, Some((false, (b & 0xf) as usize))),
            _ => return Err(Stop::BadFormat),
        };
        c.data = &c.data[consumed..];
        if let Some((array, len)) = container {
            ffi::lua_createtable(l, 0, 0);
            if array {
                ffi::luaL_checkstack(l, 1, c"in function mp_decode_to_lua_array".as_ptr());
                for index in 1..=len {
                    ffi::lua_pushnumber(l, index as f64);
                    decode(l, c)?;
                    ffi::lua_settable(l, -3);
                }
            } else {
                for _ in 0..len {
                    decode(l, c)?;
                    decode(l, c)?;
                    ffi::lua_settable(l, -3);
                }
            }
        }
        Ok(())
    }
}

/// Decodes up to `limit` values (all, for `unpack`: limit and offset 0)
/// from the string at index 1, from byte `offset`.
///
/// # Safety
/// `l` is a running C call's state whose frame holds nothing to drop.
unsafe fn unpack_full(l: *mut lua_State, limit: i64, offset: i64) -> c_int {
    // SAFETY: per the contract; the input stays at index 1 while values
    // are pushed above it.
    unsafe {
        let mut len = 0usize;
        let p = ffi::luaL_checklstring(l, 1, &mut len);
        let data = std::slice::from_raw_parts(p.cast::<u8>(), len);
        let all = limit == 0 && offset == 0;
        if offset < 0 || limit < 0 {
            let m = msg(format_args!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ));
            raise(l, m.bytes());
        } else if offset as u64 > len as u64 {
            let m = msg(format_args!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ));
            raise(l, m.bytes());
        }
        let limit = if all { i32::MAX as i64 } else { limit };
        let mut c = Cursor {
            data: &data[offset as usize..],
        };
        let mut count: c_int = 0;
        while !c.data.is_empty() && (count as i64) < limit {
            match decode(l, &mut c) {
                Ok(()) => count += 1,
                Err(Stop::Eof) => raise(l, b"Missing bytes in input."),
                Err(Stop::BadFormat) => raise(l, b"Bad data format in input."),
            }
        }
        if !all {
            ffi::luaL_checkstack(l, 1, c"in function mp_unpack_full".as_ptr());
            let next = if c.data.is_empty() {
                -1
            } else {
                (len - c.data.len()) as ffi::lua_Integer
            };
            ffi::lua_pushinteger(l, next);
            ffi::lua_insert(l, 2);
            count += 1;
        }
        count
    }
}

unsafe extern "C-unwind" fn mp_unpack(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { unpack_full(l, 0, 0) }
}

unsafe extern "C-unwind" fn mp_unpack_one(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe {
        let offset = ffi::luaL_optinteger(l, 2, 0);
        ffi::lua_settop(l, 1);
        unpack_full(l, 1, offset as i64)
    }
}

unsafe extern "C-unwind" fn mp_unpack_limit(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe {
        let limit = ffi::luaL_checkinteger(l, 2);
        let offset = ffi::luaL_optinteger(l, 3, 0);
        ffi::lua_settop(l, 1);
        unpack_full(l, limit as i64, offset as i64)
    }
}

/// Registers the global `cmsgpack` table.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let fns: [(&str, ffi::lua_CFunction); 4] = [
        ("pack", mp_pack),
        ("unpack", mp_unpack),
        ("unpack_one", mp_unpack_one),
        ("unpack_limit", mp_unpack_limit),
    ];
    for (name, f) in fns {
        // SAFETY: each follows the C function protocol and raises only
        // through Lua with nothing to drop in its frame (see each).
        t.set(name, unsafe { lua.create_c_function(f)? })?;
    }
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    lua.globals().set("cmsgpack", t)
}
