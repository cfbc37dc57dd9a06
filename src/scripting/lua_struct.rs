//! The `struct` library (Roberto Ierusalimschy's struct 0.2, as Redis
//! loads it): `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, pos])`
//! and `struct.size(fmt)`.
//!
//! Format options: `>` big endian, `<` little endian (the default, this
//! machine's order), `![n]` maximum alignment (default 8; none until set),
//! `x` a zero byte, `b`/`B` (1 byte), `h`/`H` (2), `l`/`L` (8), `T` (8),
//! `i[n]`/`I[n]` (n bytes, default 4, at most 32) signed/unsigned integers,
//! `f` float, `d` double, `c[n]` n chars (packing `c0` takes the whole
//! string; unpacking `c0` takes its length from the number unpacked just
//! before), `s` a zero-terminated string, and spaces, which are ignored.
//! The format ends at its first zero byte, as a C string does. Integers
//! travel as Lua numbers (doubles), so they are exact up to 2^53; a packed
//! integer is the number converted to a 64-bit integer as x86-64 C code
//! converts it, written in `n` bytes; an unpacked one keeps the last 8
//! bytes read and is sign-extended for the lower-case options.
//!
//! Errors are Lua's, raised as the original C library raises them
//! (`scripting::capi`): the functions are Lua C functions.

use super::capi::{arg_error, check_bytes, msg, raise};
use mlua::ffi::{self, lua_State};
use mlua::Lua;
use std::os::raw::c_int;

const MAX_INT_SIZE: usize = 32;
/// The strictest alignment of this machine's C types (the default of `!`).
const MAX_ALIGN: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// The format as C sees it: up to its first zero byte.
fn c_format(fmt: &[u8]) -> &[u8] {
    fmt.split(|&b| b == 0).next().unwrap_or(&[])
}

/// A decimal count at `fmt[*i..]`, or `default` if there is none.
///
/// # Safety
/// `l` is the state of a running C function call whose frame holds nothing
/// to drop (an overflowing count raises).
unsafe fn count(l: *mut lua_State, fmt: &[u8], i: &mut usize, default: usize) -> usize {
    if !fmt.get(*i).is_some_and(u8::is_ascii_digit) {
        return default;
    }
    let mut a: i32 = 0;
    while let Some(&d) = fmt.get(*i).filter(|d| d.is_ascii_digit()) {
        let digit = (d - b'0') as i32;
        match a.checked_mul(10).and_then(|x| x.checked_add(digit)) {
            Some(v) => a = v,
            // SAFETY: per this function's contract.
            None => unsafe { raise(l, b"integral size overflow") },
        }
        *i += 1;
    }
    a as usize
}

/// The size of option `opt` (reading its count, if it takes one); 0 for
/// options without a size.
///
/// # Safety
/// As [`count`].
unsafe fn option_size(l: *mut lua_State, opt: u8, fmt: &[u8], i: &mut usize) -> usize {
    match opt {
        b'b' | b'B' | b'x' => 1,
        b'h' | b'H' => 2,
        b'l' | b'L' | b'T' | b'd' => 8,
        b'f' => 4,
        // SAFETY: per this function's contract.
        b'c' => unsafe { count(l, fmt, i, 1) },
        b'i' | b'I' => {
            // SAFETY: per this function's contract.
            let size = unsafe { count(l, fmt, i, 4) };
            if size > MAX_INT_SIZE {
                let m = msg(format_args!(
                    "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                ));
                // SAFETY: per this function's contract; `m` is plain bytes.
                unsafe { raise(l, m.bytes()) }
            }
            size
        }
        _ => 0,
    }
}

/// Padding before an item of `size` at offset `len`.
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

/// Endianness, alignment and spaces; anything else is an invalid option.
///
/// # Safety
/// As [`count`].
unsafe fn control(l: *mut lua_State, opt: u8, fmt: &[u8], i: &mut usize, h: &mut Header) {
    match opt {
        b' ' => {}
        b'>' => h.endian = Endian::Big,
        b'<' => h.endian = Endian::Little,
        b'!' => {
            // SAFETY: per this function's contract.
            let a = unsafe { count(l, fmt, i, MAX_ALIGN) };
            if !a.is_power_of_two() {
                let m = msg(format_args!("alignment {a} is not a power of 2"));
                // SAFETY: per this function's contract.
                unsafe { raise(l, m.bytes()) }
            }
            h.align = a;
        }
        _ => {
            let mut m = [0u8; 32];
            let text = b"invalid format option '";
            m[..text.len()].copy_from_slice(text);
            m[text.len()] = opt;
            m[text.len() + 1] = b'\'';
            // SAFETY: per this function's contract.
            unsafe { arg_error(l, 1, &m[..text.len() + 2]) }
        }
    }
}

/// A Lua number as the 64-bit integer x86-64 C code makes of it (`(long)n`
/// for a negative one, `(unsigned long)n` otherwise; out of range, what
/// the conversion instructions give).
fn to_u64(n: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let truncate = |x: f64| -> i64 {
        if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
            i64::MIN
        } else {
            x as i64
        }
    };
    if n < 0.0 {
        truncate(n) as u64
    } else if n < TWO_63 {
        n as u64
    } else {
        (truncate(n - TWO_63) as u64) ^ (1 << 63)
    }
}

fn put_integer(out: &mut Vec<u8>, n: f64, endian: Endian, size: usize) {
    let mut value = to_u64(n);
    let start = out.len();
    out.resize(start + size, 0);
    let bytes = &mut out[start..];
    for k in 0..size {
        let at = match endian {
            Endian::Little => k,
            Endian::Big => size - 1 - k,
        };
        bytes[at] = value as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
}

fn get_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let mut v: u64 = 0;
    let mut take = |b: u8| v = (v << 8) | b as u64;
    match endian {
        Endian::Big => bytes.iter().for_each(|&b| take(b)),
        Endian::Little => bytes.iter().rev().for_each(|&b| take(b)),
    }
    if !signed {
        return v as f64;
    }
    // As x86-64 shifts: the count is taken modulo 64.
    let shift = ((bytes.len() * 8).wrapping_sub(1) & 63) as u32;
    let mask = u64::MAX << shift;
    if v & mask != 0 {
        v |= mask;
    }
    v as i64 as f64
}

/// Walks `pack`'s format and arguments, checking them all (raising the
/// first error, in the order the C library meets them); with `out`, also
/// writes the packed bytes, and then nothing raises.
///
/// # Safety
/// As [`count`]: without `out` the frame holds nothing to drop; with it,
/// every check has already passed.
unsafe fn pack_walk(l: *mut lua_State, fmt: &[u8], mut out: Option<&mut Vec<u8>>) {
    let mut h = Header::new();
    let mut arg: c_int = 2;
    let mut total = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        // SAFETY (this block): per this function's contract.
        unsafe {
            let mut size = option_size(l, opt, fmt, &mut i);
            let pad = padding(total, &h, opt, size);
            total += pad;
            if let Some(o) = out.as_deref_mut() {
                o.resize(o.len() + pad, 0);
            }
            match opt {
                b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                    let n = ffi::luaL_checknumber(l, arg);
                    arg += 1;
                    if let Some(o) = out.as_deref_mut() {
                        put_integer(o, n, h.endian, size);
                    }
                }
                b'x' => {
                    if let Some(o) = out.as_deref_mut() {
                        o.push(0);
                    }
                }
                b'f' => {
                    let f = ffi::luaL_checknumber(l, arg) as f32;
                    arg += 1;
                    if let Some(o) = out.as_deref_mut() {
                        o.extend_from_slice(&match h.endian {
                            Endian::Little => f.to_le_bytes(),
                            Endian::Big => f.to_be_bytes(),
                        });
                    }
                }
                b'd' => {
                    let d = ffi::luaL_checknumber(l, arg);
                    arg += 1;
                    if let Some(o) = out.as_deref_mut() {
                        o.extend_from_slice(&match h.endian {
                            Endian::Little => d.to_le_bytes(),
                            Endian::Big => d.to_be_bytes(),
                        });
                    }
                }
                b'c' | b's' => {
                    let s = check_bytes(l, arg);
                    arg += 1;
                    if size == 0 {
                        size = s.len();
                    }
                    if s.len() < size {
                        // The C library names the argument after the string.
                        arg_error(l, arg, b"string too short");
                    }
                    if let Some(o) = out.as_deref_mut() {
                        o.extend_from_slice(&s[..size]);
                        if opt == b's' {
                            o.push(0);
                        }
                    }
                    if opt == b's' {
                        size += 1;
                    }
                }
                _ => control(l, opt, fmt, &mut i, &mut h),
            }
            total += size;
        }
    }
}

unsafe extern "C-unwind" fn struct_pack(l: *mut lua_State) -> c_int {
    // The first walk may raise and holds nothing to drop; the second
    // cannot raise (everything was checked) and owns the buffer, which Lua
    // copies before it is dropped.
    // SAFETY: called by Lua as a C function, with its own state.
    unsafe {
        let fmt = c_format(check_bytes(l, 1));
        // The C library pushes a nil here (to separate the arguments from
        // its buffer), so a missing argument right after the last one is
        // reported as "got nil".
        ffi::lua_pushnil(l);
        pack_walk(l, fmt, None);
        let mut out = Vec::new();
        pack_walk(l, fmt, Some(&mut out));
        ffi::lua_pushlstring(l, out.as_ptr().cast(), out.len());
    }
    1
}

unsafe extern "C-unwind" fn struct_unpack(l: *mut lua_State) -> c_int {
    // Every value in this frame is plain data or a slice of a string on
    // the Lua stack (the format and the data stay there: results are
    // pushed above them), so raising at any point leaves nothing to drop.
    // SAFETY: called by Lua as a C function, with its own state.
    unsafe {
        let fmt = c_format(check_bytes(l, 1));
        let data = check_bytes(l, 2);
        let ld = data.len();
        // As C: a size_t made from the integer argument.
        let mut pos = ffi::luaL_optinteger(l, 3, 1) as usize;
        if pos == 0 {
            arg_error(l, 3, b"offset must be 1 or greater");
        }
        pos -= 1;
        let mut results: c_int = 0;
        let mut h = Header::new();
        let mut i = 0;
        let too_short = |size: usize, pos: usize| !(size <= ld && pos <= ld - size);
        while i < fmt.len() {
            let opt = fmt[i];
            i += 1;
            let mut size = option_size(l, opt, fmt, &mut i);
            pos = pos.wrapping_add(padding(pos, &h, opt, size));
            if too_short(size, pos) {
                arg_error(l, 2, b"data string too short");
            }
            ffi::luaL_checkstack(l, 2, c"too many results".as_ptr());
            match opt {
                b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                    let v = get_integer(&data[pos..pos + size], h.endian, opt.is_ascii_lowercase());
                    ffi::lua_pushnumber(l, v);
                    results += 1;
                }
                b'x' => {}
                b'f' => {
                    let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                    let f = match h.endian {
                        Endian::Little => f32::from_le_bytes(b),
                        Endian::Big => f32::from_be_bytes(b),
                    };
                    ffi::lua_pushnumber(l, f as f64);
                    results += 1;
                }
                b'd' => {
                    let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                    let d = match h.endian {
                        Endian::Little => f64::from_le_bytes(b),
                        Endian::Big => f64::from_be_bytes(b),
                    };
                    ffi::lua_pushnumber(l, d);
                    results += 1;
                }
                b'c' => {
                    if size == 0 {
                        if results == 0 || ffi::lua_isnumber(l, -1) == 0 {
                            raise(l, b"format 'c0' needs a previous size");
                        }
                        size = ffi::lua_tonumber(l, -1) as usize;
                        ffi::lua_pop(l, 1);
                        results -= 1;
                        if too_short(size, pos) {
                            arg_error(l, 2, b"data string too short");
                        }
                    }
                    let s = &data[pos..pos + size];
                    ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                    results += 1;
                }
                b's' => {
                    let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                        raise(l, b"unfinished string in data");
                    };
                    size = end + 1;
                    let s = &data[pos..pos + end];
                    ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                    results += 1;
                }
                _ => control(l, opt, fmt, &mut i, &mut h),
            }
            pos = pos.wrapping_add(size);
        }
        ffi::lua_pushinteger(l, pos.wrapping_add(1) as ffi::lua_Integer);
        results + 1
    }
}

unsafe extern "C-unwind" fn struct_size(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing in this frame needs
    // dropping.
    unsafe {
        let fmt = c_format(check_bytes(l, 1));
        let mut h = Header::new();
        let mut pos = 0usize;
        let mut i = 0;
        while i < fmt.len() {
            let opt = fmt[i];
            i += 1;
            let size = option_size(l, opt, fmt, &mut i);
            pos = pos.wrapping_add(padding(pos, &h, opt, size));
            if opt == b's' {
                arg_error(l, 1, b"option 's' has no fixed size");
            } else if opt == b'c' && size == 0 {
                arg_error(l, 1, b"option 'c0' has no fixed size");
            }
            // Letters and digits without a size are skipped here, unlike
            // in pack and unpack (as in the C library).
            if !opt.is_ascii_alphanumeric() {
                control(l, opt, fmt, &mut i, &mut h);
            }
            pos = pos.wrapping_add(size);
        }
        ffi::lua_pushinteger(l, pos as ffi::lua_Integer);
    }
    1
}

/// Registers the global `struct` table.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let fns: [(&str, ffi::lua_CFunction); 3] = [
        ("pack", struct_pack),
        ("unpack", struct_unpack),
        ("size", struct_size),
    ];
    for (name, f) in fns {
        // SAFETY: each follows the C function protocol and raises only
        // through Lua with nothing to drop in its frame (see each).
        t.set(name, unsafe { lua.create_c_function(f)? })?;
    }
    lua.globals().set("struct", t)
}
