//! What a script returns, as a reply: Redis's conversion of a Lua value.
//!
//! * a string is a bulk string, a number an integer (truncated towards
//!   zero, as C's `(long long)` does on x86-64);
//! * `true` is the integer 1 and `false` a null while the script speaks
//!   RESP2 (the default), RESP3's booleans after `redis.setresp(3)` (which
//!   a RESP2 client then reads as 1 and 0);
//! * a table with a string field `err` is an error reply, one with a
//!   string field `ok` a status reply (CR and LF become spaces in both);
//!   then, in this order, `double` (a number), `big_number` (a string),
//!   `verbatim_string` (a table with `format` and `string`), `map` and
//!   `set` (tables) give the RESP3 types, which a RESP2 client reads as
//!   their RESP2 forms;
//! * any other table is an array of its elements 1, 2, ... up to the first
//!   nil (fields are read raw, so metatables do not apply);
//! * anything else (nil, a function, userdata) is a null.
//!
//! It runs on the Lua stack in a protected call (a table access may raise
//! a memory error, which unwinds to that call), so its frames hold nothing
//! that needs dropping.

use crate::protocol::Reply;
use mlua::ffi::{self, lua_State};
use std::ffi::CStr;

/// Appends the value on top of `l`'s stack to `out` as a reply, and pops
/// it. `script_resp3`: the script called `redis.setresp(3)`.
///
/// # Safety
/// `l` is running a protected call; the value is on top of its stack.
pub unsafe fn lua_to_reply(l: *mut lua_State, out: &mut Reply, script_resp3: bool) {
    // SAFETY: per the contract; every push is matched by a pop, and the
    // stack is checked for room first.
    unsafe {
        if ffi::lua_checkstack(l, 4) == 0 {
            out.error("ERR reached lua stack limit");
            ffi::lua_pop(l, 1);
            return;
        }
        match ffi::lua_type(l, -1) {
            ffi::LUA_TSTRING => out.bulk(bytes_at(l, -1)),
            ffi::LUA_TBOOLEAN => {
                let b = ffi::lua_toboolean(l, -1) != 0;
                if script_resp3 {
                    out.boolean(b);
                } else if b {
                    out.int(1);
                } else {
                    out.null();
                }
            }
            ffi::LUA_TNUMBER => out.int(super::c_i64(ffi::lua_tonumber(l, -1))),
            ffi::LUA_TTABLE => {
                table_to_reply(l, out, script_resp3);
                return;
            }
            _ => out.null(),
        }
        ffi::lua_pop(l, 1);
    }
}

/// The string at `idx` (which must be a string) as bytes.
///
/// # Safety
/// The value stays on the stack while the slice is used.
pub unsafe fn bytes_at<'a>(l: *mut lua_State, idx: i32) -> &'a [u8] {
    // SAFETY: per the contract; Lua strings are `len` readable bytes.
    unsafe {
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, idx, &mut len);
        if p.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(p.cast(), len)
    }
}

/// Pushes `t[name]` (raw) for the table on top, returns its type.
///
/// # Safety
/// As [`lua_to_reply`], a table on top.
unsafe fn field(l: *mut lua_State, name: &CStr) -> i32 {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushstring(l, name.as_ptr());
        ffi::lua_rawget(l, -2);
        ffi::lua_type(l, -1)
    }
}

/// Converts and pops the table on top.
///
/// # Safety
/// As [`lua_to_reply`].
unsafe fn table_to_reply(l: *mut lua_State, out: &mut Reply, resp3: bool) {
    // SAFETY: per the contract; each branch leaves the stack as it found
    // it, less the table.
    unsafe {
        if field(l, c"err") == ffi::LUA_TSTRING {
            error_line(out, bytes_at(l, -1));
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if field(l, c"ok") == ffi::LUA_TSTRING {
            let msg = bytes_at(l, -1);
            out.raw(b"+");
            out.raw(&one_line(msg));
            out.raw(b"\r\n");
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if field(l, c"double") == ffi::LUA_TNUMBER {
            out.double(ffi::lua_tonumber(l, -1));
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if field(l, c"big_number") == ffi::LUA_TSTRING {
            let text = one_line(bytes_at(l, -1));
            if out.resp3 {
                out.raw(b"(");
                out.raw(&text);
                out.raw(b"\r\n");
            } else {
                out.bulk(&text);
            }
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if field(l, c"verbatim_string") == ffi::LUA_TTABLE {
            if field(l, c"format") == ffi::LUA_TSTRING {
                ffi::lua_pushstring(l, c"string".as_ptr());
                ffi::lua_rawget(l, -3);
                if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
                    let format = bytes_at(l, -2);
                    let text = bytes_at(l, -1);
                    verbatim(out, format, text);
                    ffi::lua_pop(l, 4);
                    return;
                }
                ffi::lua_pop(l, 1);
            }
            ffi::lua_pop(l, 1);
        }
        ffi::lua_pop(l, 1);
        if field(l, c"map") == ffi::LUA_TTABLE {
            let n = count_pairs(l);
            if out.resp3 {
                out.map(n);
            } else {
                out.array(2 * n);
            }
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, -2) != 0 {
                ffi::lua_pushvalue(l, -2);
                lua_to_reply(l, out, resp3);
                lua_to_reply(l, out, resp3);
            }
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if field(l, c"set") == ffi::LUA_TTABLE {
            out.set(count_pairs(l));
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, -2) != 0 {
                ffi::lua_pop(l, 1);
                ffi::lua_pushvalue(l, -1);
                lua_to_reply(l, out, resp3);
            }
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        // An array up to the first nil. Counted first: converting elements
        // runs no Lua code (fields are read raw), so the count holds.
        let mut n = 0;
        loop {
            ffi::lua_rawgeti(l, -1, n + 1);
            let end = ffi::lua_type(l, -1) == ffi::LUA_TNIL;
            ffi::lua_pop(l, 1);
            if end {
                break;
            }
            n += 1;
        }
        out.array(n as usize);
        for i in 1..=n {
            ffi::lua_rawgeti(l, -1, i);
            lua_to_reply(l, out, resp3);
        }
        ffi::lua_pop(l, 1);
    }
}

/// The number of pairs of the table on top.
///
/// # Safety
/// As [`lua_to_reply`], a table on top.
unsafe fn count_pairs(l: *mut lua_State) -> usize {
    // SAFETY: per the contract; `lua_next` leaves key and value, the value
    // is popped and the key drives the next step.
    unsafe {
        let mut n = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pop(l, 1);
            n += 1;
        }
        n
    }
}

/// A verbatim string: `=len\r\nfmt:text` in RESP3 (the format is its
/// first three bytes, as Redis writes it), a bulk string in RESP2.
fn verbatim(out: &mut Reply, format: &[u8], text: &[u8]) {
    if !out.resp3 {
        out.bulk(text);
        return;
    }
    let mut fmt = [b' '; 3];
    for (d, s) in fmt.iter_mut().zip(format) {
        *d = *s;
    }
    let mut n = itoa::Buffer::new();
    out.raw(b"=");
    out.raw(n.format(text.len() + 4).as_bytes());
    out.raw(b"\r\n");
    out.raw(&fmt);
    out.raw(b":");
    out.raw(text);
    out.raw(b"\r\n");
}

/// Writes `-msg` as Redis writes a formatted error: CR and LF trimmed from
/// both ends, those inside replaced by spaces.
pub fn error_line(out: &mut Reply, msg: &[u8]) {
    let nl = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = msg.iter().position(|b| !nl(b)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|b| !nl(b)).map_or(start, |e| e + 1);
    out.raw(b"-");
    out.raw(&one_line(&msg[start..end]));
    out.raw(b"\r\n");
}

/// `text` with CR and LF replaced by spaces, as Redis sanitizes the status
/// and error texts a script returns.
fn one_line(text: &[u8]) -> Vec<u8> {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}
