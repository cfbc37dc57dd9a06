//! The `bit` library (LuaBitOp 1.0.2's API, as Redis loads it): 32-bit
//! operations on Lua numbers.
//!
//! Every argument is first normalized to a signed 32-bit integer the way
//! LuaBitOp does: add 2^52 + 2^51 to the double and keep the low 32 bits of
//! its representation. That rounds half to even (`tobit(2.5) == 2`,
//! `tobit(1.5) == 2`) and wraps modulo 2^32. Results are signed 32-bit
//! integers. Shift and rotate counts use their low 5 bits. `tohex(x, n)`
//! gives the low `n` hex digits (default 8, at most 8; a negative `n`
//! gives upper case).
//!
//! The functions are Lua C functions (see `scripting`): arguments are
//! checked with lauxlib's `luaL_checknumber`, so a wrong argument raises
//! exactly Lua's error, as a string, with the caller's position.

use mlua::ffi::{self, lua_State};
use mlua::Lua;
use std::os::raw::c_int;

/// LuaBitOp's normalization of a Lua number to a signed 32-bit integer.
pub fn tobit(x: f64) -> i32 {
    (x + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

/// `tohex(x, n)`: the low `n` hex digits of `x` (upper case for a negative
/// `n`, at most 8), into `buf`; returns how many.
pub fn tohex(x: i32, n: i32, buf: &mut [u8; 8]) -> usize {
    let (n, digits): (i32, &[u8; 16]) = if n < 0 {
        (n.saturating_neg(), b"0123456789ABCDEF")
    } else {
        (n, b"0123456789abcdef")
    };
    let n = n.min(8) as usize;
    let mut b = x as u32;
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    n
}

/// Argument `i`, normalized. Raises Lua's argument error (a long jump out
/// of the calling C function) if it is not a number or a numeric string;
/// callers hold nothing that needs dropping when they call it.
///
/// # Safety
/// `l` is the state of a running C function call.
unsafe fn arg(l: *mut lua_State, i: c_int) -> u32 {
    tobit(ffi::luaL_checknumber(l, i)) as u32
}

/// Pushes a 32-bit result as a Lua number; one result.
///
/// # Safety
/// `l` is the state of a running C function call.
unsafe fn ret(l: *mut lua_State, b: u32) -> c_int {
    ffi::lua_pushnumber(l, b as i32 as f64);
    1
}

macro_rules! unary {
    ($name:ident, |$b:ident| $e:expr) => {
        unsafe extern "C-unwind" fn $name(l: *mut lua_State) -> c_int {
            // SAFETY: called by Lua as a C function, with its own state;
            // nothing here needs dropping if `arg` raises an error.
            unsafe {
                let $b = arg(l, 1);
                ret(l, $e)
            }
        }
    };
}

macro_rules! fold {
    ($name:ident, $op:tt) => {
        unsafe extern "C-unwind" fn $name(l: *mut lua_State) -> c_int {
            // SAFETY: as in `unary!`; with no argument `arg(l, 1)` raises
            // "number expected, got no value", as LuaBitOp does.
            unsafe {
                let mut b = arg(l, 1);
                for i in 2..=ffi::lua_gettop(l) {
                    b $op arg(l, i);
                }
                ret(l, b)
            }
        }
    };
}

macro_rules! shift {
    ($name:ident, |$b:ident, $n:ident| $e:expr) => {
        unsafe extern "C-unwind" fn $name(l: *mut lua_State) -> c_int {
            // SAFETY: as in `unary!`.
            unsafe {
                let $b = arg(l, 1);
                let $n = arg(l, 2) & 31;
                ret(l, $e)
            }
        }
    };
}

unary!(bit_tobit, |b| b);
unary!(bit_bnot, |b| !b);
unary!(bit_bswap, |b| b.swap_bytes());
fold!(bit_band, &=);
fold!(bit_bor, |=);
fold!(bit_bxor, ^=);
shift!(bit_lshift, |b, n| b << n);
shift!(bit_rshift, |b, n| b >> n);
shift!(bit_arshift, |b, n| ((b as i32) >> n) as u32);
shift!(bit_rol, |b, n| b.rotate_left(n));
shift!(bit_ror, |b, n| b.rotate_right(n));

unsafe extern "C-unwind" fn bit_tohex(l: *mut lua_State) -> c_int {
    // SAFETY: as in `unary!`; the digits are built in a stack buffer that
    // Lua copies.
    unsafe {
        let b = arg(l, 1);
        // An absent count is 8; a nil one is an argument error, as in LuaBitOp.
        let n = if ffi::lua_isnone(l, 2) != 0 {
            8
        } else {
            arg(l, 2) as i32
        };
        let mut buf = [0u8; 8];
        let len = tohex(b as i32, n, &mut buf);
        ffi::lua_pushlstring(l, buf.as_ptr().cast(), len);
        1
    }
}

/// Registers the global `bit` table.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let bit = lua.create_table()?;
    let fns: [(&str, ffi::lua_CFunction); 12] = [
        ("tobit", bit_tobit),
        ("bnot", bit_bnot),
        ("bswap", bit_bswap),
        ("band", bit_band),
        ("bor", bit_bor),
        ("bxor", bit_bxor),
        ("lshift", bit_lshift),
        ("rshift", bit_rshift),
        ("arshift", bit_arshift),
        ("rol", bit_rol),
        ("ror", bit_ror),
        ("tohex", bit_tohex),
    ];
    for (name, f) in fns {
        // Each function reads its arguments from the stack, pushes its
        // results and returns their count, raising only through lauxlib.
        // SAFETY: so it follows the C function protocol, nothing to drop.
        bit.set(name, unsafe { lua.create_c_function(f)? })?;
    }
    lua.globals().set("bit", bit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_rounds_half_to_even_and_wraps() {
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(-1.5), -2);
        assert_eq!(tobit(4294967296.0 + 5.0), 5);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        let mut buf = [0u8; 8];
        assert_eq!(tohex(255, 0, &mut buf), 0);
        let n = tohex(-1, -4, &mut buf);
        assert_eq!(&buf[..n], b"FFFF");
        let n = tohex(65535, 8, &mut buf);
        assert_eq!(&buf[..n], b"0000ffff");
    }
}
