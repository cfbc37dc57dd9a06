//! Helpers for the libraries written as Lua C functions: raising Lua's
//! errors without leaving anything to drop behind the long jump.
//!
//! `lua_error` leaves a C function by a long jump over its Rust frame, so
//! such a frame must hold nothing that needs dropping when it raises: the
//! helpers here build messages in a fixed buffer on the stack and hand them
//! to Lua, which copies them, before raising.

use mlua::ffi::{self, lua_State};
use std::fmt::Write;
use std::os::raw::c_int;

/// A message built on the stack (truncated at its capacity).
pub struct Msg {
    buf: [u8; 160],
    len: usize,
}

impl Msg {
    pub fn new() -> Msg {
        Msg {
            buf: [0; 160],
            len: 0,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Default for Msg {
    fn default() -> Self {
        Msg::new()
    }
}

impl Write for Msg {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Formats a message on the stack.
pub fn msg(args: std::fmt::Arguments<'_>) -> Msg {
    let mut m = Msg::new();
    let _ = m.write_fmt(args);
    m
}

/// Raises `msg` with the caller's position, as `luaL_error` does.
///
/// # Safety
/// `l` is the state of a running C function call, whose frame holds
/// nothing that needs dropping.
pub unsafe fn raise(l: *mut lua_State, msg: &[u8]) -> ! {
    // SAFETY: per the contract; Lua copies the message before the jump.
    unsafe {
        ffi::luaL_where(l, 1);
        ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
        ffi::lua_concat(l, 2);
        ffi::lua_error(l)
    }
}

/// Raises lauxlib's "bad argument #narg to 'f' (msg)".
///
/// # Safety
/// As [`raise`].
pub unsafe fn arg_error(l: *mut lua_State, narg: c_int, msg: &[u8]) -> ! {
    // SAFETY: per the contract; the message is a Lua string (so
    // NUL-terminated) on the stack while `luaL_argerror` formats it.
    unsafe {
        ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
        let p = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
        ffi::luaL_argerror(l, narg, p);
        unreachable!("luaL_argerror raises")
    }
}

/// Argument `narg` as a byte string (a number is converted, as
/// `luaL_checklstring` does), borrowed from the Lua stack.
///
/// # Safety
/// As [`raise`]; the slice is valid while the value stays on the stack.
pub unsafe fn check_bytes<'a>(l: *mut lua_State, narg: c_int) -> &'a [u8] {
    // SAFETY: per the contract; Lua keeps the string alive while it is on
    // the stack, and `len` bytes are readable at `p`.
    unsafe {
        let mut len = 0usize;
        let p = ffi::luaL_checklstring(l, narg, &mut len);
        std::slice::from_raw_parts(p.cast(), len)
    }
}

/// A growable byte buffer owned by the Lua state: a full userdata holding a
/// `Vec<u8>`, dropped by its `__gc`. A C function that builds output while
/// calling back into Lua (which may raise) keeps only this pointer in its
/// frame, so a long jump leaves nothing to drop: the collector frees the
/// buffer later.
///
/// # Safety
/// `l` is the state of a running C function call. The buffer is pushed on
/// the stack and lives while it stays there; the pointer is valid until
/// then.
pub unsafe fn new_buffer(l: *mut lua_State) -> *mut Vec<u8> {
    unsafe extern "C-unwind" fn gc(l: *mut lua_State) -> c_int {
        // SAFETY: `__gc` of a userdata made by `new_buffer`, which holds an
        // initialized `Vec<u8>`; the collector calls it once.
        unsafe {
            let p = ffi::lua_touserdata(l, 1) as *mut Vec<u8>;
            std::ptr::drop_in_place(p);
        }
        0
    }
    // SAFETY: per the contract. Lua aligns userdata for any C type, so for
    // a `Vec`; the memory is written before anything can read it.
    unsafe {
        let p = ffi::lua_newuserdata(l, std::mem::size_of::<Vec<u8>>()) as *mut Vec<u8>;
        p.write(Vec::new());
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushcfunction(l, gc);
        ffi::lua_setfield(l, -2, c"__gc".as_ptr());
        ffi::lua_setmetatable(l, -2);
        p
    }
}
